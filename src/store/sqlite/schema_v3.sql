-- Migration 3: API tokens for `kiroku serve`. Only a SHA-256 of each token is kept; the token
-- itself is shown once at creation. Revoked tokens stay listed (revoked_ms set) for the record.
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    user        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    read_only   INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);
