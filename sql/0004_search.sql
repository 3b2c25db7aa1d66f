-- Full-text search over notes and tags: an external-content FTS5 index over the
-- entries, kept in step by triggers inside every write's own transaction. The
-- owner is indexed as one rare token (`u` and the id's hex digits, a generated
-- column), so a search starts from the caller's own postings. A deleted entry
-- stops matching at once; its words leave the index files when segments merge,
-- and account deletion merges them all ('optimize') before the checkpoint.
ALTER TABLE entries ADD COLUMN owner_token TEXT
    GENERATED ALWAYS AS ('u' || replace(user_id, '-', '')) VIRTUAL;

CREATE VIRTUAL TABLE entries_fts USING fts5 (
    owner_token, note, tags,
    content = 'entries', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER entries_fts_after_insert AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, owner_token, note, tags)
    VALUES (new.rowid, new.owner_token, new.note, new.tags);
END;

CREATE TRIGGER entries_fts_after_delete AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, owner_token, note, tags)
    VALUES ('delete', old.rowid, old.owner_token, old.note, old.tags);
END;

CREATE TRIGGER entries_fts_after_update AFTER UPDATE OF user_id, note, tags ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, owner_token, note, tags)
    VALUES ('delete', old.rowid, old.owner_token, old.note, old.tags);
    INSERT INTO entries_fts (rowid, owner_token, note, tags)
    VALUES (new.rowid, new.owner_token, new.note, new.tags);
END;

-- Existing databases: index what is there.
INSERT INTO entries_fts (entries_fts) VALUES ('rebuild');

-- Each entry's tags, folded for case-insensitive filters and counts
-- (serene_fold: Unicode lower case of the trimmed tag, registered by Serene).
CREATE TABLE entry_tags (
    entry_id   TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    tag_key    TEXT NOT NULL,
    tag        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (entry_id, tag_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX entry_tags_by_user_tag ON entry_tags (user_id, tag_key, created_at);

CREATE TRIGGER entry_tags_after_insert AFTER INSERT ON entries BEGIN
    INSERT OR IGNORE INTO entry_tags (entry_id, user_id, tag_key, tag, created_at)
    SELECT new.id, new.user_id, serene_fold(value), value, new.created_at
    FROM json_each(new.tags);
END;

CREATE TRIGGER entry_tags_after_update AFTER UPDATE OF tags ON entries BEGIN
    DELETE FROM entry_tags WHERE entry_id = old.id;
    INSERT OR IGNORE INTO entry_tags (entry_id, user_id, tag_key, tag, created_at)
    SELECT new.id, new.user_id, serene_fold(value), value, new.created_at
    FROM json_each(new.tags);
END;

INSERT OR IGNORE INTO entry_tags (entry_id, user_id, tag_key, tag, created_at)
SELECT e.id, e.user_id, serene_fold(t.value), t.value, e.created_at
FROM entries AS e, json_each(e.tags) AS t;
