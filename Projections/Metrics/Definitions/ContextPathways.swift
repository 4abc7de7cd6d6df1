import ReachDomain

extension MetricDefinition {
    public static let contextPathways = MetricDefinition(
        .contextPathways,
        definition:
            "Referrals by level and pathway; median days from referral to decision; actions due in the period and the share completed by their due date; contexts de-escalated; outcomes shared with young people.",
        headline: ("referrals", .children), belongsToPilots: false
    ) { by, _ in
        // Referrals received in the period by the level and pathway of their first decision;
        // median days from referral to decision (decisions in the period); safety-plan actions
        // due in the period and the share completed by their due date; contexts
        // de-escalated and outcomes shared with young people in the period.
        let referrals = "SELECT r.la_id, r.referral_id, r.level, r.pathway FROM research.context_referrals r WHERE r.referred_on BETWEEN $1 AND $2"
        let decisions = "SELECT r.la_id, r.days_to_decision FROM research.context_referrals r WHERE r.decided_on BETWEEN $1 AND $2"
        let actions = """
            SELECT a.la_id, (a.completed_on IS NOT NULL AND a.completed_on <= a.due_on) AS on_time
            FROM research.safety_plan_actions a WHERE a.due_on BETWEEN $1 AND $2 AND (a.cancelled_on IS NULL OR a.cancelled_on > a.due_on)
            """
        let reviews = "SELECT v.la_id, v.outcome FROM research.context_reviews v WHERE v.date BETWEEN $1 AND $2"
        let outcomes = "SELECT o.la_id, o.shared_with FROM research.context_outcomes o WHERE o.date BETWEEN $1 AND $2"
        return """
            WITH r AS (\(MetricSQL.scoped(referrals, pilot: false, by: by))),
                 d AS (\(MetricSQL.scoped(decisions, pilot: false, by: by))),
                 a AS (\(MetricSQL.scoped(actions, pilot: false, by: by))),
                 v AS (\(MetricSQL.scoped(reviews, pilot: false, by: by))),
                 o AS (\(MetricSQL.scoped(outcomes, pilot: false, by: by)))
            SELECT scope, 'total', 'total', 'referrals', count(*)::float8, 'children' FROM r GROUP BY scope
            UNION ALL SELECT scope, 'level', coalesce(level, 'not_yet_decided'), 'referrals', count(*)::float8, 'children' FROM r GROUP BY scope, level
            UNION ALL SELECT scope, 'level_pathway', coalesce(level || '/' || pathway, 'not_yet_decided'), 'referrals', count(*)::float8, 'children'
                      FROM r GROUP BY scope, level, pathway
            UNION ALL SELECT scope, 'total', 'total', 'median_days_to_decision',
                             percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_decision)::float8, 'other' FROM d GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'actions_due', count(*)::float8, 'count' FROM a GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'actions_completed_by_due_date', count(*) FILTER (WHERE on_time)::float8, 'count' FROM a GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'percent_actions_on_time',
                             round(100.0 * count(*) FILTER (WHERE on_time) / count(*), 1)::float8, 'other' FROM a GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'contexts_de_escalated', count(*) FILTER (WHERE outcome = 'de_escalated')::float8, 'children'
                      FROM v GROUP BY scope
            UNION ALL SELECT scope, 'total', 'total', 'outcomes_shared_with_young_people',
                             count(*) FILTER (WHERE 'young_people' = ANY(shared_with))::float8, 'children' FROM o GROUP BY scope
            """
    }
}
