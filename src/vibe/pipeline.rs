//! Eligibility, guardrail, backend, output check: the one path every vibe check takes.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use super::{gibberish, guardrail, output, rules, VibeCheck, VibeRequest};
use crate::domain::MIN_NOTE_CHARS;

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
    pub async fn check(
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
        let request = VibeRequest { note, mood };
        let reply = match tokio::time::timeout(self.timeout, self.backend.reply(request, deltas))
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
