import ReachDomain

extension MetricDefinition {
    public static let learnerHours = MetricDefinition(
        .learnerHours,
        definition: "Duration times attendees, in hours, by audience.",
        headline: ("hours", .other)
    ) { by, wholeMonths in
        let activitiesInPeriod = MetricSQL.activitySource(wholeMonths: wholeMonths)
        // Duration x attendees, in hours: in total and by audience. Hours of pupils (and the
        // total, which holds them) are derived from the count of pupils, their base.
        let audiences = AttendanceCell.audiences
        let pupils = AttendanceCell.all.filter { $0.audience == "pupils" }.map { "coalesce(\($0.column), 0)" }.joined(separator: " + ")
        return """
            WITH s AS (\(MetricSQL.scoped(activitiesInPeriod, pilot: true, by: by))),
            sums AS (SELECT scope, \(audiences.map { "sum(minutes_\($0)) AS \($0)" }.joined(separator: ", ")),
                            sum(\(pupils))::int8 AS pupil_count FROM s GROUP BY scope),
            cells AS (SELECT sums.scope, sums.pupil_count, u.audience, coalesce(u.n, 0) AS n FROM sums
                      CROSS JOIN LATERAL (VALUES \(audiences.map { "('\($0)', sums.\($0))" }.joined(separator: ", "))) AS u(audience, n))
            SELECT scope, 'total', 'total', 'hours', round(sum(n)::numeric / 60, 1)::float8,
                   CASE WHEN max(pupil_count) > 0 THEN 'derived' ELSE 'other' END, max(pupil_count)::int8 FROM cells GROUP BY scope
            UNION ALL
            SELECT scope, 'audience', audience, 'hours', round(n::numeric / 60, 1)::float8,
                   CASE WHEN audience = 'pupils' THEN 'derived' ELSE 'other' END,
                   CASE WHEN audience = 'pupils' THEN pupil_count END FROM cells WHERE n > 0
            """
    }
}
