-- Password guessing is slowed down, not let to lock anyone out. Every check of a password
-- (signing in, and the current password asked when changing it) is counted here until it
-- succeeds, by account name and by the address it came from, so that every process of the
-- service sees the same counts. Past a few failures an account (or an address) must wait
-- before its next check, the wait growing with each failure up to a short limit: the right
-- password still gets in after that wait, and a stranger's failures against one account do
-- not stop any other account or address. Rows older than a day are cleared as new ones come.
--
-- A browser (or script) that has signed in to an account before holds a device cookie
-- (OWASP's "device cookies"): its checks for that account are counted against the device
-- alone, so that no stranger's failures make the owner wait.
CREATE TABLE reach.sign_in_failures (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    account text NOT NULL CHECK (length(account) BETWEEN 1 AND 100),
    address text NOT NULL CHECK (length(address) BETWEEN 1 AND 100)
);
CREATE INDEX sign_in_failures_by_account ON reach.sign_in_failures (account, at);
CREATE INDEX sign_in_failures_by_address ON reach.sign_in_failures (address, at);
CREATE INDEX sign_in_failures_by_time ON reach.sign_in_failures (at);
COMMENT ON TABLE reach.sign_in_failures IS
    'Password checks that failed (and those under way), by account name and address, for the service''s limit on guessing. Kept a day.';
REVOKE ALL ON reach.sign_in_failures FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON reach.sign_in_failures TO reach_app;

CREATE TABLE reach.sign_in_devices (
    secret_hash  bytea PRIMARY KEY CHECK (length(secret_hash) = 32),
    account      text NOT NULL REFERENCES reach.accounts (name),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_devices_by_use ON reach.sign_in_devices (last_used_at);
COMMENT ON TABLE reach.sign_in_devices IS
    'Devices (browsers, scripts) that have signed in to an account: the sha256 of their cookie''s secret. Their password checks are counted apart from strangers''. Kept 400 days from last use.';
REVOKE ALL ON reach.sign_in_devices FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON reach.sign_in_devices TO reach_app;
