-- The bulk path: appends the rows of the session's temporary table reach_stage whose ord lies in
-- (p_after, p_upto], set-based, without passing the rows through arrays. It keeps every
-- guarantee of reach.append_events: a transaction id before any position, stream heads locked
-- in a fixed order, versions without gaps, the hash chain, idempotency by event id (RX002 when
-- an id already holds other content).
--
-- reach_stage (ord bigint PRIMARY KEY, event_id uuid, stream_id text, event_type text,
--              schema_version integer, data jsonb, metadata jsonb, occurred_on date, authority_id text)
-- is created by the caller (EventLog.appendBulk) in its own session.
CREATE FUNCTION reach.append_staged(p_after bigint, p_upto bigint,
    OUT appended bigint, OUT already_present bigint, OUT last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    conflicting_id uuid;
BEGIN
    PERFORM pg_current_xact_id();

    IF EXISTS (SELECT FROM pg_temp.reach_stage s WHERE s.ord > p_after AND s.ord <= p_upto
               GROUP BY s.event_id HAVING count(*) > 1) THEN
        RAISE EXCEPTION 'the same event id appears twice in one batch' USING ERRCODE = 'RX002';
    END IF;

    -- Ids already in the log: not appended again, and they must carry the same content.
    CREATE TEMP TABLE IF NOT EXISTS reach_stage_present (ord bigint PRIMARY KEY) ON COMMIT DROP;
    TRUNCATE reach_stage_present;
    INSERT INTO reach_stage_present
    SELECT s.ord FROM pg_temp.reach_stage s JOIN reach.events e ON e.event_id = s.event_id
    WHERE s.ord > p_after AND s.ord <= p_upto;
    GET DIAGNOSTICS already_present = ROW_COUNT;
    IF already_present > 0 THEN
        SELECT s.event_id INTO conflicting_id
        FROM pg_temp.reach_stage s JOIN reach_stage_present p USING (ord)
        JOIN reach.events e ON e.event_id = s.event_id
        WHERE (e.stream_id, e.event_type, e.schema_version, e.data, e.occurred_on, e.authority_id)
              IS DISTINCT FROM (s.stream_id, s.event_type, s.schema_version, coalesce(s.data, 'null'), s.occurred_on, s.authority_id)
        LIMIT 1;
        IF conflicting_id IS NOT NULL THEN
            RAISE EXCEPTION 'event % is already in the log with different content', conflicting_id
                USING ERRCODE = 'RX002', DETAIL = 'An event id identifies one fact; choose a new id for a new fact.';
        END IF;
    END IF;

    -- Lock the heads of the streams that get new events, in a fixed order.
    INSERT INTO reach.streams (stream_id, version, last_hash)
    SELECT DISTINCT s.stream_id, 0, '\x'::bytea FROM pg_temp.reach_stage s
    WHERE s.ord > p_after AND s.ord <= p_upto ORDER BY 1
    ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING;
    PERFORM FROM reach.streams h
    WHERE h.stream_id IN (SELECT s.stream_id FROM pg_temp.reach_stage s WHERE s.ord > p_after AND s.ord <= p_upto)
    ORDER BY h.stream_id FOR UPDATE;

    WITH incoming AS (
        -- Positions are drawn in batch order: nextval runs on the rows as they come out of the sort.
        SELECT nextval('reach.event_position') AS new_position, sorted.*
        FROM (SELECT s.* FROM pg_temp.reach_stage s
              WHERE s.ord > p_after AND s.ord <= p_upto
                AND NOT EXISTS (SELECT FROM reach_stage_present p WHERE p.ord = s.ord)
              ORDER BY s.ord) sorted
    ), placed AS (
        SELECT i.*, now() AS at, h.last_hash AS previous_hash,
               h.version + row_number() OVER (PARTITION BY i.stream_id ORDER BY i.ord) AS new_version
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
        RETURNING e.stream_id, e.version, e."position", e.hash
    ), heads AS (
        UPDATE reach.streams s SET version = last.version, last_hash = last.hash
        FROM (SELECT DISTINCT ON (ins.stream_id) ins.stream_id, ins.version, ins.hash
              FROM inserted ins ORDER BY ins.stream_id, ins.version DESC) last
        WHERE s.stream_id = last.stream_id
    )
    SELECT count(*), max(ins."position") INTO appended, last_position FROM inserted ins;
END
$$;

GRANT EXECUTE ON FUNCTION reach.append_staged(bigint, bigint) TO reach_app;
