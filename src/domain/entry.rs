use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use super::time::Millis;
use super::{required_str, trim_text, FieldErrors, ValidationError};

const MAX_MOOD_CHARS: usize = 32;
const MAX_TAG_CHARS: usize = 32;
const MAX_TAGS: usize = 10;
pub const MIN_NOTE_CHARS: usize = 50;
const MAX_NOTE_CHARS: usize = 10_000;

/// Characters that show nothing: zero-width and joiner characters, direction
/// marks and isolates, the soft hyphen, variation selectors, the byte order mark.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
    )
}

/// A short label (a mood, a tag): trimmed, at most `max` characters as sent,
/// without control characters, showing at least one character, in NFC so that
/// one word has one spelling.
fn parse_label(raw: &str, max: usize, what: &str) -> Result<String, String> {
    let label = trim_text(raw);
    let count = label.chars().count();
    if count == 0 {
        return Err(format!("{what} must not be empty"));
    }
    if count > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    if label.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    if label.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(format!("{what} must contain a visible character"));
    }
    let normalised: String = label.nfc().collect();
    // NFC can make text longer (some scripts' composed forms decompose again); the
    // limit holds for what is stored too.
    if normalised.chars().count() > max || normalised.to_lowercase().chars().count() > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    Ok(normalised)
}

/// Trimmed, lower-cased, 1..=32 characters, NFC, visible, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mood(String);

impl Mood {
    /// # Errors
    /// A message for the `mood` field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mood = parse_label(raw, MAX_MOOD_CHARS, "mood")
            .map_err(|message| message.trim_start_matches("mood ").to_owned())?;
        // Lower-casing can add letters (`İ` is `i̇`); stored in NFC again.
        Ok(Self(mood.to_lowercase().nfc().collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 10 distinct tags, each trimmed and 1..=32 characters, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    /// Missing or `null` means no tags.
    ///
    /// # Errors
    /// A message for the `tags` field.
    pub fn parse(raw: Option<&Value>) -> Result<Self, String> {
        let items = match raw {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err("must be an array of strings".into()),
        };
        // Counted as sent, before duplicates are dropped, so the rule is the document's `maxItems`.
        if items.len() > MAX_TAGS {
            return Err(format!("must hold at most {MAX_TAGS} tags"));
        }
        let mut tags: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(tag) = item else {
                return Err("must be an array of strings".into());
            };
            let tag = parse_label(tag, MAX_TAG_CHARS, "each tag")?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Self(tags))
    }

    /// Tags as stored (a JSON array); anything unreadable counts as no tags.
    pub fn from_stored(json: &str) -> Self {
        Self(serde_json::from_str(json).unwrap_or_default())
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// Trimmed text of 50..=10,000 Unicode characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    /// # Errors
    /// A message for the `note` field.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let note = trim_text(raw);
        if note
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        {
            return Err(
                "must not contain control characters other than tab and line breaks".into(),
            );
        }
        match note.chars().count() {
            n if n < MIN_NOTE_CHARS => Err(format!("must be at least {MIN_NOTE_CHARS} characters")),
            n if n > MAX_NOTE_CHARS => Err(format!("must be at most {MAX_NOTE_CHARS} characters")),
            _ => Ok(Self(note.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A UUID in its canonical lower-case form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryId(String);

/// Text that is not an entry id. The API answers it like an id that is not
/// there, so a malformed id looks like someone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an entry id")]
pub struct InvalidEntryId;

impl EntryId {
    /// # Errors
    /// `InvalidEntryId` when the text is not a UUID.
    pub fn parse(raw: &str) -> Result<Self, InvalidEntryId> {
        Uuid::parse_str(raw)
            .map(|id| Self(id.hyphenated().to_string()))
            .map_err(|_| InvalidEntryId)
    }

    pub fn new_random() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The `note` of a vibe-check body: any string up to the note limit (short or
/// gibberish notes are the pipeline's to skip, not errors).
///
/// # Errors
/// 422 when missing, not a string, or longer than 10,000 characters.
pub fn required_note_text(body: &Map<String, Value>) -> Result<String, ValidationError> {
    let note = super::required_field(body, "note")?;
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ValidationError::field(
            "note",
            format!("must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(note.to_owned())
}

/// The optional `mood` of a vibe-check body, so that a reply can be made for the
/// mood as an entry's would be. Missing or null is no mood.
///
/// # Errors
/// 422 when present but not a valid mood.
pub fn optional_mood(body: &Map<String, Value>) -> Result<Option<Mood>, ValidationError> {
    match body.get("mood") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => super::required_str(body, "mood")
            .and_then(Mood::parse)
            .map(Some)
            .map_err(|message| ValidationError::field("mood", message)),
    }
}

/// What a vibe check is asked about: a note (with the optional mood of its
/// entry), or an entry already saved with its check deferred, whose reply is then
/// stored with it.
#[derive(Debug)]
pub enum VibeSubject {
    Note { note: String, mood: Option<Mood> },
    Entry(Result<EntryId, InvalidEntryId>),
}

impl VibeSubject {
    /// # Errors
    /// 422 for a bad note or mood without an `entry_id`, or an `entry_id` that is
    /// not a string. A string that is no entry id is kept as `Err`, to be answered
    /// like an unknown entry (404).
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        match body.get("entry_id") {
            None | Some(Value::Null) => Ok(Self::Note {
                note: required_note_text(body)?,
                mood: optional_mood(body)?,
            }),
            // The entry's own note and mood are what is checked; any in the body must
            // still be well-formed, and are then ignored.
            Some(Value::String(id)) => {
                if body.get("note").is_some_and(|v| !v.is_null()) {
                    required_note_text(body)?;
                }
                optional_mood(body)?;
                Ok(Self::Entry(EntryId::parse(id)))
            }
            Some(_) => Err(ValidationError::field("entry_id", "must be a string")),
        }
    }
}

/// A stored entry of one user, as storage returns it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub mood: String,
    pub tags: Tags,
    pub note: String,
    pub ai_response: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Entry {
    /// Where a newest-first page that ends with this entry continues.
    pub fn cursor(&self) -> super::Cursor {
        super::Cursor {
            created_at: self.created_at,
            id: self.id.clone(),
        }
    }
}

/// A valid `POST /api/entries` body. Fields other than these three are ignored.
#[derive(Debug)]
pub struct NewEntry {
    pub mood: Mood,
    pub tags: Tags,
    pub note: Note,
}

impl NewEntry {
    /// # Errors
    /// 422 naming each bad field.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let mut errors = FieldErrors::default();
        let mood = errors.take("mood", required_str(body, "mood").and_then(Mood::parse));
        let tags = errors.take("tags", Tags::parse(body.get("tags")));
        let note = errors.take("note", required_str(body, "note").and_then(Note::parse));
        let values = match (mood, tags, note) {
            (Some(mood), Some(tags), Some(note)) => Some(Self { mood, tags, note }),
            _ => None,
        };
        errors.finish(values)
    }
}

/// A valid `PUT /api/entries/{id}` body: a non-empty subset of mood, tags and note.
#[derive(Debug, Default)]
pub struct EntryChanges {
    pub mood: Option<Mood>,
    pub tags: Option<Tags>,
    pub note: Option<Note>,
}

impl EntryChanges {
    /// `"tags": null` clears the tags; `"mood": null` or `"note": null` are errors.
    ///
    /// # Errors
    /// 422 naming each bad field, or when none of the three is present.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        if !["mood", "tags", "note"]
            .iter()
            .any(|f| body.contains_key(*f))
        {
            return Err(ValidationError::field(
                "body",
                "must contain at least one of mood, tags, note",
            ));
        }
        let mut errors = FieldErrors::default();
        let mut changes = Self::default();
        if body.contains_key("mood") {
            changes.mood = errors.take("mood", required_str(body, "mood").and_then(Mood::parse));
        }
        if body.contains_key("tags") {
            changes.tags = errors.take("tags", Tags::parse(body.get("tags")));
        }
        if body.contains_key("note") {
            changes.note = errors.take("note", required_str(body, "note").and_then(Note::parse));
        }
        errors.into_result()?;
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn fields_of(err: ValidationError) -> Vec<&'static str> {
        err.fields().keys().copied().collect()
    }

    #[test]
    fn a_mood_of_only_invisible_characters_is_rejected() {
        for mood in ["\u{200B}", " \u{200B}\u{FEFF} ", "\u{2060}", "\u{FE0F}"] {
            assert!(Mood::parse(mood).is_err(), "{mood:?}");
        }
        assert!(Mood::parse("\u{200B}calm").is_ok());
    }

    #[test]
    fn control_characters_are_refused_in_moods_tags_and_notes() {
        assert!(Mood::parse("ca\u{0}lm").is_err());
        assert!(Mood::parse("ca\u{7}lm").is_err());
        assert!(Mood::parse("ca\u{85}lm").is_err());
        assert!(Tags::parse(Some(&json!(["wo\u{1b}rk"]))).is_err());
        assert!(Tags::parse(Some(&json!(["wo\nrk"]))).is_err());
        let long = "x".repeat(60);
        assert!(Note::parse(&format!("{long}\u{0}")).is_err());
        assert!(Note::parse(&format!("{long}\u{1b}[31m")).is_err());
        assert!(Note::parse(&format!("{long}\ttab\r\nnext line")).is_ok());
    }

    #[test]
    fn a_mood_that_grows_past_32_characters_when_normalised_is_rejected() {
        assert!(
            Mood::parse(&"\u{0958}".repeat(32)).is_err(),
            "NFC decomposes it"
        );
        assert!(
            Mood::parse(&"\u{0130}".repeat(32)).is_err(),
            "lower case is longer"
        );
        assert!(Mood::parse(&"\u{0130}".repeat(16)).is_ok());
    }

    #[test]
    fn moods_and_tags_are_stored_in_nfc_so_one_word_has_one_spelling() {
        let nfd = "cafe\u{301}";
        let nfc = "caf\u{e9}";
        assert_eq!(Mood::parse(nfd).unwrap().as_str(), nfc);
        let tags = Tags::parse(Some(&json!([nfd, nfc]))).unwrap();
        assert_eq!(tags.as_slice(), [nfc.to_string()]);
    }

    #[test]
    fn a_mood_is_trimmed_and_lower_cased() {
        assert_eq!(Mood::parse("  Happy ").unwrap().as_str(), "happy");
    }

    #[test]
    fn a_mood_of_spaces_only_is_rejected() {
        assert!(Mood::parse("   ").is_err());
    }

    #[test]
    fn a_mood_of_33_characters_is_rejected_and_32_accepted() {
        assert!(Mood::parse(&"m".repeat(33)).is_err());
        assert!(Mood::parse(&"m".repeat(32)).is_ok());
    }

    #[test]
    fn a_note_of_49_characters_is_rejected_and_50_accepted() {
        assert!(Note::parse(&"a".repeat(49)).is_err());
        assert!(Note::parse(&"a".repeat(50)).is_ok());
    }

    #[test]
    fn surrounding_spaces_do_not_count_towards_the_note_length() {
        assert!(Note::parse(&format!("   {}   ", "a".repeat(49))).is_err());
    }

    #[test]
    fn a_note_of_50_multibyte_characters_is_accepted() {
        assert!(Note::parse(&"é".repeat(50)).is_ok());
        assert!(Note::parse(&"😊".repeat(50)).is_ok());
    }

    #[test]
    fn a_note_of_10001_characters_is_rejected_and_10000_accepted() {
        assert!(Note::parse(&"a".repeat(10_001)).is_err());
        assert!(Note::parse(&"a".repeat(10_000)).is_ok());
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated_in_order() {
        let tags = Tags::parse(Some(&json!([" work ", "sleep", "work", "family"]))).unwrap();
        assert_eq!(tags.as_slice(), ["work", "sleep", "family"]);
    }

    #[test]
    fn missing_or_null_tags_are_empty() {
        assert!(Tags::parse(None).unwrap().as_slice().is_empty());
        assert!(Tags::parse(Some(&Value::Null))
            .unwrap()
            .as_slice()
            .is_empty());
    }

    #[test]
    fn eleven_tags_are_rejected_and_ten_accepted() {
        let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(Some(&json!(ten))).is_ok());
        assert!(Tags::parse(Some(&json!(eleven))).is_err());
    }

    #[test]
    fn eleven_tags_are_rejected_even_when_duplicates_would_leave_ten() {
        let mut tags: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        tags.push("t0".into());
        assert!(Tags::parse(Some(&json!(tags))).is_err());
    }

    #[test]
    fn ascii_separators_count_as_surrounding_white_space() {
        assert_eq!(Mood::parse("\x1c calm \u{3000}").unwrap().as_str(), "calm");
    }

    #[test]
    fn a_tag_of_33_characters_or_an_empty_tag_is_rejected() {
        assert!(Tags::parse(Some(&json!(["t".repeat(33)]))).is_err());
        assert!(Tags::parse(Some(&json!(["t".repeat(32)]))).is_ok());
        assert!(Tags::parse(Some(&json!(["  "]))).is_err());
    }

    #[test]
    fn tags_that_are_not_an_array_of_strings_are_rejected() {
        assert!(Tags::parse(Some(&json!("work"))).is_err());
        assert!(Tags::parse(Some(&json!([1, 2]))).is_err());
    }

    #[test]
    fn every_bad_field_of_a_new_entry_is_named() {
        let err = NewEntry::parse(&body(json!({"mood": "", "tags": "x", "note": 5}))).unwrap_err();
        assert_eq!(fields_of(err), ["mood", "note", "tags"]);
    }

    #[test]
    fn unknown_fields_of_a_new_entry_are_ignored() {
        let entry = NewEntry::parse(&body(json!({
            "mood": "Calm", "note": "n".repeat(60), "id": "x", "user_id": "y", "ai_response": "z"
        })))
        .unwrap();
        assert_eq!(entry.mood.as_str(), "calm");
    }

    #[test]
    fn changes_need_at_least_one_known_field() {
        assert!(EntryChanges::parse(&body(json!({}))).is_err());
        assert!(EntryChanges::parse(&body(json!({"id": "x"}))).is_err());
        let changes = EntryChanges::parse(&body(json!({"mood": "sad"}))).unwrap();
        assert!(changes.mood.is_some() && changes.note.is_none() && changes.tags.is_none());
    }

    #[test]
    fn an_entry_id_must_be_a_uuid_and_is_normalised() {
        assert_eq!(EntryId::parse("not-a-uuid"), Err(InvalidEntryId));
        let id = EntryId::parse("6F9619FF-8B86-4011-B42D-00C04FC964FF").unwrap();
        assert_eq!(id.as_str(), "6f9619ff-8b86-4011-b42d-00c04fc964ff");
    }
}
