-- The log's tables are the log's own: readers on the server (the projection engine's
-- set-based statements) read it through these functions rather than naming reach.events.
-- They are plain SQL functions, which the planner inlines into the statement that calls
-- them: the indexes on position and on (event_type, position) serve them as before.

-- The events in the positions (p_after, p_up_to], of the given types (all types when NULL).
-- Read only up to a settled position (reach.horizon_settled), or an event committed late may
-- be missed.
CREATE FUNCTION reach.log_range(p_after bigint, p_up_to bigint, p_types text[] DEFAULT NULL) RETURNS SETOF reach.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM reach.events e
    WHERE e."position" > p_after AND e."position" <= p_up_to AND (p_types IS NULL OR e.event_type = ANY(p_types))
$$;

-- How far behind a reader at p_checkpoint is: the events after it (at most p_limit counted) and
-- how long ago the first of them was recorded, in seconds (0 when none).
CREATE FUNCTION reach.log_lag(p_checkpoint bigint, p_limit bigint DEFAULT 1000000, OUT events bigint, OUT seconds float8)
LANGUAGE sql STABLE AS $$
    SELECT (SELECT count(*) FROM (SELECT FROM reach.events e WHERE e."position" > p_checkpoint LIMIT p_limit) x),
           coalesce(extract(epoch FROM now() - (SELECT e.recorded_at FROM reach.events e WHERE e."position" > p_checkpoint
                                                ORDER BY e."position" LIMIT 1))::float8, 0)
$$;

GRANT EXECUTE ON FUNCTION reach.log_range(bigint, bigint, text[]) TO reach_app;
GRANT EXECUTE ON FUNCTION reach.log_lag(bigint, bigint) TO reach_app;
