-- Each request of the HTTP service runs for one account, whose role and authorities the
-- service sets on its connection (reach.request_role, reach.authorities, reach.actor) before
-- any query of the request. The log reads them: a request of programme staff may append
-- events of the staff member's own authorities only, checked for every append path (the
-- append functions and the bulk path alike) by the check on appended events.

-- The authorities of the request's account (empty outside a request).
CREATE FUNCTION reach.request_authorities() RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(string_to_array(nullif(current_setting('reach.authorities', true), ''), ','), '{}'::text[])
$$;
REVOKE ALL ON FUNCTION reach.request_authorities() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.request_authorities() TO reach_app, reach_writer;

-- The first day anything in the log about an authority happened on: where an authority's
-- standard periods begin, for those who read its figures but not the log (a staff member's
-- request, for its own authorities only).
CREATE FUNCTION reach.first_occurred_on(p_authority text) RETURNS date
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT min(e.occurred_on) FROM reach.events e
    WHERE e.authority_id = p_authority
      AND (current_setting('role', true) IS DISTINCT FROM 'reach_staff' OR p_authority = ANY (reach.request_authorities()))
$$;
REVOKE ALL ON FUNCTION reach.first_occurred_on(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.first_occurred_on(text) TO reach_app;

CREATE OR REPLACE FUNCTION reach.check_appended() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wrong record;
BEGIN
    -- A request of programme staff appends for the staff member's authorities only, whatever
    -- path it takes to the log.
    IF current_setting('reach.request_role', true) = 'staff' THEN
        SELECT a."position", a.stream_id, a.authority_id INTO wrong FROM appended a
        WHERE a.authority_id IS NULL OR NOT (a.authority_id = ANY (reach.request_authorities())) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'event of stream % is refused: this request records for local authorities %, not for %',
                wrong.stream_id, array_to_string(reach.request_authorities(), ', '), coalesce(wrong.authority_id, 'the whole programme')
                USING ERRCODE = '42501';
        END IF;
    END IF;
    -- The log's own functions computed everything they wrote.
    IF current_user = 'reach_writer' THEN RETURN NULL; END IF;
    -- Each event's predecessor: the one before it in the statement, or else the stream's
    -- event before it in the log (one index probe per stream and statement, not per event).
    WITH n AS (
        SELECT a.*, lag(a.version) OVER w AS previous_version, lag(a.hash) OVER w AS previous_hash,
               lag(a.recorded_at) OVER w AS previous_recorded_at
        FROM appended a WINDOW w AS (PARTITION BY a.stream_id ORDER BY a.version)
    ), linked AS (
        SELECT n.*, coalesce(n.previous_version, p.version, 0) AS before_version,
               coalesce(n.previous_hash, p.hash, '\x'::bytea) AS before_hash,
               coalesce(n.previous_recorded_at, p.recorded_at) AS before_recorded_at
        FROM n LEFT JOIN LATERAL (
            -- Only the first event of a stream in the statement, past its first version, looks
            -- its predecessor up: one index probe, none for a new stream.
            SELECT p.version, p.hash, p.recorded_at FROM reach.events p
            WHERE n.previous_version IS NULL AND n.version > 1 AND p.stream_id = n.stream_id AND p.version = n.version - 1
        ) p ON true
    )
    SELECT l."position", l.stream_id, l.version,
           CASE WHEN l."position" <= 0 OR l."position" > (SELECT last_value FROM reach.event_position)
                THEN 'its position was not drawn from the log''s sequence'
                WHEN l.recorded_at <> now() THEN 'its recorded_at is not the time of the transaction that appends it'
                WHEN l.recorded_at < l.before_recorded_at THEN 'its recorded_at is before that of the event before it in its stream'
                WHEN l.version <> l.before_version + 1 THEN 'its version does not follow the one before it in its stream'
                ELSE 'its hash is not the previous event''s hash followed by its content' END AS reason
      INTO wrong
    FROM linked l
    WHERE l."position" <= 0 OR l."position" > (SELECT last_value FROM reach.event_position)
       OR l.recorded_at <> now()
       OR l.recorded_at < l.before_recorded_at
       OR l.version <> l.before_version + 1
       OR l.hash <> sha256(l.before_hash || reach.event_digest_input(
              l.event_id, l.stream_id, l.version, l.event_type, l.schema_version, l.data, l.metadata,
              l.occurred_on, l.authority_id, l.recorded_at))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event at position % (stream %, version %) is refused: %', wrong."position", wrong.stream_id, wrong.version, wrong.reason
            USING ERRCODE = 'RX004';
    END IF;
    RETURN NULL;
END
$$;
