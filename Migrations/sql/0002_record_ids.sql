-- Records sent by people and spreadsheets carry an id of their own choosing ("act-2024-10-03-1").
-- The event id is derived from it, so sending the same record again finds the same event and
-- appends nothing. The id is a version 8 UUID made of the first 16 bytes of
-- sha256('reach-record:' || id), with the version and variant bits set.
CREATE FUNCTION reach.record_event_id(p_record_id text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(
        set_byte(set_byte(d, 6, (get_byte(d, 6) & 15) | 128), 8, (get_byte(d, 8) & 63) | 128),
        'hex')::uuid
    FROM (SELECT substring(sha256(convert_to('reach-record:' || p_record_id, 'UTF8')) FROM 1 FOR 16) AS d) h
$$;

GRANT EXECUTE ON FUNCTION reach.record_event_id(text) TO reach_app;
