-- A local authority's summary is also downloaded from the web app as a spreadsheet (xlsx), a
-- printable report (html) and a PDF of it (pdf); each is an export, recorded as one with its
-- format. The function is otherwise as 0021 left it.
CREATE OR REPLACE FUNCTION authority.export_summary(p_period text, p_policy text, p_format text)
RETURNS TABLE (figures jsonb, rows integer, log_position bigint, published_at timestamptz, recorded_at_position bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    authority text := reach.login_authority();
    summary publication.summaries%ROWTYPE;
    id text := gen_random_uuid()::text;
    appended bigint;
BEGIN
    IF authority IS NULL THEN
        RAISE EXCEPTION 'login % is not a local authority login', session_user USING ERRCODE = '42501';
    END IF;
    IF p_policy IS DISTINCT FROM 'dfe' AND p_policy IS DISTINCT FROM 'nhs' THEN
        RAISE EXCEPTION 'an export''s policy is dfe or nhs' USING ERRCODE = '22023';
    END IF;
    IF p_format IS NULL OR p_format NOT IN ('csv', 'json', 'xlsx', 'html', 'pdf') THEN
        RAISE EXCEPTION 'an export''s format is csv, json, xlsx, html or pdf' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO summary FROM publication.summaries s WHERE s.la_id = authority AND s.period = p_period AND s.policy = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no summary of local authority % for period % is published', authority, left(p_period, 40)
            USING ERRCODE = 'P0002', HINT = 'summaries are published for standard periods when the programme''s Reach brings its figures up to date';
    END IF;
    SELECT a."position" INTO appended
    FROM reach.append_event(
        reach.record_event_id('export' || chr(31) || authority || chr(31) || id), 'exports:' || authority, 'summary_exported', 1,
        jsonb_build_object('la_id', authority, 'period', summary.period, 'format', p_format, 'policy', summary.policy,
                           'rows', summary.rows, 'date', to_char(current_date, 'YYYY-MM-DD')),
        jsonb_build_object('actor', reach.request_actor(), 'correlation_id', id, 'source', 'export'),
        current_date, authority) a;
    RETURN QUERY SELECT summary.figures, summary.rows, summary.log_position, summary.published_at, appended;
END
$$;
