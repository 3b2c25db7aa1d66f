//! Domain types that parse, not validate: a value of one of these types is
//! known to obey the contract's rules.

mod account;
mod credentials;
mod entry;
mod insights;
mod list_query;
mod search;
pub mod time;
mod week;

pub use account::{Account, Credentials};
pub use credentials::{
    is_hostname, lookup_email, parse_registration, Email, Password, MAX_PASSWORD_BYTES,
};
pub use entry::{
    is_invisible, optional_mood, required_note_text, Entry, EntryChanges, EntryId, InvalidEntryId,
    Mood, NewEntry, Note, Tags, VibeSubject, MIN_NOTE_CHARS,
};
pub use insights::{parse_tz, streaks, MoodsQuery, Streaks};
pub use list_query::{Cursor, ListQuery};
pub use search::{
    fold_tag, index_terms, owned_terms, owner_key, words, EntryFilter, IndexTerm, SearchGroup,
    SearchQuery,
};
pub use week::WeekQuery;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Input that breaks the contract's rules: one message per bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fields: {0:?}")]
pub struct ValidationError(pub BTreeMap<&'static str, String>);

impl ValidationError {
    /// An error about a single field.
    pub fn field(name: &'static str, message: impl Into<String>) -> Self {
        Self(BTreeMap::from([(name, message.into())]))
    }

    pub fn fields(&self) -> &BTreeMap<&'static str, String> {
        &self.0
    }
}

/// Collects one message per bad field, so the client sees every problem at once.
#[derive(Default)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn take<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.0.insert(field, message)).ok()
    }

    pub fn into_result(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(self.0))
        }
    }

    /// The parsed values once every field passed; each `take` that failed left a
    /// message, so a missing value without one cannot happen.
    pub fn finish<T>(self, values: Option<T>) -> Result<T, ValidationError> {
        self.into_result()?;
        values.ok_or_else(|| ValidationError::field("body", "is invalid"))
    }
}

/// Trims the characters the OpenAPI document's `\\s` means (Unicode white space plus
/// the four ASCII separators `\\x1c`..`\\x1f`), so the document and the server agree.
pub(crate) fn trim_text(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// A required string field of a JSON body, or the 422 naming it.
///
/// # Errors
/// An error naming the field when the field is missing, null or not a string.
pub fn required_field<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ValidationError> {
    required_str(body, field).map_err(|message| ValidationError::field(field, message))
}

/// A required string field of a JSON body.
pub(crate) fn required_str<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, String> {
    match body.get(field) {
        None | Some(Value::Null) => Err("is required".into()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err("must be a string".into()),
    }
}

/// A query-string map for the parsers' tests.
#[cfg(test)]
pub(crate) fn test_query(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
