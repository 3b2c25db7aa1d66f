-- The weekly counts read only (user_id, created_at, mood): with mood in the index
-- they never touch the table rows. Keyset pages still walk (user_id, created_at, id).
DROP INDEX entries_by_user_time;
CREATE INDEX entries_by_user_time ON entries (user_id, created_at, id, mood);
