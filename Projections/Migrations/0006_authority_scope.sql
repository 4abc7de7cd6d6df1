-- Local authorities read the figures of their own pilots and nothing else. A login of a local
-- authority's staff is a member of reach_authority and is mapped to its authority in
-- reach.authority_logins; it can read the views of the authority schema (the research views,
-- each limited to that authority's rows, made by the projection engine) and record that it
-- exported a summary, and nothing else: not the log, not the research views of all authorities.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_authority') THEN
        BEGIN
            CREATE ROLE reach_authority NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;

CREATE TABLE reach.authority_logins (
    login  name PRIMARY KEY,
    la_id  text NOT NULL CHECK (length(la_id) BETWEEN 1 AND 100)
);
COMMENT ON TABLE reach.authority_logins IS 'Which local authority each login of reach_authority reads for.';

-- The authority of the session's login, or NULL for any other login.
CREATE FUNCTION reach.login_authority() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT la_id FROM reach.authority_logins WHERE login = session_user
$$;
REVOKE ALL ON FUNCTION reach.login_authority() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.login_authority() TO reach_authority, reach_app;

-- Records a summary_exported event for the login's own authority (the only event such a login
-- may append). The record is checked by the application first; this checks the authority.
CREATE FUNCTION reach.record_authority_export(p_record_id text, p_data jsonb, p_occurred_on date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    authority text := reach.login_authority();
    appended bigint;
BEGIN
    IF authority IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_data ->> 'la_id' IS DISTINCT FROM authority THEN
        RAISE EXCEPTION 'login % records exports of local authority % only', session_user, authority USING ERRCODE = '42501';
    END IF;
    SELECT a."position" INTO appended
    FROM reach.append_events(
        ARRAY[reach.record_event_id(p_record_id)], ARRAY['exports:' || authority], ARRAY['summary_exported'], ARRAY[1],
        ARRAY[p_data], ARRAY[jsonb_build_object('actor', session_user::text, 'correlation_id', p_record_id, 'source', 'export')],
        ARRAY[p_occurred_on], ARRAY[authority]) a;
    RETURN appended;
END
$$;
REVOKE ALL ON FUNCTION reach.record_authority_export(text, jsonb, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.record_authority_export(text, jsonb, date) TO reach_authority;

-- The two functions above are called by name: the login may look names up in reach (it is
-- granted no table there).
GRANT USAGE ON SCHEMA reach TO reach_authority;

CREATE SCHEMA IF NOT EXISTS authority;
COMMENT ON SCHEMA authority IS 'The research views, each limited to the rows of the local authority of the login (role reach_authority).';
GRANT USAGE ON SCHEMA authority TO reach_authority;
ALTER DEFAULT PRIVILEGES IN SCHEMA authority GRANT SELECT ON TABLES TO reach_authority;
