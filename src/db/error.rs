/// Why storage could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An account with this (lower-cased) email already exists.
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("database error: {0}")]
    Database(tokio_rusqlite::Error),
    /// A sealed field that does not open: moved, altered, or under another key.
    #[error("integrity error: the {field} of entry {entry_id} does not open")]
    Integrity {
        entry_id: String,
        field: &'static str,
    },
    #[error("cannot seal: {0}")]
    Sealing(String),
    /// The entry kept changing under an update.
    #[error("the entry kept changing during the update")]
    Busy,
    /// The user has no data key (it was shredded with the account).
    #[error("the user has no data key")]
    NoKey,
}

impl StoreError {
    /// Carries this error through SQLite (out of a closure that runs on a
    /// database thread), to be taken out again by the `From` conversions.
    pub(crate) fn into_sql(self) -> rusqlite::Error {
        rusqlite::Error::UserFunctionError(Box::new(self))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match err {
            rusqlite::Error::UserFunctionError(inner) => match inner.downcast::<StoreError>() {
                Ok(store) => *store,
                Err(other) => Self::Database(tokio_rusqlite::Error::Error(
                    rusqlite::Error::UserFunctionError(other),
                )),
            },
            other => Self::Database(tokio_rusqlite::Error::Error(other)),
        }
    }
}

impl From<tokio_rusqlite::Error> for StoreError {
    fn from(err: tokio_rusqlite::Error) -> Self {
        match err {
            tokio_rusqlite::Error::Error(sql) => sql.into(),
            other => Self::Database(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
