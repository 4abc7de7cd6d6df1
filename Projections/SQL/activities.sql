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

-- @views
CREATE VIEW research.activities AS
SELECT pilot_id, la_id, school_id, online, kind, phase, date, duration_minutes, mode, accredited, partners, attendees,
       {attendance_column_names}, event_id AS activity_event_id
FROM {schema}.activities;
COMMENT ON VIEW research.activities IS 'One row per activity delivered (corrections applied, withdrawals removed), with its attendance counts as columns (audience_subgroup) and attendees, their sum.';
CREATE VIEW research.attendance AS
SELECT a.pilot_id, a.la_id, a.school_id, a.kind, a.phase, a.date, a.duration_minutes, u.audience, u.subgroup, u.count,
       a.event_id AS activity_event_id
FROM {schema}.activities a CROSS JOIN LATERAL (VALUES {attendance_unpivot}) AS u(audience, subgroup, count)
WHERE u.count > 0;
COMMENT ON VIEW research.attendance IS 'Attendances (contacts, not unique people) in long form: one row per activity, audience (pupils, staff, parents_carers, professionals) and sub-group (key stage, role, agency) with a count above zero.';
