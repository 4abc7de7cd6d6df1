-- A second record type only Reach writes: disclosure_policy_set, the disclosure policy the
-- programme set for an authority's figures (appended by the read side's publication.set_policy,
-- migration 0030). The check on appended events refuses it from any other append, as it does
-- summary_exported, and names the type it refuses. The rest of reach.check_appended is as
-- migration 0025 left it.

CREATE OR REPLACE FUNCTION reach.system_record_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ARRAY['summary_exported', 'disclosure_policy_set'] $$;

CREATE OR REPLACE FUNCTION reach.check_appended() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wrong record;
    lowest bigint;
    highest bigint;
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

    -- Records only Reach writes come from its own functions (publication.append_export,
    -- publication.set_policy), and from nothing else.
    IF EXISTS (SELECT FROM appended a WHERE a.event_type = ANY (reach.system_record_types())) THEN
        IF current_user <> 'reach_writer'
           OR NOT EXISTS (SELECT FROM reach.system_appends s WHERE s.xid = pg_current_xact_id()) THEN
            SELECT a.event_type INTO wrong FROM appended a WHERE a.event_type = ANY (reach.system_record_types()) LIMIT 1;
            RAISE EXCEPTION 'a % record is written by Reach itself (the export of a summary, or the programme setting an authority''s disclosure policy), not appended', wrong.event_type
                USING ERRCODE = '42501';
        END IF;
    END IF;

    -- An amendment goes to the record it names, keeps that record's authority, and a
    -- correction's new data names no other authority.
    SELECT a."position", a.stream_id, a.data ->> 'record_id' AS record_id,
           CASE WHEN o.event_id IS NULL THEN 'it names no record in the log'
                WHEN o.event_type IN ('event_corrected', 'event_withdrawn') OR o.event_type = ANY (reach.system_record_types())
                THEN 'the record it names cannot be amended'
                WHEN o.stream_id <> a.stream_id THEN 'it is not in the stream of the record it names'
                WHEN o.authority_id IS DISTINCT FROM a.authority_id THEN 'its authority is not that of the record it names'
                ELSE 'its new data does not name the authority of the record it corrects' END AS reason
      INTO wrong
    FROM appended a
    LEFT JOIN reach.events o ON o.event_id = reach.record_event_id(a.data ->> 'record_id')
    WHERE a.event_type IN ('event_corrected', 'event_withdrawn')
      AND (o.event_id IS NULL OR o.stream_id <> a.stream_id OR o.authority_id IS DISTINCT FROM a.authority_id
           OR o.event_type IN ('event_corrected', 'event_withdrawn') OR o.event_type = ANY (reach.system_record_types())
           OR (a.event_type = 'event_corrected'
               AND (jsonb_typeof(a.data -> 'data') IS DISTINCT FROM 'object'
                    OR (a.data -> 'data' ->> 'la_id') IS DISTINCT FROM o.authority_id)))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'amendment at position % (stream %) is refused: %', wrong."position", wrong.stream_id, wrong.reason
            USING ERRCODE = 'RX005';
    END IF;

    -- The log's own functions computed everything they wrote.
    IF current_user = 'reach_writer' THEN RETURN NULL; END IF;
    -- Each stream appended to is checked when the transaction commits: its head must then be
    -- its last event (reach.check_stream_appended). A head this transaction has already moved
    -- past the events (a new stream's, written before its events) is checked anyway, as every
    -- head written is (reach.check_head): only the others are noted.
    INSERT INTO reach.streams_appended (xid, stream_id)
    SELECT pg_current_xact_id(), a.stream_id
    FROM (SELECT x.stream_id, max(x.version) AS version FROM appended x GROUP BY x.stream_id) a
    LEFT JOIN reach.streams h ON h.stream_id = a.stream_id
    WHERE h.stream_id IS NULL OR h.version < a.version
    ON CONFLICT DO NOTHING;
    -- The positions this transaction drew. Every event's position lies between the first and
    -- the last: drawn after the transaction took its id, so no reader or seal has passed it
    -- (one that had would have waited for this transaction), and not beyond what was drawn.
    SELECT min(d.first_position), max(d.last_position) INTO lowest, highest
    FROM reach.position_draws d WHERE d.xid = pg_current_xact_id();
    -- Each event's predecessor: the one before it in the statement, or else the stream's
    -- event before it in the log (one index probe per stream and statement, not per event).
    WITH n AS (
        SELECT a.*, lag(a.version) OVER w AS previous_version, lag(a.hash) OVER w AS previous_hash,
               lag(a.recorded_at) OVER w AS previous_recorded_at
        FROM appended a WINDOW w AS (PARTITION BY a.stream_id ORDER BY a.version)
    ), linked AS (
        SELECT n.*, coalesce(n.previous_version, p.version, 0) AS before_version,
               coalesce(n.previous_hash, p.hash, '\x'::bytea) AS before_hash,
               coalesce(n.previous_recorded_at, p.recorded_at) AS before_recorded_at,
               coalesce(n."position" BETWEEN lowest AND highest, false) AS drawn_here
        FROM n LEFT JOIN LATERAL (
            -- Only the first event of a stream in the statement, past its first version, looks
            -- its predecessor up: one index probe, none for a new stream.
            SELECT p.version, p.hash, p.recorded_at FROM reach.events p
            WHERE n.previous_version IS NULL AND n.version > 1 AND p.stream_id = n.stream_id AND p.version = n.version - 1
        ) p ON true
    )
    SELECT l."position", l.stream_id, l.version,
           CASE WHEN NOT l.drawn_here
                THEN 'its position was not drawn by the transaction that appends it (reach.draw_positions)'
                WHEN l.recorded_at <> now() THEN 'its recorded_at is not the time of the transaction that appends it'
                WHEN l.recorded_at < l.before_recorded_at THEN 'its recorded_at is before that of the event before it in its stream'
                WHEN l.version <> l.before_version + 1 THEN 'its version does not follow the one before it in its stream'
                ELSE 'its hash is not the previous event''s hash followed by its content' END AS reason
      INTO wrong
    FROM linked l
    WHERE NOT l.drawn_here
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
