-- What an outside review found open on the read side, closed:
--
-- 1. Exports are recorded by one function, reach.append_export, the only way a
--    summary_exported record enters the log (the check on appended events refuses it from any
--    other append, migration 0025). The application calls it when it hands a summary over
--    (for staff, researchers and admins), and so does authority.export_summary for a local
--    authority's login; a record or an import of that type is refused before it reaches the
--    log. Each field is checked, the date is the server's, and the function belongs to
--    reach_exporter, a role no login holds.
-- 2. Side channels for the logins of researchers and local authorities: the sizes of tables
--    and databases (pg_relation_size, pg_total_relation_size, pg_table_size, pg_indexes_size,
--    pg_database_size, pg_tablespace_size) told anyone how many rows each projection table
--    holds; the database-wide statistics (pg_stat_database) how many rows were written; and
--    anyone could create large objects (lo_from_bytea and the rest) and temporary tables,
--    storage nobody accounted for. Now none is open to PUBLIC in this database: the owner (and
--    superusers) keep them, and the application's role keeps temporary tables (the bulk
--    path's staging table; reach.settle_database). Closing functions of the catalogue needs a
--    superuser: a migration run by another role leaves them open and says so.

GRANT SELECT, INSERT, DELETE ON reach.system_appends TO reach_exporter;

CREATE FUNCTION reach.append_export(p_la text, p_period text, p_format text, p_policy text, p_rows integer, p_actor text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me xid8 := pg_current_xact_id();
    id text := gen_random_uuid()::text;
    appended bigint;
BEGIN
    -- A registered authority (or the authority of the login exporting, whose summary is
    -- published for it).
    IF p_la IS NULL OR p_la !~ '^[A-Za-z0-9._-]{1,60}$'
       OR NOT (EXISTS (SELECT FROM reach.streams s WHERE s.stream_id = 'authority:' || p_la AND s.version > 0)
               OR p_la IS NOT DISTINCT FROM reach.login_authority()) THEN
        RAISE EXCEPTION 'an export is of a registered local authority, named by its id' USING ERRCODE = '22023';
    END IF;
    -- A period as Reach writes one: 2024/25, FY2024/25, 2024-Q3, 2024-09, 2024-2029 or a range of dates.
    IF p_period IS NULL OR p_period !~ '^([0-9]{4}/[0-9]{2}|FY[0-9]{4}/[0-9]{2}|[0-9]{4}-Q[1-4]|[0-9]{4}-[0-9]{2}|2024-2029|[0-9]{4}-[0-9]{2}-[0-9]{2}\.\.[0-9]{4}-[0-9]{2}-[0-9]{2})$' THEN
        RAISE EXCEPTION 'an export''s period is one Reach writes, such as 2024/25, FY2024/25, 2024-Q3 or 2024-09' USING ERRCODE = '22023';
    END IF;
    IF p_format IS NULL OR p_format NOT IN ('csv', 'json', 'xlsx', 'html', 'pdf') THEN
        RAISE EXCEPTION 'an export''s format is csv, json, xlsx, html or pdf' USING ERRCODE = '22023';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_rows IS NULL OR p_rows NOT BETWEEN 0 AND 9999999 THEN
        RAISE EXCEPTION 'an export''s rows is a whole number from 0 to 9,999,999' USING ERRCODE = '22023';
    END IF;
    -- Who made it: a name of 1 to 100 characters with no control, invisible or
    -- direction-changing character.
    IF p_actor IS NULL OR length(p_actor) NOT BETWEEN 1 AND 100
       OR p_actor ~ '[[:cntrl:]\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]' THEN
        RAISE EXCEPTION 'an export names who made it, in 1 to 100 characters with no control, invisible or direction-changing character'
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO reach.system_appends (xid) VALUES (me);
    SELECT a."position" INTO appended
    FROM reach.append_event(
        reach.record_event_id('export' || chr(31) || p_la || chr(31) || id), 'exports:' || p_la, 'summary_exported', 1,
        jsonb_build_object('la_id', p_la, 'period', p_period, 'format', p_format, 'policy', p_policy,
                           'rows', p_rows, 'date', to_char(current_date, 'YYYY-MM-DD')),
        jsonb_build_object('actor', p_actor, 'correlation_id', id, 'source', 'export'),
        current_date, p_la) a;
    DELETE FROM reach.system_appends WHERE xid = me;
    RETURN appended;
END
$$;
ALTER FUNCTION reach.append_export(text, text, text, text, integer, text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION reach.append_export(text, text, text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.append_export(text, text, text, text, integer, text) TO reach_app;
COMMENT ON FUNCTION reach.append_export(text, text, text, text, integer, text) IS
    'Records that a summary of an authority left the programme (summary_exported): the only way such a record enters the log.';

CREATE OR REPLACE FUNCTION authority.export_summary(p_period text, p_policy text, p_format text)
RETURNS TABLE (figures jsonb, rows integer, log_position bigint, published_at timestamptz, recorded_at_position bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    authority text := reach.login_authority();
    summary publication.summaries%ROWTYPE;
    appended bigint;
BEGIN
    IF authority IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_format IS NULL OR p_format NOT IN ('csv', 'json', 'xlsx', 'html', 'pdf') THEN
        RAISE EXCEPTION 'an export''s format is csv, json, xlsx, html or pdf' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO summary FROM publication.summaries s WHERE s.la_id = authority AND s.period = p_period AND s.policy = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no summary of local authority % for period % is published', authority, left(p_period, 40)
            USING ERRCODE = 'P0002', HINT = 'summaries are published for standard periods when the programme''s Reach brings its figures up to date';
    END IF;
    appended := reach.append_export(authority, summary.period, p_format, summary.policy, summary.rows, reach.request_actor());
    RETURN QUERY SELECT summary.figures, summary.rows, summary.log_position, summary.published_at, appended;
END
$$;

DO $$
DECLARE
    item record;
BEGIN
    -- (Temporary tables are closed by reach.settle_database, migration 0025, at every migration.)
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING 'sizes of tables and large objects stay open to every login: closing them needs a superuser (run reach db migrate as one)';
        RETURN;
    END IF;
    FOR item IN
        SELECT p.oid::regprocedure AS function FROM pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace
          AND p.proname IN ('pg_relation_size', 'pg_total_relation_size', 'pg_table_size', 'pg_indexes_size',
                            'pg_database_size', 'pg_tablespace_size',
                            'lo_creat', 'lo_create', 'lo_from_bytea', 'lo_import')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', item.function);
    END LOOP;
    REVOKE SELECT ON pg_catalog.pg_stat_database, pg_catalog.pg_stat_database_conflicts FROM PUBLIC;
END
$$;
