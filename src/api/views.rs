//! The contract's JSON shapes of accounts and entries.

use serde::Serialize;

use crate::domain::time::format_millis;
use crate::domain::{Account, Entry};
use crate::export::JsonViews;

/// The account object: `{"id", "email", "created_at"}` in that order.
#[derive(Serialize)]
pub struct AccountJson<'a> {
    id: &'a str,
    email: &'a str,
    created_at: String,
}

impl<'a> From<&'a Account> for AccountJson<'a> {
    fn from(account: &'a Account) -> Self {
        Self {
            id: &account.id,
            email: &account.email,
            created_at: format_millis(account.created_at),
        }
    }
}

/// The entry object.
#[derive(Serialize)]
pub struct EntryJson<'a> {
    id: &'a str,
    mood: &'a str,
    tags: &'a [String],
    note: &'a str,
    ai_response: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Entry> for EntryJson<'a> {
    fn from(entry: &'a Entry) -> Self {
        Self {
            id: &entry.id,
            mood: &entry.mood,
            tags: entry.tags.as_slice(),
            note: &entry.note,
            ai_response: entry.ai_response.as_deref(),
            created_at: format_millis(entry.created_at),
            updated_at: format_millis(entry.updated_at),
        }
    }
}

/// A page of entries, serialised straight from the rows without a JSON tree.
#[derive(Serialize)]
pub struct PageJson<'a> {
    pub entries: Vec<EntryJson<'a>>,
    pub next_cursor: Option<String>,
}

/// The same views for the JSON export.
pub const EXPORT_VIEWS: JsonViews = JsonViews {
    account: |account| to_json_text(&AccountJson::from(account)),
    entry: |entry| to_json_text(&EntryJson::from(entry)),
};

fn to_json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
