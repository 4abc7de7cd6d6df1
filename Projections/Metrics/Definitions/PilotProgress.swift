import ReachDomain

extension MetricDefinition {
    public static let pilotProgress = MetricDefinition(
        .pilotProgress,
        definition:
            "Schools at each engagement stage (the latest stage per school), and schools implementing or beyond against the pilot's current target (such as 11 of 31).",
        headline: ("implementing_or_beyond", .count)
    ) { by, _ in
        // Each school's latest stage on the period's last day, per pilot; schools
        // implementing or beyond against the pilots' targets on that day.
        let stages = """
            SELECT DISTINCT ON (st.pilot_id, st.school_id) st.la_id, st.pilot_id, st.school_id, st.stage
            FROM research.engagement_stages st WHERE st.date <= $2
            ORDER BY st.pilot_id, st.school_id, st.date DESC, st.recorded_order DESC
            """
        let targets = """
            SELECT pi.la_id, pi.pilot_id,
                   (SELECT t.target_schools FROM research.pilot_targets t WHERE t.pilot_id = pi.pilot_id AND t.date <= $2
                    ORDER BY t.date DESC, t."position" DESC LIMIT 1) AS target
            FROM research.pilots pi WHERE pi.start_date <= $2
            """
        return """
            WITH s AS (\(MetricSQL.scoped(stages, pilot: true, by: by))),
                 t AS (\(MetricSQL.scoped(targets, pilot: true, by: by))),
                 progress AS (SELECT scope, count(*) FILTER (WHERE stage IN ('implementing', 'embedding', 'sustaining')) AS reached
                              FROM s GROUP BY scope),
                 goal AS (SELECT scope, sum(target) AS target, count(*) AS pilots FROM t GROUP BY scope)
            SELECT scope, 'stage', stage, 'schools', count(*)::float8, 'count' FROM s GROUP BY scope, stage
            UNION ALL
            SELECT coalesce(p.scope, g.scope), 'total', 'total', 'implementing_or_beyond', coalesce(p.reached, 0)::float8, 'count'
            FROM progress p FULL JOIN goal g USING (scope)
            UNION ALL
            SELECT g.scope, 'total', 'total', 'target_schools', g.target::float8, 'count' FROM goal g
            UNION ALL
            SELECT g.scope, 'total', 'total', 'pilots', g.pilots::float8, 'count' FROM goal g
            UNION ALL
            SELECT g.scope, 'total', 'total', 'percent_of_target',
                   round(100.0 * coalesce(p.reached, 0) / nullif(g.target, 0), 1)::float8, 'other'
            FROM goal g LEFT JOIN progress p USING (scope)
            """
    }
}
