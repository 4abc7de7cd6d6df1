-- What an outside review of the log's guarantees found open, closed at the log:
--
-- 1. No event enters at a position a reader may already have passed. The application's role
--    could draw a position (nextval), let readers and a seal pass it, and then insert an event
--    there in a later transaction: the check only asked that the position had been drawn at
--    some time. Now positions the application places itself (the bulk path's COPY) are drawn by
--    reach.draw_positions, which takes the transaction's id first and notes what it drew for
--    that transaction (reach.position_draws); the check refuses a position outside what this
--    transaction drew (below its first position or above its last). The application's role
--    can no longer call nextval on the log's sequence.
--    (The log's own functions draw for themselves, as before.) So every event's position was
--    drawn after its transaction took its id, which is what readers rely on (reach.log_horizon).
-- 2. A stream's head is its last event, whoever writes to the log: a head moved back to an
--    earlier event of its stream (version, hash and time all matching that event), a head
--    renamed to another stream, a placeholder head with a hash or time of its own, and events
--    appended without moving their stream's head are all refused at commit. (The application's
--    role may now change only a head's version, hash and time; every stream its statements
--    append to is noted in reach.streams_appended, whose check runs at commit.)
-- 3. An amendment keeps the authority of the record it amends. A correction or withdrawal goes
--    to the stream of the record it names, with that record's authority, and a correction's
--    new data names no other authority (la_id): staff of one authority could otherwise take
--    another's school or pilot by correcting it with their own la_id. Refused with RX005.
-- 4. Records only Reach writes (summary_exported, the audit of exports) enter the log only
--    through Reach's own export function: it marks its transaction in reach.system_appends
--    while it appends (a table no login can write), and the check refuses such a record in
--    any other append. Refused with 42501.
-- 5. A backend whose client has gone (a killed import, a dropped connection) stops within
--    seconds rather than running its statement to the end: client_connection_check_interval
--    for every session of this database (applied at every migration, reach.settle_database).

-- 1. Positions drawn by the transaction that places them.
CREATE UNLOGGED TABLE reach.position_draws (
    xid            xid8   NOT NULL,
    first_position bigint NOT NULL,
    last_position  bigint NOT NULL,
    CHECK (first_position <= last_position)
);
CREATE INDEX position_draws_by_xid ON reach.position_draws (xid, first_position);
COMMENT ON TABLE reach.position_draws IS
    'Positions of the log drawn by reach.draw_positions, as runs, with the transaction that drew them: an event placed by anyone but the log''s own functions must lie in a run of its own transaction. Rows of ended transactions are cleared as new ones are drawn; unlogged, since only transactions in flight need them.';
REVOKE ALL ON reach.position_draws FROM PUBLIC;
-- (UPDATE for clearing with FOR UPDATE SKIP LOCKED.)
GRANT SELECT, INSERT, UPDATE, DELETE ON reach.position_draws TO reach_writer;
-- (The check on appended events runs as whoever appends: the bulk path's statements read it.)
GRANT SELECT ON reach.position_draws TO reach_app;

CREATE FUNCTION reach.draw_positions(p_count integer) RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me xid8 := pg_current_xact_id();  -- before any position: readers rely on it
    drawn bigint[];
BEGIN
    IF p_count IS NULL OR p_count < 1 OR p_count > 1000000 THEN
        RAISE EXCEPTION 'draw_positions: from 1 to 1,000,000 positions at a time' USING ERRCODE = '22023';
    END IF;
    drawn := ARRAY(SELECT nextval('reach.event_position') FROM generate_series(1, p_count));
    -- Runs of consecutive positions (other sessions may draw between them).
    INSERT INTO reach.position_draws (xid, first_position, last_position)
    SELECT me, min(p), max(p) FROM (SELECT p, p - row_number() OVER (ORDER BY p) AS run FROM unnest(drawn) p) r GROUP BY run;
    -- Runs of transactions that have ended are of no more use; rows another transaction is
    -- clearing are left to it rather than waited for.
    DELETE FROM reach.position_draws d
    WHERE d.ctid IN (SELECT o.ctid FROM reach.position_draws o
                     WHERE o.xid < pg_snapshot_xmin(pg_current_snapshot()) FOR UPDATE SKIP LOCKED);
    RETURN QUERY SELECT unnest(drawn) ORDER BY 1;
END
$$;
ALTER FUNCTION reach.draw_positions(integer) OWNER TO reach_writer;
REVOKE ALL ON FUNCTION reach.draw_positions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.draw_positions(integer) TO reach_app;
COMMENT ON FUNCTION reach.draw_positions(integer) IS
    'Draws positions of the log for an event the caller places itself (the bulk path), after taking the transaction''s id, and notes them for the check on appended events.';

-- Only the log's own functions (and reach.draw_positions) draw from the sequence; the
-- application's role may still read its last value.
REVOKE USAGE, UPDATE ON SEQUENCE reach.event_position FROM reach_app;
GRANT SELECT ON SEQUENCE reach.event_position TO reach_app;

-- 2. What the application's role may change of a head: its version, hash and time, never
--    which stream it is the head of.
REVOKE UPDATE ON reach.streams FROM reach_app;
GRANT UPDATE (version, last_hash, last_recorded_at) ON reach.streams TO reach_app;

-- The streams a transaction appended to other than through the log's functions, checked at
-- its commit (reach.check_stream_appended): the rows last only until then.
CREATE UNLOGGED TABLE reach.streams_appended (
    xid       xid8 NOT NULL,
    stream_id text NOT NULL,
    PRIMARY KEY (xid, stream_id)
);
COMMENT ON TABLE reach.streams_appended IS
    'Streams a transaction appended to other than through the log''s functions (the bulk path), each checked when it commits: its head must be its last event. A row lasts until its transaction commits.';
REVOKE ALL ON reach.streams_appended FROM PUBLIC;
-- (The check on appended events runs as whoever appends.)
GRANT INSERT ON reach.streams_appended TO reach_app;

-- 4. Transactions in which Reach's own export function appends a record only it may write.
CREATE TABLE reach.system_appends (
    xid xid8 PRIMARY KEY
);
COMMENT ON TABLE reach.system_appends IS
    'The transaction of a function of Reach''s own that is appending a record only Reach writes (summary_exported), while it appends: a row is added before the append and removed after it. No login may write it.';
REVOKE ALL ON reach.system_appends FROM PUBLIC;
GRANT SELECT ON reach.system_appends TO reach_writer;

-- The check below finds the record an amendment names, as any append path does.
GRANT EXECUTE ON FUNCTION reach.record_event_id(text) TO reach_writer;

-- The record types only Reach itself writes.
CREATE FUNCTION reach.system_record_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ARRAY['summary_exported'] $$;
REVOKE ALL ON FUNCTION reach.system_record_types() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.system_record_types() TO reach_app, reach_writer;

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

    -- Records only Reach writes come from its own export function, and from nothing else.
    IF EXISTS (SELECT FROM appended a WHERE a.event_type = ANY (reach.system_record_types())) THEN
        IF current_user <> 'reach_writer' THEN
            RAISE EXCEPTION 'a summary_exported record is written by Reach''s export of a summary, not appended'
                USING ERRCODE = '42501';
        END IF;
        IF NOT EXISTS (SELECT FROM reach.system_appends s WHERE s.xid = pg_current_xact_id()) THEN
            RAISE EXCEPTION 'a summary_exported record is written by Reach''s export of a summary, not appended'
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

-- 2. A head is the stream's last event, not only one of its events: checked when the
--    transaction commits, against the head as it then stands (a transaction may move a head
--    several times, as the bulk path does chunk by chunk), for every head written and every
--    stream appended to other than by the log's functions.
CREATE FUNCTION reach.head_problem(p_stream_id text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head record;
    last record;
BEGIN
    SELECT s.version, s.last_hash, s.last_recorded_at INTO head FROM reach.streams s WHERE s.stream_id = p_stream_id;
    SELECT e.version, e.hash, e.recorded_at INTO last FROM reach.events e
    WHERE e.stream_id = p_stream_id ORDER BY e.version DESC LIMIT 1;
    IF last.version IS NULL THEN
        -- No events: at most a placeholder, as the log's functions make one.
        IF head.version IS NOT NULL AND (head.version <> 0 OR head.last_hash <> '\x'::bytea OR head.last_recorded_at IS NOT NULL) THEN
            RETURN format('the head of stream %s (version %s) is not a placeholder, and the stream has no events', p_stream_id, head.version);
        END IF;
        RETURN NULL;
    END IF;
    IF head.version IS NULL THEN
        RETURN format('stream %s has events but no head', p_stream_id);
    END IF;
    IF last.version <> head.version THEN
        RETURN format('the head of stream %s (version %s) is not its last event (version %s)', p_stream_id, head.version, last.version);
    END IF;
    IF last.hash <> head.last_hash OR last.recorded_at IS DISTINCT FROM head.last_recorded_at THEN
        RETURN format('the head of stream %s (version %s) is not the event of the stream at that version (its hash and time)', p_stream_id, head.version);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION reach.head_problem(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION reach.check_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    problem text := reach.head_problem(NEW.stream_id);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = 'RX004';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION reach.check_stream_appended() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    problem text := reach.head_problem(NEW.stream_id);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'events were appended to stream % without moving its head: %', NEW.stream_id, problem USING ERRCODE = 'RX004';
    END IF;
    DELETE FROM reach.streams_appended WHERE xid = NEW.xid AND stream_id = NEW.stream_id;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER streams_appended_checked AFTER INSERT ON reach.streams_appended
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION reach.check_stream_appended();

-- 5. Settings of the database itself, which a copy of the database (CREATE DATABASE ...
--    TEMPLATE) or a restore into a new one does not carry: reach db migrate applies them at
--    every run (Migrator), so that they hold wherever the log is. Each needs the database's
--    owner; run by another role, it says so and goes on.
--    - A backend notices its client has gone while it runs a statement (PostgreSQL 14 and
--      later): client_connection_check_interval for every session, from the next one on.
--    - Temporary tables are the owner's and the application's only (the bulk path stages
--      chunks in one), not every login's (see the read side's migration 0026).
CREATE FUNCTION reach.settle_database() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    BEGIN
        IF current_setting('server_version_num')::int >= 140000 THEN
            EXECUTE format('ALTER DATABASE %I SET client_connection_check_interval = %L', current_database(), '2s');
        END IF;
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO reach_app', current_database());
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'the database''s own settings (client_connection_check_interval, temporary tables) are not set: that needs its owner (run reach db migrate as it)';
    END;
END
$$;
REVOKE ALL ON FUNCTION reach.settle_database() FROM PUBLIC;
COMMENT ON FUNCTION reach.settle_database() IS
    'Applies the settings of the database itself (client_connection_check_interval; temporary tables for the owner and the application only); reach db migrate calls it at every run.';
SELECT reach.settle_database();
