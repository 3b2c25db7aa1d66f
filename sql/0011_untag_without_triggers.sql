-- Updates untag an entry in code, not by trigger. A trigger on a statement (as a
-- RETURNING clause) makes SQLite open a statement journal, and FTS5 flushes its
-- pending terms whenever one opens: a batch of updates wrote one index segment
-- per update, and merging those was a third of the writer's time.
--
-- Deleting an entry still goes by trigger, so that an account's entries, deleted
-- by cascade, take their index rows along without any key. Its tag counts are
-- counted off in that trigger itself, no longer by a trigger on the tag rows.
DROP TRIGGER entries_untag_after_update;
DROP TRIGGER tag_counts_after_tag_delete;
DROP TRIGGER entries_unindex_after_delete;

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

-- FTS5 merges a little after every flush (automerge), which put a third of the
-- writer's time into merging while writes wait. The writer's idle-time upkeep
-- merges instead; under a steady stream of writes FTS5 still merges a level
-- once it holds 16 segments (crisismerge), so the index stays bounded.
INSERT INTO entries_search (entries_search, rank) VALUES ('automerge', 0);
