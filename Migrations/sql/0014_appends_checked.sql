-- Nobody writes history but the log's own rules.
--
-- The log's functions that place events (reach.append_event, reach.append_events) run as
-- reach_writer, a role no login is a member of, and compute every position, time, version
-- and hash themselves. Every other write (the application's bulk COPY, or anything else its
-- role might try) is checked by the server, statement by statement:
-- - an event's position is one the log's sequence has drawn (positive, not beyond its last
--   value), its recorded_at is the transaction's clock (no back-dating), its version follows
--   the one before it in its stream, and its hash is sha256(the previous event's hash ||
--   reach.event_digest_input(...)): an event with a forged time, position, version or hash is
--   refused (RX004) and nothing of the statement is kept;
-- - a stream's head, when the transaction commits, is an event of its stream with that
--   version and hash, so a moved head cannot make the next honest append look broken.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reach_writer') THEN
        BEGIN
            CREATE ROLE reach_writer NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;
GRANT reach_writer TO CURRENT_USER;
GRANT USAGE ON SCHEMA reach TO reach_writer;
GRANT SELECT, INSERT ON reach.events TO reach_writer;
GRANT SELECT, INSERT, UPDATE ON reach.streams TO reach_writer;
GRANT USAGE, SELECT ON SEQUENCE reach.event_position TO reach_writer;
GRANT EXECUTE ON FUNCTION reach.event_hash(bytea, uuid, text, bigint, text, integer, jsonb, jsonb, date, text, timestamptz),
    reach.event_digest_input(uuid, text, bigint, text, integer, jsonb, jsonb, date, text, timestamptz),
    reach.append_events(uuid[], text[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], bigint[]) TO reach_writer;

ALTER FUNCTION reach.append_events(uuid[], text[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], bigint[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION reach.append_events(uuid[], text[], text[], integer[], jsonb[], jsonb[], date[], text[], text[], bigint[]) OWNER TO reach_writer;
ALTER FUNCTION reach.append_event(uuid, text, text, integer, jsonb, jsonb, date, text, bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION reach.append_event(uuid, text, text, integer, jsonb, jsonb, date, text, bigint) OWNER TO reach_writer;

-- Runs as whoever's statement fires it: the application's role reads the log.
CREATE FUNCTION reach.check_appended() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wrong record;
BEGIN
    -- The log's own functions computed everything they wrote.
    IF current_user = 'reach_writer' THEN RETURN NULL; END IF;
    -- Each event's predecessor: the one before it in the statement, or else the stream's
    -- event before it in the log (one index probe per stream and statement, not per event).
    WITH n AS (
        SELECT a.*, lag(a.version) OVER w AS previous_version, lag(a.hash) OVER w AS previous_hash
        FROM appended a WINDOW w AS (PARTITION BY a.stream_id ORDER BY a.version)
    ), linked AS (
        SELECT n.*, coalesce(n.previous_version, p.version, 0) AS before_version,
               coalesce(n.previous_hash, p.hash, '\x'::bytea) AS before_hash
        FROM n LEFT JOIN reach.events p
          ON n.previous_version IS NULL AND p.stream_id = n.stream_id AND p.version = n.version - 1
    )
    SELECT l."position", l.stream_id, l.version,
           CASE WHEN l."position" <= 0 OR l."position" > (SELECT last_value FROM reach.event_position)
                THEN 'its position was not drawn from the log''s sequence'
                WHEN l.recorded_at <> now() THEN 'its recorded_at is not the time of the transaction that appends it'
                WHEN l.version <> l.before_version + 1 THEN 'its version does not follow the one before it in its stream'
                ELSE 'its hash is not the previous event''s hash followed by its content' END AS reason
      INTO wrong
    FROM linked l
    WHERE l."position" <= 0 OR l."position" > (SELECT last_value FROM reach.event_position)
       OR l.recorded_at <> now()
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

CREATE TRIGGER events_checked AFTER INSERT ON reach.events
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION reach.check_appended();

CREATE FUNCTION reach.check_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.version > 0 AND NOT EXISTS (
        SELECT FROM reach.events e WHERE e.stream_id = NEW.stream_id AND e.version = NEW.version AND e.hash = NEW.last_hash) THEN
        RAISE EXCEPTION 'the head of stream % (version %) is not an event of the stream', NEW.stream_id, NEW.version
            USING ERRCODE = 'RX004';
    END IF;
    RETURN NULL;
END
$$;

-- Checked when the transaction commits (the bulk path writes a new stream's head before its
-- events); heads the log's own functions move need no check.
CREATE CONSTRAINT TRIGGER streams_checked AFTER INSERT OR UPDATE ON reach.streams
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (current_user <> 'reach_writer'::name) EXECUTE FUNCTION reach.check_head();
