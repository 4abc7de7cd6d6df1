-- Survey waves and, for each measure, how many agreed out of how many answered.

-- @tables
CREATE TABLE {schema}.waves (
    event_id uuid PRIMARY KEY, pilot_id text NOT NULL, la_id text NOT NULL, school_id text,
    respondent_group text NOT NULL, wave text NOT NULL, wave_number integer NOT NULL, date date NOT NULL,
    respondents integer NOT NULL);
CREATE INDEX ON {schema}.waves (la_id, date);
CREATE TABLE {schema}.measures (
    event_id uuid NOT NULL, measure text NOT NULL, agreeing integer NOT NULL, answering integer NOT NULL,
    PRIMARY KEY (event_id, measure));

-- @apply
INSERT INTO {schema}.waves
SELECT src.event_id, src.data ->> 'pilot_id', src.data ->> 'la_id', src.data ->> 'school_id',
       src.data ->> 'respondent_group', src.data ->> 'wave',
       CASE WHEN src.data ->> 'wave' = 'baseline' THEN 0 ELSE substring(src.data ->> 'wave' FROM '[0-9]+$')::integer END,
       (src.data ->> 'date')::date, (src.data ->> 'respondents')::integer
FROM src WHERE src.event_type = 'survey_wave_recorded';

-- @apply
INSERT INTO {schema}.measures
SELECT src.event_id, m.key, (m.value ->> 'agreeing')::integer, (m.value ->> 'answering')::integer
FROM src, jsonb_each(src.data -> 'measures') m
WHERE src.event_type = 'survey_wave_recorded';

-- @views
CREATE VIEW research.survey_waves AS
SELECT pilot_id, la_id, school_id, respondent_group, wave, wave_number, date, respondents, event_id AS wave_event_id
FROM {schema}.waves;
COMMENT ON VIEW research.survey_waves IS 'Survey waves: wave_number 0 is the baseline, n is follow_up_n.';
CREATE VIEW research.survey_measures AS
SELECT w.pilot_id, w.la_id, w.school_id, w.respondent_group, w.wave, w.wave_number, w.date, w.respondents,
       m.measure, m.agreeing, m.answering, w.event_id AS wave_event_id
FROM {schema}.measures m JOIN {schema}.waves w USING (event_id);
COMMENT ON VIEW research.survey_measures IS 'For each wave and measure: how many agreed, out of how many answered.';
