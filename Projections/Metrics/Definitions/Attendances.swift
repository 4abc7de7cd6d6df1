import ReachDomain

extension MetricDefinition {
    public static let attendances = MetricDefinition(
        .attendances,
        definition:
            "Attendance counts summed by audience group (pupils, staff, parents and carers, professionals) and sub-group (key stage, role, agency). Attendances are contacts, not unique people.",
        headline: ("attendances", .children)
    ) { by, wholeMonths in
        let activitiesInPeriod = MetricSQL.activitySource(wholeMonths: wholeMonths)
        // Summed attendance counts (contacts, not people): in total, by audience, and by
        // each audience's sub-groups (key stage, role, agency). Pupils' counts are children's,
        // and so is the total that holds them (a total of staff alone is not).
        return """
            WITH s AS (\(MetricSQL.scoped(activitiesInPeriod, pilot: true, by: by))), \(MetricSQL.attendanceCells())
            SELECT scope, 'total', 'total', 'attendances', sum(n)::float8,
                   CASE WHEN sum(n) FILTER (WHERE audience = 'pupils') > 0 THEN 'children' ELSE 'count' END FROM cells GROUP BY scope
            UNION ALL
            SELECT scope, 'audience', audience, 'attendances', sum(n)::float8,
                   CASE WHEN audience = 'pupils' THEN 'children' ELSE 'count' END FROM cells GROUP BY scope, audience HAVING sum(n) > 0
            UNION ALL
            SELECT scope, audience, subgroup, 'attendances', n::float8, CASE WHEN audience = 'pupils' THEN 'children' ELSE 'count' END
            FROM cells WHERE audience <> 'parents_carers' AND n > 0
            """
    }
}
