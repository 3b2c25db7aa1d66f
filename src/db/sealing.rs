//! An entry's private fields sealed with its owner's data key. The associated
//! data names the user, the entry and the field, so a ciphertext copied to another
//! row or field does not open: it is an integrity error, never shown as text.

use super::error::{StoreError, StoreResult};
use crate::crypto::{FieldKey, Key, TokenKey};
use crate::domain::IndexTerm;

const CONTEXT: &str = "serene/entry/v1";
const SEALING_PURPOSE: &[u8] = b"serene/entry-sealing/v1";
const SEARCH_PURPOSE: &[u8] = b"serene/search-tokens/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Note,
    Tags,
    Reply,
    /// The spelling of a tag in the user's tag counts (sealed under the tag's token).
    TagSpelling,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Tags => "tags",
            Self::Reply => "ai_response",
            Self::TagSpelling => "tag_spelling",
        }
    }
}

/// Domains of the search key, so a prefix and a tag never share a token. `b'w'`
/// keyed whole words until they left the index; entries written then still
/// carry such tokens, which no search asks for, so it is never to be reused.
const PREFIX: u8 = b'p';
const TAG: u8 = b't';

/// One user's data key, able to seal and open that user's entry fields.
#[derive(Clone)]
pub struct EntryKeys {
    user_id: String,
    key: FieldKey,
    search: TokenKey,
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
            key: FieldKey::new(&data_key.derive(SEALING_PURPOSE)),
            search: TokenKey::new(&data_key.derive(SEARCH_PURPOSE)),
        }
    }

    /// The search index's token of a term: without the key it names no word.
    pub fn term_token(&self, term: &IndexTerm) -> i64 {
        self.search.token(PREFIX, term.as_str())
    }

    /// The token of a folded tag, for tag filters and counts.
    pub fn tag_token(&self, folded_tag: &str) -> i64 {
        self.search.token(TAG, folded_tag)
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Each part length-prefixed, so no two (user, entry, field) give the same bytes.
    fn associated(&self, entry_id: &str, field: Field) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.user_id.len() + entry_id.len());
        for part in [CONTEXT, &self.user_id, entry_id, field.name()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }

    /// # Errors
    /// Only when the system's random number generator fails.
    pub fn seal(&self, entry_id: &str, field: Field, text: &str) -> StoreResult<Vec<u8>> {
        self.key
            .seal(&self.associated(entry_id, field), text.as_bytes())
            .map_err(|err| StoreError::Sealing(err.to_string()))
    }

    /// Opens a sealed value where it lies (a column read in place).
    ///
    /// # Errors
    /// `Integrity` when the sealed value does not open here (another key, row or
    /// field, or altered bytes), or does not hold UTF-8.
    pub fn open_sealed(&self, entry_id: &str, field: Field, sealed: &[u8]) -> StoreResult<String> {
        let integrity = || StoreError::Integrity {
            entry_id: entry_id.to_owned(),
            field: field.name(),
        };
        let plain = self
            .key
            .open(&self.associated(entry_id, field), sealed)
            .map_err(|_| integrity())?;
        String::from_utf8(plain).map_err(|_| integrity())
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
                .open_sealed("e1", Field::Reply, &sealed)
                .expect("opened"),
            "kind words"
        );
        assert!(matches!(
            alice.open_sealed("e2", Field::Reply, &sealed),
            Err(StoreError::Integrity { .. })
        ));
        let mallory = EntryKeys {
            user_id: "mallory".into(),
            key: alice.key.clone(),
            search: alice.search.clone(),
        };
        assert!(mallory.open_sealed("e1", Field::Reply, &sealed).is_err());
    }

    #[test]
    fn a_field_does_not_open_as_another_field() {
        let alice = keys("alice");
        let note = alice.seal("e1", Field::Note, "dear diary").expect("sealed");
        assert!(alice.open_sealed("e1", Field::Tags, &note).is_err());
        assert!(alice.open_sealed("e1", Field::Note, &note).is_ok());
    }

    #[test]
    fn tokens_are_per_user_and_per_role() {
        let (alice, bob) = (keys("alice"), keys("bob"));
        let terms = crate::domain::index_terms("walk", &[]);
        let [walk] = terms.as_slice() else {
            panic!("one term: {terms:?}");
        };
        assert_eq!(alice.term_token(walk), alice.term_token(walk));
        assert_ne!(alice.term_token(walk), bob.term_token(walk));
        assert_ne!(alice.term_token(walk), alice.tag_token("wal"));
    }
}
