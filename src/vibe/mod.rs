//! The vibe check: a short supportive reply to a journal note.
//!
//! One [`VibePipeline`] stands in front of every backend: eligibility, the crisis
//! guardrail, the backend call and the output check, always in that order.

pub mod classifier;
pub mod gate;
pub mod gibberish;
pub mod guardrail;
pub mod mock;
pub mod openai;
pub mod output;
pub mod pipeline;
pub mod rules;

pub use pipeline::{VibeEvent, VibePipeline, VibeResult, VibeStatus};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::{Config, GuardModel, VibeBackendKind};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a backend is asked about.
#[derive(Debug, Clone, Copy)]
pub struct VibeRequest<'a> {
    pub note: &'a str,
    pub mood: Option<&'a str>,
    /// When the pipeline gives up on the backend; a backend that retries must
    /// not start an attempt that cannot finish before it.
    pub deadline: tokio::time::Instant,
}

/// Why a backend gave no reply. Never carries the note.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("backend answered status {0}")]
    Status(u16),
    #[error("backend connection failed: {0}")]
    Connection(String),
    #[error("backend answer unusable: {0}")]
    Unusable(&'static str),
}

/// A source of replies. Streaming backends send pieces of the reply to `deltas`
/// as they arrive; all return the whole reply.
pub trait VibeCheck: Send + Sync {
    fn name(&self) -> &'static str;

    fn model(&self) -> Option<&str> {
        None
    }

    fn reply<'a>(
        &'a self,
        request: VibeRequest<'a>,
        deltas: Option<mpsc::Sender<String>>,
    ) -> BoxFuture<'a, Result<String, BackendError>>;
}

/// The pipeline with the backend `VIBE_BACKEND` names and, for the openai backend,
/// the classifier `GUARD_MODEL` names on the same client.
///
/// # Errors
/// The OpenAI client cannot be built (no TLS roots, bad URL).
pub fn pipeline_from_config(config: &Config) -> Result<VibePipeline, BackendError> {
    let timeout = config.openai.timeout;
    Ok(match config.vibe_backend {
        VibeBackendKind::OpenAi => {
            let client = openai::https_client()?;
            let backend = openai::OpenAiBackend::new(&config.openai, client.clone())?;
            let classifier = classifier::from_config(&config.guard_model, &config.openai, client)?;
            VibePipeline::new(Arc::new(backend), timeout).with_classifier(classifier)
        }
        kind => {
            if config.guard_model != GuardModel::Off {
                tracing::warn!(
                    "GUARD_MODEL is ignored: only VIBE_BACKEND=openai calls a classifier"
                );
            }
            let backend: Arc<dyn VibeCheck> = match kind {
                VibeBackendKind::Rules => Arc::new(rules::RulesBackend),
                _ => Arc::new(mock::MockBackend::new(config.mock_delay)),
            };
            VibePipeline::new(backend, timeout)
        }
    })
}

/// A small, stable hash for picking among templates deterministically.
pub(crate) fn fnv1a(text: &str) -> u64 {
    crate::fnv::fnv1a(text.as_bytes())
}
