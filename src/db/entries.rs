use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};

use super::error::{StoreError, StoreResult};
use super::group_commit::Place;
use super::sealing::{EntryKeys, Field};
use super::search_index::{
    open_spelling, remove_tag_rows, search_match, EntryIndex, IndexedEntry, SearchRow,
};
use super::Database;
use crate::domain::time::{now_millis, Millis};
use crate::domain::{Cursor, Entry, EntryChanges, EntryId, ListQuery, NewEntry, Tags, WeekQuery};

/// Each private field is read from its sealed column, or from its column in clear
/// while the upgrade has not sealed it yet.
const COLUMNS: &str =
    "id, mood, created_at, updated_at, note, tags, ai_response, clear_note, clear_tags, clear_reply";

/// Reads one row and opens its private fields where they lie in the row (on the
/// database thread, without copying the sealed bytes). Text in clear is accepted
/// only until the upgrade has sealed it all; after that it can only have been
/// planted, and is an integrity error, as is a missing note or tags.
fn open_row(row: &Row<'_>, keys: &EntryKeys, clear_allowed: bool) -> rusqlite::Result<Entry> {
    let id: String = row.get(0)?;
    let integrity = |field: Field| {
        StoreError::Integrity {
            entry_id: id.clone(),
            field: field.name(),
        }
        .into_sql()
    };
    let field = |sealed: usize, clear: usize, field: Field| -> rusqlite::Result<Option<String>> {
        match row.get_ref(sealed)? {
            ValueRef::Blob(bytes) => keys
                .open_sealed(&id, field, bytes)
                .map(Some)
                .map_err(StoreError::into_sql),
            ValueRef::Null => match row.get_ref(clear)? {
                ValueRef::Null => Ok(None),
                ValueRef::Text(text) if clear_allowed => {
                    Ok(Some(String::from_utf8_lossy(text).into_owned()))
                }
                _ => Err(integrity(field)),
            },
            _ => Err(integrity(field)),
        }
    };
    let note = field(4, 7, Field::Note)?.ok_or_else(|| integrity(Field::Note))?;
    let tags = field(5, 8, Field::Tags)?.ok_or_else(|| integrity(Field::Tags))?;
    let ai_response = field(6, 9, Field::Reply)?;
    Ok(Entry {
        mood: row.get(1)?,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
        tags: Tags::from_stored(&tags),
        note,
        ai_response,
        id,
    })
}

/// An entry's private fields sealed and its index keyed, before the write: the
/// writer thread only stores bytes.
#[derive(Debug, Clone)]
pub struct SealedEntry {
    note: Vec<u8>,
    tags: Vec<u8>,
    reply: Option<Vec<u8>>,
    index: EntryIndex,
}

impl SealedEntry {
    /// # Errors
    /// Only when sealing fails (the system's random number generator).
    pub fn new(keys: &EntryKeys, entry: &Entry) -> StoreResult<Self> {
        Ok(Self {
            note: keys.seal(&entry.id, Field::Note, &entry.note)?,
            tags: keys.seal(&entry.id, Field::Tags, &entry.tags.to_stored())?,
            reply: entry
                .ai_response
                .as_deref()
                .map(|text| keys.seal(&entry.id, Field::Reply, text))
                .transpose()?,
            index: EntryIndex::new(keys, &entry.note, &entry.tags)?,
        })
    }
}

/// Seqs per millisecond: an entry's seq is `created_at * SEQS_PER_MILLI + k`, k
/// counting the entries (of every user) written in that millisecond, so that the
/// order of seqs, and of the search rows keyed by them, is the order of time.
const SEQS_PER_MILLI: i64 = 65_536;

/// The seqs an entry created at `created_at` may take: `[first, end)`.
fn seq_range(created_at: Millis) -> Option<(i64, i64)> {
    let first = created_at.checked_mul(SEQS_PER_MILLI)?;
    Some((first, first.checked_add(SEQS_PER_MILLI)?))
}

/// The first seq of any entry created at or after `at`, as a query bound: it
/// saturates where no entry can be (a year past 6400 or before -2400), so a far
/// bound still bounds the walk instead of dropping out.
fn seq_floor(at: Millis) -> i64 {
    at.saturating_mul(SEQS_PER_MILLI)
}

/// Rows per account slot: an entry's row id is `slot * ROWS_PER_SLOT + n`, so the
/// table, ordered by row id, keeps each account's entries together (migration
/// 0012). The slot is a stable hash of the account id, below 2^31, so every row id
/// is a positive 63-bit integer.
const ROWS_PER_SLOT: i64 = 1 << 32;

/// The table region of an account's entries. Accounts whose slots collide share
/// a region (their rows are told apart by n), which costs locality, not
/// correctness.
pub(crate) fn entry_slot(user_id: &str) -> i64 {
    // The top 31 bits of the hash: below 2^31, so the cast cannot wrap.
    (crate::fnv::fnv1a(user_id.as_bytes()) >> 33) as i64
}

/// The row id for a new entry of `user_id`: after the last row in its slot.
/// `Busy` if the slot is full (2^32 rows, far past any account's size).
fn next_row_id(conn: &Connection, user_id: &str) -> rusqlite::Result<i64> {
    next_row_id_in_slot(conn, entry_slot(user_id))
}

fn next_row_id_in_slot(conn: &Connection, slot: i64) -> rusqlite::Result<i64> {
    let first = slot * ROWS_PER_SLOT;
    // Inclusive: the end of the last slot, 2^63, is past i64.
    let last = first + (ROWS_PER_SLOT - 1);
    let highest: Option<i64> = conn
        .prepare_cached("SELECT max(row_id) FROM entries WHERE row_id BETWEEN ?1 AND ?2")?
        .query_row([first, last], |row| row.get(0))?;
    match highest {
        None => Ok(first),
        Some(highest) if highest < last => Ok(highest + 1),
        Some(_) => Err(StoreError::Busy.into_sql()),
    }
}

/// Writes a new entry with its index rows (the caller holds the transaction).
/// Public for tools that fill a database directly (the load benchmark's seed).
///
/// # Errors
/// The write fails (for example, the user no longer exists), or the entry's
/// millisecond has no seq left (`Busy`; 65,536 entries in one millisecond).
pub fn insert_sealed(
    conn: &Connection,
    user_id: &str,
    entry: &Entry,
    sealed: &SealedEntry,
) -> rusqlite::Result<()> {
    let (first, end) = seq_range(entry.created_at).ok_or_else(|| StoreError::Busy.into_sql())?;
    let seq: i64 = conn
        .prepare_cached(
            "SELECT coalesce(max(seq) + 1, ?1) FROM entries WHERE seq >= ?1 AND seq < ?2",
        )?
        .query_row([first, end], |row| row.get(0))?;
    if seq >= end {
        return Err(StoreError::Busy.into_sql());
    }
    let row_id = next_row_id(conn, user_id)?;
    conn.prepare_cached(
        "INSERT INTO entries (row_id, seq, id, user_id, mood, created_at, updated_at, note, tags, ai_response, tag_tokens)
         VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        seq,
        entry.id,
        user_id,
        entry.mood,
        entry.created_at,
        entry.updated_at,
        sealed.note,
        sealed.tags,
        sealed.reply,
        sealed.index.tag_tokens(),
        row_id
    ])?;
    sealed.index.write(
        conn,
        IndexedEntry {
            seq,
            row_id,
            id: &entry.id,
            user_id,
            created_at: entry.created_at,
        },
        SearchRow::New,
        true,
    )
}

/// [`COLUMNS`] of the entries table named `e`, spelled out once.
static ALIASED_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    COLUMNS
        .split(", ")
        .map(|column| format!("e.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The entry as it is after `changes`; `reply` replaces the reply when `Some`.
fn apply_changes(current: &Entry, changes: &EntryChanges, reply: Option<Option<String>>) -> Entry {
    Entry {
        id: current.id.clone(),
        mood: changes
            .mood
            .as_ref()
            .map_or_else(|| current.mood.clone(), |m| m.as_str().to_owned()),
        tags: changes.tags.clone().unwrap_or_else(|| current.tags.clone()),
        note: changes
            .note
            .as_ref()
            .map_or_else(|| current.note.clone(), |n| n.as_str().to_owned()),
        ai_response: reply.unwrap_or_else(|| current.ai_response.clone()),
        created_at: current.created_at,
        updated_at: now_millis().max(current.updated_at + 1),
    }
}

/// What an update writes besides the fields themselves.
#[derive(Debug, Clone, Copy)]
struct Reindex {
    reply: bool,
    search: bool,
    tags: bool,
}

/// Writes an update if the entry is still as it was read; `false` when it is not
/// (changed since, or gone).
///
/// No statement here may need a statement journal (no `RETURNING`, no trigger):
/// opening one makes FTS5 flush its pending terms, which would turn a batch's
/// one index segment into one per update (see the group commit).
fn write_update(
    conn: &Connection,
    user_id: &str,
    next: &Entry,
    sealed: &SealedEntry,
    read_updated_at: Millis,
    reindex: Reindex,
) -> rusqlite::Result<bool> {
    let found: Option<(i64, i64, String)> = conn
        .prepare_cached(
            "SELECT row_id, seq, tag_tokens FROM entries WHERE id = ?1 AND user_id = ?2 AND updated_at = ?3",
        )?
        .query_row(params![next.id, user_id, read_updated_at], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((row_id, seq, old_tag_tokens)) = found else {
        return Ok(false);
    };
    conn.prepare_cached(
        "UPDATE entries SET
            mood = ?1, note = ?2, tags = ?3, tag_tokens = ?4,
            ai_response = CASE WHEN ?5 THEN ?6 ELSE ai_response END,
            clear_reply = CASE WHEN ?5 THEN NULL ELSE clear_reply END,
            clear_note = NULL, clear_tags = NULL,
            updated_at = ?7
         WHERE row_id = ?8",
    )?
    .execute(params![
        next.mood,
        sealed.note,
        sealed.tags,
        sealed.index.tag_tokens(),
        reindex.reply,
        sealed.reply,
        next.updated_at,
        row_id
    ])?;
    let entry = IndexedEntry {
        seq,
        row_id,
        id: &next.id,
        user_id,
        created_at: next.created_at,
    };
    // Tag rows follow the stored tokens, so tokens stored by an earlier way of
    // folding tags are replaced even when the tags themselves did not change.
    let retag = reindex.tags || old_tag_tokens != sealed.index.tag_tokens();
    if retag {
        remove_tag_rows(conn, entry, &old_tag_tokens)?;
    }
    if reindex.search || retag {
        sealed.index.write(conn, entry, SearchRow::Replace, retag)?;
    }
    Ok(true)
}

/// A page of entries, newest first, and the cursor of the next page.
pub struct Page {
    pub entries: Vec<Entry>,
    pub next_cursor: Option<Cursor>,
}

/// A change to apply: the new note's vibe check result travels with it.
pub struct Update {
    pub changes: EntryChanges,
    /// `Some` when the note changed and the vibe check ran again.
    pub ai_response: Option<Option<String>>,
    /// The entry as the caller read it, which the change applies to.
    pub current: Entry,
}

/// How often an update is tried again when the entry changed under it.
const UPDATE_ATTEMPTS: usize = 5;

/// Every query here names the owner in its `WHERE` clause.
pub struct EntryStore<'a> {
    db: &'a Database,
}

impl<'a> EntryStore<'a> {
    pub(super) fn new(db: &'a Database) -> Self {
        Self { db }
    }

    /// Stores a new entry created at `created_at`.
    ///
    /// # Errors
    /// The write fails (for example, the user no longer exists).
    pub async fn insert(
        &self,
        keys: &EntryKeys,
        entry: &NewEntry,
        ai_response: Option<String>,
        created_at: Millis,
    ) -> StoreResult<Entry> {
        let row = Entry {
            id: EntryId::new_random().as_str().to_owned(),
            mood: entry.mood.as_str().to_owned(),
            tags: entry.tags.clone(),
            note: entry.note.as_str().to_owned(),
            ai_response,
            created_at,
            updated_at: created_at,
        };
        let sealed = SealedEntry::new(keys, &row)?;
        let user_id = keys.user_id().to_owned();
        let stored = row.clone();
        self.db
            .entry_writes()
            .write(
                Place::At(created_at),
                move |conn| insert_sealed(conn, &user_id, &stored, &sealed),
                self.db.after_entries_written(keys.user_id()),
            )
            .await?;
        Ok(row)
    }

    /// # Errors
    /// The database does not answer.
    pub async fn get(&self, keys: &EntryKeys, id: &EntryId) -> StoreResult<Option<Entry>> {
        let (user_id, id) = (keys.user_id().to_owned(), id.as_str().to_owned());
        let (keys, clear_allowed) = (keys.clone(), self.db.clear_text_allowed());
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM entries WHERE id = ?1 AND user_id = ?2"
                ))?
                .query_row([id, user_id], |row| open_row(row, &keys, clear_allowed))
                .optional()
            })
            .await?)
    }

    /// One page, newest first, by keyset over `(created_at, id)`. A tag filter
    /// without a search walks the tag's own rows, which are in page order, so a
    /// page reads about `limit` rows however rare or common the tag is. A search
    /// walks the search rows holding every required token newest first (their
    /// rowid is the entry's seq, which follows time) from where the page starts,
    /// and keeps the entries whose opened text matches until the page is full: it
    /// reads about a page of candidates however long the journal. A search with no
    /// token (all its words of one or two characters) walks the entries, or the
    /// first tag's rows, and checks each.
    ///
    /// # Errors
    /// The database does not answer, or a field does not open.
    pub async fn list(&self, keys: &EntryKeys, query: &ListQuery) -> StoreResult<Page> {
        let user_id = keys.user_id();
        let mut args: Vec<Box<dyn ToSql + Send>> = vec![Box::new(user_id.to_owned())];
        let filter = &query.filter;
        let tag_tokens: Vec<i64> = filter.tags.iter().map(|t| keys.tag_token(t)).collect();
        let search_tokens = filter
            .search
            .as_ref()
            .and_then(|search| search_match(keys, search));
        let by_seq = search_tokens.is_some();
        let (mut sql, time, id, other_tags) = match (search_tokens, tag_tokens.split_first()) {
            (Some(tokens), _) => {
                args.push(Box::new(tokens));
                (
                    format!(
                        "SELECT {} FROM entries_search AS s CROSS JOIN entries AS e ON e.seq = s.rowid
                         WHERE s.entries_search MATCH ?2 AND e.user_id = ?1",
                        *ALIASED_COLUMNS
                    ),
                    "e.created_at",
                    "e.id",
                    tag_tokens.as_slice(),
                )
            }
            (None, Some((first, rest))) => {
                args.push(Box::new(*first));
                (
                    format!(
                        "SELECT {} FROM entry_tags AS t JOIN entries AS e ON e.row_id = t.entry_row_id
                         WHERE t.user_id = ?1 AND t.tag_token = ?2 AND e.user_id = ?1
                           AND e.id = t.entry_id",
                        *ALIASED_COLUMNS
                    ),
                    "t.created_at",
                    "t.entry_id",
                    rest,
                )
            }
            _ => (
                format!(
                    "SELECT {} FROM entries AS e WHERE e.user_id = ?1",
                    *ALIASED_COLUMNS
                ),
                "e.created_at",
                "e.id",
                tag_tokens.as_slice(),
            ),
        };
        if let Some(from) = query.from {
            args.push(Box::new(from));
            sql.push_str(&format!(" AND {time} >= ?{}", args.len()));
        }
        if let Some(to) = query.to {
            args.push(Box::new(to));
            sql.push_str(&format!(" AND {time} <= ?{}", args.len()));
        }
        if !filter.moods.is_empty() {
            let first = args.len() + 1;
            for mood in &filter.moods {
                args.push(Box::new(mood.clone()));
            }
            let marks: Vec<String> = (first..=args.len()).map(|i| format!("?{i}")).collect();
            sql.push_str(&format!(" AND e.mood IN ({})", marks.join(", ")));
        }
        for token in other_tags {
            args.push(Box::new(*token));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM entry_tags AS other
                   WHERE other.user_id = ?1 AND other.tag_token = ?{}
                     AND other.created_at = e.created_at AND other.entry_id = e.id)",
                args.len()
            ));
        }
        if let Some(cursor) = &query.cursor {
            args.push(Box::new(cursor.created_at));
            args.push(Box::new(cursor.id.clone()));
            sql.push_str(&format!(
                " AND ({time}, {id}) < (?{}, ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        let limit = query.limit as usize;
        if by_seq {
            // The same bounds on the search rows' own rowid, so the walk starts at
            // the page and ends at `from` instead of filtering the whole history.
            let newest = [query.to, query.cursor.as_ref().map(|c| c.created_at)]
                .into_iter()
                .flatten()
                .min();
            if let Some(newest) = newest {
                args.push(Box::new(seq_floor(newest.saturating_add(1))));
                sql.push_str(&format!(" AND s.rowid < ?{}", args.len()));
            }
            if let Some(from) = query.from {
                args.push(Box::new(seq_floor(from)));
                sql.push_str(&format!(" AND s.rowid >= ?{}", args.len()));
            }
            sql.push_str(" ORDER BY s.rowid DESC");
        } else {
            sql.push_str(&format!(" ORDER BY {time} DESC, {id} DESC"));
        }
        // Without a search every row read is kept: the page is `limit` rows and one
        // more to know whether another page follows. A search reads on until
        // enough candidates match.
        if filter.search.is_none() {
            args.push(Box::new(limit as i64 + 1));
            sql.push_str(&format!(" LIMIT ?{}", args.len()));
        }

        let search = filter.search.clone();
        let keys_for_read = keys.clone();
        let clear_allowed = self.db.clear_text_allowed();
        let (mut entries, more) = self
            .db
            .read(move |conn| {
                let params: Vec<&dyn ToSql> =
                    args.iter().map(|a| a.as_ref() as &dyn ToSql).collect();
                let mut statement = conn.prepare_cached(&sql)?;
                let mut rows = statement.query(params.as_slice())?;
                let mut page: Vec<Entry> = Vec::with_capacity(limit + 1);
                let mut more = false;
                while let Some(row) = rows.next()? {
                    if search.is_none() && page.len() == limit {
                        // The row past the page only tells that another page
                        // follows: its fields are not opened.
                        more = true;
                        break;
                    }
                    if page.len() > limit {
                        // Rows in seq order come in time order, but entries of one
                        // millisecond in the order they were written: the page's
                        // last millisecond is read whole, then sorted.
                        let last_time = page.last().map(|e| e.created_at);
                        if !by_seq || Some(row.get::<_, Millis>(2)?) != last_time {
                            break;
                        }
                    }
                    let entry = open_row(row, &keys_for_read, clear_allowed)?;
                    if search
                        .as_ref()
                        .is_none_or(|search| search.matches(&entry.note, entry.tags.as_slice()))
                    {
                        page.push(entry);
                    }
                }
                if by_seq {
                    page.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
                }
                // A search keeps what it read past the page, to sort it first.
                let more = more || page.len() > limit;
                Ok((page, more))
            })
            .await?;
        let next_cursor = if more {
            entries.truncate(limit);
            entries.last().map(Entry::cursor)
        } else {
            None
        };
        Ok(Page {
            entries,
            next_cursor,
        })
    }

    /// Applies changes to the entry as the caller read it; `updated_at` always
    /// moves forward, even within one millisecond. The private fields are sealed
    /// and the index keyed before the write; if the entry changed in between, the
    /// change is applied again to what it became.
    ///
    /// # Errors
    /// The write fails. `Ok(None)` when the entry is not the user's.
    pub async fn update(
        &self,
        keys: &EntryKeys,
        id: &EntryId,
        update: Update,
    ) -> StoreResult<Option<Entry>> {
        let Update {
            changes,
            ai_response,
            mut current,
        } = update;
        for _ in 0..UPDATE_ATTEMPTS {
            let next = apply_changes(&current, &changes, ai_response.clone());
            let note_changed = next.note != current.note;
            let tags_changed = next.tags != current.tags;
            let sealed = SealedEntry::new(keys, &next)?;
            let (user_id, read_updated_at) = (keys.user_id().to_owned(), current.updated_at);
            let stored = next.clone();
            let replace_reply = ai_response.is_some();
            let written = self
                .db
                .entry_writes()
                .write(
                    Place::At(next.created_at),
                    move |conn| {
                        write_update(
                            conn,
                            &user_id,
                            &stored,
                            &sealed,
                            read_updated_at,
                            Reindex {
                                reply: replace_reply,
                                search: note_changed || tags_changed,
                                tags: tags_changed,
                            },
                        )
                    },
                    self.db.after_entries_written(keys.user_id()),
                )
                .await?;
            if written {
                return Ok(Some(next));
            }
            match self.get(keys, id).await? {
                Some(now) => current = now,
                None => return Ok(None),
            }
        }
        Err(StoreError::Busy)
    }

    /// Stores a reply made after the entry was saved (the streamed vibe check of an
    /// entry saved with its check deferred): only while the entry is unchanged since
    /// it was read and has no reply yet, so a reply never lands on a note it was not
    /// made for. `updated_at` stays: the user changed nothing.
    ///
    /// # Errors
    /// The write fails. `Ok(false)` when the entry changed, went, or has a reply.
    pub async fn store_late_reply(
        &self,
        keys: &EntryKeys,
        read: &Entry,
        reply: &str,
    ) -> StoreResult<bool> {
        let reply = keys.seal(&read.id, Field::Reply, reply)?;
        let (user_id, id, read_updated_at) =
            (keys.user_id().to_owned(), read.id.clone(), read.updated_at);
        let stored = self
            .db
            .entry_writes()
            .write(
                // At its entry's place, though it indexes nothing: beside an
                // edit of the same entry in one batch, arrival decides which wins.
                Place::At(read.created_at),
                move |conn| {
                    conn.prepare_cached(
                        "UPDATE entries SET ai_response = ?1
                         WHERE id = ?2 AND user_id = ?3 AND updated_at = ?4
                           AND ai_response IS NULL AND clear_reply IS NULL",
                    )?
                    .execute(params![reply, id, user_id, read_updated_at])
                },
                self.db.after_entries_written(keys.user_id()),
            )
            .await?;
        Ok(stored > 0)
    }

    /// # Errors
    /// The write fails. `Ok(false)` when the entry is not the user's.
    pub async fn delete(&self, user_id: &str, id: &EntryId) -> StoreResult<bool> {
        let owner = user_id.to_owned();
        let (user_id, id) = (user_id.to_owned(), id.as_str().to_owned());
        let deleted = self
            .db
            .entry_writes()
            .write(
                Place::First,
                move |conn| {
                    conn.prepare_cached("DELETE FROM entries WHERE id = ?1 AND user_id = ?2")?
                        .execute([&id, &user_id])
                },
                self.db.after_entries_written(&owner),
            )
            .await?;
        Ok(deleted > 0)
    }

    /// Entries per mood within `[start, end)`, by one range scan of the index.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn count_moods(
        &self,
        user_id: &str,
        week: &WeekQuery,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (user_id, start, end) = (user_id.to_owned(), week.start, week.end);
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT mood, count(*) FROM entries
                     WHERE user_id = ?1 AND created_at >= ?2 AND created_at < ?3
                     GROUP BY mood ORDER BY mood",
                )?
                .query_map(params![user_id, start, end], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect()
            })
            .await?)
    }

    /// Entries per bucket and mood, each bucket `[bounds[i], bounds[i + 1])`
    /// (`bounds` ascending): one range scan of the covering index over all the
    /// buckets, each row placed by binary search, so a year by week reads the
    /// year's index entries once instead of seeking 53 times.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn count_moods_by_bucket(
        &self,
        user_id: &str,
        bounds: &[Millis],
    ) -> StoreResult<Vec<(usize, String, u64)>> {
        let user_id = user_id.to_owned();
        let bounds = bounds.to_vec();
        let (Some(&first), Some(&end)) = (bounds.first(), bounds.last()) else {
            return Ok(Vec::new());
        };
        Ok(self
            .db
            .read(move |conn| {
                let mut per_bucket: Vec<Vec<(String, u64)>> = vec![Vec::new(); bounds.len()];
                let mut statement = conn.prepare_cached(
                    "SELECT created_at, mood FROM entries
                     WHERE user_id = ?1 AND created_at >= ?2 AND created_at < ?3",
                )?;
                let mut rows = statement.query(params![user_id, first, end])?;
                while let Some(row) = rows.next()? {
                    let at: Millis = row.get(0)?;
                    let mood = row.get_ref(1)?.as_str()?;
                    let index = bounds
                        .partition_point(|bound| *bound <= at)
                        .saturating_sub(1);
                    let Some(counts) = per_bucket.get_mut(index) else {
                        continue;
                    };
                    match counts.iter_mut().find(|(known, _)| known == mood) {
                        Some((_, count)) => *count += 1,
                        None => counts.push((mood.to_owned(), 1)),
                    }
                }
                Ok(per_bucket
                    .into_iter()
                    .enumerate()
                    .flat_map(|(index, counts)| {
                        counts.into_iter().map(move |(mood, n)| (index, mood, n))
                    })
                    .collect())
            })
            .await?)
    }

    /// The user's tags, most used first, then by name; each with one spelling.
    /// The names are sealed, so they are ordered once opened (a user has few).
    ///
    /// # Errors
    /// The database does not answer, or a spelling does not open.
    pub async fn tag_counts(
        &self,
        keys: &EntryKeys,
        limit: Option<u32>,
    ) -> StoreResult<Vec<(String, i64)>> {
        let user_id = keys.user_id().to_owned();
        let rows = self
            .db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT tag_token, uses, spelling FROM tag_counts WHERE user_id = ?1",
                )?
                .query_map([user_id], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<(i64, i64, Vec<u8>)>>>()
            })
            .await?;
        let mut tags = rows
            .into_iter()
            .map(|(token, uses, sealed)| Ok((open_spelling(keys, token, sealed)?, uses)))
            .collect::<StoreResult<Vec<(String, i64)>>>()?;
        tags.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(limit) = limit {
            tags.truncate(limit as usize);
        }
        Ok(tags)
    }

    /// Every entry time of the user, and the entries per mood, for the summary.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn summary_rows(
        &self,
        user_id: &str,
    ) -> StoreResult<(Vec<Millis>, Vec<(String, i64)>)> {
        let user_id = user_id.to_owned();
        Ok(self
            .db
            .read(move |conn| {
                let times = conn
                    .prepare_cached("SELECT created_at FROM entries WHERE user_id = ?1")?
                    .query_map([&user_id], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<Millis>>>()?;
                let moods = conn
                    .prepare_cached(
                        "SELECT mood, count(*) AS n FROM entries WHERE user_id = ?1
                         GROUP BY mood ORDER BY n DESC, mood",
                    )?
                    .query_map([&user_id], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<(String, i64)>>>()?;
                Ok((times, moods))
            })
            .await?)
    }

    /// The accounts with entries written before encryption, and how many.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn clear_entries(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(self
            .db
            .read(|conn| {
                conn.prepare(
                    "SELECT user_id, count(*) FROM entries
                     WHERE clear_note IS NOT NULL
                     GROUP BY user_id",
                )?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?)
    }

    /// Seals up to `batch` of the user's entries written before encryption and
    /// indexes them, in one transaction, clearing their text; returns how many and
    /// where the batch ended. Run until it returns 0.
    ///
    /// # Errors
    /// The write fails (nothing of this batch is changed then).
    pub async fn seal_clear_entries(
        &self,
        keys: &EntryKeys,
        after: Option<Cursor>,
        batch: usize,
    ) -> StoreResult<(usize, Option<Cursor>)> {
        let keys = keys.clone();
        // Walks the user's entries in time order from where the last batch ended,
        // so each batch reads about `batch` rows however large the journal.
        let (after_time, after_id) =
            after.map_or((i64::MIN, String::new()), |c| (c.created_at, c.id));
        let sealed = self
            .db
            .write_transaction(move |tx| {
                // Only the text in clear is read: what an earlier version already
                // sealed (a reply) stays as it is, unopened.
                let rows: Vec<(i64, i64, Entry)> = tx
                    .prepare_cached(
                        "SELECT id, created_at, clear_note, clear_tags, clear_reply, seq, row_id FROM entries
                         WHERE user_id = ?1 AND (created_at, id) > (?2, ?3) AND clear_note IS NOT NULL
                         ORDER BY created_at, id LIMIT ?4",
                    )?
                    .query_map(
                        params![keys.user_id(), after_time, after_id, batch as i64],
                        |row| {
                            Ok((row.get(5)?, row.get(6)?, Entry {
                                id: row.get(0)?,
                                mood: String::new(),
                                tags: Tags::from_stored(
                                    row.get::<_, Option<String>>(3)?.as_deref().unwrap_or("[]"),
                                ),
                                note: row.get(2)?,
                                ai_response: row.get(4)?,
                                created_at: row.get(1)?,
                                updated_at: 0,
                            }))
                        },
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                let count = rows.len();
                let mut last = None;
                for (seq, row_id, entry) in rows {
                    let sealed = SealedEntry::new(&keys, &entry).map_err(StoreError::into_sql)?;
                    // By row id, without RETURNING: a statement journal would make FTS5
                    // flush a segment per entry (see `write_update`).
                    let changed = tx
                        .prepare_cached(
                            "UPDATE entries SET note = ?1, tags = ?2, ai_response = coalesce(?3, ai_response),
                                 tag_tokens = ?4, clear_note = NULL, clear_tags = NULL, clear_reply = NULL
                             WHERE row_id = ?5",
                        )?
                        .execute(params![
                            sealed.note,
                            sealed.tags,
                            sealed.reply,
                            sealed.index.tag_tokens(),
                            row_id
                        ])?;
                    if changed == 0 {
                        return Err(rusqlite::Error::QueryReturnedNoRows);
                    }
                    sealed.index.write(
                        tx,
                        IndexedEntry {
                            seq,
                            row_id,
                            id: &entry.id,
                            user_id: keys.user_id(),
                            created_at: entry.created_at,
                        },
                        SearchRow::Replace,
                        true,
                    )?;
                    last = Some(entry.cursor());
                }
                Ok((count, last))
            })
            .await?;
        Ok(sealed)
    }

    /// The accounts with entries waiting for their search row (after the upgrade
    /// that ordered seqs by time), and how many.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn waiting_for_index(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(self
            .db
            .read(|conn| {
                conn.prepare("SELECT user_id, count(*) FROM search_backlog GROUP BY user_id")?
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?)
    }

    /// Writes the search rows of up to `batch` of the user's entries waiting for
    /// theirs, in one transaction; returns how many left the backlog, and the
    /// entries among them whose note or tags did not open (left out of the index,
    /// as they cannot be shown either). Run until it returns 0.
    ///
    /// # Errors
    /// The write fails (nothing of this batch is changed then).
    pub async fn index_waiting(
        &self,
        keys: &EntryKeys,
        batch: usize,
    ) -> StoreResult<(usize, Vec<StoreError>)> {
        let keys = keys.clone();
        Ok(self
            .db
            .write_transaction(move |tx| {
                let rows = tx
                    .prepare_cached(
                        "SELECT e.seq, e.id, e.created_at, e.note, e.tags, e.row_id
                         FROM search_backlog AS b JOIN entries AS e ON e.seq = b.seq
                         WHERE b.user_id = ?1 AND e.user_id = ?1
                         ORDER BY b.seq LIMIT ?2",
                    )?
                    .query_map(params![keys.user_id(), batch as i64], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, Millis>(2)?,
                            row.get::<_, Option<Vec<u8>>>(3)?,
                            row.get::<_, Option<Vec<u8>>>(4)?,
                            row.get::<_, i64>(5)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut unreadable = Vec::new();
                for (seq, id, created_at, note, tags, row_id) in &rows {
                    let opened = |sealed: &Option<Vec<u8>>, field: Field| match sealed {
                        Some(sealed) => keys.open_sealed(id, field, sealed),
                        None => Err(StoreError::Integrity {
                            entry_id: id.clone(),
                            field: field.name(),
                        }),
                    };
                    let text = opened(note, Field::Note).and_then(|note| {
                        Ok((note, Tags::from_stored(&opened(tags, Field::Tags)?)))
                    });
                    match text {
                        Ok((note, tags)) => EntryIndex::new(&keys, &note, &tags)
                            .map_err(StoreError::into_sql)?
                            .write(
                                tx,
                                IndexedEntry {
                                    seq: *seq,
                                    row_id: *row_id,
                                    id,
                                    user_id: keys.user_id(),
                                    created_at: *created_at,
                                },
                                SearchRow::Replace,
                                false,
                            )?,
                        // Only a field that does not open is left out; anything else
                        // rolls the batch back and stops the start.
                        Err(err) => unreadable.push(err),
                    }
                    tx.prepare_cached(
                        "DELETE FROM search_backlog WHERE user_id = ?1 AND seq = ?2",
                    )?
                    .execute(params![keys.user_id(), seq])?;
                }
                Ok((rows.len(), unreadable))
            })
            .await?)
    }

    /// Up to `limit` entries after `after`, oldest first, for exports.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn oldest_first(
        &self,
        keys: &EntryKeys,
        after: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        let user_id = keys.user_id().to_owned();
        let (after_time, after_id) =
            after.map_or((i64::MIN, String::new()), |c| (c.created_at, c.id));
        let (keys, clear_allowed) = (keys.clone(), self.db.clear_text_allowed());
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM entries
                     WHERE user_id = ?1 AND (created_at, id) > (?2, ?3)
                     ORDER BY created_at, id LIMIT ?4"
                ))?
                .query_map(params![user_id, after_time, after_id, limit], |row| {
                    open_row(row, &keys, clear_allowed)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;

    fn segments(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT count(DISTINCT segid) FROM entries_search_idx",
            [],
            |r| r.get(0),
        )
        .expect("segments")
    }

    fn tag_uses(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT uses FROM tag_counts ORDER BY uses")
            .expect("query")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("uses")
    }

    fn entry(i: i64, note: &str, tags: &str) -> Entry {
        Entry {
            id: format!("e{i}"),
            mood: "calm".into(),
            tags: Tags::from_stored(tags),
            note: note.to_owned(),
            ai_response: None,
            created_at: 1_000 + i,
            updated_at: 1_000 + i,
        }
    }

    /// A statement journal opened after an index write makes FTS5 flush, so a
    /// batch would write a segment per write; it must write one in all.
    #[test]
    fn a_batch_of_inserts_and_updates_writes_one_index_segment() {
        // The server's settings (foreign keys on: a constraint to check can also
        // open a statement journal).
        let mut conn = Connection::open_in_memory().expect("db");
        crate::db::configure(&conn).expect("settings");
        // FTS5's own merging is off (migration 0011): every flush stays a segment.
        crate::db::migrations::apply(&mut conn).expect("schema");
        conn.execute_batch(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ('u', 'u@x', 'h', 0);",
        )
        .expect("user");
        let keys = EntryKeys::new("u", &Key::generate().expect("key"));
        let batch = |conn: &Connection, work: &dyn Fn(&Connection, i64)| {
            let before = segments(conn);
            conn.execute_batch("BEGIN").expect("begin");
            for i in 0..10 {
                work(conn, i);
            }
            conn.execute_batch("COMMIT").expect("commit");
            segments(conn) - before
        };
        let inserted = batch(&conn, &|conn, i| {
            let new = entry(i, &format!("note number {i}"), r#"["bench","week"]"#);
            let sealed = SealedEntry::new(&keys, &new).expect("sealed");
            insert_sealed(conn, "u", &new, &sealed).expect("insert");
        });
        assert_eq!(inserted, 1, "inserts");
        assert_eq!(tag_uses(&conn), [10, 10]);
        let update = |conn: &Connection, i: i64, read: Millis, note: &str, tags: &str, reindex| {
            let mut next = entry(i, note, tags);
            next.updated_at = read + 1;
            let sealed = SealedEntry::new(&keys, &next).expect("sealed");
            assert!(write_update(conn, "u", &next, &sealed, read, reindex).expect("update"));
        };
        let note_edits = batch(&conn, &|conn, i| {
            let reindex = Reindex {
                reply: false,
                search: true,
                tags: false,
            };
            update(
                conn,
                i,
                1_000 + i,
                "changed",
                r#"["bench","week"]"#,
                reindex,
            );
        });
        assert_eq!(note_edits, 1, "note edits");
        let tag_edits = batch(&conn, &|conn, i| {
            let reindex = Reindex {
                reply: false,
                search: true,
                tags: true,
            };
            update(conn, i, 1_001 + i, "changed", r#"["bench","new"]"#, reindex);
        });
        assert_eq!(tag_edits, 1, "tag edits");
        assert_eq!(tag_uses(&conn), [10, 10], "week counted off, new counted");
        // Why a batch runs its writes in time order (`Place`): rows that come
        // before the last one written each flush what is pending.
        let descending = batch(&conn, &|conn, i| {
            let i = 9 - i;
            let reindex = Reindex {
                reply: false,
                search: true,
                tags: false,
            };
            update(conn, i, 1_002 + i, "again", r#"["bench","new"]"#, reindex);
        });
        assert!(descending > 5, "{descending} segments out of order");
        conn.execute("DELETE FROM entries WHERE id IN ('e0', 'e1')", [])
            .expect("delete");
        assert_eq!(tag_uses(&conn), [8, 8], "deleted entries counted off");
        let tag_rows: i64 = conn
            .query_row("SELECT count(*) FROM entry_tags", [], |r| r.get(0))
            .expect("rows");
        assert_eq!(tag_rows, 16);
    }

    /// Two account ids whose entries share one table region (found by search;
    /// about 60,000 hashes).
    fn two_ids_in_one_slot() -> (String, String) {
        let mut seen = std::collections::HashMap::new();
        for i in 0_u64.. {
            let id = format!("user-{i}");
            if let Some(other) = seen.insert(entry_slot(&id), id.clone()) {
                return (other, id);
            }
        }
        unreachable!("a u64 of ids holds a collision of 31-bit slots")
    }

    fn schema_with_users(users: &[&str]) -> Connection {
        let mut conn = Connection::open_in_memory().expect("db");
        crate::db::configure(&conn).expect("settings");
        crate::db::migrations::apply(&mut conn).expect("schema");
        for user in users {
            conn.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?1, 'h', 0)",
                [user],
            )
            .expect("user");
        }
        conn
    }

    /// Writes entry `e{i}` of `user` as the server does.
    fn insert_new(conn: &Connection, user: &str, i: i64) {
        let keys = EntryKeys::new(user, &Key::generate().expect("key"));
        let new = entry(i, "note", "[]");
        let sealed = SealedEntry::new(&keys, &new).expect("sealed");
        insert_sealed(conn, user, &new, &sealed).expect("insert");
    }

    /// (user, row id) of every entry, in table order.
    fn table_order(conn: &Connection) -> Vec<(String, i64)> {
        conn.prepare("SELECT user_id, row_id FROM entries ORDER BY row_id")
            .expect("query")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("table")
    }

    /// Entries written in turn by several accounts still sit together per account
    /// in the table (that is what lets a page of one account's entries be read
    /// from a few neighbouring pages), each account in its own slot.
    #[test]
    fn each_accounts_entries_sit_together_in_the_table() {
        let (a, b) = ("account-a", "account-b");
        assert_ne!(entry_slot(a), entry_slot(b));
        let conn = schema_with_users(&[a, b]);
        for i in 0..20 {
            insert_new(&conn, if i % 2 == 0 { a } else { b }, i);
        }
        let order = table_order(&conn);
        let users: Vec<&str> = order.iter().map(|(u, _)| u.as_str()).collect();
        let first_b = users.iter().position(|u| *u == b).expect("b");
        let first_a = users.iter().position(|u| *u == a).expect("a");
        let (first, second) = if first_a < first_b { (a, b) } else { (b, a) };
        assert_eq!(users[..10], [first; 10], "{order:?}");
        assert_eq!(users[10..], [second; 10], "{order:?}");
        for (user, row_id) in &order {
            assert_eq!(row_id.div_euclid(ROWS_PER_SLOT), entry_slot(user));
        }
    }

    /// Accounts whose slots collide share the region; their row ids never clash.
    #[test]
    fn accounts_in_one_slot_share_its_region() {
        let (a, b) = two_ids_in_one_slot();
        let conn = schema_with_users(&[&a, &b]);
        for i in 0..10 {
            insert_new(&conn, if i % 2 == 0 { &a } else { &b }, i);
        }
        let first = entry_slot(&a) * ROWS_PER_SLOT;
        let row_ids: Vec<i64> = table_order(&conn).into_iter().map(|(_, r)| r).collect();
        assert_eq!(row_ids, (first..first + 10).collect::<Vec<_>>());
    }

    /// The last slot ends at i64's end: a new row there is numbered like in any
    /// other slot, and a slot whose last row id is taken refuses the write.
    #[test]
    fn the_last_slot_numbers_its_rows_up_to_its_end() {
        let conn = schema_with_users(&["u"]);
        let last_slot = (1_i64 << 31) - 1;
        assert!(entry_slot("any account id") <= last_slot);
        let first = last_slot * ROWS_PER_SLOT;
        assert_eq!(next_row_id_in_slot(&conn, last_slot).expect("empty"), first);
        let plant = |row_id: i64, id: &str| {
            conn.execute(
                "INSERT INTO entries (row_id, seq, id, user_id, mood, created_at, updated_at)
                 VALUES (?1, ?1 % 1000000, ?2, 'u', 'calm', 0, 0)",
                params![row_id, id],
            )
            .expect("planted row");
        };
        plant(first, "a");
        assert_eq!(
            next_row_id_in_slot(&conn, last_slot).expect("after one"),
            first + 1
        );
        plant(i64::MAX, "b");
        let full = next_row_id_in_slot(&conn, last_slot).map_err(StoreError::from);
        assert!(matches!(full, Err(StoreError::Busy)), "{full:?}");
        // The slot below is untouched by the last one's rows.
        assert_eq!(
            next_row_id_in_slot(&conn, last_slot - 1).expect("slot below"),
            (last_slot - 1) * ROWS_PER_SLOT
        );
    }

    /// Migration 0012 moves entries written by schema 11 (row id = seq, in time
    /// order across accounts) into their accounts' regions, numbered in time
    /// order, sharing a region where slots collide; seqs, and with them the
    /// search and tag rows, stay as they were.
    #[test]
    fn migration_0012_lays_existing_entries_out_by_account() {
        let (a, b) = two_ids_in_one_slot();
        let c = "account-c";
        let mut conn = Connection::open_in_memory().expect("db");
        crate::db::configure(&conn).expect("settings");
        for sql in &crate::db::migrations::MIGRATIONS[..11] {
            conn.execute_batch(sql).expect("schema 11");
        }
        conn.pragma_update(None, "user_version", 11)
            .expect("version");
        for user in [&a, &b, c] {
            conn.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?1, 'h', 0)",
                [user],
            )
            .expect("user");
        }
        let users = [a.as_str(), b.as_str(), c];
        for i in 0..12_i64 {
            let user = users[(i % 3) as usize];
            conn.execute(
                "INSERT INTO entries (seq, id, user_id, mood, created_at, updated_at, note)
                 VALUES (?1, ?2, ?3, 'calm', ?4, ?4, x'00')",
                params![
                    (1_000 + i) * SEQS_PER_MILLI,
                    format!("e{i}"),
                    user,
                    1_000 + i
                ],
            )
            .expect("entry");
        }
        conn.execute(
            "INSERT INTO entry_tags (user_id, tag_token, created_at, entry_id, entry_seq)
             VALUES (?1, 7, 1005, 'e5', ?2)",
            params![users[2], 1_005 * SEQS_PER_MILLI],
        )
        .expect("tag row");
        crate::db::migrations::apply(&mut conn).expect("migration 0012");
        let rows: Vec<(String, i64, i64)> = conn
            .prepare("SELECT id, seq, row_id FROM entries ORDER BY row_id")
            .expect("query")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("entries");
        let shared = entry_slot(&a) * ROWS_PER_SLOT;
        let own = entry_slot(c) * ROWS_PER_SLOT;
        let (first, second) = if a < b { (0, 1) } else { (1, 0) };
        let mut expected: Vec<(String, i64, i64)> = Vec::new();
        let mut shared_next = shared;
        for owner in [first, second] {
            for i in (owner..12).step_by(3) {
                expected.push((format!("e{i}"), (1_000 + i) * SEQS_PER_MILLI, shared_next));
                shared_next += 1;
            }
        }
        for (n, i) in (2..12).step_by(3).enumerate() {
            expected.push((
                format!("e{i}"),
                (1_000 + i) * SEQS_PER_MILLI,
                own + n as i64,
            ));
        }
        expected.sort_by_key(|(_, _, row_id)| *row_id);
        assert_eq!(rows, expected);
        // The tag row now points at its entry's row id.
        let tagged: String = conn
            .query_row(
                "SELECT e.id FROM entry_tags AS t JOIN entries AS e ON e.row_id = t.entry_row_id",
                [],
                |r| r.get(0),
            )
            .expect("tag row");
        assert_eq!(tagged, "e5");
        // A new entry goes after its account's last row.
        insert_new(&conn, c, 50);
        let last: i64 = conn
            .query_row("SELECT row_id FROM entries WHERE id = 'e50'", [], |r| {
                r.get(0)
            })
            .expect("new row");
        assert_eq!(last, own + 4);
    }
}
