-- One append. reach.append_events places a batch of events in the log, and is the only SQL
-- that does, but for its single-event entry, reach.append_event, which places one new event on
-- a stream that exists in one statement and hands anything else to reach.append_events. The
-- staged bulk path, the authority's export (see Projections/Migrations/0011) and the client
-- call one of the two. (A bulk load's
-- chunks are placed in the client by the same rule, EventLog.appendDirect, which the tests
-- check against these functions row for row.)
--
-- The placement rule, for each event in batch order: its version is its stream's head version
-- plus one; its hash is reach.event_hash(the head's hash, the event, that version, the
-- transaction's clock); the head moves to that version and hash; its position is drawn from
-- reach.event_position in batch order, after the transaction has its id.

-- An event's link in its stream's hash chain.
CREATE FUNCTION reach.event_hash(
    p_previous bytea, p_event_id uuid, p_stream_id text, p_version bigint, p_event_type text,
    p_schema_version integer, p_data jsonb, p_metadata jsonb, p_occurred_on date,
    p_authority_id text, p_recorded_at timestamptz
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(p_previous || reach.event_digest_input(p_event_id, p_stream_id, p_version, p_event_type,
        p_schema_version, p_data, p_metadata, p_occurred_on, p_authority_id, p_recorded_at))
$$;

CREATE OR REPLACE FUNCTION reach.append_events(
    p_event_ids uuid[], p_stream_ids text[], p_event_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb[], p_occurred_on date[], p_authority_ids text[],
    p_expected_streams text[] DEFAULT '{}', p_expected_versions bigint[] DEFAULT '{}'
) RETURNS TABLE (event_id uuid, stream_id text, version bigint, "position" bigint, duplicate boolean)
-- Generic plans: the statements are the same for every call, and planning them anew for each
-- set of arrays costs more than running them.
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_event_ids), 0);
    at timestamptz := now();
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
    SELECT array_agg(h.version ORDER BY h.stream_id), array_agg(h.last_hash ORDER BY h.stream_id)
      INTO head_versions, head_hashes
    FROM (SELECT h.stream_id, h.version, h.last_hash FROM reach.streams h
          WHERE h.stream_id = ANY(streams) ORDER BY h.stream_id FOR UPDATE) h;

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
        UPDATE reach.streams s SET version = h.version, last_hash = h.last_hash
        FROM unnest(streams, head_versions, head_hashes) AS h(stream_id, version, last_hash)
        WHERE s.stream_id = h.stream_id
    )
    -- In no particular order: the caller matches results to its events by id.
    SELECT ins.event_id, ins.stream_id, ins.version, ins."position", false FROM inserted ins;
END
$$;

-- One event: the common case (a stream that exists at the version expected, or one that must
-- not exist yet and does not, and an id that is new) is the rule applied in one statement,
-- which moves or makes the head (locking it) and inserts the event; writing the head gives the
-- transaction its id before the insert draws the position.
-- Anything else (a new stream, an id in the log, a version that does not hold) leaves that
-- statement doing nothing, and goes to reach.append_events, which sorts it out and words the
-- errors. Its arguments are single values and it returns one row, not a set: a function's array
-- arguments are each copied into an expanded form on entry, and a set is gathered in a
-- tuplestore, which together cost a single append about a tenth more.
-- p_expected: NULL (any version), 0 (the stream must not exist yet) or N.
CREATE FUNCTION reach.append_event(
    p_event_id uuid, p_stream_id text, p_event_type text, p_schema_version integer, p_data jsonb,
    p_metadata jsonb, p_occurred_on date, p_authority_id text, p_expected bigint DEFAULT NULL,
    OUT event_id uuid, OUT stream_id text, OUT version bigint, OUT "position" bigint, OUT duplicate boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    at timestamptz := now();
BEGIN
    WITH moved AS (
        UPDATE reach.streams s
        SET version = s.version + 1,
            last_hash = reach.event_hash(s.last_hash, p_event_id, p_stream_id, s.version + 1, p_event_type, p_schema_version,
                                         coalesce(p_data, 'null'), coalesce(p_metadata, '{}'), p_occurred_on, p_authority_id, at)
        WHERE p_expected IS DISTINCT FROM 0 AND s.stream_id = p_stream_id AND (p_expected IS NULL OR s.version = p_expected)
          AND NOT EXISTS (SELECT FROM reach.events e WHERE e.event_id = p_event_id)
        RETURNING s.version, s.last_hash
    ), made AS (
        -- A stream that must not exist yet: its head, made at version 1 (nothing, should
        -- another session make it first).
        INSERT INTO reach.streams AS s (stream_id, version, last_hash)
        SELECT p_stream_id, 1, reach.event_hash('\x'::bytea, p_event_id, p_stream_id, 1, p_event_type, p_schema_version,
                                                 coalesce(p_data, 'null'), coalesce(p_metadata, '{}'), p_occurred_on, p_authority_id, at)
        WHERE p_expected = 0 AND NOT EXISTS (SELECT FROM reach.events e WHERE e.event_id = p_event_id)
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING s.version, s.last_hash
    ), head AS (
        SELECT * FROM moved UNION ALL SELECT * FROM made
    ), inserted AS (
        INSERT INTO reach.events AS e ("position", event_id, stream_id, version, event_type, schema_version,
                                       data, metadata, occurred_on, recorded_at, authority_id, hash)
        SELECT nextval('reach.event_position'), p_event_id, p_stream_id, h.version, p_event_type, p_schema_version,
               coalesce(p_data, 'null'), coalesce(p_metadata, '{}'), p_occurred_on, at, p_authority_id, h.last_hash
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

-- The staged bulk path places its chunk through reach.append_events.
CREATE OR REPLACE FUNCTION reach.append_staged(p_after bigint, p_upto bigint,
    OUT appended bigint, OUT already_present bigint, OUT last_position bigint)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT count(*) FILTER (WHERE NOT a.duplicate), count(*) FILTER (WHERE a.duplicate),
           max(a."position") FILTER (WHERE NOT a.duplicate)
      INTO appended, already_present, last_position
    FROM (SELECT array_agg(s.event_id ORDER BY s.ord) AS ids, array_agg(s.stream_id ORDER BY s.ord) AS streams,
                 array_agg(s.event_type ORDER BY s.ord) AS types, array_agg(s.schema_version ORDER BY s.ord) AS versions,
                 array_agg(s.data ORDER BY s.ord) AS data, array_agg(s.metadata ORDER BY s.ord) AS metadata,
                 array_agg(s.occurred_on ORDER BY s.ord) AS occurred, array_agg(s.authority_id ORDER BY s.ord) AS authorities
          FROM pg_temp.reach_stage s WHERE s.ord > p_after AND s.ord <= p_upto) staged
    CROSS JOIN LATERAL reach.append_events(staged.ids, staged.streams, staged.types, staged.versions, staged.data,
                                           staged.metadata, staged.occurred, staged.authorities) a;
END
$$;

GRANT EXECUTE ON FUNCTION reach.event_hash(bytea, uuid, text, bigint, text, integer, jsonb, jsonb, date, text, timestamptz) TO reach_app;
GRANT EXECUTE ON FUNCTION reach.append_event(uuid, text, text, integer, jsonb, jsonb, date, text, bigint) TO reach_app;
