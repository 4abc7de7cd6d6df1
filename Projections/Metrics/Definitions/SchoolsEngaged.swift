import ReachDomain

extension MetricDefinition {
    public static let schoolsEngaged = MetricDefinition(
        .schoolsEngaged,
        definition: "Distinct schools with at least one activity at the school in the period, by phase.",
        headline: ("schools", .count)
    ) { by, wholeMonths in
        let activitiesInPeriod = MetricSQL.activitySource(wholeMonths: wholeMonths)
        // Distinct schools with at least one activity at the school in the period.
        return """
            WITH s AS (\(MetricSQL.scoped(activitiesInPeriod, pilot: true, by: by)))
            SELECT scope, 'total', 'total', 'schools', count(DISTINCT school_id)::float8, 'count' FROM s GROUP BY scope
            UNION ALL
            SELECT s.scope, 'phase', sc.phase, 'schools', count(DISTINCT s.school_id)::float8, 'count'
            FROM s JOIN research.schools sc ON sc.school_id = s.school_id GROUP BY s.scope, sc.phase
            """
    }
}
