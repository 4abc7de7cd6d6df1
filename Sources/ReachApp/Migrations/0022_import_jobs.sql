-- Imports sent to the HTTP service run as jobs: the upload is kept on disk, checked and
-- appended as `reach import` does, in one transaction, while the job's row says how far it
-- has got and, at the end, what became of it (the refused rows with line, field and reason,
-- and the rejects file). A job whose service stopped before it finished (its bookkeeping
-- session is gone; the import's transaction went with it) is shown as failed.
CREATE TABLE reach.import_jobs (
    id              uuid PRIMARY KEY,
    account         text NOT NULL CHECK (length(account) BETWEEN 1 AND 100),
    file_name       text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    record_type     text,
    skip_invalid    boolean NOT NULL,
    bytes           bigint NOT NULL CHECK (bytes >= 0),
    state           text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'succeeded', 'refused', 'failed')),
    rows_read       bigint NOT NULL DEFAULT 0,
    appended        bigint,
    already_present bigint,
    refused_rows    bigint,
    refusals        jsonb CHECK (refusals IS NULL OR jsonb_typeof(refusals) = 'array'),
    rejects         text,
    error           text,
    backend_pid     integer,
    backend_start   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX import_jobs_by_account ON reach.import_jobs (account, created_at DESC);
COMMENT ON TABLE reach.import_jobs IS 'Imports run by the HTTP service: progress and outcome (refused rows as [{line, id, field, reason}], the rejects file); no record''s data but the rejects of its own account.';
REVOKE ALL ON reach.import_jobs FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON reach.import_jobs TO reach_app;
