-- Sessions become an allow-list: a token is valid only while its row exists.
-- Logout deletes one row, a password change all of a user's rows but the new one,
-- and deleting the account takes them with it.
CREATE TABLE sessions (
    jti        TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

DROP TABLE revoked_tokens;
