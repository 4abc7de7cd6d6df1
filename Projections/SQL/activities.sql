-- Activities delivered, and who attended them. One row per activity, and one row per audience
-- group and sub-group with a count above zero. Attendances are contacts, not unique people.
-- Version 1 records (before `mode`) said `virtual: true|false`; both are read here.

-- @tables
CREATE TABLE {schema}.activities (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, pilot_id text NOT NULL, la_id text NOT NULL,
    school_id text, online boolean NOT NULL, kind text NOT NULL, phase text NOT NULL, date date NOT NULL,
    duration_minutes integer NOT NULL, mode text NOT NULL, accredited boolean NOT NULL,
    partners text[] NOT NULL, attendees integer NOT NULL);
CREATE INDEX ON {schema}.activities (la_id, date);
CREATE INDEX ON {schema}.activities (pilot_id, date);
CREATE TABLE {schema}.attendance (
    event_id uuid NOT NULL, audience text NOT NULL, subgroup text NOT NULL, count integer NOT NULL,
    PRIMARY KEY (event_id, audience, subgroup));

-- @apply
INSERT INTO {schema}.activities
SELECT src.event_id, src."position", src.data ->> 'pilot_id', src.data ->> 'la_id', src.data ->> 'school_id',
       coalesce((src.data ->> 'online')::boolean, false), src.data ->> 'kind', {activity_phase}, (src.data ->> 'date')::date,
       (src.data ->> 'duration_minutes')::integer,
       coalesce(src.data ->> 'mode', CASE WHEN (src.data ->> 'virtual')::boolean THEN 'virtual' ELSE 'in_person' END),
       src.data ? 'accredited_by',
       ARRAY(SELECT jsonb_array_elements_text(coalesce(src.data -> 'delivered_by' -> 'partners', '[]')) ORDER BY 1),
       (SELECT coalesce(sum(v::integer), 0) FROM (
            SELECT value FROM jsonb_each_text(coalesce(src.data -> 'attendance' -> 'pupils', '{}'))
            UNION ALL SELECT value FROM jsonb_each_text(coalesce(src.data -> 'attendance' -> 'staff', '{}'))
            UNION ALL SELECT value FROM jsonb_each_text(coalesce(src.data -> 'attendance' -> 'professionals', '{}'))
            UNION ALL SELECT src.data -> 'attendance' ->> 'parents_carers') AS counts(v))
FROM src WHERE src.event_type = 'activity_delivered';

-- @apply
INSERT INTO {schema}.attendance
SELECT src.event_id, g.audience, g.subgroup, g.n
FROM src, LATERAL (
    SELECT 'pupils', key, value::integer FROM jsonb_each_text(coalesce(src.data -> 'attendance' -> 'pupils', '{}'))
    UNION ALL SELECT 'staff', key, value::integer FROM jsonb_each_text(coalesce(src.data -> 'attendance' -> 'staff', '{}'))
    UNION ALL SELECT 'parents_carers', 'parents_carers', (src.data -> 'attendance' ->> 'parents_carers')::integer
    UNION ALL SELECT 'professionals', key, value::integer FROM jsonb_each_text(coalesce(src.data -> 'attendance' -> 'professionals', '{}'))
) AS g(audience, subgroup, n)
WHERE src.event_type = 'activity_delivered' AND g.n > 0;

-- @views
CREATE VIEW research.activities AS
SELECT pilot_id, la_id, school_id, online, kind, phase, date, duration_minutes, mode, accredited, partners, attendees,
       event_id AS activity_event_id
FROM {schema}.activities;
COMMENT ON VIEW research.activities IS 'One row per activity delivered (corrections applied, withdrawals removed). attendees is the sum of every attendance count.';
CREATE VIEW research.attendance AS
SELECT a.pilot_id, a.la_id, a.school_id, a.kind, a.phase, a.date, a.duration_minutes, t.audience, t.subgroup, t.count,
       a.event_id AS activity_event_id
FROM {schema}.attendance t JOIN {schema}.activities a USING (event_id);
COMMENT ON VIEW research.attendance IS 'Attendances (contacts, not unique people) by audience (pupils, staff, parents_carers, professionals) and sub-group (key stage, role, agency).';
