-- Notes and tags sealed like replies (issue 15), and a keyed search index in place
-- of the one over words in clear.
--
-- Entries get an explicit INTEGER PRIMARY KEY (`seq`): the search index and the
-- tag rows reach an entry by it, and VACUUM (run once the old text is sealed) may
-- renumber an implicit rowid, never an explicit one. `note`, `tags` and
-- `ai_response` hold sealed blobs; `clear_*` hold what was written before
-- encryption until the upgrade at start seals it, a batch at a time, and indexes it.
DROP TRIGGER entries_search_after_insert;
DROP TRIGGER entries_search_after_delete;
DROP TRIGGER entries_search_after_update;
DROP TRIGGER entry_tags_after_insert;
DROP TRIGGER entry_tags_after_update;
DROP TRIGGER entry_tags_after_delete;
DROP TRIGGER tag_counts_after_tag_insert;
DROP TRIGGER tag_counts_after_tag_delete;
DROP TABLE entries_search;
DROP TABLE entry_tags;
DROP TABLE tag_counts;

CREATE TABLE entries_sealed (
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

INSERT INTO entries_sealed (seq, id, user_id, mood, created_at, updated_at, ai_response,
                            clear_note, clear_tags, clear_reply)
SELECT rowid, id, user_id, mood, created_at, updated_at, ai_response_sealed,
       note, tags, ai_response
FROM entries;

DROP TABLE entries;
ALTER TABLE entries_sealed RENAME TO entries;

CREATE INDEX entries_by_user_time ON entries (user_id, created_at, id, mood);
-- The upgrade finds what is left to seal without reading every row.
CREATE INDEX entries_in_clear ON entries (user_id, created_at, id) WHERE clear_note IS NOT NULL;

-- The search index holds, per entry, the keyed tokens of its words and of their
-- prefixes (truncated HMACs under the owner's search key, written as text): no
-- word, and nothing that names a word without the key. Contentless, and
-- `contentless_delete` so that a row goes by its rowid alone. `detail=none`: a
-- phrase is checked on the opened candidates, so positions are not stored.
CREATE VIRTUAL TABLE entries_search USING fts5 (
    tokens,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'ascii'
);

-- Tag rows keyed in page order (user, tag token, time, entry): a tag filter walks
-- the key itself and reaches each entry by its seq.
CREATE TABLE entry_tags (
    user_id    TEXT NOT NULL,
    tag_token  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    entry_id   TEXT NOT NULL,
    entry_seq  INTEGER NOT NULL,
    PRIMARY KEY (user_id, tag_token, created_at, entry_id)
) STRICT, WITHOUT ROWID;

-- Uses per tag and user, with one spelling of the tag, sealed.
CREATE TABLE tag_counts (
    user_id   TEXT NOT NULL,
    tag_token INTEGER NOT NULL,
    uses      INTEGER NOT NULL,
    spelling  BLOB NOT NULL,
    PRIMARY KEY (user_id, tag_token)
) STRICT, WITHOUT ROWID;

-- Removing an entry's index rows needs no key, so deleting an entry or an account
-- (whose entries go by cascade) always takes its rows with it.
CREATE TRIGGER entries_unindex_after_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entries_search WHERE rowid = old.seq;
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

CREATE TRIGGER tag_counts_after_tag_delete AFTER DELETE ON entry_tags BEGIN
    UPDATE tag_counts SET uses = uses - 1 WHERE user_id = old.user_id AND tag_token = old.tag_token;
    DELETE FROM tag_counts WHERE user_id = old.user_id AND tag_token = old.tag_token AND uses <= 0;
END;
