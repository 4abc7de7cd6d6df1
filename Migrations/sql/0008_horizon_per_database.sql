-- The reader's horizon waits only for transactions that can still write this log.
--
-- reach.horizon_settled used to wait until the oldest transaction of the whole server was
-- newer than the reader's id (the snapshot's xmin is server-wide). A long transaction in
-- another database, which can never append to this log, then held every reader of this one
-- back. An append to this log runs in a session connected to this database (or is a prepared
-- transaction of it), and takes its transaction id before it draws a position; so it is
-- enough that no transaction of this database older than the reader's id is still running.
--
-- backend_xid in pg_stat_activity is shown to every role; it is read from the server's
-- process array, and pg_stat_clear_snapshot() makes each look see the present rather than
-- the view as first read in this transaction. Transaction ids are compared modulo 2^32, as
-- the server does: a running transaction is always within 2^31 of any other.
CREATE FUNCTION reach.xid_precedes(p_xid xid, p_reader_xid xid8) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((p_reader_xid::text::bigint - p_xid::text::bigint) % 4294967296 + 4294967296) % 4294967296
           BETWEEN 1 AND 2147483647
$$;

CREATE OR REPLACE FUNCTION reach.horizon_settled(p_reader_xid xid8, p_max_wait_ms integer DEFAULT 200) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => p_max_wait_ms / 1000.0);
    here oid := (SELECT oid FROM pg_database WHERE datname = current_database());
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        IF NOT EXISTS (SELECT FROM pg_stat_activity a
                       WHERE a.datid = here AND a.backend_xid IS NOT NULL
                         AND reach.xid_precedes(a.backend_xid, p_reader_xid))
           AND NOT EXISTS (SELECT FROM pg_prepared_xacts p
                           WHERE p.database = current_database()
                             AND reach.xid_precedes(p.transaction, p_reader_xid)) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION reach.xid_precedes(xid, xid8) TO reach_app;
