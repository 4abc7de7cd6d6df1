-- Sign-in sessions of the HTTP service: a cookie holds a random secret; the sha256 of it is
-- kept here, with the session's CSRF token (sent back in a header by every cookie-authenticated
-- write), its expiry and when it was ended (signed out).
CREATE TABLE reach.sessions (
    secret_hash bytea PRIMARY KEY CHECK (length(secret_hash) = 32),
    account     text NOT NULL REFERENCES reach.accounts (name),
    csrf_token  text NOT NULL CHECK (length(csrf_token) BETWEEN 32 AND 64),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX sessions_by_account ON reach.sessions (account);
REVOKE ALL ON reach.sessions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON reach.sessions TO reach_app;
