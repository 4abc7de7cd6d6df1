-- Releases: every publication of an authority's figures that has left the programme, kept
-- so that each later publication is solved together with all of them. A late record, a
-- correction or a withdrawal changes some figures; an outsider who holds an earlier release
-- and a later one must not be able to tell a hidden count from the two together (before:
-- October 9 and the year 9; after a late record of 2 in November, October and November
-- hidden but the year 11: November = 2).
--
-- A publication leaves when it is first read by the authority's login or a lead's account
-- (authority.published, authority.export_summary, or the service on their behalf), or
-- exported; that publication is then copied here with the true values behind its figures
-- (publication.summaries.truth, never handed to a login), and kept: releases are never
-- updated or deleted. Reads on a standby record nothing: an authority's login and the
-- service's leads read the primary.

ALTER TABLE publication.summaries ADD COLUMN truth jsonb NOT NULL DEFAULT '{}'::jsonb;
COMMENT ON COLUMN publication.summaries.truth IS
    'The true values behind the figures that add up over time ({metric|dimension|category|statistic: value}), to solve later publications with this one once it is released; never handed to a login.';

CREATE TABLE publication.releases (
    la_id         text NOT NULL,
    log_position  bigint NOT NULL,
    published_at  timestamptz NOT NULL,
    policy        text NOT NULL CHECK (policy IN ('dfe', 'nhs')),
    released_at   timestamptz NOT NULL DEFAULT now(),
    how           text NOT NULL CHECK (how IN ('read', 'exported')),
    tables        jsonb NOT NULL CHECK (jsonb_typeof(tables) = 'object'),
    truth         jsonb NOT NULL CHECK (jsonb_typeof(truth) = 'object'),
    PRIMARY KEY (la_id, log_position, published_at)
);
COMMENT ON TABLE publication.releases IS
    'Each publication of an authority''s figures that has left the programme (read by its login or lead, or exported): its tables by period and the true values behind them. Never updated or deleted.';
REVOKE ALL ON publication.releases FROM PUBLIC;
GRANT SELECT, INSERT ON publication.releases TO reach_app, reach_exporter;

-- Notes that the authority's current publication has left, once: a copy of it, with its
-- truth, the first time it is read or exported. Serialized with publishing (the same lock,
-- shared here and exclusive there, held to the end of the transaction): a publication is
-- never stored without the releases made while it was being built, and what the caller reads
-- after this in its transaction is what was released.
CREATE FUNCTION publication.release(p_la text, p_how text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current record;
BEGIN
    IF p_how IS DISTINCT FROM 'read' AND p_how IS DISTINCT FROM 'exported' THEN
        RAISE EXCEPTION 'a release is read or exported' USING ERRCODE = '22023';
    END IF;
    -- (A standby can record nothing.)
    IF pg_is_in_recovery() THEN RETURN; END IF;
    -- Held until the transaction ends, so that what it then reads is what was released: a
    -- new publication is stored under the same lock, exclusively.
    PERFORM pg_advisory_xact_lock_shared(hashtext('publication:' || p_la));
    SELECT s.log_position, s.published_at INTO current FROM publication.summaries s WHERE s.la_id = p_la LIMIT 1;
    IF NOT FOUND OR EXISTS (SELECT FROM publication.releases r
                            WHERE r.la_id = p_la AND r.log_position = current.log_position AND r.published_at = current.published_at) THEN
        RETURN;
    END IF;
    INSERT INTO publication.releases (la_id, log_position, published_at, policy, how, tables, truth)
    SELECT p_la, s.log_position, s.published_at, min(s.policy), p_how, jsonb_object_agg(s.period, s.figures), jsonb_object_agg(s.period, s.truth)
    FROM publication.summaries s WHERE s.la_id = p_la
    GROUP BY s.log_position, s.published_at
    ON CONFLICT DO NOTHING;
END
$$;
ALTER FUNCTION publication.release(text, text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION publication.release(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publication.release(text, text) TO reach_app;
COMMENT ON FUNCTION publication.release(text, text) IS
    'Notes that an authority''s current publication has left the programme (read or exported), once: every later publication is solved together with it.';

-- The login's reads release what they read.
DROP FUNCTION authority.published(text, text);
CREATE FUNCTION authority.published(p_period text, p_policy text)
RETURNS TABLE (figures jsonb, log_position bigint, published_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    la text := authority.login_authority();
BEGIN
    IF la IS NULL THEN RETURN; END IF;
    PERFORM publication.release(la, 'read');
    RETURN QUERY SELECT s.figures, s.log_position, s.published_at FROM publication.summaries s
    WHERE s.la_id = la AND s.period = p_period AND s.policy = p_policy;
END
$$;
ALTER FUNCTION authority.published(text, text) OWNER TO reach_exporter;
REVOKE ALL ON FUNCTION authority.published(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authority.published(text, text) TO reach_authority;

CREATE OR REPLACE FUNCTION authority.export_summary(p_period text, p_policy text, p_format text)
RETURNS TABLE (figures jsonb, rows integer, log_position bigint, published_at timestamptz, recorded_at_position bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    la text := authority.login_authority();
    summary publication.summaries%ROWTYPE;
    appended bigint;
BEGIN
    IF la IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_format IS NULL OR p_format NOT IN ('csv', 'json', 'xlsx', 'html', 'pdf') THEN
        RAISE EXCEPTION 'an export''s format is csv, json, xlsx, html or pdf' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO summary FROM publication.summaries s WHERE s.la_id = la AND s.period = p_period AND s.policy = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no summary of local authority % for period % is published', la, left(p_period, 40)
            USING ERRCODE = 'P0002', HINT = 'summaries are published for every period that has begun, within moments of each change to the log';
    END IF;
    PERFORM publication.release(la, 'exported');
    appended := publication.append_export(la, summary.period, p_format, summary.policy, summary.rows, publication.request_actor());
    RETURN QUERY SELECT summary.figures, summary.rows, summary.log_position, summary.published_at, appended;
END
$$;
