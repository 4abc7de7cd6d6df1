-- A local authority's login records its exports, and nothing else, through
-- reach.record_authority_export. It used to take any record id and any data: an authority's
-- login could learn that another authority's record id exists (its event id clashed), take an
-- id staff would later need, or write any text, of any size, into the log, which keeps it
-- for ever. Now:
-- - the event id is made from the authority and the record id joined by a control character,
--   which no record id may hold, so an export's id can never be a record's, nor another
--   authority's export's;
-- - the data is an export's and nothing more, each field checked and bounded;
-- - the function belongs to reach_exporter, a role that can append to the log (as the
--   application can) and do nothing else, rather than to the database's owner.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_exporter') THEN
        BEGIN
            CREATE ROLE reach_exporter NOLOGIN IN ROLE reach_app;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;
GRANT reach_exporter TO CURRENT_USER;

CREATE OR REPLACE FUNCTION reach.record_authority_export(p_record_id text, p_data jsonb, p_occurred_on date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    authority text := reach.login_authority();
    unknown text;
    appended bigint;
BEGIN
    IF authority IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_data ->> 'la_id' IS DISTINCT FROM authority THEN
        RAISE EXCEPTION 'login % records exports of local authority % only', session_user, authority USING ERRCODE = '42501';
    END IF;
    IF p_record_id IS NULL OR length(p_record_id) NOT BETWEEN 1 AND 100 OR p_record_id ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'an export''s id is 1 to 100 characters with no control characters' USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(p_data) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'an export''s data is an object' USING ERRCODE = '22023';
    END IF;
    SELECT k INTO unknown FROM jsonb_object_keys(p_data) k
    WHERE k NOT IN ('la_id', 'period', 'format', 'policy', 'rows', 'date') LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'an export''s data has no field %', left(unknown, 40) USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(p_data -> 'period') IS DISTINCT FROM 'string' OR length(p_data ->> 'period') NOT BETWEEN 1 AND 30
       OR (p_data ->> 'period') ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'an export''s period is text of 1 to 30 characters' USING ERRCODE = '22023';
    END IF;
    IF (p_data ->> 'format') IS DISTINCT FROM 'csv' AND (p_data ->> 'format') IS DISTINCT FROM 'json' THEN
        RAISE EXCEPTION 'an export''s format is csv or json' USING ERRCODE = '22023';
    END IF;
    IF (p_data ->> 'policy') IS DISTINCT FROM 'dfe' AND (p_data ->> 'policy') IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(p_data -> 'rows') IS DISTINCT FROM 'number' OR (p_data ->> 'rows') !~ '^[0-9]{1,7}$' THEN
        RAISE EXCEPTION 'an export''s rows is a whole number from 0 to 9,999,999' USING ERRCODE = '22023';
    END IF;
    -- (A day's slack: the client's day is UTC's, the server's may be a zone's.)
    IF p_occurred_on IS NULL OR p_occurred_on NOT BETWEEN date '2000-01-01' AND current_date + 1
       OR coalesce(p_data ->> 'date', '') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' OR (p_data ->> 'date')::date <> p_occurred_on THEN
        RAISE EXCEPTION 'an export''s date is the day it was made' USING ERRCODE = '22023';
    END IF;
    SELECT a."position" INTO appended
    FROM reach.append_event(
        reach.record_event_id('export' || chr(31) || authority || chr(31) || p_record_id), 'exports:' || authority,
        'summary_exported', 1, p_data,
        jsonb_build_object('actor', session_user::text, 'correlation_id', p_record_id, 'source', 'export'),
        p_occurred_on, authority) a;
    RETURN appended;
END
$$;
ALTER FUNCTION reach.record_authority_export(text, jsonb, date) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION reach.record_authority_export(text, jsonb, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.record_authority_export(text, jsonb, date) TO reach_authority;
