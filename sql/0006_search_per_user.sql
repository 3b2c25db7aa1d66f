-- Search reads only the caller's words. Every indexed word is prefixed with its
-- owner's key (serene_search_terms, registered by Serene), so a word or a prefix
-- query walks one user's postings, not every user's: the cost of a search grows
-- with the caller's journal, not with the whole database. The table rows still
-- name their owner, and every search query filters by it as well.
--
-- The index is contentless (it keeps no copy of the text) and the terms are
-- computed by the triggers, so the entries table has no column that needs
-- Serene's functions to read: `PRAGMA integrity_check` and the sqlite3 shell keep
-- working on a copy of the database. A deletion hands the index the terms it was
-- given ('delete'), which only writes delete markers that merges cancel out, so a
-- change to serene_search_terms needs a migration that rebuilds the index.
DROP TRIGGER entries_fts_after_insert;
DROP TRIGGER entries_fts_after_delete;
DROP TRIGGER entries_fts_after_update;
DROP TABLE entries_fts;
ALTER TABLE entries DROP COLUMN owner_token;

CREATE VIRTUAL TABLE entries_search USING fts5 (
    note, tags,
    content = '',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER entries_search_after_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entries_search (rowid, note, tags) VALUES (
        new.rowid,
        serene_search_terms(new.user_id, new.note),
        serene_search_terms(new.user_id, new.tags)
    );
END;

CREATE TRIGGER entries_search_after_delete AFTER DELETE ON entries BEGIN
    INSERT INTO entries_search (entries_search, rowid, note, tags) VALUES (
        'delete',
        old.rowid,
        serene_search_terms(old.user_id, old.note),
        serene_search_terms(old.user_id, old.tags)
    );
END;

CREATE TRIGGER entries_search_after_update AFTER UPDATE OF user_id, note, tags ON entries
WHEN old.note IS NOT new.note OR old.tags IS NOT new.tags OR old.user_id IS NOT new.user_id BEGIN
    INSERT INTO entries_search (entries_search, rowid, note, tags) VALUES (
        'delete',
        old.rowid,
        serene_search_terms(old.user_id, old.note),
        serene_search_terms(old.user_id, old.tags)
    );
    INSERT INTO entries_search (rowid, note, tags) VALUES (
        new.rowid,
        serene_search_terms(new.user_id, new.note),
        serene_search_terms(new.user_id, new.tags)
    );
END;

INSERT INTO entries_search (rowid, note, tags)
SELECT rowid, serene_search_terms(user_id, note), serene_search_terms(user_id, tags)
FROM entries;

-- Tag rows keyed in page order, (user, tag, time, entry), with no second index:
-- a write adds one row where the user's tag already lives, a tag filter walks the
-- key itself and reaches each entry by its rowid, as the search index does. Rows
-- are found for deletion by the entry's folded tags, so a change to serene_fold
-- needs a migration that rebuilds this table.
CREATE TABLE entry_tags_by_user (
    user_id     TEXT NOT NULL,
    tag_key     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    entry_id    TEXT NOT NULL,
    entry_rowid INTEGER NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (user_id, tag_key, created_at, entry_id)
) STRICT, WITHOUT ROWID;

INSERT INTO entry_tags_by_user (user_id, tag_key, created_at, entry_id, entry_rowid, tag)
SELECT t.user_id, t.tag_key, t.created_at, t.entry_id, e.rowid, t.tag
FROM entry_tags AS t JOIN entries AS e ON e.id = t.entry_id;

DROP TRIGGER entry_tags_after_insert;
DROP TRIGGER entry_tags_after_update;
DROP TABLE entry_tags;
ALTER TABLE entry_tags_by_user RENAME TO entry_tags;

CREATE TRIGGER entry_tags_after_insert AFTER INSERT ON entries BEGIN
    INSERT OR IGNORE INTO entry_tags (user_id, tag_key, created_at, entry_id, entry_rowid, tag)
    SELECT new.user_id, serene_fold(value), new.created_at, new.id, new.rowid, value
    FROM json_each(new.tags);
END;

CREATE TRIGGER entry_tags_after_update AFTER UPDATE OF tags ON entries
WHEN old.tags IS NOT new.tags BEGIN
    DELETE FROM entry_tags
    WHERE user_id = old.user_id AND created_at = old.created_at AND entry_id = old.id
      AND tag_key IN (SELECT serene_fold(value) FROM json_each(old.tags));
    INSERT OR IGNORE INTO entry_tags (user_id, tag_key, created_at, entry_id, entry_rowid, tag)
    SELECT new.user_id, serene_fold(value), new.created_at, new.id, new.rowid, value
    FROM json_each(new.tags);
END;

CREATE TRIGGER entry_tags_after_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entry_tags
    WHERE user_id = old.user_id AND created_at = old.created_at AND entry_id = old.id
      AND tag_key IN (SELECT serene_fold(value) FROM json_each(old.tags));
END;

CREATE TRIGGER tag_counts_after_tag_insert AFTER INSERT ON entry_tags BEGIN
    INSERT INTO tag_counts (user_id, tag_key, tag, uses) VALUES (new.user_id, new.tag_key, new.tag, 1)
    ON CONFLICT (user_id, tag_key) DO UPDATE SET uses = uses + 1, tag = min(tag, excluded.tag);
END;

CREATE TRIGGER tag_counts_after_tag_delete AFTER DELETE ON entry_tags BEGIN
    UPDATE tag_counts SET uses = uses - 1 WHERE user_id = old.user_id AND tag_key = old.tag_key;
    DELETE FROM tag_counts WHERE user_id = old.user_id AND tag_key = old.tag_key AND uses <= 0;
END;
