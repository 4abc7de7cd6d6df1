import ReachDomain

extension MetricDefinition {
    public static let authoritiesActive = MetricDefinition(
        .authoritiesActive,
        definition: "Distinct authorities with at least one activity in the period.",
        headline: ("authorities", .count)
    ) { by, wholeMonths in
        let activitiesInPeriod = MetricSQL.activitySource(wholeMonths: wholeMonths)
        // Distinct authorities with at least one activity in the period.
        return """
            WITH s AS (\(MetricSQL.scoped(activitiesInPeriod, pilot: true, by: by)))
            SELECT scope, 'total', 'total', 'authorities', count(DISTINCT la_id)::float8, 'count' FROM s GROUP BY scope
            """
    }
}
