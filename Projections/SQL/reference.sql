-- The programme's reference data: authorities, schools, partners, pilots and their targets,
-- locations of concern and peer groups. Every table is keyed by the event that registered the
-- row, so a correction replaces the row and a withdrawal removes it. Free text that could say
-- something about a young person (labels, notes) is not projected.

-- @tables
CREATE TABLE {schema}.authorities (
    event_id uuid PRIMARY KEY, la_id text NOT NULL UNIQUE, name text NOT NULL, gss_code text,
    region text NOT NULL, joined_on date);
CREATE TABLE {schema}.schools (
    event_id uuid PRIMARY KEY, school_id text NOT NULL UNIQUE, la_id text NOT NULL, name text NOT NULL,
    phase text NOT NULL, pupils_on_roll integer);
CREATE TABLE {schema}.partners (
    event_id uuid PRIMARY KEY, partner_id text NOT NULL UNIQUE, name text NOT NULL, kind text NOT NULL);
CREATE TABLE {schema}.pilots (
    event_id uuid PRIMARY KEY, pilot_id text NOT NULL UNIQUE, la_id text NOT NULL, name text NOT NULL,
    approach text, strategy_project text NOT NULL, objectives integer[] NOT NULL, policy_goals integer[] NOT NULL,
    target_schools integer NOT NULL, start_date date);
CREATE TABLE {schema}.pilot_targets (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, pilot_id text NOT NULL, target_schools integer NOT NULL,
    date date NOT NULL);
CREATE INDEX ON {schema}.pilot_targets (pilot_id, date);
CREATE TABLE {schema}.locations (
    event_id uuid PRIMARY KEY, location_id text NOT NULL UNIQUE, la_id text NOT NULL, kind text NOT NULL,
    area text, concern_types text[] NOT NULL, identified_on date NOT NULL);
CREATE TABLE {schema}.peer_groups (
    event_id uuid PRIMARY KEY, peer_group_id text NOT NULL UNIQUE, la_id text NOT NULL, size integer NOT NULL);

-- @apply
INSERT INTO {schema}.authorities
SELECT src.event_id, src.data ->> 'la_id', src.data ->> 'name', src.data ->> 'gss_code', src.data ->> 'region',
       (src.data ->> 'joined_on')::date
FROM src WHERE src.event_type = 'local_authority_registered';

-- @apply
INSERT INTO {schema}.schools
SELECT src.event_id, src.data ->> 'school_id', src.data ->> 'la_id', src.data ->> 'name', src.data ->> 'phase',
       (src.data ->> 'pupils_on_roll')::integer
FROM src WHERE src.event_type = 'school_registered';

-- @apply
INSERT INTO {schema}.partners
SELECT src.event_id, src.data ->> 'partner_id', src.data ->> 'name', src.data ->> 'kind'
FROM src WHERE src.event_type = 'partner_registered';

-- @apply
INSERT INTO {schema}.pilots
SELECT src.event_id, src.data ->> 'pilot_id', src.data ->> 'la_id', src.data ->> 'name', src.data ->> 'approach',
       src.data ->> 'strategy_project',
       ARRAY(SELECT jsonb_array_elements_text(src.data -> 'objectives')::integer ORDER BY 1),
       ARRAY(SELECT jsonb_array_elements_text(src.data -> 'policy_goals')::integer ORDER BY 1),
       (src.data ->> 'target_schools')::integer, (src.data ->> 'start_date')::date
FROM src WHERE src.event_type = 'pilot_registered';

-- @apply
INSERT INTO {schema}.pilot_targets
SELECT src.event_id, src."position", src.data ->> 'pilot_id', (src.data ->> 'target_schools')::integer, (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'pilot_target_changed';

-- @apply
INSERT INTO {schema}.locations
SELECT src.event_id, src.data ->> 'location_id', src.data ->> 'la_id', src.data ->> 'kind', src.data ->> 'area',
       ARRAY(SELECT jsonb_array_elements_text(src.data -> 'concern_types') ORDER BY 1), (src.data ->> 'identified_on')::date
FROM src WHERE src.event_type = 'location_registered';

-- @apply
INSERT INTO {schema}.peer_groups
SELECT src.event_id, src.data ->> 'peer_group_id', src.data ->> 'la_id', (src.data ->> 'size')::integer
FROM src WHERE src.event_type = 'peer_group_registered';

-- @views
CREATE VIEW research.authorities AS SELECT la_id, name, gss_code, region, joined_on FROM {schema}.authorities;
COMMENT ON VIEW research.authorities IS 'Local authorities in the programme, with their region.';
CREATE VIEW research.schools AS SELECT school_id, la_id, name, phase, pupils_on_roll FROM {schema}.schools;
COMMENT ON VIEW research.schools IS 'Schools, by URN where there is one, with their authority and phase.';
CREATE VIEW research.partners AS SELECT partner_id, name, kind FROM {schema}.partners;
COMMENT ON VIEW research.partners IS 'Partner organisations and their kind.';
CREATE VIEW research.pilots AS
SELECT p.pilot_id, p.la_id, p.name, p.approach, p.strategy_project, p.objectives, p.policy_goals,
       p.target_schools AS first_target_schools,
       coalesce((SELECT t.target_schools FROM {schema}.pilot_targets t WHERE t.pilot_id = p.pilot_id
                 ORDER BY t.date DESC, t."position" DESC LIMIT 1), p.target_schools) AS current_target_schools,
       p.start_date
FROM {schema}.pilots p;
COMMENT ON VIEW research.pilots IS 'Pilots with their strategy project, objectives (1-4), policy goals (1-7) and targets.';
CREATE VIEW research.pilot_targets AS
SELECT p.pilot_id, p.start_date AS date, p.target_schools, 0::bigint AS "position" FROM {schema}.pilots p
UNION ALL
SELECT t.pilot_id, t.date, t.target_schools, t."position" FROM {schema}.pilot_targets t;
COMMENT ON VIEW research.pilot_targets IS 'Each pilot''s target number of schools from each date: the first target, then every change.';
CREATE VIEW research.locations AS SELECT location_id, la_id, kind, area, concern_types, identified_on FROM {schema}.locations;
COMMENT ON VIEW research.locations IS 'Locations of concern (area no finer than a postcode district or ward).';
CREATE VIEW research.peer_groups AS SELECT peer_group_id, la_id, size FROM {schema}.peer_groups;
COMMENT ON VIEW research.peer_groups IS 'Peer groups, by pseudonymous id and size only.';
