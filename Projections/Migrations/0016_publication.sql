-- A local authority's login sees its authority's figures only as published: under a
-- disclosure policy, never row by row. Until now it read the authority views (each research
-- view limited to its rows), where one activity with 3 pupils was readable as such, and it
-- recorded its own exports with whatever policy and row count its client claimed.
--
-- Now the application publishes each authority's summary for every standard period, under
-- dfe and nhs (disclosure control applied, consistent across periods), into
-- publication.summaries, which no authority's login can read. The login reads its own
-- authority's through two functions: authority.published, and authority.export_summary, which
-- hands over the summary and records the export (its policy and row count as published, not
-- as the client says) in one statement, so no summary leaves unrecorded.
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'authority' AND c.relkind = 'v' LOOP
        EXECUTE format('DROP VIEW authority.%I', v.relname);
    END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES IN SCHEMA authority REVOKE SELECT ON TABLES FROM reach_authority;
COMMENT ON SCHEMA authority IS 'What a local authority''s login (role reach_authority) may call: its own authority''s published summaries.';

-- The client's word is no longer taken for an export.
DROP FUNCTION reach.record_authority_export(text, jsonb, date);

CREATE SCHEMA publication;
REVOKE ALL ON SCHEMA publication FROM PUBLIC;
COMMENT ON SCHEMA publication IS 'Authorities'' summaries as they may leave the programme, written by the application.';
GRANT USAGE ON SCHEMA publication TO reach_app, reach_exporter;

CREATE TABLE publication.summaries (
    la_id         text NOT NULL,
    period        text NOT NULL,
    policy        text NOT NULL CHECK (policy IN ('dfe', 'nhs')),
    figures       jsonb NOT NULL CHECK (jsonb_typeof(figures) = 'array'),
    rows          integer NOT NULL CHECK (rows >= 0),
    log_position  bigint NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (la_id, period, policy)
);
COMMENT ON TABLE publication.summaries IS 'Each authority''s summary per standard period and policy: rows [metric, period, scope, dimension, category, statistic, value, symbol, sensitivity], disclosure control applied.';
REVOKE ALL ON publication.summaries FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON publication.summaries TO reach_app;
GRANT SELECT ON publication.summaries TO reach_exporter;

-- The summary of the login's authority for a period under a policy (none while unpublished).
CREATE FUNCTION authority.published(p_period text, p_policy text)
RETURNS TABLE (figures jsonb, log_position bigint, published_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.figures, s.log_position, s.published_at FROM publication.summaries s
    WHERE s.la_id = reach.login_authority() AND s.period = p_period AND s.policy = p_policy
$$;

-- Hands the login its authority's summary and records the export, in one statement: the
-- figures come back only with the summary_exported event that names them appended.
CREATE FUNCTION authority.export_summary(p_period text, p_policy text, p_format text)
RETURNS TABLE (figures jsonb, rows integer, log_position bigint, published_at timestamptz, recorded_at_position bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    authority text := reach.login_authority();
    summary publication.summaries%ROWTYPE;
    id text := gen_random_uuid()::text;
    appended bigint;
BEGIN
    IF authority IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_format IS DISTINCT FROM 'csv' AND p_format IS DISTINCT FROM 'json' THEN
        RAISE EXCEPTION 'an export''s format is csv or json' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO summary FROM publication.summaries s WHERE s.la_id = authority AND s.period = p_period AND s.policy = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no summary of local authority % for period % is published', authority, left(p_period, 40)
            USING ERRCODE = 'P0002', HINT = 'summaries are published for standard periods when the programme''s Reach brings its figures up to date';
    END IF;
    SELECT a."position" INTO appended
    FROM reach.append_event(
        reach.record_event_id('export' || chr(31) || authority || chr(31) || id), 'exports:' || authority, 'summary_exported', 1,
        jsonb_build_object('la_id', authority, 'period', summary.period, 'format', p_format, 'policy', summary.policy,
                           'rows', summary.rows, 'date', to_char(current_date, 'YYYY-MM-DD')),
        jsonb_build_object('actor', session_user::text, 'correlation_id', id, 'source', 'export'),
        current_date, authority) a;
    RETURN QUERY SELECT summary.figures, summary.rows, summary.log_position, summary.published_at, appended;
END
$$;

ALTER FUNCTION authority.published(text, text) OWNER TO reach_exporter;
ALTER FUNCTION authority.export_summary(text, text, text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION authority.published(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION authority.export_summary(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authority.published(text, text) TO reach_authority;
GRANT EXECUTE ON FUNCTION authority.export_summary(text, text, text) TO reach_authority;
