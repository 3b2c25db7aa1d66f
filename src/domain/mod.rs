//! Domain types that parse, not validate: a value of one of these types is
//! known to obey the contract's rules.

mod credentials;
mod entry;
mod list_query;
mod week;

pub use credentials::{parse_registration, Email, Password};
pub use entry::{
    required_note_text, EntryChanges, EntryId, Mood, NewEntry, Note, Tags, MIN_NOTE_CHARS,
};
pub use list_query::{Cursor, ListQuery};
pub use week::WeekQuery;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Collects one message per bad field, so the client sees every problem at once.
#[derive(Default)]
pub(crate) struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn take<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.0.insert(field, message)).ok()
    }

    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
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
/// `Validation` when the field is missing, null or not a string.
pub fn required_field<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, ApiError> {
    required_str(body, field).map_err(|message| ApiError::field(field, message))
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
