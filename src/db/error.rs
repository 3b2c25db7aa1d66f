/// Why storage could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An account with this (lower-cased) email already exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("database error: {0}")]
    Database(#[from] tokio_rusqlite::Error),
    /// A sealed field that does not open: moved, altered, or under another key.
    #[error("integrity error: the {field} of entry {entry_id} does not open")]
    Integrity {
        entry_id: String,
        field: &'static str,
    },
    #[error("cannot seal: {0}")]
    Sealing(String),
    /// The user has no data key (it was shredded with the account).
    #[error("the user has no data key")]
    NoKey,
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Database(tokio_rusqlite::Error::Error(err))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
