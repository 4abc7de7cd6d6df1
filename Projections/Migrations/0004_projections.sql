-- The read side's bookkeeping: one row per projection with its checkpoint, state and last
-- error. The projection tables themselves live in one schema per projection (proj_<name>),
-- created by the projection engine from the SQL beside each projection (Projections/), so
-- that a rebuild can build a fresh schema and swap it in atomically.
CREATE SCHEMA IF NOT EXISTS projections;

CREATE TABLE projections.state (
    name             text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,40}$'),
    -- Every event up to this position has been applied to the projection's tables.
    checkpoint       bigint      NOT NULL DEFAULT 0,
    -- A checksum of the projection's table and apply SQL: a changed definition rebuilds.
    definition       text        NOT NULL,
    state            text        NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'running', 'failed', 'rebuilding')),
    events_applied   bigint      NOT NULL DEFAULT 0,
    last_applied_at  timestamptz,
    -- Where it stopped, when it stopped on an event it could not apply.
    failed_position  bigint,
    failed_event_id  uuid,
    failed_error     text,
    failed_at        timestamptz,
    rebuilt_at       timestamptz
);

COMMENT ON TABLE projections.state IS 'One row per projection: checkpoint, state and last error (reach projections status).';

-- Researchers read the projections through the views of the research schema (created by the
-- engine with the projections) and nothing else: not the log, not other schemas.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_researcher') THEN
        BEGIN
            CREATE ROLE reach_researcher NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS research;
COMMENT ON SCHEMA research IS 'Read-only views over the projection tables, for researchers (role reach_researcher).';

REVOKE ALL ON SCHEMA reach FROM reach_researcher;
REVOKE ALL ON SCHEMA projections FROM reach_researcher;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA research TO reach_researcher;
ALTER DEFAULT PRIVILEGES IN SCHEMA research GRANT SELECT ON TABLES TO reach_researcher;

-- The application reads projections (reach metrics) and their state.
GRANT USAGE ON SCHEMA projections TO reach_app;
GRANT SELECT ON projections.state TO reach_app;
GRANT USAGE ON SCHEMA research TO reach_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA research GRANT SELECT ON TABLES TO reach_app;
