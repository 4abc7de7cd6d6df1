-- The read side's functions in the read side's schemas. Three functions that the read side's
-- migrations defined lived in the event log's schema, reach, beside the log's own:
--
--   reach.login_authority()  ->  authority.login_authority()    the authority a login reads for
--   reach.request_actor()    ->  publication.request_actor()    who is exporting
--   reach.append_export(...) ->  publication.append_export(...) the one way an export is recorded
--
-- Each keeps its body, owner and grants; the authority schema's functions call the new names.
-- (reach.record_authority_export, the fourth, was dropped by 0016.) A local authority's login
-- then needs nothing in schema reach, and is no longer let look names up there.

-- Whoever calls the authority of the session by name may look it up in schema authority; the
-- functions there (export_summary, published) stay closed to every role but reach_authority.
GRANT USAGE ON SCHEMA authority TO reach_app, reach_exporter;

-- The authority of the session: a local authority's own login's, or, for the service acting
-- for a local authority's account (role reach_authority taken by a member of reach_service),
-- the account's; NULL for any other login.
CREATE FUNCTION authority.login_authority() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(
        (SELECT la_id FROM reach.authority_logins WHERE login = session_user),
        CASE WHEN current_setting('role', true) = 'reach_authority' AND pg_has_role(session_user, 'reach_service', 'MEMBER')
             THEN nullif(current_setting('reach.authorities', true), '') END)
$$;
REVOKE ALL ON FUNCTION authority.login_authority() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authority.login_authority() TO reach_authority, reach_app, reach_exporter;
COMMENT ON FUNCTION authority.login_authority() IS
    'The local authority the session reads for (its login''s in reach.authority_logins, or the account''s the service acts for); NULL for any other login.';

-- Who is exporting: a local authority's own login, or the service's account acting.
CREATE FUNCTION publication.request_actor() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN EXISTS (SELECT FROM reach.authority_logins WHERE login = session_user) THEN session_user::text
                WHEN pg_has_role(session_user, 'reach_service', 'MEMBER') THEN coalesce(nullif(current_setting('reach.actor', true), ''), session_user::text)
                ELSE session_user::text END
$$;
REVOKE ALL ON FUNCTION publication.request_actor() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publication.request_actor() TO reach_exporter;
COMMENT ON FUNCTION publication.request_actor() IS
    'Who is exporting: a local authority''s own login, or the account the service acts for.';

CREATE FUNCTION publication.append_export(p_la text, p_period text, p_format text, p_policy text, p_rows integer, p_actor text)
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
               OR p_la IS NOT DISTINCT FROM authority.login_authority()) THEN
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
ALTER FUNCTION publication.append_export(text, text, text, text, integer, text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION publication.append_export(text, text, text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publication.append_export(text, text, text, text, integer, text) TO reach_app;
COMMENT ON FUNCTION publication.append_export(text, text, text, text, integer, text) IS
    'Records that a summary of an authority left the programme (summary_exported): the only way such a record enters the log.';

-- The summary of the login's authority for a period under a policy (none while unpublished).
CREATE OR REPLACE FUNCTION authority.published(p_period text, p_policy text)
RETURNS TABLE (figures jsonb, log_position bigint, published_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.figures, s.log_position, s.published_at FROM publication.summaries s
    WHERE s.la_id = authority.login_authority() AND s.period = p_period AND s.policy = p_policy
$$;

-- Hands the login its authority's summary and records the export, in one statement.
CREATE OR REPLACE FUNCTION authority.export_summary(p_period text, p_policy text, p_format text)
RETURNS TABLE (figures jsonb, rows integer, log_position bigint, published_at timestamptz, recorded_at_position bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    la text := authority.login_authority();
    summary publication.summaries%ROWTYPE;
    appended bigint;
BEGIN
    IF la IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_format IS NULL OR p_format NOT IN ('csv', 'json', 'xlsx', 'html', 'pdf') THEN
        RAISE EXCEPTION 'an export''s format is csv, json, xlsx, html or pdf' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO summary FROM publication.summaries s WHERE s.la_id = la AND s.period = p_period AND s.policy = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no summary of local authority % for period % is published', la, left(p_period, 40)
            USING ERRCODE = 'P0002', HINT = 'summaries are published for standard periods when the programme''s Reach brings its figures up to date';
    END IF;
    appended := publication.append_export(la, summary.period, p_format, summary.policy, summary.rows, publication.request_actor());
    RETURN QUERY SELECT summary.figures, summary.rows, summary.log_position, summary.published_at, appended;
END
$$;

DROP FUNCTION reach.append_export(text, text, text, text, integer, text);
DROP FUNCTION reach.request_actor();
DROP FUNCTION reach.login_authority();

-- A local authority's login calls only the authority schema's functions.
REVOKE USAGE ON SCHEMA reach FROM reach_authority;
