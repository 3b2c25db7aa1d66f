use crate::db::{KeyStoreError, StoreError};
use crate::domain::ValidationError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an authentication step refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No valid, unexpired session.
    #[error("not signed in")]
    Unauthenticated,
    /// Unknown email or wrong password (never which of the two).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A limit is used up; the caller may try again after this many seconds.
    #[error("rate limited for {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Too many password checks are waiting for a core.
    #[error("password checks are queued to the limit")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    #[error("internal authentication failure: {0}")]
    Internal(BoxError),
}

impl AuthError {
    pub fn internal(err: impl Into<BoxError>) -> Self {
        Self::Internal(err.into())
    }
}
