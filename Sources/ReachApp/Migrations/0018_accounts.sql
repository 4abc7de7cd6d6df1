-- Reach's own accounts, for the HTTP service: who may sign in, with which role of
-- ../shared/spec/domain.md (staff, researcher, la_viewer, admin) and which authorities, and
-- the API tokens of scripts. Passwords are kept as bcrypt hashes, tokens as the sha256 of
-- their secret (shown once, when made). Neither is an event: a password is not a fact of the
-- programme, and the log keeps what it holds for ever.
CREATE TABLE reach.accounts (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    role          text NOT NULL CHECK (role IN ('staff', 'researcher', 'la_viewer', 'admin')),
    authorities   text[] NOT NULL DEFAULT '{}' CHECK (cardinality(authorities) <= 100),
    password_hash text CHECK (password_hash ~ '^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'la_viewer' OR cardinality(authorities) = 1),
    CHECK (role <> 'staff' OR cardinality(authorities) >= 1),
    CHECK (role IN ('staff', 'la_viewer') OR cardinality(authorities) = 0)
);
COMMENT ON TABLE reach.accounts IS 'Accounts of the HTTP service: role, authorities, bcrypt password hash, disabled.';

CREATE TABLE reach.api_tokens (
    id          text PRIMARY KEY CHECK (id ~ '^[a-f0-9]{12}$'),
    account     text NOT NULL REFERENCES reach.accounts (name),
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_tokens_by_account ON reach.api_tokens (account);
COMMENT ON TABLE reach.api_tokens IS 'API tokens: reach_<id>_<secret>; the sha256 of the secret is kept, the secret never.';

REVOKE ALL ON reach.accounts, reach.api_tokens FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON reach.accounts, reach.api_tokens TO reach_app;
