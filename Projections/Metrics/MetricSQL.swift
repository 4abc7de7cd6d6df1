import ReachDomain

/// The pieces the metrics' statements share: the facts in scope of a query's filters and cut,
/// the activities of a period, and attendance sums turned into rows.
///
/// Every statement takes the same parameters: `$1` and `$2` the period's first and last dates,
/// then the filters `$3` authority, `$4` region, `$5` pilot, `$6` strategy project,
/// `$7` objective, `$8` policy goal (NULL when not filtered).
enum MetricSQL {
    /// The facts in `fact` (which has `la_id` and, for pilot facts, `pilot_id`), filtered by the
    /// query's authority, region and pilot filters, with a `scope` column for `--by`.
    static func scoped(_ fact: String, pilot: Bool, by: ScopeDimension?) -> String {
        var scope = "'all'"
        var lateral = ""
        switch by {
        case .la?: scope = "'la:' || f.la_id"
        case .region?: scope = "'region:' || l.region"
        case .pilot?: scope = "'pilot:' || f.pilot_id"
        case .project?: scope = "'project:' || p.strategy_project"
        case .objective?:
            scope = "'objective:' || o.v"
            lateral = "CROSS JOIN LATERAL unnest(p.objectives) AS o(v)"
        case .policyGoal?:
            scope = "'policy_goal:' || g.v"
            lateral = "CROSS JOIN LATERAL unnest(p.policy_goals) AS g(v)"
        default: break
        }
        // Cut by pilot, project, objective or policy goal, facts without a pilot have no scope.
        let pilotJoin = pilot ? (by?.needsPilot == true ? "JOIN" : "LEFT JOIN") + " research.pilots p ON p.pilot_id = f.pilot_id" : ""
        let pilotFilter =
            pilot
            ? """
            AND ($5::text IS NULL OR f.pilot_id = $5) AND ($6::text IS NULL OR p.strategy_project = $6)
            AND ($7::int IS NULL OR $7 = ANY(p.objectives)) AND ($8::int IS NULL OR $8 = ANY(p.policy_goals))
            """ : "AND $5::text IS NULL AND $6::text IS NULL AND $7::int IS NULL AND $8::int IS NULL"
        return """
            SELECT \(scope) AS scope, f.* FROM (\(fact)) f
            JOIN research.authorities l ON l.la_id = f.la_id
            \(pilotJoin) \(lateral)
            WHERE ($3::text IS NULL OR f.la_id = $3) AND ($4::text IS NULL OR l.region = $4) \(pilotFilter)
            """
    }

    /// The activities of the period, summed by authority, pilot, school, kind and month: from the
    /// monthly roll-up when the period is whole months, else from every activity (`sessions` 1).
    /// Columns: la_id, pilot_id, school_id, kind, phase, date, sessions, minutes, the attendance
    /// columns, and minutes_<audience> (duration x attendees).
    static func activitySource(wholeMonths: Bool) -> String {
        if wholeMonths {
            return "SELECT m.*, m.month AS date FROM research.activity_months m WHERE m.month BETWEEN $1 AND $2"
        }
        let minutes = AttendanceCell.audiences.map { audience in
            "a.duration_minutes * (" + AttendanceCell.all.filter { $0.audience == audience }.map { "a.\($0.column)" }.joined(separator: " + ")
                + ") AS minutes_\(audience)"
        }.joined(separator: ", ")
        return """
            SELECT a.la_id, a.pilot_id, a.school_id, a.kind, a.phase, a.date, 1 AS sessions, a.duration_minutes AS minutes,
                   \(AttendanceCell.all.map { "a.\($0.column)" }.joined(separator: ", ")), \(minutes)
            FROM research.activities a WHERE a.date BETWEEN $1 AND $2
            """
    }

    /// Sums each attendance column per scope (for some rows only), then turns the sums into rows
    /// (scope, audience, subgroup, n).
    static func attendanceCells(where condition: String = "true", audiences: [String]? = nil) -> String {
        let cells = AttendanceCell.all.filter { audiences?.contains($0.audience) ?? true }
        let sums = cells.map { "sum(\($0.column)) FILTER (WHERE \(condition)) AS \($0.column)" }.joined(separator: ", ")
        let values = cells.map { "('\($0.audience)', '\($0.subgroup)', sums.\($0.column))" }.joined(separator: ", ")
        return """
            sums AS (SELECT scope, \(sums) FROM s GROUP BY scope),
            cells AS (SELECT sums.scope, u.audience, u.subgroup, coalesce(u.n, 0) AS n
                      FROM sums CROSS JOIN LATERAL (VALUES \(values)) AS u(audience, subgroup, n))
            """
    }
}
