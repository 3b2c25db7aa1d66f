-- Entries are laid out by account: the row id, which orders the table on disk, is
-- `slot * 2^32 + n`, the slot coming from the account's id (`serene_entry_slot`,
-- a stable hash) and n counting that account's rows. A page of one person's
-- entries then sits on a few neighbouring pages, where with the row id on `seq`
-- (time, across all accounts) each of its entries sat on a page of its own,
-- shared with other accounts' entries of the same moment.
--
-- `seq` keeps its values and its meaning (time order, and the search rows' ids),
-- now under a unique index; tag rows point at the row id, so a tag filter goes
-- from its rows to the entries without that index. Accounts whose slots collide
-- share a region; their rows are numbered together, so ids stay unique.
CREATE TABLE entries_by_account (
    row_id      INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE,
    id          TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mood        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    note        BLOB,
    tags        BLOB,
    ai_response BLOB,
    tag_tokens  TEXT NOT NULL DEFAULT '[]',
    clear_note  TEXT,
    clear_tags  TEXT,
    clear_reply TEXT
) STRICT;

-- The new row ids are worked out on narrow rows first, so that the sort holds no
-- sealed text; the rows are then copied in row id order, without another sort.
CREATE TABLE entry_places (
    row_id INTEGER PRIMARY KEY,
    seq    INTEGER NOT NULL
) STRICT;
INSERT INTO entry_places (row_id, seq)
SELECT slot * 4294967296 + row_number() OVER (PARTITION BY slot ORDER BY user_id, seq) - 1, seq
FROM (SELECT seq, user_id, serene_entry_slot(user_id) AS slot FROM entries);

INSERT INTO entries_by_account (row_id, seq, id, user_id, mood, created_at, updated_at,
                                note, tags, ai_response, tag_tokens,
                                clear_note, clear_tags, clear_reply)
SELECT p.row_id, e.seq, e.id, e.user_id, e.mood, e.created_at, e.updated_at, e.note, e.tags,
       e.ai_response, e.tag_tokens, e.clear_note, e.clear_tags, e.clear_reply
FROM entry_places AS p JOIN entries AS e ON e.seq = p.seq
ORDER BY p.row_id;
DROP TABLE entry_places;

-- Dropping the old table fires no trigger: the search and tag rows stay, the
-- search rows still pointed at the same seqs.
DROP TABLE entries;
ALTER TABLE entries_by_account RENAME TO entries;

DELETE FROM entry_tags WHERE NOT EXISTS (SELECT 1 FROM entries WHERE entries.id = entry_tags.entry_id);
ALTER TABLE entry_tags RENAME COLUMN entry_seq TO entry_row_id;
UPDATE entry_tags SET entry_row_id = (SELECT row_id FROM entries WHERE entries.id = entry_tags.entry_id);

CREATE INDEX entries_by_user_time ON entries (user_id, created_at, id, mood);
CREATE INDEX entries_in_clear ON entries (user_id, created_at, id) WHERE clear_note IS NOT NULL;

CREATE TRIGGER entries_unindex_after_delete AFTER DELETE ON entries BEGIN
    DELETE FROM entries_search WHERE rowid = old.seq;
    DELETE FROM search_backlog WHERE user_id = old.user_id AND seq = old.seq;
    UPDATE tag_counts SET uses = uses - 1
    WHERE user_id = old.user_id AND tag_token IN (
        SELECT tag_token FROM entry_tags
        WHERE user_id = old.user_id
          AND tag_token IN (SELECT value FROM json_each(old.tag_tokens))
          AND created_at = old.created_at AND entry_id = old.id);
    DELETE FROM tag_counts
    WHERE user_id = old.user_id
      AND tag_token IN (SELECT value FROM json_each(old.tag_tokens))
      AND uses <= 0;
    DELETE FROM entry_tags
    WHERE user_id = old.user_id
      AND tag_token IN (SELECT value FROM json_each(old.tag_tokens))
      AND created_at = old.created_at AND entry_id = old.id;
END;
