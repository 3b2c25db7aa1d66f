use rusqlite::{params, OptionalExtension, Row, ToSql};

use super::error::StoreResult;
use super::sealing::{EntryKeys, Field, Stored};
use super::Database;
use crate::domain::time::{now_millis, Millis};
use crate::domain::{
    owner_key, Cursor, Entry, EntryChanges, EntryId, ListQuery, NewEntry, SearchQuery, Tags,
    WeekQuery,
};

/// The reply is read from both columns: sealed, or in clear from before encryption.
const COLUMNS: &str =
    "id, mood, tags, note, ai_response, created_at, updated_at, ai_response_sealed";

/// A row as read: the private reply still as stored, opened after the read.
struct RawEntry {
    entry: Entry,
    reply: Option<Stored>,
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok(RawEntry {
        entry: Entry {
            id: row.get(0)?,
            mood: row.get(1)?,
            tags: Tags::from_stored(&row.get::<_, String>(2)?),
            note: row.get(3)?,
            ai_response: None,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        },
        reply: match Stored::from_column(row.get_ref(7)?)? {
            Some(sealed) => Some(sealed),
            None => Stored::from_column(row.get_ref(4)?)?,
        },
    })
}

impl RawEntry {
    /// Opens the sealed fields with the owner's key (outside the database thread).
    /// Text in clear is accepted only until the upgrade has sealed it all; after
    /// that it can only have been planted, and is an integrity error.
    fn open(self, keys: &EntryKeys, clear_allowed: bool) -> StoreResult<Entry> {
        let RawEntry { mut entry, reply } = self;
        if let (Some(Stored::Clear(_)), false) = (&reply, clear_allowed) {
            return Err(super::error::StoreError::Integrity {
                entry_id: entry.id,
                field: "ai_response",
            });
        }
        entry.ai_response = keys.open_optional(&entry.id, Field::Reply, reply)?;
        Ok(entry)
    }
}

fn open_all(raws: Vec<RawEntry>, keys: &EntryKeys, clear_allowed: bool) -> StoreResult<Vec<Entry>> {
    raws.into_iter()
        .map(|raw| raw.open(keys, clear_allowed))
        .collect()
}

fn seal_reply(
    keys: &EntryKeys,
    entry_id: &str,
    reply: Option<&str>,
) -> StoreResult<Option<Vec<u8>>> {
    reply
        .map(|text| keys.seal(entry_id, Field::Reply, text))
        .transpose()
}

/// The FTS5 query for a search by one user: every group as a phrase of the
/// owner's terms (as `serene_search_terms` indexed them), the last one maybe a
/// prefix. Terms hold only letters and digits, so nothing in them is FTS5 syntax.
fn fts_match(user_id: &str, search: &SearchQuery) -> String {
    let key = owner_key(user_id);
    let phrases: Vec<String> = search
        .groups
        .iter()
        .map(|group| {
            let terms: Vec<String> = group.terms.iter().map(|t| format!("{key}{t}")).collect();
            format!(
                "\"{}\"{}",
                terms.join(" "),
                if group.prefix { "*" } else { "" }
            )
        })
        .collect();
    phrases.join(" AND ")
}

/// [`COLUMNS`] of the entries table named `e`, spelled out once.
static ALIASED_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    COLUMNS
        .split(", ")
        .map(|column| format!("e.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
});

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
}

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
        let sealed_reply = seal_reply(keys, &row.id, row.ai_response.as_deref())?;
        let user_id = keys.user_id().to_owned();
        let user_id_for_generation = user_id.clone();
        let stored = row.clone();
        self.db
            .entry_writes()
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO entries (id, user_id, mood, tags, note, ai_response_sealed, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    stored.id,
                    user_id,
                    stored.mood,
                    stored.tags.to_stored(),
                    stored.note,
                    sealed_reply,
                    stored.created_at,
                    stored.updated_at
                ])
            }, self.db.after_entries_written(&user_id_for_generation))
            .await?;
        Ok(row)
    }

    /// # Errors
    /// The database does not answer.
    pub async fn get(&self, keys: &EntryKeys, id: &EntryId) -> StoreResult<Option<Entry>> {
        let (user_id, id) = (keys.user_id().to_owned(), id.as_str().to_owned());
        let raw = self
            .db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM entries WHERE id = ?1 AND user_id = ?2"
                ))?
                .query_row([id, user_id], entry_from_row)
                .optional()
            })
            .await?;
        raw.map(|raw| raw.open(keys, self.db.clear_text_allowed()))
            .transpose()
    }

    /// One page, newest first, by keyset over `(created_at, id)`. A tag filter
    /// without a search walks the tag's own index, which is in page order, so a
    /// page reads about `limit` rows however rare or common the tag is.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn list(&self, keys: &EntryKeys, query: &ListQuery) -> StoreResult<Page> {
        let user_id = keys.user_id();
        let mut args: Vec<Box<dyn ToSql + Send>> = vec![Box::new(user_id.to_owned())];
        let filter = &query.filter;
        let (mut sql, time, id, other_tags) = match filter.tags.split_first() {
            Some((first, rest)) if filter.search.is_none() => {
                args.push(Box::new(first.clone()));
                (
                    format!(
                        "SELECT {} FROM entry_tags AS t JOIN entries AS e ON e.rowid = t.entry_rowid
                         WHERE t.user_id = ?1 AND t.tag_key = ?2 AND e.user_id = ?1
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
                filter.tags.as_slice(),
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
        for tag in other_tags {
            args.push(Box::new(tag.clone()));
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM entry_tags AS other
                   WHERE other.user_id = ?1 AND other.tag_key = ?{}
                     AND other.created_at = e.created_at AND other.entry_id = e.id)",
                args.len()
            ));
        }
        if let Some(search) = &filter.search {
            args.push(Box::new(fts_match(user_id, search)));
            sql.push_str(&format!(
                " AND e.rowid IN (SELECT rowid FROM entries_search WHERE entries_search MATCH ?{})",
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
        args.push(Box::new(limit as i64 + 1));
        sql.push_str(&format!(
            " ORDER BY {time} DESC, {id} DESC LIMIT ?{}",
            args.len()
        ));

        let raws = self
            .db
            .read(move |conn| {
                let params: Vec<&dyn ToSql> =
                    args.iter().map(|a| a.as_ref() as &dyn ToSql).collect();
                conn.prepare_cached(&sql)?
                    .query_map(params.as_slice(), entry_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut entries = open_all(raws, keys, self.db.clear_text_allowed())?;
        let next_cursor = if entries.len() > limit {
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

    /// Applies changes; `updated_at` always moves forward, even within one millisecond.
    ///
    /// # Errors
    /// The write fails. `Ok(None)` when the entry is not the user's.
    pub async fn update(
        &self,
        keys: &EntryKeys,
        id: &EntryId,
        update: Update,
    ) -> StoreResult<Option<Entry>> {
        let owner = keys.user_id().to_owned();
        let (user_id, id) = (keys.user_id().to_owned(), id.as_str().to_owned());
        let now = now_millis();
        let sealed_reply = match &update.ai_response {
            Some(reply) => Some(seal_reply(keys, &id, reply.as_deref())?),
            None => None,
        };
        let updated = self
            .db
            .entry_writes()
            .write(
                move |conn| {
                    let changes = &update.changes;
                    let replace_ai = sealed_reply.is_some();
                    conn.prepare_cached(&format!(
                        "UPDATE entries SET
                        mood = coalesce(?1, mood),
                        tags = coalesce(?2, tags),
                        note = coalesce(?3, note),
                        ai_response_sealed = CASE WHEN ?4 THEN ?5 ELSE ai_response_sealed END,
                        ai_response = CASE WHEN ?4 THEN NULL ELSE ai_response END,
                        updated_at = max(?6, updated_at + 1)
                     WHERE id = ?7 AND user_id = ?8
                     RETURNING {COLUMNS}"
                    ))?
                    .query_row(
                        params![
                            changes.mood.as_ref().map(|m| m.as_str()),
                            changes.tags.as_ref().map(Tags::to_stored),
                            changes.note.as_ref().map(|n| n.as_str()),
                            replace_ai,
                            sealed_reply.as_ref().and_then(Option::as_ref),
                            now,
                            id,
                            user_id
                        ],
                        entry_from_row,
                    )
                    .optional()
                },
                self.db.after_entries_written(&owner),
            )
            .await?;
        updated
            .map(|raw| raw.open(keys, self.db.clear_text_allowed()))
            .transpose()
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
        id: &str,
        read_updated_at: Millis,
        reply: &str,
    ) -> StoreResult<bool> {
        let reply = keys.seal(id, Field::Reply, reply)?;
        let owner = keys.user_id().to_owned();
        let (user_id, id) = (keys.user_id().to_owned(), id.to_owned());
        let stored = self
            .db
            .entry_writes()
            .write(
                move |conn| {
                    conn.prepare_cached(
                        "UPDATE entries SET ai_response_sealed = ?1
                         WHERE id = ?2 AND user_id = ?3 AND updated_at = ?4
                           AND ai_response IS NULL AND ai_response_sealed IS NULL",
                    )?
                    .execute(params![reply, id, user_id, read_updated_at])
                },
                self.db.after_entries_written(&owner),
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
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn tag_counts(
        &self,
        user_id: &str,
        limit: Option<u32>,
    ) -> StoreResult<Vec<(String, i64)>> {
        let user_id = user_id.to_owned();
        let limit = limit.map_or(-1, i64::from);
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT tag, uses FROM tag_counts WHERE user_id = ?1
                     ORDER BY uses DESC, tag LIMIT ?2",
                )?
                .query_map(params![user_id, limit], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect()
            })
            .await?)
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

    /// The accounts with replies written before encryption, and how many.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn clear_replies(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(self
            .db
            .read(|conn| {
                conn.prepare(
                    "SELECT user_id, count(*) FROM entries WHERE ai_response IS NOT NULL GROUP BY user_id",
                )?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?)
    }

    /// Seals up to `batch` of the user's replies written before encryption, in one
    /// transaction, and clears their text; returns how many. Run until it returns 0.
    ///
    /// # Errors
    /// The write fails (nothing of this batch is changed then).
    pub async fn seal_clear_replies(
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
                let rows: Vec<(String, String, i64)> = tx
                    .prepare_cached(
                        "SELECT id, ai_response, created_at FROM entries
                         WHERE user_id = ?1 AND (created_at, id) > (?2, ?3)
                           AND ai_response IS NOT NULL
                         ORDER BY created_at, id LIMIT ?4",
                    )?
                    .query_map(
                        params![keys.user_id(), after_time, after_id, batch as i64],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                for (id, text, _) in &rows {
                    let sealed = keys
                        .seal(id, Field::Reply, text)
                        .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
                    tx.prepare_cached(
                        "UPDATE entries SET ai_response_sealed = ?1, ai_response = NULL
                         WHERE id = ?2 AND user_id = ?3",
                    )?
                    .execute(params![sealed, id, keys.user_id()])?;
                }
                let last = rows.last().map(|(id, _, created_at)| Cursor {
                    created_at: *created_at,
                    id: id.clone(),
                });
                Ok((rows.len(), last))
            })
            .await?;
        Ok(sealed)
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
        let raws = self
            .db
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM entries
                     WHERE user_id = ?1 AND (created_at, id) > (?2, ?3)
                     ORDER BY created_at, id LIMIT ?4"
                ))?
                .query_map(
                    params![user_id, after_time, after_id, limit],
                    entry_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        open_all(raws, keys, self.db.clear_text_allowed())
    }
}
