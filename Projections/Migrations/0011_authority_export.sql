-- A local authority's login records its exports through the event log's single-event append,
-- reach.append_event (migration 0010), like every other append.
CREATE OR REPLACE FUNCTION reach.record_authority_export(p_record_id text, p_data jsonb, p_occurred_on date) RETURNS bigint
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
    FROM reach.append_event(
        reach.record_event_id(p_record_id), 'exports:' || authority, 'summary_exported', 1, p_data,
        jsonb_build_object('actor', session_user::text, 'correlation_id', p_record_id, 'source', 'export'),
        p_occurred_on, authority) a;
    RETURN appended;
END
$$;
