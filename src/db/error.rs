/// Why storage could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An account with this (lower-cased) email already exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("database error: {0}")]
    Database(#[from] tokio_rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Database(tokio_rusqlite::Error::Error(err))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
