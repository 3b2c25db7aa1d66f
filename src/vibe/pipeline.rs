//! Eligibility, guardrail, backend, output check: the one path every vibe check takes.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{gibberish, guardrail, output, rules, VibeCheck, VibeRequest};
use crate::domain::MIN_NOTE_CHARS;

/// Events of a streamed check waiting for a slow reader before the producer waits.
const EVENTS_IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VibeStatus {
    Ok,
    Guardrail,
    Skipped,
    Unavailable,
}

/// The contract's `{"status", "response"}` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VibeResult {
    pub status: VibeStatus,
    pub response: Option<String>,
}

impl VibeResult {
    fn new(status: VibeStatus, response: Option<String>) -> Self {
        Self { status, response }
    }

    /// What an entry stores as `ai_response`: the reply of `ok` and `guardrail` only.
    pub fn stored_response(self) -> Option<String> {
        match self.status {
            VibeStatus::Ok | VibeStatus::Guardrail => self.response,
            VibeStatus::Skipped | VibeStatus::Unavailable => None,
        }
    }
}

/// What a streamed check produces: pieces of the reply, then the final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VibeEvent {
    Delta(String),
    Done(VibeResult),
}

pub struct VibePipeline {
    backend: Arc<dyn VibeCheck>,
    timeout: Duration,
}

impl VibePipeline {
    pub fn new(backend: Arc<dyn VibeCheck>, timeout: Duration) -> Self {
        Self { backend, timeout }
    }

    pub fn backend(&self) -> &dyn VibeCheck {
        self.backend.as_ref()
    }

    /// Runs the whole check. Never fails: a backend failure is `unavailable`.
    pub async fn check(&self, note: &str, mood: Option<&str>) -> VibeResult {
        self.run(note, mood, None).await
    }

    /// Runs the check on its own task and returns its events: deltas as the
    /// backend produces them, then exactly one `Done`. Dropping the receiver (the
    /// client went away) stops the task, and with it the upstream request.
    pub fn check_streaming(self: &Arc<Self>, note: String) -> mpsc::Receiver<VibeEvent> {
        let (events, receiver) = mpsc::channel(EVENTS_IN_FLIGHT);
        let pipeline = Arc::clone(self);
        let relay = async move {
            let (delta_tx, mut deltas) = mpsc::channel::<String>(EVENTS_IN_FLIGHT);
            let check = pipeline.run(&note, None, Some(delta_tx));
            tokio::pin!(check);
            let result = loop {
                tokio::select! {
                    result = &mut check => break result,
                    Some(text) = deltas.recv() => {
                        if events.send(VibeEvent::Delta(text)).await.is_err() {
                            return;
                        }
                    }
                    () = events.closed() => return,
                }
            };
            // Deltas sent just before the reply was complete are still queued.
            while let Ok(text) = deltas.try_recv() {
                if events.send(VibeEvent::Delta(text)).await.is_err() {
                    return;
                }
            }
            let _ = events.send(VibeEvent::Done(result)).await;
        };
        tokio::spawn(relay.in_current_span());
        receiver
    }

    async fn run(
        &self,
        note: &str,
        mood: Option<&str>,
        deltas: Option<mpsc::Sender<String>>,
    ) -> VibeResult {
        // Safety first: a crisis note gets the disclaimer however short it is.
        if guardrail::is_crisis(note) {
            return VibeResult::new(
                VibeStatus::Guardrail,
                Some(guardrail::DISCLAIMER.to_owned()),
            );
        }
        let note = note.trim();
        if note.chars().count() < MIN_NOTE_CHARS || gibberish::is_gibberish(note) {
            return VibeResult::new(VibeStatus::Skipped, None);
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let request = VibeRequest {
            note,
            mood,
            deadline,
        };
        let reply = match tokio::time::timeout_at(deadline, self.backend.reply(request, deltas))
            .await
        {
            Ok(Ok(reply)) => reply,
            Ok(Err(err)) => {
                tracing::warn!(backend = self.backend.name(), error = %err, "vibe check backend failed");
                return VibeResult::new(VibeStatus::Unavailable, None);
            }
            Err(_) => {
                tracing::warn!(
                    backend = self.backend.name(),
                    "vibe check backend timed out"
                );
                return VibeResult::new(VibeStatus::Unavailable, None);
            }
        };
        let safe = output::check(&reply).unwrap_or_else(|| {
            tracing::info!(
                backend = self.backend.name(),
                "vibe check reply replaced by a template"
            );
            rules::template_reply(note, mood)
        });
        VibeResult::new(VibeStatus::Ok, Some(safe))
    }
}
