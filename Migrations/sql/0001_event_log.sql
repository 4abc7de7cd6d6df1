-- The event log: one append-only table of events, the per-stream heads that serialise
-- appends to a stream, and the one function that appends.

CREATE SCHEMA IF NOT EXISTS reach;

-- Roles are cluster-wide; create them once, tolerating a concurrent creator.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_app') THEN
        BEGIN
            CREATE ROLE reach_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;

-- Positions come from a sequence without a cache, so its last value is exact for readers
-- (see reach.log_horizon below).
CREATE SEQUENCE reach.event_position AS bigint NO CYCLE CACHE 1;

CREATE TABLE reach.events (
    "position"      bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200 AND stream_id !~ '[[:cntrl:]]'),
    version         bigint      NOT NULL CHECK (version >= 1),
    event_type      text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100 AND event_type !~ '[[:cntrl:]]'),
    schema_version  integer     NOT NULL DEFAULT 1 CHECK (schema_version >= 1),
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    occurred_on     date,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    authority_id    text        CHECK (length(authority_id) BETWEEN 1 AND 100 AND authority_id !~ '[[:cntrl:]]'),
    hash            bytea       NOT NULL,
    UNIQUE (stream_id, version)
);

COMMENT ON TABLE reach.events IS 'The append-only log of every fact Reach knows. Never updated or deleted.';
COMMENT ON COLUMN reach.events."position" IS 'Global position; increasing, with gaps where a transaction rolled back.';
COMMENT ON COLUMN reach.events.version IS 'Version within the stream, from 1 with no gaps.';
COMMENT ON COLUMN reach.events.metadata IS 'actor, correlation_id, causation_id, source.';
COMMENT ON COLUMN reach.events.occurred_on IS 'The date the fact happened (not when it was recorded).';
COMMENT ON COLUMN reach.events.authority_id IS 'The local authority the event belongs to; NULL for programme-wide events.';
COMMENT ON COLUMN reach.events.hash IS 'sha256(hash of the previous event of the stream || reach.event_digest_input(...)).';

-- The head of each stream: its current version and the hash of its last event. Appends lock
-- the rows of the streams they touch, so appends to one stream are serialised and appends to
-- different streams run in parallel: there is no global write lock.
CREATE TABLE reach.streams (
    stream_id  text   PRIMARY KEY,
    version    bigint NOT NULL,
    last_hash  bytea  NOT NULL
);

-- The content an event's hash covers (everything but its global position, which is an index
-- into the log rather than part of the fact), as text fields joined by the unit separator (which no
-- field can contain: identifiers refuse control characters and JSON escapes them). Every field
-- is rendered in a form that does not depend on session settings.
CREATE FUNCTION reach.event_digest_input(
    p_event_id uuid, p_stream_id text, p_version bigint, p_event_type text,
    p_schema_version integer, p_data jsonb, p_metadata jsonb, p_occurred_on date,
    p_authority_id text, p_recorded_at timestamptz
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(concat_ws(chr(31),
        p_event_id, p_stream_id, p_version, p_event_type, p_schema_version,
        coalesce((p_occurred_on - date '2000-01-01')::text, ''), coalesce(p_authority_id, ''),
        extract(epoch FROM p_recorded_at), p_metadata, p_data), 'UTF8')
$$;

-- One link of a stream's hash chain, as an aggregate so that a window over a stream computes
-- the whole chain in one pass: state = sha256(previous state, or the stream's last hash || input).
CREATE FUNCTION reach.chain_step(p_state bytea, p_previous bytea, p_input bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN sha256(coalesce(p_state, p_previous) || p_input);
END
$$;

CREATE AGGREGATE reach.chain(bytea, bytea) (SFUNC = reach.chain_step, STYPE = bytea);

-- The log never changes: refuse UPDATE, DELETE and TRUNCATE, whoever asks.
CREATE FUNCTION reach.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reach.events is append-only: % is not allowed; record a correction event instead', TG_OP
        USING ERRCODE = 'RX003';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON reach.events
    FOR EACH ROW EXECUTE FUNCTION reach.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON reach.events
    FOR EACH STATEMENT EXECUTE FUNCTION reach.refuse_change();

-- Wake followers after inserts, whichever path appended; the payload is only a hint, readers
-- always read the table. NOTIFY costs each committing transaction a queue entry and a lock,
-- so a session notifies at most once every 20 ms: followers that wake read until they have
-- caught up and then look again 50 ms later (EventStore.follow), which covers the appends a
-- session made in the window after its last notification.
CREATE FUNCTION reach.notify_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    last_ms text := current_setting('reach.last_notify_ms', true);
BEGIN
    IF last_ms IS NULL OR last_ms = '' OR now_ms - last_ms::bigint >= 20 THEN
        PERFORM pg_notify('reach_events', '');
        PERFORM set_config('reach.last_notify_ms', now_ms::text, false);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON reach.events
    FOR EACH STATEMENT EXECUTE FUNCTION reach.notify_append();

-- Appends a batch of events, to one or several streams, all or nothing, in one round trip.
--
-- Expected versions are given per stream: NULL (any), 0 (the stream must not exist yet) or N
-- (the stream must be exactly at version N). A mismatch raises RX001 with the current version.
-- Events whose ids are already in the log are not appended again: their original positions
-- are returned with duplicate = true; an id already used for other content raises RX002.
-- One row comes back per event, in no particular order.
CREATE FUNCTION reach.append_events(
    p_event_ids uuid[], p_stream_ids text[], p_event_types text[], p_schema_versions integer[],
    p_data jsonb[], p_metadata jsonb[], p_occurred_on date[], p_authority_ids text[],
    p_expected_streams text[] DEFAULT '{}', p_expected_versions bigint[] DEFAULT '{}'
) RETURNS TABLE (event_id uuid, stream_id text, version bigint, "position" bigint, duplicate boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n integer := coalesce(cardinality(p_event_ids), 0);
    duplicate_ids uuid[];
    conflicting_id uuid;
    new_streams text[];
    conflict record;
    positions bigint[];
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

    -- Idempotency: ids already in the log are not appended again, and must carry the same content.
    SELECT array_agg(e.event_id),
           (array_agg(e.event_id) FILTER (WHERE
               (e.stream_id, e.event_type, e.schema_version, e.data, e.occurred_on, e.authority_id)
               IS DISTINCT FROM (i.stream_id, i.event_type, i.schema_version, i.data, i.occurred_on, i.authority_id)))[1]
      INTO duplicate_ids, conflicting_id
    FROM (SELECT * FROM reach.events e WHERE e.event_id = ANY(p_event_ids)) e
    JOIN unnest(p_event_ids, p_stream_ids, p_event_types, p_schema_versions, p_data, p_occurred_on, p_authority_ids)
         AS i(event_id, stream_id, event_type, schema_version, data, occurred_on, authority_id)
      ON e.event_id = i.event_id;
    IF conflicting_id IS NOT NULL THEN
        RAISE EXCEPTION 'event % is already in the log with different content', conflicting_id
            USING ERRCODE = 'RX002', DETAIL = 'An event id identifies one fact; choose a new id for a new fact.';
    END IF;
    duplicate_ids := coalesce(duplicate_ids, '{}');

    SELECT array_agg(DISTINCT s ORDER BY s) INTO new_streams
    FROM unnest(p_event_ids, p_stream_ids) AS i(id, s) WHERE NOT i.id = ANY(duplicate_ids);

    IF new_streams IS NOT NULL THEN
        -- Lock the heads of the streams that get new events, in a fixed order so that two
        -- batches touching the same streams cannot deadlock.
        INSERT INTO reach.streams (stream_id, version, last_hash)
        SELECT s, 0, '\x'::bytea FROM unnest(new_streams) s ORDER BY s
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING;
        PERFORM FROM reach.streams h WHERE h.stream_id = ANY(new_streams) ORDER BY h.stream_id FOR UPDATE;

        -- Optimistic concurrency, checked under the locks.
        SELECT x.s AS stream, x.expected, coalesce(h.version, 0) AS current INTO conflict
        FROM unnest(p_expected_streams, p_expected_versions) AS x(s, expected)
        LEFT JOIN reach.streams h ON h.stream_id = x.s
        WHERE x.expected IS NOT NULL AND x.s = ANY(new_streams) AND coalesce(h.version, 0) <> x.expected
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'stream % is at version %, expected %', conflict.stream, conflict.current, conflict.expected
                USING ERRCODE = 'RX001', DETAIL = format('current_version=%s', conflict.current);
        END IF;

        -- Draw the positions; they go to the new events in batch order.
        SELECT array_agg(p ORDER BY p) INTO positions
        FROM (SELECT nextval('reach.event_position') AS p
              FROM generate_series(1, n - cardinality(duplicate_ids))) drawn;
    END IF;

    RETURN QUERY
    WITH incoming AS (
        SELECT i.*, row_number() OVER (ORDER BY i.ord) AS k
        FROM unnest(p_event_ids, p_stream_ids, p_event_types, p_schema_versions, p_data, p_metadata,
                    p_occurred_on, p_authority_ids)
             WITH ORDINALITY AS i(event_id, stream_id, event_type, schema_version, data, metadata, occurred_on, authority_id, ord)
        WHERE NOT i.event_id = ANY(duplicate_ids)
    ), placed AS (
        SELECT i.*, positions[i.k] AS new_position, now() AS at,
               h.version + row_number() OVER (PARTITION BY i.stream_id ORDER BY i.ord) AS new_version,
               h.last_hash AS previous_hash
        FROM incoming i JOIN reach.streams h ON h.stream_id = i.stream_id
    ), hashed AS (
        SELECT p.*, reach.chain(p.previous_hash, reach.event_digest_input(
                   p.event_id, p.stream_id, p.new_version, p.event_type, p.schema_version,
                   coalesce(p.data, 'null'), coalesce(p.metadata, '{}'), p.occurred_on, p.authority_id, p.at))
               OVER (PARTITION BY p.stream_id ORDER BY p.new_version) AS new_hash
        FROM placed p
    ), inserted AS (
        INSERT INTO reach.events AS e ("position", event_id, stream_id, version, event_type, schema_version,
                                       data, metadata, occurred_on, recorded_at, authority_id, hash)
        SELECT h.new_position, h.event_id, h.stream_id, h.new_version, h.event_type, h.schema_version,
               coalesce(h.data, 'null'), coalesce(h.metadata, '{}'), h.occurred_on, h.at, h.authority_id, h.new_hash
        FROM hashed h ORDER BY h.new_position
        RETURNING e.event_id, e.stream_id, e.version, e."position", e.hash
    ), heads AS (
        UPDATE reach.streams s SET version = last.version, last_hash = last.hash
        FROM (SELECT DISTINCT ON (ins.stream_id) ins.stream_id, ins.version, ins.hash
              FROM inserted ins ORDER BY ins.stream_id, ins.version DESC) last
        WHERE s.stream_id = last.stream_id
    )
    -- In no particular order: the caller matches results to its events by id.
    SELECT ins.event_id, ins.stream_id, ins.version, ins."position", false FROM inserted ins
    UNION ALL
    SELECT e.event_id, e.stream_id, e.version, e."position", true FROM reach.events e
    WHERE e.event_id = ANY(duplicate_ids);
END
$$;

-- The reader's horizon, in two steps, each in its own (autocommit) transaction:
--
-- 1. reach.log_horizon() reads the last position drawn so far, and only then takes a
--    transaction id of its own, which is therefore newer than the id of every transaction that
--    had drawn a position up to that last position (appends take an id before drawing).
-- 2. reach.horizon_settled(that id) is true once no transaction older than it is running:
--    every event up to the last position is then committed or rolled back for good, so a
--    reader may read up to it in position order without ever missing an event.
--
-- (The xmax of a snapshot cannot stand in for the id taken in step 1: it is one past the latest
-- *completed* transaction, so a running transaction can hold an id above it.)
CREATE FUNCTION reach.log_horizon(OUT last_position bigint, OUT reader_xid xid8)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'read the log outside a transaction that writes' USING ERRCODE = '25000';
    END IF;
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END INTO last_position FROM reach.event_position s;
    reader_xid := pg_current_xact_id();
END
$$;

-- Whether every transaction older than p_reader_xid has ended; waits up to p_max_wait_ms.
CREATE FUNCTION reach.horizon_settled(p_reader_xid xid8, p_max_wait_ms integer DEFAULT 200) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => p_max_wait_ms / 1000.0);
BEGIN
    LOOP
        -- Each statement of a volatile function takes a new snapshot.
        IF pg_snapshot_xmin(pg_current_snapshot()) > p_reader_xid THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA reach TO reach_app;
GRANT SELECT, INSERT ON reach.events TO reach_app;
GRANT SELECT, INSERT, UPDATE ON reach.streams TO reach_app;
GRANT USAGE, SELECT ON SEQUENCE reach.event_position TO reach_app;
GRANT EXECUTE ON FUNCTION reach.append_events(uuid[], text[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], bigint[]) TO reach_app;
GRANT EXECUTE ON FUNCTION reach.log_horizon() TO reach_app;
GRANT EXECUTE ON FUNCTION reach.horizon_settled(xid8, integer) TO reach_app;
