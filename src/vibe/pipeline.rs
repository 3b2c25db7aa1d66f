//! Guardrail, classifier, eligibility, backend, output check: the one path every
//! vibe check takes, plain or streamed.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::classifier::Classifier;
use super::gate::SentenceGate;
use super::{gibberish, guardrail, output, rules, BackendError, VibeCheck, VibeRequest};
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

    fn guardrail() -> Self {
        Self::new(
            VibeStatus::Guardrail,
            Some(guardrail::DISCLAIMER.to_owned()),
        )
    }

    /// What an entry stores as `ai_response`: the reply of `ok` and `guardrail` only.
    pub fn stored_response(self) -> Option<String> {
        match self.status {
            VibeStatus::Ok | VibeStatus::Guardrail => self.response,
            VibeStatus::Skipped | VibeStatus::Unavailable => None,
        }
    }
}

/// What a streamed check produces: checked pieces of the reply, then the final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VibeEvent {
    Delta(String),
    Done(VibeResult),
}

pub struct VibePipeline {
    backend: Arc<dyn VibeCheck>,
    classifier: Option<Box<dyn Classifier>>,
    timeout: Duration,
}

/// How the backend call ended.
enum Outcome {
    Replied(Result<String, BackendError>),
    TimedOut,
}

/// A note cleared for the backend, and the instant the whole check must end by.
struct Cleared<'a> {
    note: &'a str,
    deadline: Instant,
}

impl VibePipeline {
    pub fn new(backend: Arc<dyn VibeCheck>, timeout: Duration) -> Self {
        Self {
            backend,
            classifier: None,
            timeout,
        }
    }

    pub fn with_classifier(mut self, classifier: Option<Box<dyn Classifier>>) -> Self {
        self.classifier = classifier;
        self
    }

    pub fn backend(&self) -> &dyn VibeCheck {
        self.backend.as_ref()
    }

    pub fn classifier_name(&self) -> Option<&'static str> {
        self.classifier.as_ref().map(|c| c.name())
    }

    /// Runs the whole check. Never fails: a backend failure is `unavailable`.
    pub async fn check(&self, note: &str, mood: Option<&str>) -> VibeResult {
        let cleared = match self.clear(note).await {
            Ok(cleared) => cleared,
            Err(result) => return result,
        };
        let request = VibeRequest {
            note: cleared.note,
            mood,
            deadline: cleared.deadline,
        };
        let outcome = match tokio::time::timeout_at(
            cleared.deadline,
            self.backend.reply(request, None),
        )
        .await
        {
            Ok(reply) => Outcome::Replied(reply),
            Err(_) => Outcome::TimedOut,
        };
        match self.usable(outcome) {
            Ok(reply) => self.answer(output::check(&reply), cleared.note, mood),
            Err(result) => result,
        }
    }

    /// Runs the check on its own task and returns its events: pieces of the reply
    /// as they pass the output check, then exactly one `Done`, whose response is
    /// the final text. Dropping the receiver (the client went away) stops the
    /// task, and with it the upstream request.
    pub fn check_streaming(
        self: &Arc<Self>,
        note: String,
        mood: Option<String>,
    ) -> mpsc::Receiver<VibeEvent> {
        let (events, receiver) = mpsc::channel(EVENTS_IN_FLIGHT);
        let pipeline = Arc::clone(self);
        let task = async move {
            if let Some(result) = pipeline
                .run_streaming(&note, mood.as_deref(), &events)
                .await
            {
                let _ = events.send(VibeEvent::Done(result)).await;
            }
        };
        tokio::spawn(task.in_current_span());
        receiver
    }

    /// `None` when the client left.
    async fn run_streaming(
        &self,
        note: &str,
        mood: Option<&str>,
        events: &mpsc::Sender<VibeEvent>,
    ) -> Option<VibeResult> {
        let cleared = match self.clear(note).await {
            Ok(cleared) => cleared,
            Err(result) => return Some(result),
        };
        let (delta_tx, mut deltas) = mpsc::channel::<String>(EVENTS_IN_FLIGHT);
        let request = VibeRequest {
            note: cleared.note,
            mood,
            deadline: cleared.deadline,
        };
        let reply = self.backend.reply(request, Some(delta_tx));
        tokio::pin!(reply);
        let deadline = tokio::time::sleep_until(cleared.deadline);
        tokio::pin!(deadline);
        let mut gate = SentenceGate::new();
        // The gate decides what may be shown early; the answer is always the
        // output check of the whole reply, as on the plain endpoint.
        loop {
            tokio::select! {
                Some(delta) = deltas.recv() => send_all(events, gate.push(&delta)).await?,
                finished = &mut reply => {
                    // Deltas sent just before the reply was complete are still queued.
                    while let Ok(delta) = deltas.try_recv() {
                        send_all(events, gate.push(&delta)).await?;
                    }
                    return match self.usable(Outcome::Replied(finished)) {
                        Err(result) => Some(result),
                        Ok(full) => {
                            let (pieces, answer) = gate.finish(&full);
                            send_all(events, pieces).await?;
                            Some(self.answer(answer, cleared.note, mood))
                        }
                    };
                }
                () = &mut deadline => return self.usable(Outcome::TimedOut).err(),
                () = events.closed() => return None,
            }
        }
    }

    /// The local crisis list, the classifier, then eligibility.
    async fn clear<'a>(&self, note: &'a str) -> Result<Cleared<'a>, VibeResult> {
        let started = Instant::now();
        // Safety first: a crisis note gets the disclaimer however short it is.
        if guardrail::is_crisis(note) {
            return Err(VibeResult::guardrail());
        }
        let trimmed = note.trim();
        // A short note can be a crisis note too: the classifier sees every note the
        // list passed, before eligibility can skip it.
        if !trimmed.is_empty() && self.second_opinion_says_crisis(trimmed, started).await {
            return Err(VibeResult::guardrail());
        }
        let eligible =
            trimmed.chars().count() >= MIN_NOTE_CHARS && !gibberish::is_gibberish(trimmed);
        if !eligible {
            return Err(VibeResult::new(VibeStatus::Skipped, None));
        }
        Ok(Cleared {
            note: trimmed,
            deadline: started + self.timeout,
        })
    }

    /// The classifier, within half of the check's time so a reply still fits.
    /// Its failure never blocks the note: the local list already passed it.
    async fn second_opinion_says_crisis(&self, note: &str, started: Instant) -> bool {
        let Some(classifier) = &self.classifier else {
            return false;
        };
        let deadline = started + self.timeout / 2;
        match tokio::time::timeout_at(deadline, classifier.is_crisis(note)).await {
            Ok(Ok(crisis)) => {
                if crisis {
                    tracing::info!(
                        classifier = classifier.name(),
                        "classifier found crisis language"
                    );
                }
                crisis
            }
            Ok(Err(err)) => {
                tracing::warn!(classifier = classifier.name(), error = %err, "classifier failed; the note goes on");
                false
            }
            Err(_) => {
                tracing::warn!(
                    classifier = classifier.name(),
                    "classifier timed out; the note goes on"
                );
                false
            }
        }
    }

    /// The backend's reply, or the `unavailable` answer with the reason logged.
    fn usable(&self, outcome: Outcome) -> Result<String, VibeResult> {
        match outcome {
            Outcome::Replied(Ok(reply)) => Ok(reply),
            Outcome::Replied(Err(err)) => {
                tracing::warn!(backend = self.backend.name(), error = %err, "vibe check backend failed");
                Err(VibeResult::new(VibeStatus::Unavailable, None))
            }
            Outcome::TimedOut => {
                tracing::warn!(
                    backend = self.backend.name(),
                    "vibe check backend timed out"
                );
                Err(VibeResult::new(VibeStatus::Unavailable, None))
            }
        }
    }

    /// `ok` with the checked reply, or with a template when the reply failed the check.
    fn answer(&self, checked: Option<String>, note: &str, mood: Option<&str>) -> VibeResult {
        let safe = checked.unwrap_or_else(|| {
            tracing::info!(
                backend = self.backend.name(),
                "vibe check reply replaced by a template"
            );
            rules::template_reply(note, mood)
        });
        VibeResult::new(VibeStatus::Ok, Some(safe))
    }
}

/// Sends pieces to the client; `None` when it has gone.
async fn send_all(events: &mpsc::Sender<VibeEvent>, pieces: Vec<String>) -> Option<()> {
    for piece in pieces {
        events.send(VibeEvent::Delta(piece)).await.ok()?;
    }
    Some(())
}
