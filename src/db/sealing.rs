//! An entry's private fields sealed with its owner's data key. The associated
//! data names the user, the entry and the field, so a ciphertext copied to another
//! row or field does not open: it is an integrity error, never shown as text.

use rusqlite::types::ValueRef;

use super::error::{StoreError, StoreResult};
use crate::crypto::{self, Key};

const CONTEXT: &str = "serene/entry/v1";
const SEALING_PURPOSE: &[u8] = b"serene/entry-sealing/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Reply,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Self::Reply => "ai_response",
        }
    }
}

/// A private field as the database holds it: sealed, or still in clear from
/// before encryption (until the upgrade at start has sealed it).
#[derive(Debug, Clone)]
pub enum Stored {
    Sealed(Vec<u8>),
    Clear(String),
}

impl Stored {
    /// Reads a nullable private column.
    ///
    /// # Errors
    /// A value that is neither text, a blob nor null.
    pub fn from_column(value: ValueRef<'_>) -> rusqlite::Result<Option<Self>> {
        match value {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(bytes) => Ok(Some(Self::Sealed(bytes.to_vec()))),
            ValueRef::Text(text) => Ok(Some(Self::Clear(
                String::from_utf8_lossy(text).into_owned(),
            ))),
            other => Err(rusqlite::Error::InvalidColumnType(
                0,
                "private field".into(),
                other.data_type(),
            )),
        }
    }
}

/// One user's data key, able to seal and open that user's entry fields.
#[derive(Clone)]
pub struct EntryKeys {
    user_id: String,
    key: Key,
}

impl std::fmt::Debug for EntryKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryKeys")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl EntryKeys {
    /// The sealing key is derived from the data key, so the data key can feed
    /// other purposes (the search key) without two uses sharing a key.
    pub fn new(user_id: &str, data_key: &Key) -> Self {
        Self {
            user_id: user_id.to_owned(),
            key: data_key.derive(SEALING_PURPOSE),
        }
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Each part length-prefixed, so no two (user, entry, field) give the same bytes.
    fn associated(&self, entry_id: &str, field: Field) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.user_id.len() + entry_id.len());
        for part in [CONTEXT, &self.user_id, entry_id, field.as_str()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    /// # Errors
    /// Only when the system's random number generator fails.
    pub fn seal(&self, entry_id: &str, field: Field, text: &str) -> StoreResult<Vec<u8>> {
        crypto::seal(
            &self.key,
            &self.associated(entry_id, field),
            text.as_bytes(),
        )
        .map_err(|err| StoreError::Sealing(err.to_string()))
    }

    /// # Errors
    /// `Integrity` when the sealed value does not open here (another key, row or
    /// field, or altered bytes), or does not hold UTF-8.
    pub fn open(&self, entry_id: &str, field: Field, stored: Stored) -> StoreResult<String> {
        let integrity = || StoreError::Integrity {
            entry_id: entry_id.to_owned(),
            field: field.as_str(),
        };
        match stored {
            Stored::Clear(text) => Ok(text),
            Stored::Sealed(bytes) => {
                let plain = crypto::open(&self.key, &self.associated(entry_id, field), &bytes)
                    .map_err(|_| integrity())?;
                String::from_utf8(plain.to_vec()).map_err(|_| integrity())
            }
        }
    }

    pub fn open_optional(
        &self,
        entry_id: &str,
        field: Field,
        stored: Option<Stored>,
    ) -> StoreResult<Option<String>> {
        stored.map(|s| self.open(entry_id, field, s)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(user: &str) -> EntryKeys {
        EntryKeys::new(user, &Key::generate().expect("key"))
    }

    #[test]
    fn a_field_opens_only_in_its_own_entry_for_its_own_user() {
        let alice = keys("alice");
        let sealed = alice
            .seal("e1", Field::Reply, "kind words")
            .expect("sealed");
        assert_eq!(
            alice
                .open("e1", Field::Reply, Stored::Sealed(sealed.clone()))
                .expect("opened"),
            "kind words"
        );
        assert!(matches!(
            alice.open("e2", Field::Reply, Stored::Sealed(sealed.clone())),
            Err(StoreError::Integrity { .. })
        ));
        let mallory = EntryKeys {
            user_id: "mallory".into(),
            key: alice.key.clone(),
        };
        assert!(mallory
            .open("e1", Field::Reply, Stored::Sealed(sealed))
            .is_err());
    }

    #[test]
    fn text_from_before_encryption_reads_as_it_is() {
        let alice = keys("alice");
        assert_eq!(
            alice
                .open("e1", Field::Reply, Stored::Clear("old".into()))
                .expect("read"),
            "old"
        );
    }
}
