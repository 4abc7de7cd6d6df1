-- Recent records, for the web app's list that programme staff correct and withdraw from: the
-- records of the request's authorities (an admin's request: every authority's), newest first,
-- each with whether it was corrected or withdrawn and its latest corrected data. The log is
-- read by this function alone, and it decides what a request may see from the request's own
-- settings (reach.request_role, reach.authorities), so a staff request cannot read another
-- authority's records whatever the handler asks.
CREATE INDEX events_amended_record ON reach.events ((data ->> 'record_id'), "position")
    WHERE event_type IN ('event_corrected', 'event_withdrawn');

CREATE FUNCTION reach.recent_records(p_limit integer, p_event_id uuid DEFAULT NULL)
RETURNS TABLE ("position" bigint, record_id text, event_type text, schema_version integer, authority_id text,
               occurred_on date, recorded_at timestamptz, actor text, data jsonb, status text,
               corrected_data jsonb, corrected_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT e."position", e.metadata ->> 'correlation_id', e.event_type, e.schema_version, e.authority_id,
           e.occurred_on, e.recorded_at, e.metadata ->> 'actor', e.data,
           CASE WHEN w."position" IS NOT NULL THEN 'withdrawn' WHEN c."position" IS NOT NULL THEN 'corrected' ELSE 'recorded' END,
           c.data -> 'data', c.recorded_at
    FROM reach.events e
    LEFT JOIN LATERAL (
        SELECT x."position" FROM reach.events x
        WHERE x.event_type = 'event_withdrawn' AND x.data ->> 'record_id' = e.metadata ->> 'correlation_id'
        LIMIT 1) w ON true
    LEFT JOIN LATERAL (
        SELECT x."position", x.data, x.recorded_at FROM reach.events x
        WHERE x.event_type = 'event_corrected' AND x.data ->> 'record_id' = e.metadata ->> 'correlation_id'
        ORDER BY x."position" DESC LIMIT 1) c ON true
    WHERE e.event_type NOT IN ('event_corrected', 'event_withdrawn', 'summary_exported')
      AND e.metadata ? 'correlation_id'
      AND (p_event_id IS NULL OR e.event_id = p_event_id)
      AND CASE current_setting('reach.request_role', true)
              WHEN 'admin' THEN true
              WHEN 'staff' THEN e.authority_id = ANY (reach.request_authorities())
              ELSE false
          END
    ORDER BY e."position" DESC
    LIMIT least(greatest(p_limit, 0), 500)
$$;
COMMENT ON FUNCTION reach.recent_records(integer, uuid) IS
    'The newest records a request may correct or withdraw (staff: their authorities''; admin: all), with their state.';
REVOKE ALL ON FUNCTION reach.recent_records(integer, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reach.recent_records(integer, uuid) TO reach_app, reach_staff;
