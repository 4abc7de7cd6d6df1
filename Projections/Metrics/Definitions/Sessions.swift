import ReachDomain

extension MetricDefinition {
    public static let sessions = MetricDefinition(
        .sessions,
        definition: "Activities, by kind and by phase (engagement, assessment, support, multi-agency).",
        headline: ("sessions", .count)
    ) { by, wholeMonths in
        let activitiesInPeriod = MetricSQL.activitySource(wholeMonths: wholeMonths)
        // Activities, in total, by phase and by kind.
        return """
            WITH s AS (\(MetricSQL.scoped(activitiesInPeriod, pilot: true, by: by)))
            SELECT scope, 'total', 'total', 'sessions', sum(sessions)::float8, 'count' FROM s GROUP BY scope
            UNION ALL SELECT scope, 'phase', phase, 'sessions', sum(sessions)::float8, 'count' FROM s GROUP BY scope, phase
            UNION ALL SELECT scope, 'kind', kind, 'sessions', sum(sessions)::float8, 'count' FROM s GROUP BY scope, kind
            """
    }
}
