-- Schools' engagement stages in each pilot, one row per stage reached. A school's stage at a
-- date is its latest stage recorded with a date on or before it.

-- @tables
CREATE TABLE {schema}.stages (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, pilot_id text NOT NULL, school_id text NOT NULL,
    la_id text NOT NULL, stage text NOT NULL, date date NOT NULL);
CREATE INDEX ON {schema}.stages (pilot_id, school_id, date);

-- @apply
INSERT INTO {schema}.stages
SELECT src.event_id, src."position", src.data ->> 'pilot_id', src.data ->> 'school_id', src.data ->> 'la_id',
       src.data ->> 'stage', (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'engagement_stage_reached';

-- @views
CREATE VIEW research.engagement_stages AS
SELECT pilot_id, school_id, la_id, stage, date, "position" AS recorded_order FROM {schema}.stages;
COMMENT ON VIEW research.engagement_stages IS 'Every engagement stage reached by a school in a pilot; recorded_order breaks ties between stages of one date.';
