-- An entry's `seq` (its rowid, and the rowid of its search row) now follows time:
-- `created_at * 65536 + k`, k counting the entries written in the same millisecond.
-- A search then walks the rows of its tokens newest first from where the page
-- starts, reading about a page of candidates however long the journal, instead of
-- collecting every candidate of the user's history first.
--
-- The keyed search rows cannot be moved here (their tokens need each owner's key),
-- so the index is emptied and every sealed entry waits in `search_backlog` until
-- the start-up upgrade has indexed it again under its new `seq`. Entries still in
-- clear are indexed when they are sealed.
CREATE TABLE entries_timed (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mood        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    note        BLOB,
    tags        BLOB,
    ai_response BLOB,
    -- The entry's tag tokens (a JSON array of integers), so that deleting the
    -- entry, or its account, finds its tag rows without any key.
    tag_tokens  TEXT NOT NULL DEFAULT '[]',
    clear_note  TEXT,
    clear_tags  TEXT,
    clear_reply TEXT
) STRICT;

INSERT INTO entries_timed (seq, id, user_id, mood, created_at, updated_at, note, tags,
                           ai_response, tag_tokens, clear_note, clear_tags, clear_reply)
SELECT created_at * 65536 + row_number() OVER (PARTITION BY created_at ORDER BY seq) - 1,
       id, user_id, mood, created_at, updated_at, note, tags,
       ai_response, tag_tokens, clear_note, clear_tags, clear_reply
FROM entries;

-- Dropping the old table fires no trigger: its tag rows stay, pointed at the new seq.
DROP TABLE entries;
ALTER TABLE entries_timed RENAME TO entries;

DELETE FROM entry_tags WHERE NOT EXISTS (SELECT 1 FROM entries WHERE entries.id = entry_tags.entry_id);
UPDATE entry_tags SET entry_seq = (SELECT seq FROM entries WHERE entries.id = entry_tags.entry_id);

CREATE INDEX entries_by_user_time ON entries (user_id, created_at, id, mood);
CREATE INDEX entries_in_clear ON entries (user_id, created_at, id) WHERE clear_note IS NOT NULL;

DROP TABLE entries_search;
CREATE VIRTUAL TABLE entries_search USING fts5 (
    tokens,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'ascii'
);
-- The writer's idle-time upkeep merges any level of the index holding two segments
-- or more (see `tidy_step`), so a search seeks its tokens in few segments.
INSERT INTO entries_search (entries_search, rank) VALUES ('usermerge', 2);

-- Sealed entries whose search row is still to be written (by the start-up upgrade).
CREATE TABLE search_backlog (
    user_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO search_backlog (user_id, seq) SELECT user_id, seq FROM entries WHERE clear_note IS NULL;

CREATE TRIGGER entries_unindex_after_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entries_search WHERE rowid = old.seq;
    DELETE FROM search_backlog WHERE user_id = old.user_id AND seq = old.seq;
    DELETE FROM entry_tags
    WHERE user_id = old.user_id
      AND tag_token IN (SELECT value FROM json_each(old.tag_tokens))
      AND created_at = old.created_at AND entry_id = old.id;
END;

CREATE TRIGGER entries_untag_after_update AFTER UPDATE OF tag_tokens ON entries
WHEN old.tag_tokens IS NOT new.tag_tokens BEGIN
    DELETE FROM entry_tags
    WHERE user_id = old.user_id
      AND tag_token IN (SELECT value FROM json_each(old.tag_tokens))
      AND created_at = old.created_at AND entry_id = old.id;
END;
