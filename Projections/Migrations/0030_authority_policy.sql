-- Each authority's figures leave under one disclosure policy, set for it by the programme and
-- recorded in the log (disclosure_policy_set, in stream disclosure:<la_id>); until one is set,
-- dfe. Figures of the same cells under dfe and under nhs could be combined (nhs ks4 10 and dfe
-- pupils 9 give a hidden key stage back), so only the authority's policy is published for its
-- logins, exported, or answered to anyone asking for its figures under a policy.
--
-- publication.set_policy appends the record (the only way one enters the log: it is a record
-- only Reach writes, migration 0029), and refuses a change once the authority's figures have
-- left under the policy in force: exported (summary_exported) or read by its login or lead
-- (a release, migration 0031). What was published and never read is withdrawn with the change.

-- The policy in force for an authority: the last one set, else dfe.
CREATE FUNCTION publication.authority_policy(p_la text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(
        (SELECT e.data ->> 'policy' FROM reach.events e
         WHERE e.stream_id = 'disclosure:' || p_la AND e.event_type = 'disclosure_policy_set'
         ORDER BY e."position" DESC LIMIT 1),
        'dfe')
$$;
ALTER FUNCTION publication.authority_policy(text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION publication.authority_policy(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publication.authority_policy(text) TO reach_app;
COMMENT ON FUNCTION publication.authority_policy(text) IS
    'The disclosure policy an authority''s figures leave under: the last set for it (disclosure_policy_set), else dfe.';

CREATE FUNCTION publication.set_policy(p_la text, p_policy text, p_actor text, p_reason text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me xid8 := pg_current_xact_id();
    id text := gen_random_uuid()::text;
    current_policy text;
    left_under text;
    appended bigint;
BEGIN
    IF p_la IS NULL OR p_la !~ '^[A-Za-z0-9._-]{1,60}$'
       OR NOT EXISTS (SELECT FROM reach.streams s WHERE s.stream_id = 'authority:' || p_la AND s.version > 0) THEN
        RAISE EXCEPTION 'a disclosure policy is set for a registered local authority, named by its id' USING ERRCODE = '22023';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an authority''s disclosure policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_actor IS NULL OR length(p_actor) NOT BETWEEN 1 AND 100
       OR p_actor ~ '[[:cntrl:]\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]' THEN
        RAISE EXCEPTION 'a change of policy names who made it, in 1 to 100 characters with no control, invisible or direction-changing character'
            USING ERRCODE = '22023';
    END IF;
    IF p_reason IS NOT NULL AND (length(p_reason) > 500
       OR p_reason ~ '[[:cntrl:]\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF]') THEN
        RAISE EXCEPTION 'a change of policy''s reason is up to 500 characters with no control, invisible or direction-changing character'
            USING ERRCODE = '22023';
    END IF;
    -- One change at a time per authority, and none while its figures are being read or
    -- published (the lock releases and publishing take: migration 0031).
    PERFORM pg_advisory_xact_lock(hashtext('publication:' || p_la));
    current_policy := publication.authority_policy(p_la);
    IF current_policy = p_policy THEN
        RETURN NULL;
    END IF;
    -- Left: exported, or read by its login or lead (a release, migration 0031).
    SELECT x.policy INTO left_under FROM (
        SELECT e.data ->> 'policy' AS policy FROM reach.events e
        WHERE e.stream_id = 'exports:' || p_la AND e.event_type = 'summary_exported'
        UNION ALL
        SELECT r.policy FROM publication.releases r WHERE r.la_id = p_la
    ) x WHERE x.policy IS DISTINCT FROM p_policy LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the figures of % have already left under %: figures of the same cells under % could be combined with them to give a child back, so its policy stays %',
            p_la, left_under, p_policy, current_policy
            USING ERRCODE = '55000';
    END IF;
    INSERT INTO reach.system_appends (xid) VALUES (me);
    SELECT a."position" INTO appended
    FROM reach.append_event(
        reach.record_event_id('policy' || chr(31) || p_la || chr(31) || id), 'disclosure:' || p_la, 'disclosure_policy_set', 1,
        jsonb_strip_nulls(jsonb_build_object('la_id', p_la, 'policy', p_policy, 'date', to_char(current_date, 'YYYY-MM-DD'), 'reason', p_reason)),
        jsonb_build_object('actor', p_actor, 'correlation_id', id, 'source', 'policy'),
        current_date, p_la) a;
    DELETE FROM reach.system_appends WHERE xid = me;
    -- What was published under the other policy, and never read, goes: the next publication
    -- is under the new one.
    DELETE FROM publication.summaries WHERE la_id = p_la;
    RETURN appended;
END
$$;
GRANT DELETE ON publication.summaries TO reach_exporter;
ALTER FUNCTION publication.set_policy(text, text, text, text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION publication.set_policy(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publication.set_policy(text, text, text, text) TO reach_app;
COMMENT ON FUNCTION publication.set_policy(text, text, text, text) IS
    'Sets the disclosure policy an authority''s figures leave under (disclosure_policy_set): the only way such a record enters the log; refused once its figures have left under another.';

-- The policy of the login's authority's published summaries (none while unpublished).
CREATE FUNCTION authority.published_policy() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT min(s.policy) FROM publication.summaries s WHERE s.la_id = authority.login_authority()
$$;
ALTER FUNCTION authority.published_policy() OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION authority.published_policy() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authority.published_policy() TO reach_authority;
