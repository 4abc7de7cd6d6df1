-- Activities delivered, and who attended them: one row per activity, with a column per audience
-- and sub-group (pupils_ks3, staff_teaching, parents_carers, professionals_police...). The
-- columns come from the vocabulary. Attendances are contacts, not unique people.
-- Version 1 records (before `mode`) said `virtual: true|false`; both are read here.

-- @tables
CREATE TABLE {schema}.activities (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, pilot_id text NOT NULL, la_id text NOT NULL,
    school_id text, online boolean NOT NULL, kind text NOT NULL, phase text NOT NULL, date date NOT NULL,
    duration_minutes integer NOT NULL, mode text NOT NULL, accredited boolean NOT NULL,
    partners text[] NOT NULL, attendees integer NOT NULL,
    {attendance_columns});
CREATE INDEX ON {schema}.activities (la_id, date);
CREATE INDEX ON {schema}.activities (pilot_id, date);
-- Monthly roll-ups, kept by triggers on the activities table as rows come and go (so they follow
-- corrections and withdrawals too): the figures for whole months read these instead of every
-- activity. A rebuild loads the activities with the triggers off and sums them once (@rollups).
CREATE TABLE {schema}.activity_months (
    la_id text NOT NULL, pilot_id text NOT NULL, school_id text NOT NULL, kind text NOT NULL, phase text NOT NULL,
    month date NOT NULL, sessions bigint NOT NULL, minutes bigint NOT NULL,
    {rollup_columns},
    PRIMARY KEY (la_id, pilot_id, month, school_id, kind));
CREATE TABLE {schema}.activity_partner_months (
    la_id text NOT NULL, pilot_id text NOT NULL, partner_id text NOT NULL, month date NOT NULL, sessions bigint NOT NULL,
    PRIMARY KEY (la_id, pilot_id, month, partner_id));
CREATE FUNCTION {schema}.activities_roll_up() RETURNS trigger LANGUAGE plpgsql AS $roll$
DECLARE
    rel text := CASE WHEN TG_OP = 'INSERT' THEN 'added' ELSE 'removed' END;
    sign int := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    EXECUTE format($sql$
        INSERT INTO %1$I.activity_months AS m
        SELECT la_id, pilot_id, coalesce(school_id, ''), kind, min(phase), date_trunc('month', date)::date,
               %3$s * count(*), %3$s * sum(duration_minutes), {rollup_sums}
        FROM %2$I GROUP BY la_id, pilot_id, coalesce(school_id, ''), kind, date_trunc('month', date)
        ON CONFLICT (la_id, pilot_id, month, school_id, kind) DO UPDATE
        SET sessions = m.sessions + excluded.sessions, minutes = m.minutes + excluded.minutes, {rollup_updates}
        $sql$, TG_TABLE_SCHEMA, rel, sign);
    EXECUTE format($sql$
        INSERT INTO %1$I.activity_partner_months AS m
        SELECT la_id, pilot_id, p.partner_id, date_trunc('month', date)::date, %3$s * count(*)
        FROM %2$I, unnest(partners) AS p(partner_id) GROUP BY la_id, pilot_id, p.partner_id, date_trunc('month', date)
        ON CONFLICT (la_id, pilot_id, month, partner_id) DO UPDATE SET sessions = m.sessions + excluded.sessions
        $sql$, TG_TABLE_SCHEMA, rel, sign);
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('DELETE FROM %I.activity_months WHERE sessions = 0', TG_TABLE_SCHEMA);
        EXECUTE format('DELETE FROM %I.activity_partner_months WHERE sessions = 0', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$roll$;
CREATE TRIGGER roll_up_added AFTER INSERT ON {schema}.activities REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.activities_roll_up();
CREATE TRIGGER roll_up_removed AFTER DELETE ON {schema}.activities REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.activities_roll_up();

-- @apply
INSERT INTO {schema}.activities
SELECT src.event_id, src."position", src.data ->> 'pilot_id', src.data ->> 'la_id', src.data ->> 'school_id',
       coalesce((src.data ->> 'online')::boolean, false), src.data ->> 'kind', {activity_phase}, (src.data ->> 'date')::date,
       (src.data ->> 'duration_minutes')::integer,
       coalesce(src.data ->> 'mode', CASE WHEN (src.data ->> 'virtual')::boolean THEN 'virtual' ELSE 'in_person' END),
       src.data ? 'accredited_by',
       CASE WHEN src.data -> 'delivered_by' ? 'partners'
            THEN ARRAY(SELECT jsonb_array_elements_text(src.data -> 'delivered_by' -> 'partners') ORDER BY 1) ELSE '{}' END,
       {attendance_total},
       {attendance_values}
FROM src, {attendance_records}
WHERE src.event_type = 'activity_delivered';

-- @rollups
INSERT INTO {schema}.activity_months
SELECT la_id, pilot_id, coalesce(school_id, ''), kind, min(phase), date_trunc('month', date)::date,
       count(*), sum(duration_minutes), {rollup_sums_plain}
FROM {schema}.activities GROUP BY la_id, pilot_id, coalesce(school_id, ''), kind, date_trunc('month', date);
INSERT INTO {schema}.activity_partner_months
SELECT la_id, pilot_id, p.partner_id, date_trunc('month', date)::date, count(*)
FROM {schema}.activities, unnest(partners) AS p(partner_id) GROUP BY la_id, pilot_id, p.partner_id, date_trunc('month', date);

-- @views
CREATE VIEW research.activities AS
SELECT pilot_id, la_id, school_id, online, kind, phase, date, duration_minutes, mode, accredited, partners, attendees,
       {attendance_column_names}, event_id AS activity_event_id
FROM {schema}.activities;
COMMENT ON VIEW research.activities IS 'One row per activity delivered (corrections applied, withdrawals removed), with its attendance counts as columns (audience_subgroup) and attendees, their sum.';
CREATE VIEW research.activity_months AS
SELECT la_id, pilot_id, nullif(school_id, '') AS school_id, kind, phase, month, sessions, minutes, {rollup_column_names}
FROM {schema}.activity_months;
COMMENT ON VIEW research.activity_months IS 'Activities summed by authority, pilot, school (NULL online), kind and month: sessions, minutes, attendance columns, and minutes_<audience> (duration x attendees).';
CREATE VIEW research.activity_partner_months AS SELECT la_id, pilot_id, partner_id, month, sessions FROM {schema}.activity_partner_months;
COMMENT ON VIEW research.activity_partner_months IS 'Sessions each partner organisation delivered, by authority, pilot and month.';
CREATE VIEW research.attendance AS
SELECT a.pilot_id, a.la_id, a.school_id, a.kind, a.phase, a.date, a.duration_minutes, u.audience, u.subgroup, u.count,
       a.event_id AS activity_event_id
FROM {schema}.activities a CROSS JOIN LATERAL (VALUES {attendance_unpivot}) AS u(audience, subgroup, count)
WHERE u.count > 0;
COMMENT ON VIEW research.attendance IS 'Attendances (contacts, not unique people) in long form: one row per activity, audience (pupils, staff, parents_carers, professionals) and sub-group (key stage, role, agency) with a count above zero.';
