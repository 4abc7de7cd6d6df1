-- Context referrals and what followed: threshold decisions, assessments, safety plans and their
-- actions, outcomes shared and reviews. Assessment text (strengths, concerns) is not projected.

-- @tables
CREATE TABLE {schema}.referrals (
    event_id uuid PRIMARY KEY, referral_id text NOT NULL UNIQUE, la_id text NOT NULL, context_kind text NOT NULL,
    context_id text NOT NULL, date date NOT NULL);
CREATE TABLE {schema}.decisions (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, referral_id text NOT NULL, la_id text NOT NULL,
    level text NOT NULL, pathway text NOT NULL, date date NOT NULL);
CREATE TABLE {schema}.assessments (
    event_id uuid PRIMARY KEY, referral_id text, la_id text NOT NULL, school_id text, kind text NOT NULL, date date NOT NULL);
CREATE TABLE {schema}.plans (
    event_id uuid PRIMARY KEY, plan_id text NOT NULL UNIQUE, referral_id text NOT NULL, la_id text NOT NULL, date date NOT NULL);
CREATE TABLE {schema}.plan_actions (
    event_id uuid NOT NULL, plan_id text NOT NULL, action_id text NOT NULL, due_on date NOT NULL,
    PRIMARY KEY (event_id, action_id));
CREATE TABLE {schema}.action_updates (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, plan_id text NOT NULL, action_id text NOT NULL,
    la_id text NOT NULL, kind text NOT NULL, date date NOT NULL, new_due_on date);
CREATE INDEX ON {schema}.action_updates (plan_id, action_id);
CREATE TABLE {schema}.outcomes (
    event_id uuid PRIMARY KEY, referral_id text NOT NULL, la_id text NOT NULL, date date NOT NULL, shared_with text[] NOT NULL);
CREATE TABLE {schema}.reviews (
    event_id uuid PRIMARY KEY, "position" bigint NOT NULL, referral_id text NOT NULL, la_id text NOT NULL,
    date date NOT NULL, outcome text NOT NULL, new_level text);

-- @apply
INSERT INTO {schema}.referrals
SELECT src.event_id, src.data ->> 'referral_id', src.data ->> 'la_id',
       CASE WHEN src.data ? 'school_id' THEN 'school' WHEN src.data ? 'location_id' THEN 'location' ELSE 'peer_group' END,
       coalesce(src.data ->> 'school_id', src.data ->> 'location_id', src.data ->> 'peer_group_id'), (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'context_referral_received';

-- @apply
INSERT INTO {schema}.decisions
SELECT src.event_id, src."position", src.data ->> 'referral_id', src.data ->> 'la_id', src.data ->> 'level',
       src.data ->> 'pathway', (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'threshold_decided';

-- @apply
INSERT INTO {schema}.assessments
SELECT src.event_id, src.data ->> 'referral_id', src.data ->> 'la_id', src.data ->> 'school_id',
       CASE src.event_type WHEN 'school_assessment_completed' THEN 'school_assessment' ELSE 'beyond_referrals_self_assessment' END,
       (src.data ->> 'date')::date
FROM src WHERE src.event_type IN ('school_assessment_completed', 'beyond_referrals_self_assessment_completed');

-- @apply
INSERT INTO {schema}.plans
SELECT src.event_id, src.data ->> 'plan_id', src.data ->> 'referral_id', src.data ->> 'la_id', (src.data ->> 'date')::date
FROM src WHERE src.event_type = 'safety_plan_agreed';

-- @apply
INSERT INTO {schema}.plan_actions
SELECT src.event_id, src.data ->> 'plan_id', a ->> 'action_id', (a ->> 'due_on')::date
FROM src, jsonb_array_elements(src.data -> 'actions') a
WHERE src.event_type = 'safety_plan_agreed';

-- @apply
INSERT INTO {schema}.action_updates
SELECT src.event_id, src."position", src.data ->> 'plan_id', src.data ->> 'action_id', src.data ->> 'la_id',
       replace(src.event_type, 'action_', ''), (src.data ->> 'date')::date, (src.data ->> 'new_due_on')::date
FROM src WHERE src.event_type IN ('action_completed', 'action_rescheduled', 'action_cancelled');

-- @apply
INSERT INTO {schema}.outcomes
SELECT src.event_id, src.data ->> 'referral_id', src.data ->> 'la_id', (src.data ->> 'date')::date,
       ARRAY(SELECT jsonb_array_elements_text(src.data -> 'shared_with') ORDER BY 1)
FROM src WHERE src.event_type = 'outcome_shared';

-- @apply
INSERT INTO {schema}.reviews
SELECT src.event_id, src."position", src.data ->> 'referral_id', src.data ->> 'la_id', (src.data ->> 'date')::date,
       src.data ->> 'outcome', src.data ->> 'new_level'
FROM src WHERE src.event_type = 'context_reviewed';

-- @views
CREATE VIEW research.context_referrals AS
SELECT r.referral_id, r.la_id, r.context_kind, r.context_id, r.date AS referred_on,
       d.level, d.pathway, d.date AS decided_on, d.date - r.date AS days_to_decision
FROM {schema}.referrals r
LEFT JOIN LATERAL (SELECT * FROM {schema}.decisions d WHERE d.referral_id = r.referral_id
                   ORDER BY d.date, d."position" LIMIT 1) d ON true;
COMMENT ON VIEW research.context_referrals IS 'Context referrals with their first threshold decision (level, pathway) and the days between.';
CREATE VIEW research.safety_plan_actions AS
SELECT p.plan_id, p.referral_id, p.la_id, p.date AS agreed_on, a.action_id, a.due_on AS first_due_on,
       coalesce((SELECT u.new_due_on FROM {schema}.action_updates u WHERE u.plan_id = a.plan_id AND u.action_id = a.action_id
                 AND u.kind = 'rescheduled' ORDER BY u."position" DESC LIMIT 1), a.due_on) AS due_on,
       (SELECT min(u.date) FROM {schema}.action_updates u WHERE u.plan_id = a.plan_id AND u.action_id = a.action_id AND u.kind = 'completed') AS completed_on,
       (SELECT min(u.date) FROM {schema}.action_updates u WHERE u.plan_id = a.plan_id AND u.action_id = a.action_id AND u.kind = 'cancelled') AS cancelled_on
FROM {schema}.plan_actions a JOIN {schema}.plans p USING (event_id);
COMMENT ON VIEW research.safety_plan_actions IS 'Each safety-plan action: due date after any rescheduling, and when it was completed or cancelled.';
CREATE VIEW research.context_outcomes AS SELECT referral_id, la_id, date, shared_with FROM {schema}.outcomes;
COMMENT ON VIEW research.context_outcomes IS 'Outcomes shared (with young_people, parents_carers, school_community).';
CREATE VIEW research.context_reviews AS SELECT referral_id, la_id, date, outcome, new_level FROM {schema}.reviews;
COMMENT ON VIEW research.context_reviews IS 'Context reviews: escalated, de_escalated or closed.';
CREATE VIEW research.context_assessments AS SELECT referral_id, la_id, school_id, kind, date FROM {schema}.assessments;
COMMENT ON VIEW research.context_assessments IS 'School assessments and Beyond Referrals self-assessments completed.';
