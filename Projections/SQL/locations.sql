-- What was done at locations of concern: interventions started and ended, and concerns closed.
-- (The locations themselves are in the reference projection.)

-- @tables
CREATE TABLE {schema}.interventions (
    event_id uuid PRIMARY KEY, intervention_id text NOT NULL UNIQUE, location_id text NOT NULL, la_id text NOT NULL,
    kind text NOT NULL, date date NOT NULL, partners text[] NOT NULL);
CREATE TABLE {schema}.intervention_ends (
    event_id uuid PRIMARY KEY, intervention_id text NOT NULL, la_id text NOT NULL, date date NOT NULL);
CREATE TABLE {schema}.closures (
    event_id uuid PRIMARY KEY, location_id text NOT NULL, la_id text NOT NULL, date date NOT NULL);

-- @apply
INSERT INTO {schema}.interventions
SELECT src.event_id, src.data ->> 'intervention_id', src.data ->> 'location_id', src.data ->> 'la_id', src.data ->> 'kind',
       (src.data ->> 'date')::date, ARRAY(SELECT jsonb_array_elements_text(coalesce(src.data -> 'partners', '[]')) ORDER BY 1)
FROM src WHERE src.event_type = 'intervention_started';

-- @apply
INSERT INTO {schema}.intervention_ends
SELECT src.event_id, src.data ->> 'intervention_id', src.data ->> 'la_id', (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'intervention_ended';

-- @apply
INSERT INTO {schema}.closures
SELECT src.event_id, src.data ->> 'location_id', src.data ->> 'la_id', (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'location_concern_closed';

-- @views
CREATE VIEW research.interventions AS
SELECT i.intervention_id, i.location_id, i.la_id, i.kind, i.date AS started_on,
       (SELECT min(e.date) FROM {schema}.intervention_ends e WHERE e.intervention_id = i.intervention_id) AS ended_on, i.partners
FROM {schema}.interventions i;
COMMENT ON VIEW research.interventions IS 'Interventions at locations of concern, with when they started and ended.';
CREATE VIEW research.location_closures AS SELECT location_id, la_id, date AS closed_on FROM {schema}.closures;
COMMENT ON VIEW research.location_closures IS 'Locations of concern closed, and when.';
