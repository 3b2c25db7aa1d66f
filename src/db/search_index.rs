//! The keyed search index. An entry is found by tokens, never by its words: the
//! first three and first five characters of each word of its note and tags
//! ([`index_terms`]) become truncated HMACs under the owner's search key
//! ([`EntryKeys::term_token`]). The tokens live
//! in an FTS5 table used only as a compact posting list (`detail=none`, no text);
//! each tag gets a row keyed in page order for tag filters, and a count with its
//! spelling sealed. Tokens are computed and spellings sealed before the write
//! reaches the writer thread, so the writer only stores them.
//!
//! Removing an entry's rows needs no key (a trigger in `sql/0011_untag_without_triggers.sql`),
//! so an entry deleted by id or with its account always takes its rows along.

use rusqlite::{params, Connection};

use super::error::StoreResult;
use super::sealing::{EntryKeys, Field};
use crate::domain::{fold_tag, index_terms, SearchQuery, Tags};

/// An entry's index rows, keyed and ready to write.
#[derive(Debug, Clone)]
pub struct EntryIndex {
    /// The FTS5 document: the tokens as eight-character base-32 words.
    document: String,
    /// The tag tokens as a JSON array, stored with the entry.
    tag_tokens: String,
    /// Each distinct tag's token and its spelling, sealed.
    tags: Vec<(i64, Vec<u8>)>,
}

fn hex(token: i64) -> String {
    format!("{:016x}", token as u64)
}

/// A search token as the FTS5 document holds it: its first 40 bits in eight
/// base-32 characters. Short tokens keep the index small and its merges cheap; a
/// collision between two of one user's words only adds a candidate, which the
/// check on the opened text drops.
fn token_word(token: i64) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bits = (token as u64) >> 24;
    (0..8)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

/// Where a tag's spelling is sealed: under the tag's token, so it opens only there.
fn spelling_slot(token: i64) -> String {
    format!("tag:{}", hex(token))
}

impl EntryIndex {
    /// # Errors
    /// Only when sealing fails (the system's random number generator).
    pub fn new(keys: &EntryKeys, note: &str, tags: &Tags) -> StoreResult<Self> {
        let terms = index_terms(note, tags.as_slice());
        let mut document = String::with_capacity(terms.len() * 9);
        for term in &terms {
            if !document.is_empty() {
                document.push(' ');
            }
            document.push_str(&token_word(keys.term_token(term)));
        }
        let mut keyed: Vec<(i64, Vec<u8>)> = Vec::with_capacity(tags.as_slice().len());
        for tag in tags.as_slice() {
            let token = keys.tag_token(&fold_tag(tag));
            if keyed.iter().any(|(known, _)| *known == token) {
                continue;
            }
            let spelling = keys.seal(&spelling_slot(token), Field::TagSpelling, tag)?;
            keyed.push((token, spelling));
        }
        let tag_tokens =
            serde_json::to_string(&keyed.iter().map(|(token, _)| *token).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".to_owned());
        Ok(Self {
            document,
            tag_tokens,
            tags: keyed,
        })
    }

    pub fn tag_tokens(&self) -> &str {
        &self.tag_tokens
    }

    /// Writes the entry's search row (replacing any, unless it is `New`) and, with
    /// `tags`, its tag rows and counts. Tag rows of an earlier version must be gone
    /// first ([`remove_tag_rows`]); they are written only when the tags changed.
    pub(super) fn write(
        &self,
        conn: &Connection,
        entry: IndexedEntry<'_>,
        row: SearchRow,
        tags: bool,
    ) -> rusqlite::Result<()> {
        if row == SearchRow::Replace {
            conn.prepare_cached("DELETE FROM entries_search WHERE rowid = ?1")?
                .execute([entry.seq])?;
        }
        conn.prepare_cached("INSERT INTO entries_search (rowid, tokens) VALUES (?1, ?2)")?
            .execute(params![entry.seq, self.document])?;
        if !tags {
            return Ok(());
        }
        let mut add_tag = conn.prepare_cached(
            "INSERT OR IGNORE INTO entry_tags (user_id, tag_token, created_at, entry_id, entry_row_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        // A tag keeps the spelling it was counted with while any entry carries it.
        let mut count_tag = conn.prepare_cached(
            "INSERT INTO tag_counts (user_id, tag_token, uses, spelling) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT (user_id, tag_token) DO UPDATE SET uses = uses + 1",
        )?;
        for (token, spelling) in &self.tags {
            let added = add_tag.execute(params![
                entry.user_id,
                token,
                entry.created_at,
                entry.id,
                entry.row_id
            ])?;
            if added > 0 {
                count_tag.execute(params![entry.user_id, token, spelling])?;
            }
        }
        Ok(())
    }
}

/// Whether an entry may already have a search row. A new entry has none: its seq
/// is new, and a deleted entry's row went with it (the delete trigger), so
/// looking for one would only cost the write a search of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SearchRow {
    New,
    Replace,
}

/// Removes an entry's tag rows, as its stored `tag_tokens` name them, and counts
/// each removed row off its tag (a count that reaches zero goes). The trigger
/// that does the same when an entry is deleted lives in
/// `sql/0011_untag_without_triggers.sql`; an update does it here because a
/// trigger on the update would open a statement journal, and with it an FTS5
/// flush per write.
pub(super) fn remove_tag_rows(
    conn: &Connection,
    entry: IndexedEntry<'_>,
    tag_tokens: &str,
) -> rusqlite::Result<()> {
    // One row per statement: a statement that may change several rows and then
    // fail needs a journal too.
    let tokens: Vec<i64> = serde_json::from_str(tag_tokens).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })?;
    let mut remove_row = conn.prepare_cached(
        "DELETE FROM entry_tags
         WHERE user_id = ?1 AND tag_token = ?2 AND created_at = ?3 AND entry_id = ?4",
    )?;
    let mut count_off = conn.prepare_cached(
        "UPDATE tag_counts SET uses = uses - 1 WHERE user_id = ?1 AND tag_token = ?2",
    )?;
    let mut drop_unused = conn.prepare_cached(
        "DELETE FROM tag_counts WHERE user_id = ?1 AND tag_token = ?2 AND uses <= 0",
    )?;
    for token in tokens {
        let removed =
            remove_row.execute(params![entry.user_id, token, entry.created_at, entry.id])?;
        if removed > 0 {
            count_off.execute(params![entry.user_id, token])?;
            drop_unused.execute(params![entry.user_id, token])?;
        }
    }
    Ok(())
}

/// The entry an index row points at.
#[derive(Debug, Clone, Copy)]
pub(super) struct IndexedEntry<'a> {
    /// The search row's id (time order).
    pub seq: i64,
    /// Where the entry is in the table, for its tag rows.
    pub row_id: i64,
    pub id: &'a str,
    pub user_id: &'a str,
    pub created_at: i64,
}

/// Pages of merging one tidying step writes: a write arriving meanwhile waits for
/// at most this much.
const TIDY_PAGES: i64 = 64;

/// One step of tidying the search index, for when the writer is idle. FTS5 merges
/// as it writes but lets each level of its index hold several segments, and a
/// search seeks its tokens in every segment (a third of a search's time with 23
/// segments at a million entries); this merges any level holding two or more
/// (`usermerge`, set with the table), at most [`TIDY_PAGES`] pages at a time.
/// `true` while more is left to merge.
///
/// # Errors
/// The merge fails (it is rolled back; the index stays as it was).
pub fn tidy_step(conn: &Connection) -> rusqlite::Result<bool> {
    let before = conn.total_changes();
    conn.prepare_cached("INSERT INTO entries_search (entries_search, rank) VALUES ('merge', ?1)")?
        .execute([TIDY_PAGES])?;
    // FTS5's own signal: a merge that found nothing to do changes fewer than two rows.
    Ok(conn.total_changes() - before >= 2)
}

/// The FTS5 query for the tokens every match holds: each token quoted (they are
/// letters and digits, but quoting keeps anything from reading as query syntax),
/// all ANDed. `None` when no token is required (every word of the search has one
/// or two characters).
pub(super) fn search_match(keys: &EntryKeys, search: &SearchQuery) -> Option<String> {
    let tokens: Vec<String> = search
        .required_terms()
        .iter()
        .map(|term| format!("\"{}\"", token_word(keys.term_token(term))))
        .collect();
    (!tokens.is_empty()).then(|| tokens.join(" AND "))
}

/// Opens a tag's spelling as stored in the tag counts.
///
/// # Errors
/// `Integrity` when it does not open under this user's key and this tag.
pub(super) fn open_spelling(keys: &EntryKeys, token: i64, sealed: Vec<u8>) -> StoreResult<String> {
    keys.open_sealed(&spelling_slot(token), Field::TagSpelling, &sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;

    #[test]
    fn the_index_holds_no_word_and_each_tag_once() {
        let keys = EntryKeys::new("alice", &Key::generate().expect("key"));
        let tags = Tags::from_stored(r#"["Work"," work ","Garden"]"#);
        let index = EntryIndex::new(&keys, "Secretword in the garden", &tags).expect("index");
        assert!(!index.document.contains("secret"));
        assert!(index.document.split(' ').all(|token| token.len() == 8
            && token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))));
        assert_eq!(index.tags.len(), 2);
        let search = SearchQuery::parse("secretword")
            .expect("valid")
            .expect("words");
        let wanted = search_match(&keys, &search).expect("a token");
        assert!(index.document.contains(wanted.trim_matches('"')));
    }

    #[test]
    fn tidying_merges_the_segments_many_small_commits_leave() {
        let mut conn = Connection::open_in_memory().expect("db");
        crate::db::register_functions(&conn).expect("functions");
        crate::db::migrations::apply(&mut conn).expect("schema");
        let segments = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT count(DISTINCT segid) FROM entries_search_idx",
                [],
                |r| r.get(0),
            )
            .expect("segments")
        };
        // Each statement its own transaction: one small segment per entry, as
        // lone writes leave them, for FTS5's own merging to gather.
        for i in 0..200_i64 {
            conn.execute(
                "INSERT INTO entries_search (rowid, tokens) VALUES (?1, ?2)",
                params![i, format!("aaaa{i:04} bbbbbbbb cccccccc")],
            )
            .expect("row");
        }
        let untidy = segments(&conn);
        let mut steps = 0;
        while tidy_step(&conn).expect("step") {
            steps += 1;
            assert!(steps < 1_000, "tidying ends");
        }
        let tidy = segments(&conn);
        assert!(steps >= 1, "there was merging to do");
        assert!(tidy < untidy, "{untidy} segments, {tidy} after tidying");
        assert!(!tidy_step(&conn).expect("step"), "nothing left to do");
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM entries_search WHERE entries_search MATCH 'bbbbbbbb'",
                [],
                |r| r.get(0),
            )
            .expect("search");
        assert_eq!(found, 200, "every row still found");
    }
}
