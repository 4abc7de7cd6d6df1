-- The HTTP service reads for each account under a role of its own, so that the database, and
-- not the service's code alone, limits what a request can read:
--
--   researcher  SET ROLE reach_researcher  the research views, nothing else
--   staff       SET ROLE reach_staff       the scoped views: each research view limited to
--                                          the request's authorities (reach.request_authorities)
--   la_viewer   SET ROLE reach_authority   its authority's published summaries, through the
--                                          authority functions, as an authority's own login
--
-- The service's login may take these roles (through reach_service, which does not inherit
-- them, so the login itself gains no privilege), and sets the request's account on its
-- connection (reach.request_role, reach.authorities, reach.actor) before any query.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_staff') THEN
        BEGIN
            CREATE ROLE reach_staff NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_service') THEN
        BEGIN
            CREATE ROLE reach_service NOLOGIN NOINHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;
GRANT reach_staff, reach_researcher, reach_authority TO reach_service;
GRANT reach_service TO reach_app;
-- (A server named by URL runs the service as the login that migrates.)
GRANT reach_service TO CURRENT_USER;

CREATE SCHEMA IF NOT EXISTS scoped;
REVOKE ALL ON SCHEMA scoped FROM PUBLIC;
COMMENT ON SCHEMA scoped IS 'Each research view limited to the authorities of the request (reach.request_authorities()), for programme staff''s requests (role reach_staff).';
GRANT USAGE ON SCHEMA scoped TO reach_staff;
ALTER DEFAULT PRIVILEGES IN SCHEMA scoped GRANT SELECT ON TABLES TO reach_staff;
GRANT USAGE ON SCHEMA reach TO reach_staff, reach_researcher;
GRANT EXECUTE ON FUNCTION reach.request_authorities() TO reach_staff;
GRANT EXECUTE ON FUNCTION reach.first_occurred_on(text) TO reach_staff, reach_researcher;

-- The authority of the session: a local authority's own login's, or, for the service acting
-- for a local authority's account (role reach_authority taken by a member of reach_service),
-- the account's.
CREATE OR REPLACE FUNCTION reach.login_authority() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(
        (SELECT la_id FROM reach.authority_logins WHERE login = session_user),
        CASE WHEN current_setting('role', true) = 'reach_authority' AND pg_has_role(session_user, 'reach_service', 'MEMBER')
             THEN nullif(current_setting('reach.authorities', true), '') END)
$$;

-- Who is exporting: a local authority's own login, or the service's account acting.
CREATE FUNCTION reach.request_actor() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN EXISTS (SELECT FROM reach.authority_logins WHERE login = session_user) THEN session_user::text
                WHEN pg_has_role(session_user, 'reach_service', 'MEMBER') THEN coalesce(nullif(current_setting('reach.actor', true), ''), session_user::text)
                ELSE session_user::text END
$$;
REVOKE ALL ON FUNCTION reach.request_actor() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.request_actor() TO reach_exporter;

CREATE OR REPLACE FUNCTION authority.export_summary(p_period text, p_policy text, p_format text)
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
        jsonb_build_object('actor', reach.request_actor(), 'correlation_id', id, 'source', 'export'),
        current_date, authority) a;
    RETURN QUERY SELECT summary.figures, summary.rows, summary.log_position, summary.published_at, appended;
END
$$;
