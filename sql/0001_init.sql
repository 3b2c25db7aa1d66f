-- Accounts. Ids are UUID v4 text; times are milliseconds since the Unix epoch (UTC).
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE entries (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mood        TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    note        TEXT NOT NULL,
    ai_response TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- Serves every entry query: ownership, time ranges, keyset pages and weekly counts.
CREATE INDEX entries_by_user_time ON entries (user_id, created_at, id);

-- Tokens revoked before their expiry (logout). Rows past expires_at are pruned.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
