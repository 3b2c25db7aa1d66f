-- Uses per tag and user, kept by triggers, so listing a user's tags reads a handful
-- of rows however long the journal is.
CREATE TABLE tag_counts (
    user_id TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag     TEXT NOT NULL,
    uses    INTEGER NOT NULL,
    PRIMARY KEY (user_id, tag_key)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER tag_counts_after_tag_insert AFTER INSERT ON entry_tags BEGIN
    INSERT INTO tag_counts (user_id, tag_key, tag, uses) VALUES (new.user_id, new.tag_key, new.tag, 1)
    ON CONFLICT (user_id, tag_key) DO UPDATE SET uses = uses + 1, tag = min(tag, excluded.tag);
END;

CREATE TRIGGER tag_counts_after_tag_delete AFTER DELETE ON entry_tags BEGIN
    UPDATE tag_counts SET uses = uses - 1 WHERE user_id = old.user_id AND tag_key = old.tag_key;
    DELETE FROM tag_counts WHERE user_id = old.user_id AND tag_key = old.tag_key AND uses <= 0;
END;

INSERT INTO tag_counts (user_id, tag_key, tag, uses)
SELECT user_id, tag_key, min(tag), count(*) FROM entry_tags GROUP BY user_id, tag_key;
