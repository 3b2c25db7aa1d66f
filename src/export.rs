//! Journal exports: the formats, written one entry at a time, and the stream
//! that reads a journal in batches so any size leaves memory flat.

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::db::{Database, EntryKeys, StoreError};
use crate::domain::time::{format_millis, Millis};
use crate::domain::{is_invisible, Account, Entry};

/// Entries read from the database per step of the stream.
const BATCH: u32 = 200;
/// Pieces in flight between the reading task and the client.
const PIECES_IN_FLIGHT: usize = 4;

/// How the JSON format writes an account and an entry: the API's own JSON
/// views, so an export holds exactly what the API answers.
#[derive(Clone, Copy)]
pub struct JsonViews {
    pub account: fn(&Account) -> String,
    pub entry: fn(&Entry) -> String,
}

/// The caller's whole journal, oldest first, as pieces of the export file. The
/// reading task waits while the client is slow and stops when the receiver is
/// dropped; a database error ends the stream with that error, so the client sees
/// a broken transfer rather than a complete-looking but truncated file.
pub fn stream(
    db: Database,
    keys: EntryKeys,
    account: Account,
    format: Format,
    exported_at: DateTime<Utc>,
    views: JsonViews,
) -> mpsc::Receiver<Result<String, StoreError>> {
    let (pieces, receiver) = mpsc::channel(PIECES_IN_FLIGHT);
    let producer = async move {
        let mut writer = ExportWriter::new(format, views);
        if pieces
            .send(Ok(writer.begin(&account, exported_at)))
            .await
            .is_err()
        {
            return;
        }
        let entries = db.entries();
        let mut after = None;
        loop {
            let batch = match entries.oldest_first(&keys, after.take(), BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!(error = %err, "export stopped by a database error");
                    let _ = pieces.send(Err(err)).await;
                    return;
                }
            };
            let piece: String = batch.iter().map(|entry| writer.entry(entry)).collect();
            if pieces.send(Ok(piece)).await.is_err() {
                return;
            }
            match batch.last() {
                Some(last) if batch.len() == BATCH as usize => after = Some(last.cursor()),
                _ => break,
            }
        }
        let _ = pieces.send(Ok(writer.end())).await;
    };
    tokio::spawn(producer.in_current_span());
    receiver
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Markdown,
}

impl Format {
    /// # Errors
    /// A message for the `format` parameter.
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None | Some("json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some("markdown") => Ok(Self::Markdown),
            Some(_) => Err("must be one of json, csv, markdown".into()),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Markdown => "text/markdown; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Markdown => "md",
        }
    }
}

/// Writes the pieces of one export; remembers what the format needs between entries.
pub struct ExportWriter {
    format: Format,
    views: JsonViews,
    entries_written: usize,
    current_day: Option<String>,
}

const CSV_HEADER: &str =
    "\"id\",\"created_at\",\"updated_at\",\"mood\",\"tags\",\"note\",\"ai_response\"\r\n";

impl ExportWriter {
    pub fn new(format: Format, views: JsonViews) -> Self {
        Self {
            format,
            views,
            entries_written: 0,
            current_day: None,
        }
    }

    pub fn begin(&self, user: &Account, exported_at: DateTime<Utc>) -> String {
        let exported_at = format_millis(exported_at.timestamp_millis());
        match self.format {
            Format::Json => {
                let user = (self.views.account)(user);
                format!(
                    "{{\"exported_at\":{},\"user\":{user},\"entries\":[",
                    json!(exported_at)
                )
            }
            Format::Csv => CSV_HEADER.to_owned(),
            Format::Markdown => format!(
                "# Serene journal\n\nExported {exported_at} for {}. Times are UTC.\n",
                user.email
            ),
        }
    }

    pub fn entry(&mut self, entry: &Entry) -> String {
        let first = self.entries_written == 0;
        self.entries_written += 1;
        match self.format {
            Format::Json => {
                let json = (self.views.entry)(entry);
                if first {
                    json
                } else {
                    format!(",{json}")
                }
            }
            Format::Csv => csv_row(entry),
            Format::Markdown => self.markdown_entry(entry),
        }
    }

    pub fn end(&self) -> String {
        match self.format {
            Format::Json => "]}\n".to_owned(),
            Format::Csv => String::new(),
            Format::Markdown if self.entries_written == 0 => "\nNo entries yet.\n".to_owned(),
            Format::Markdown => String::new(),
        }
    }

    fn markdown_entry(&mut self, entry: &Entry) -> String {
        let created = format_millis(entry.created_at);
        let (day, time) = (&created[..10], &created[11..16]);
        let mut out = String::new();
        if self.current_day.as_deref() != Some(day) {
            out.push_str(&format!("\n## {}\n", long_day(entry.created_at, day)));
            self.current_day = Some(day.to_owned());
        }
        out.push_str(&format!("\n### {time} · {}\n\n", entry.mood));
        if !entry.tags.as_slice().is_empty() {
            out.push_str(&format!("Tags: {}\n\n", entry.tags.as_slice().join(", ")));
        }
        out.push_str(entry.note.trim_end());
        out.push('\n');
        if let Some(reply) = &entry.ai_response {
            out.push_str(&format!("\n> {}\n", reply.replace('\n', "\n> ")));
        }
        out
    }
}

fn long_day(millis: Millis, fallback: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|dt| dt.format("%A, %-d %B %Y").to_string())
        .unwrap_or_else(|| fallback.to_owned())
}

fn csv_row(entry: &Entry) -> String {
    let tags = serde_json::to_string(entry.tags.as_slice()).unwrap_or_else(|_| "[]".into());
    let cells = [
        entry.id.as_str(),
        &format_millis(entry.created_at),
        &format_millis(entry.updated_at),
        &entry.mood,
        &tags,
        &entry.note,
        entry.ai_response.as_deref().unwrap_or(""),
    ]
    .map(csv_cell);
    format!("{}\r\n", cells.join(","))
}

/// One RFC 4180 cell, always quoted (so a `;` or `,` never splits it in any
/// spreadsheet's dialect). Text a spreadsheet would run as a formula gets a
/// leading apostrophe, so it stays text: `=`, `+`, `-`, `@`, tab or carriage
/// return, or their full-width forms, at the start or after leading white space
/// and invisible characters. Any other text round-trips exactly.
pub fn csv_cell(text: &str) -> String {
    let guarded = if looks_like_formula(text) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

fn looks_like_formula(text: &str) -> bool {
    let first_visible = text.chars().find(|c| !is_ignorable_prefix(*c));
    matches!(
        first_visible,
        Some(
            '=' | '+' | '-' | '@' | '\t' | '\r' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}'
        )
    )
}

/// Characters a spreadsheet may skip before it looks for a formula sign: white
/// space, control characters and everything the domain counts as invisible.
fn is_ignorable_prefix(c: char) -> bool {
    ((c.is_whitespace() || c.is_control()) && c != '\t' && c != '\r') || is_invisible(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_is_quoted_and_plain_text_is_kept_exactly() {
        assert_eq!(csv_cell("calm"), "\"calm\"");
        assert_eq!(csv_cell("Nice day;=1+1"), "\"Nice day;=1+1\"");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("line\nnext"), "\"line\nnext\"");
        assert_eq!(csv_cell(""), "\"\"");
    }

    #[test]
    fn formula_looking_cells_are_made_text() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "\"'=cmd|' /C calc'!A0\"");
        assert_eq!(csv_cell("+1"), "\"'+1\"");
        assert_eq!(csv_cell("-2"), "\"'-2\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("=1,2"), "\"'=1,2\"");
        assert_eq!(csv_cell("\tx"), "\"'\tx\"");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
    }

    #[test]
    fn formulas_behind_white_space_invisible_characters_or_full_width_signs_are_made_text() {
        for text in [
            "  =1+1",
            "\u{200B}=1+1",
            "\u{FEFF}+1",
            "\u{0001}@x",
            "\u{00A0}-2",
            "\u{FF1D}1+1",
            "\u{FF0B}1",
            "\u{FF0D}1",
            "\u{FF20}SUM(A1)",
            "\u{2060}\u{200D} =1",
            "\u{2066}=HYPERLINK(1)",
            "\u{FE0F}+1",
            "\u{3164}@x",
        ] {
            assert_eq!(csv_cell(text), format!("\"'{text}\""), "{text:?}");
        }
        assert_eq!(csv_cell("a=1"), "\"a=1\"");
        assert_eq!(csv_cell("  calm"), "\"  calm\"");
    }

    #[test]
    fn formats_parse_with_json_as_default() {
        assert_eq!(Format::parse(None), Ok(Format::Json));
        assert_eq!(Format::parse(Some("markdown")), Ok(Format::Markdown));
        assert!(Format::parse(Some("xml")).is_err());
    }
}
