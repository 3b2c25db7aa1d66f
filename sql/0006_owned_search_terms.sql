-- Search reads only the caller's words. Every indexed word is prefixed with its
-- owner's key (serene_search_terms, registered by Serene), so a word or a prefix
-- query walks one user's postings, not every user's: the cost of a search grows
-- with the caller's journal, not with the whole database. The table rows still
-- name their owner, and every search query filters by it as well.
--
-- The index is contentless (it keeps no copy of the text) with deletes by rowid,
-- and the terms are computed by the triggers, so the entries table has no column
-- that needs Serene's functions to read: `PRAGMA integrity_check` and the sqlite3
-- shell keep working on a copy of the database.
DROP TRIGGER entries_fts_after_insert;
DROP TRIGGER entries_fts_after_delete;
DROP TRIGGER entries_fts_after_update;
DROP TABLE entries_fts;
ALTER TABLE entries DROP COLUMN owner_token;

CREATE VIRTUAL TABLE entries_search USING fts5 (
    note, tags,
    content = '', contentless_delete = 1,
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
    DELETE FROM entries_search WHERE rowid = old.rowid;
END;

CREATE TRIGGER entries_search_after_update AFTER UPDATE OF user_id, note, tags ON entries BEGIN
    DELETE FROM entries_search WHERE rowid = old.rowid;
    INSERT INTO entries_search (rowid, note, tags) VALUES (
        new.rowid,
        serene_search_terms(new.user_id, new.note),
        serene_search_terms(new.user_id, new.tags)
    );
END;

INSERT INTO entries_search (rowid, note, tags)
SELECT rowid, serene_search_terms(user_id, note), serene_search_terms(user_id, tags)
FROM entries;
