import ReachDomain

extension MetricDefinition {
    public static let staffTrained = MetricDefinition(
        .staffTrained,
        definition: "Staff attendances at staff_training activities, by role.",
        headline: ("staff_attendances", .count)
    ) { by, wholeMonths in
        let activitiesInPeriod = MetricSQL.activitySource(wholeMonths: wholeMonths)
        // Staff attendances at staff_training, in total and by role.
        return """
            WITH s AS (\(MetricSQL.scoped(activitiesInPeriod, pilot: true, by: by))),
            \(MetricSQL.attendanceCells(where: "kind = 'staff_training'", audiences: ["staff"]))
            SELECT scope, 'total', 'total', 'staff_attendances', sum(n)::float8, 'count' FROM cells GROUP BY scope HAVING sum(n) > 0
            UNION ALL
            SELECT scope, 'role', subgroup, 'staff_attendances', n::float8, 'count' FROM cells WHERE n > 0
            """
    }
}
