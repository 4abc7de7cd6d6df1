import ReachDomain
import ReachPostgres

extension MetricDefinition {
    /// The headline figures per strategy project, objective and policy goal, for each academic
    /// year of the 2024-2029 strategy that overlaps the period.
    public static let strategyProgress = MetricDefinition(
        .strategyProgress,
        definition: "The reach figures per strategic objective, policy goal and strategy project, per academic year of the 2024-2029 strategy.",
        parts: { calculator, query in strategyProgress(calculator, query) }
    )

    /// strategy_progress for each strategy year in the period: the activity figures of the
    /// three strategy cuts in one query, then partners and pilot progress per cut.
    static func strategyProgress(_ calculator: MetricsCalculator, _ query: MetricQuery) -> [MetricsCalculator.Job] {
        var jobs: [MetricsCalculator.Job] = []
        let cuts: [ScopeDimension] = [.project, .objective, .policyGoal]
        @Sendable func observation(
            _ year: Period, _ scope: String, _ metric: Metric, _ statistic: String, _ value: Double?, _ sensitivity: Sensitivity
        ) -> Observation {
            Observation(
                metric: Metric.strategyProgress.rawValue, period: year.label, scope: scope, dimension: metric.rawValue,
                category: "total", statistic: statistic, value: value, sensitivity: sensitivity)
        }
        for year in Period.strategyYears where year.start <= query.period.end && year.end >= query.period.start {
            var sub = query
            sub.period = year
            let all = AttendanceCell.all.map(\.column).joined(separator: " + ")
            let staff = AttendanceCell.all.filter { $0.audience == "staff" }.map(\.column).joined(separator: " + ")
            let minutes = AttendanceCell.audiences.map { "minutes_\($0)" }.joined(separator: " + ")
            let source = MetricSQL.activitySource(wholeMonths: year.isWholeMonths)
            // The activities are summed by pilot and school once, then each sum counts towards
            // its pilot's project, objectives and policy goals.
            let sql = """
                WITH f AS (SELECT pilot_id, school_id, sum(sessions) AS sessions, sum(\(all)) AS attendances,
                                  sum(\(staff)) FILTER (WHERE kind = 'staff_training') AS staff, sum(\(minutes)) AS minutes
                           FROM (\(MetricSQL.scoped(source, pilot: true, by: nil))) s GROUP BY pilot_id, school_id)
                SELECT c.scope, count(DISTINCT f.school_id)::float8, sum(f.sessions)::float8, coalesce(sum(f.attendances), 0)::float8,
                       coalesce(sum(f.staff), 0)::float8, round(coalesce(sum(f.minutes), 0)::numeric / 60, 1)::float8
                FROM f JOIN research.pilots p ON p.pilot_id = f.pilot_id
                CROSS JOIN LATERAL (SELECT 'project:' || p.strategy_project
                                    UNION ALL SELECT 'objective:' || o FROM unnest(p.objectives) AS o
                                    UNION ALL SELECT 'policy_goal:' || g FROM unnest(p.policy_goals) AS g) AS c(scope)
                GROUP BY c.scope ORDER BY c.scope
                """
            let parameters = calculator.parameters(sub)
            jobs.append { connection in
                var out: [Observation] = []
                for row in try calculator.run(sql, parameters, on: connection).mapRows({ row in
                    (
                        try row.decode(0, as: String.self), try row.decode(1, as: Double.self), try row.decode(2, as: Double.self),
                        try row.decode(3, as: Double.self), try row.decode(4, as: Double.self), try row.decode(5, as: Double.self)
                    )
                }) {
                    out.append(observation(year, row.0, .schoolsEngaged, "schools", row.1, .count))
                    out.append(observation(year, row.0, .sessions, "sessions", row.2, .count))
                    out.append(observation(year, row.0, .attendances, "attendances", row.3, .children))
                    out.append(observation(year, row.0, .staffTrained, "staff_attendances", row.4, .count))
                    out.append(observation(year, row.0, .learnerHours, "hours", row.5, .other))
                }
                return out
            }
            for cut in cuts {
                var next = sub
                next.by = cut
                let byCut = next
                for (metric, statistics) in [
                    (Metric.partnersInvolved, ["partners"]), (.pilotProgress, ["implementing_or_beyond", "target_schools"]),
                ] {
                    jobs.append { connection in
                        try calculator.compute(metric, byCut, on: connection)
                            .filter { $0.dimension == "total" && statistics.contains($0.statistic) }
                            .map { observation(year, $0.scope, metric, $0.statistic, $0.value, $0.sensitivity) }
                    }
                }
            }
        }
        return jobs
    }
}
