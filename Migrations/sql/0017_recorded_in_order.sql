-- An event is never recorded before the event before it in its stream.
--
-- recorded_at was the appending transaction's start (now()), taken before the stream's head
-- was locked: of two transactions appending to one stream, the one that started first could
-- wait for the other's lock and then place its event after the other's with an earlier time.
-- Now each stream's head keeps the time of its last event (last_recorded_at), and:
-- - reach.append_event and reach.append_events take the clock once the heads are locked, and
--   never earlier than the last event of the stream;
-- - the bulk path (the application's role, checked by the server) keeps the transaction's
--   clock, leaves to the server's path any chunk whose stream has a later last event, and
--   writes the time into the heads it moves; the checks refuse an event recorded before its
--   predecessor, and a head whose time is not its event's.
ALTER TABLE reach.streams ADD COLUMN last_recorded_at timestamptz;
COMMENT ON COLUMN reach.streams.last_recorded_at IS 'The recorded_at of the stream''s last event (version).';
UPDATE reach.streams s SET last_recorded_at = e.recorded_at
FROM reach.events e WHERE e.stream_id = s.stream_id AND e.version = s.version;

CREATE OR REPLACE FUNCTION reach.append_events(
    p_event_ids uuid[], p_stream_ids text[], p_event_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb[], p_occurred_on date[], p_authority_ids text[],
    p_expected_streams text[] DEFAULT '{}', p_expected_versions bigint[] DEFAULT '{}'
) RETURNS TABLE (event_id uuid, stream_id text, version bigint, "position" bigint, duplicate boolean)
-- Generic plans: the statements are the same for every call, and planning them anew for each
-- set of arrays costs more than running them.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_event_ids), 0);
    at timestamptz;
    skipped uuid[];
    conflicting_id uuid;
    conflict record;
    streams text[];          -- the streams that get events, sorted
    head_versions bigint[];  -- their heads, moved as events are placed
    head_hashes bytea[];
    slots integer[];         -- each event's stream, as an index into streams
    versions bigint[];       -- each event's version and hash
    hashes bytea[];
    j integer;
BEGIN
    IF n = 0 THEN RETURN; END IF;
    IF n <> cardinality(p_stream_ids) OR n <> cardinality(p_event_types) OR n <> cardinality(p_schema_versions)
       OR n <> cardinality(p_data) OR n <> cardinality(p_metadata) OR n <> cardinality(p_occurred_on)
       OR n <> cardinality(p_authority_ids)
       OR coalesce(cardinality(p_expected_streams), 0) <> coalesce(cardinality(p_expected_versions), 0) THEN
        RAISE EXCEPTION 'append_events: the arrays must all have one element per event' USING ERRCODE = '22023';
    END IF;
    IF n > 1 AND (SELECT count(DISTINCT e) FROM unnest(p_event_ids) e) <> n THEN
        RAISE EXCEPTION 'the same event id appears twice in one batch' USING ERRCODE = 'RX002';
    END IF;

    -- Take a transaction id before any position is drawn: readers rely on every drawn
    -- position belonging to a transaction that already has an id (reach.log_horizon).
    PERFORM pg_current_xact_id();

    -- Ids already in the log are not appended again, and must carry the same content.
    SELECT array_agg(e.event_id),
           (array_agg(e.event_id) FILTER (WHERE
               (e.stream_id, e.event_type, e.schema_version, e.data, e.occurred_on, e.authority_id)
               IS DISTINCT FROM (i.stream_id, i.event_type, i.schema_version, i.data, i.occurred_on, i.authority_id)))[1]
      INTO skipped, conflicting_id
    FROM (SELECT * FROM reach.events e WHERE e.event_id = ANY(p_event_ids)) e
    JOIN unnest(p_event_ids, p_stream_ids, p_event_types, p_schema_versions, p_data, p_occurred_on, p_authority_ids)
         AS i(event_id, stream_id, event_type, schema_version, data, occurred_on, authority_id)
      ON e.event_id = i.event_id;
    IF conflicting_id IS NOT NULL THEN
        RAISE EXCEPTION 'event % is already in the log with different content', conflicting_id
            USING ERRCODE = 'RX002', DETAIL = 'An event id identifies one fact; choose a new id for a new fact.';
    END IF;
    IF skipped IS NOT NULL THEN
        RETURN QUERY SELECT e.event_id, e.stream_id, e.version, e."position", true FROM reach.events e
                     WHERE e.event_id = ANY(skipped);
        IF cardinality(skipped) = n THEN RETURN; END IF;
        SELECT array_agg(i.id ORDER BY i.ord), array_agg(i.s ORDER BY i.ord), array_agg(i.t ORDER BY i.ord),
               array_agg(i.sv ORDER BY i.ord), array_agg(i.d ORDER BY i.ord), array_agg(i.m ORDER BY i.ord),
               array_agg(i.o ORDER BY i.ord), array_agg(i.a ORDER BY i.ord)
          INTO p_event_ids, p_stream_ids, p_event_types, p_schema_versions, p_data, p_metadata, p_occurred_on, p_authority_ids
        FROM unnest(p_event_ids, p_stream_ids, p_event_types, p_schema_versions, p_data, p_metadata, p_occurred_on, p_authority_ids)
             WITH ORDINALITY AS i(id, s, t, sv, d, m, o, a, ord)
        WHERE NOT i.id = ANY(skipped);
        n := cardinality(p_event_ids);
    END IF;

    -- The heads of the streams, new ones made (waiting for any session making the same one),
    -- all locked in a fixed order so that two batches cannot deadlock.
    streams := ARRAY(SELECT DISTINCT s FROM unnest(p_stream_ids) s ORDER BY s);
    INSERT INTO reach.streams (stream_id, version, last_hash)
    SELECT s, 0, '\x'::bytea FROM unnest(streams) s ORDER BY s
    ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING;
    SELECT array_agg(h.version ORDER BY h.stream_id), array_agg(h.last_hash ORDER BY h.stream_id), max(h.last_recorded_at)
      INTO head_versions, head_hashes, at
    FROM (SELECT h.stream_id, h.version, h.last_hash, h.last_recorded_at FROM reach.streams h
          WHERE h.stream_id = ANY(streams) ORDER BY h.stream_id FOR UPDATE) h;
    -- The clock once the heads are locked: never before the last event of any of the streams.
    at := greatest(clock_timestamp(), at);

    -- Optimistic concurrency, checked under the locks.
    IF cardinality(p_expected_streams) > 0 THEN
        SELECT x.s AS stream, x.expected, h.version AS current INTO conflict
        FROM unnest(p_expected_streams, p_expected_versions) AS x(s, expected)
        JOIN unnest(streams, head_versions) AS h(s, version) ON h.s = x.s
        WHERE x.expected IS NOT NULL AND h.version <> x.expected
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'stream % is at version %, expected %', conflict.stream, conflict.current, conflict.expected
                USING ERRCODE = 'RX001', DETAIL = format('current_version=%s', conflict.current);
        END IF;
    END IF;

    -- The rule, event by event in batch order.
    slots := CASE WHEN cardinality(streams) = 1 THEN array_fill(1, ARRAY[n])
                  ELSE ARRAY(SELECT x.slot FROM unnest(p_stream_ids) WITH ORDINALITY AS i(s, ord)
                             JOIN unnest(streams) WITH ORDINALITY AS x(s, slot) ON x.s = i.s ORDER BY i.ord) END;
    versions := array_fill(NULL::bigint, ARRAY[n]);
    hashes := array_fill(NULL::bytea, ARRAY[n]);
    FOR k IN 1..n LOOP
        j := slots[k];
        head_versions[j] := head_versions[j] + 1;
        head_hashes[j] := reach.event_hash(head_hashes[j], p_event_ids[k], p_stream_ids[k], head_versions[j], p_event_types[k],
            p_schema_versions[k], coalesce(p_data[k], 'null'), coalesce(p_metadata[k], '{}'), p_occurred_on[k],
            p_authority_ids[k], at);
        versions[k] := head_versions[j];
        hashes[k] := head_hashes[j];
    END LOOP;

    RETURN QUERY
    WITH inserted AS (
        -- Positions are drawn in batch order, as the sorted rows come out.
        INSERT INTO reach.events AS e ("position", event_id, stream_id, version, event_type, schema_version,
                                       data, metadata, occurred_on, recorded_at, authority_id, hash)
        SELECT nextval('reach.event_position'), i.id, i.s, i.v, i.t, i.sv, i.d, i.m, i.o, at, i.a, i.h
        FROM (SELECT i.id, i.s, i.v, i.t, i.sv, coalesce(i.d, 'null') AS d, coalesce(i.m, '{}') AS m, i.o, i.a, i.h
              FROM unnest(p_event_ids, p_stream_ids, versions, p_event_types, p_schema_versions, p_data, p_metadata,
                          p_occurred_on, p_authority_ids, hashes)
                   WITH ORDINALITY AS i(id, s, v, t, sv, d, m, o, a, h, ord)
              ORDER BY i.ord) i
        RETURNING e.event_id, e.stream_id, e.version, e."position"
    ), moved AS (
        UPDATE reach.streams s SET version = h.version, last_hash = h.last_hash, last_recorded_at = at
        FROM unnest(streams, head_versions, head_hashes) AS h(stream_id, version, last_hash)
        WHERE s.stream_id = h.stream_id
    )
    -- In no particular order: the caller matches results to its events by id.
    SELECT ins.event_id, ins.stream_id, ins.version, ins."position", false FROM inserted ins;
END
$$;


CREATE OR REPLACE FUNCTION reach.append_event(
    p_event_id uuid, p_stream_id text, p_event_type text, p_schema_version integer, p_data jsonb,
    p_metadata jsonb, p_occurred_on date, p_authority_id text, p_expected bigint DEFAULT NULL,
    OUT event_id uuid, OUT stream_id text, OUT version bigint, OUT "position" bigint, OUT duplicate boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    at timestamptz := clock_timestamp();  -- (a new stream's: nothing is before it)
BEGIN
    WITH moved AS (
        -- The time is the clock once the head is locked (so after any append to the stream
        -- that this one waited for), and never before the stream's last event.
        UPDATE reach.streams s
        SET (version, last_hash, last_recorded_at) = (
            SELECT s.version + 1,
                   reach.event_hash(s.last_hash, p_event_id, p_stream_id, s.version + 1, p_event_type, p_schema_version,
                                    coalesce(p_data, 'null'), coalesce(p_metadata, '{}'), p_occurred_on, p_authority_id, c.t),
                   c.t
            FROM (SELECT greatest(clock_timestamp(), s.last_recorded_at) AS t) c)
        WHERE p_expected IS DISTINCT FROM 0 AND s.stream_id = p_stream_id AND (p_expected IS NULL OR s.version = p_expected)
          AND NOT EXISTS (SELECT FROM reach.events e WHERE e.event_id = p_event_id)
        RETURNING s.version, s.last_hash, s.last_recorded_at
    ), made AS (
        -- A stream that must not exist yet: its head, made at version 1 (nothing, should
        -- another session make it first).
        INSERT INTO reach.streams AS s (stream_id, version, last_hash, last_recorded_at)
        SELECT p_stream_id, 1, reach.event_hash('\x'::bytea, p_event_id, p_stream_id, 1, p_event_type, p_schema_version,
                                                 coalesce(p_data, 'null'), coalesce(p_metadata, '{}'), p_occurred_on, p_authority_id, at), at
        WHERE p_expected = 0 AND NOT EXISTS (SELECT FROM reach.events e WHERE e.event_id = p_event_id)
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING s.version, s.last_hash, s.last_recorded_at
    ), head AS (
        SELECT * FROM moved UNION ALL SELECT * FROM made
    ), inserted AS (
        INSERT INTO reach.events AS e ("position", event_id, stream_id, version, event_type, schema_version,
                                       data, metadata, occurred_on, recorded_at, authority_id, hash)
        SELECT nextval('reach.event_position'), p_event_id, p_stream_id, h.version, p_event_type, p_schema_version,
               coalesce(p_data, 'null'), coalesce(p_metadata, '{}'), p_occurred_on, h.last_recorded_at, p_authority_id, h.last_hash
        FROM head h
        RETURNING e.event_id, e.stream_id, e.version, e."position"
    )
    SELECT ins.event_id, ins.stream_id, ins.version, ins."position", false
      INTO event_id, stream_id, version, "position", duplicate FROM inserted ins;
    IF FOUND THEN RETURN; END IF;
    SELECT a.event_id, a.stream_id, a.version, a."position", a.duplicate
      INTO event_id, stream_id, version, "position", duplicate
    FROM reach.append_events(
        ARRAY[p_event_id], ARRAY[p_stream_id], ARRAY[p_event_type], ARRAY[p_schema_version], ARRAY[p_data],
        ARRAY[p_metadata], ARRAY[p_occurred_on], ARRAY[p_authority_id],
        CASE WHEN p_expected IS NULL THEN '{}'::text[] ELSE ARRAY[p_stream_id] END,
        CASE WHEN p_expected IS NULL THEN '{}'::bigint[] ELSE ARRAY[p_expected] END) a;
END
$$;


CREATE OR REPLACE FUNCTION reach.check_appended() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wrong record;
BEGIN
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


CREATE OR REPLACE FUNCTION reach.check_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.version > 0 AND NOT EXISTS (
        SELECT FROM reach.events e WHERE e.stream_id = NEW.stream_id AND e.version = NEW.version AND e.hash = NEW.last_hash
                                     AND e.recorded_at IS NOT DISTINCT FROM NEW.last_recorded_at) THEN
        RAISE EXCEPTION 'the head of stream % (version %) is not the event of the stream at that version (its hash and time)', NEW.stream_id, NEW.version
            USING ERRCODE = 'RX004';
    END IF;
    RETURN NULL;
END
$$;
