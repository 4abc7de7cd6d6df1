import Foundation
import ReachDomain
import ReachPostgres
import Synchronization

/// Computes the metrics from the `research` views (the same views researchers query), so
/// every figure can be reproduced in SQL. Each metric's SQL is below under its name.
///
/// Every query takes the same parameters: `$1` and `$2` the period's first and last dates,
/// then the filters `$3` authority, `$4` region, `$5` pilot, `$6` strategy project,
/// `$7` objective, `$8` policy goal (NULL when not filtered).
public struct MetricsCalculator: Sendable {
    /// The schema of the views read: `research` (every authority), or `authority` for a local
    /// authority's login (the same views, limited to its own rows by the server).
    public var schema: String

    public init(schema: String = "research") {
        self.schema = schema
    }

    /// Runs one of the metrics' statements on the views of ``schema``.
    func run(_ sql: String, _ parameters: [any PostgresEncodable], on connection: Connection) throws -> QueryResult {
        try connection.query(schema == "research" ? sql : sql.replacingOccurrences(of: "research.", with: "\(schema)."), parameters)
    }

    /// Computes the query's metrics, one observation per row, without disclosure control.
    public func compute(_ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        try jobs(query).flatMap { try $0(connection) }
    }

    /// The same as ``compute(_:on:)``, with the query's independent parts shared out among
    /// `connections` (one thread each), so the server answers them side by side.
    public func compute(_ query: MetricQuery, on connections: [Connection]) throws -> [Observation] {
        let jobs = jobs(query)
        guard connections.count > 1, jobs.count > 1 else { return try jobs.flatMap { try $0(connections[0]) } }
        let state = SharedJobs(count: jobs.count)
        // Each worker uses only its own connection.
        let workers = UncheckedConnections(connections)
        DispatchQueue.concurrentPerform(iterations: min(connections.count, jobs.count)) { worker in
            let connection = workers.connections[worker]
            while let index = state.next() {
                do { state.finish(index, try jobs[index](connection)) } catch { state.fail(error) }
            }
        }
        return try state.results()
    }

    /// One part of a computation: a query or a few, on one connection.
    typealias Job = @Sendable (Connection) throws -> [Observation]

    /// The parts of a computation, in the order their observations are reported.
    func jobs(_ query: MetricQuery) -> [Job] {
        var jobs: [Job] = []
        let periods: [(scope: String?, period: Period)]
        if let by = query.by, by.isTime {
            periods = Self.split(query.period, by: by).map { ("\(by.rawValue):\($0.label)", $0) }
        } else {
            periods = [(nil, query.period)]
        }
        for metric in query.metrics {
            for (timeScope, period) in periods {
                var next = query
                next.period = period
                let sub = next
                let parts: [Job] = metric == .strategyProgress && Self.appliesToPilots(metric, sub)
                    ? strategyProgressJobs(sub)
                    : [{ [self] connection in try compute(metric, sub, on: connection) }]
                guard let timeScope else { jobs += parts; continue }
                let label = query.period.label
                jobs += parts.map { part in
                    { connection in try part(connection).map { var row = $0; row.scope = timeScope; row.period = label; return row } }
                }
            }
        }
        return jobs
    }

    /// Whether a metric has figures for the query's cut (facts without a pilot have none by pilot).
    static func appliesToPilots(_ metric: Metric, _ query: MetricQuery) -> Bool {
        metric.hasPilot || !(query.filtersByPilot || query.by?.needsPilot == true)
    }

    private func compute(_ metric: Metric, _ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        let label = query.period.label
        if !Self.appliesToPilots(metric, query) {
            // Referrals and locations belong to an authority, not to a pilot.
            return [Observation(metric: metric.rawValue, period: label, scope: query.by.map { "\($0.rawValue):*" } ?? "all",
                                dimension: "total", category: "total", statistic: metric.rawValue, value: nil, symbol: "z", sensitivity: .other)]
        }
        if metric == .strategyProgress { return try strategyProgress(query, on: connection) }
        if metric == .surveyChange { return try surveyChange(query, on: connection) }
        let sql = Self.sql(metric, by: query.by, wholeMonths: query.period.isWholeMonths)
        let result = try run(sql, parameters(query), on: connection)
        // A seventh column, where a metric has one, is the base of a derived figure.
        let hasBase = result.columnCount > 6
        let rows = try result.mapRows { row in
            Observation(metric: metric.rawValue, period: label, scope: try row.decode(0), dimension: try row.decode(1),
                        category: try row.decode(2), statistic: try row.decode(3), value: try row.decodeIfPresent(4),
                        sensitivity: Sensitivity(rawValue: try row.decode(5)) ?? .other,
                        base: hasBase ? try row.decodeIfPresent(6, as: Int.self) : nil)
        }
        if rows.isEmpty && (query.by == nil || query.by?.isTime == true), let headline = Self.headline[metric] {
            return [Observation(metric: metric.rawValue, period: label, scope: query.by.map { "\($0.rawValue):\(label)" } ?? "all", dimension: "total", category: "total",
                                statistic: headline.statistic, value: 0, sensitivity: headline.sensitivity)]
        }
        return rows.sorted { ($0.scope, $0.dimension == "total" ? "" : $0.dimension, $0.category, $0.statistic) < ($1.scope, $1.dimension == "total" ? "" : $1.dimension, $1.category, $1.statistic) }
    }

    /// The statistic a metric reports as 0 when nothing happened.
    static let headline: [Metric: (statistic: String, sensitivity: Sensitivity)] = [
        .authoritiesActive: ("authorities", .count), .schoolsEngaged: ("schools", .count), .sessions: ("sessions", .count),
        .attendances: ("attendances", .children), .staffTrained: ("staff_attendances", .count), .learnerHours: ("hours", .other),
        .partnersInvolved: ("partners", .count), .pilotProgress: ("implementing_or_beyond", .count),
        .contextPathways: ("referrals", .children), .locationsOfConcern: ("open", .count),
    ]

    func parameters(_ query: MetricQuery) -> [any PostgresEncodable] {
        [query.period.start, query.period.end, query.la, query.region, query.pilot, query.project,
         query.objective.map { Int32($0) }, query.policyGoal.map { Int32($0) }]
    }

    // MARK: Scopes

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
        let pilotFilter = pilot ? """
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
            "a.duration_minutes * (" + AttendanceCell.all.filter { $0.audience == audience }.map { "a.\($0.column)" }.joined(separator: " + ") + ") AS minutes_\(audience)"
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

    // MARK: The metrics' SQL

    /// Each returns (scope, dimension, category, statistic, value, sensitivity).
    static func sql(_ metric: Metric, by: ScopeDimension?, wholeMonths: Bool = false) -> String {
        let activitiesInPeriod = activitySource(wholeMonths: wholeMonths)
        switch metric {
        case .authoritiesActive:
            // Distinct authorities with at least one activity in the period.
            return """
                WITH s AS (\(scoped(activitiesInPeriod, pilot: true, by: by)))
                SELECT scope, 'total', 'total', 'authorities', count(DISTINCT la_id)::float8, 'count' FROM s GROUP BY scope
                """
        case .schoolsEngaged:
            // Distinct schools with at least one activity at the school in the period.
            return """
                WITH s AS (\(scoped(activitiesInPeriod, pilot: true, by: by)))
                SELECT scope, 'total', 'total', 'schools', count(DISTINCT school_id)::float8, 'count' FROM s GROUP BY scope
                UNION ALL
                SELECT s.scope, 'phase', sc.phase, 'schools', count(DISTINCT s.school_id)::float8, 'count'
                FROM s JOIN research.schools sc ON sc.school_id = s.school_id GROUP BY s.scope, sc.phase
                """
        case .sessions:
            // Activities, in total, by phase and by kind.
            return """
                WITH s AS (\(scoped(activitiesInPeriod, pilot: true, by: by)))
                SELECT scope, 'total', 'total', 'sessions', sum(sessions)::float8, 'count' FROM s GROUP BY scope
                UNION ALL SELECT scope, 'phase', phase, 'sessions', sum(sessions)::float8, 'count' FROM s GROUP BY scope, phase
                UNION ALL SELECT scope, 'kind', kind, 'sessions', sum(sessions)::float8, 'count' FROM s GROUP BY scope, kind
                """
        case .attendances:
            // Summed attendance counts (contacts, not people): in total, by audience, and by
            // each audience's sub-groups (key stage, role, agency). Pupils' counts are children's,
            // and so is the total that holds them (a total of staff alone is not).
            return """
                WITH s AS (\(scoped(activitiesInPeriod, pilot: true, by: by))), \(attendanceCells())
                SELECT scope, 'total', 'total', 'attendances', sum(n)::float8,
                       CASE WHEN sum(n) FILTER (WHERE audience = 'pupils') > 0 THEN 'children' ELSE 'count' END FROM cells GROUP BY scope
                UNION ALL
                SELECT scope, 'audience', audience, 'attendances', sum(n)::float8,
                       CASE WHEN audience = 'pupils' THEN 'children' ELSE 'count' END FROM cells GROUP BY scope, audience HAVING sum(n) > 0
                UNION ALL
                SELECT scope, audience, subgroup, 'attendances', n::float8, CASE WHEN audience = 'pupils' THEN 'children' ELSE 'count' END
                FROM cells WHERE audience <> 'parents_carers' AND n > 0
                """
        case .staffTrained:
            // Staff attendances at staff_training, in total and by role.
            return """
                WITH s AS (\(scoped(activitiesInPeriod, pilot: true, by: by))),
                \(attendanceCells(where: "kind = 'staff_training'", audiences: ["staff"]))
                SELECT scope, 'total', 'total', 'staff_attendances', sum(n)::float8, 'count' FROM cells GROUP BY scope HAVING sum(n) > 0
                UNION ALL
                SELECT scope, 'role', subgroup, 'staff_attendances', n::float8, 'count' FROM cells WHERE n > 0
                """
        case .learnerHours:
            // Duration x attendees, in hours: in total and by audience. Hours of pupils (and the
            // total, which holds them) are derived from the count of pupils, their base.
            let audiences = AttendanceCell.audiences
            let pupils = AttendanceCell.all.filter { $0.audience == "pupils" }.map { "coalesce(\($0.column), 0)" }.joined(separator: " + ")
            return """
                WITH s AS (\(scoped(activitiesInPeriod, pilot: true, by: by))),
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
        case .partnersInvolved:
            // Distinct partner organisations that delivered activities or interventions in the period.
            let fact = (wholeMonths
                ? "SELECT m.la_id, m.pilot_id, m.month AS date, m.partner_id FROM research.activity_partner_months m WHERE m.month BETWEEN $1 AND $2"
                : """
                    SELECT a.la_id, a.pilot_id, a.date, x.partner_id FROM research.activities a, unnest(a.partners) AS x(partner_id)
                    WHERE a.date BETWEEN $1 AND $2
                    """) + """

                UNION ALL
                SELECT i.la_id, NULL, i.started_on, x.partner_id FROM research.interventions i, unnest(i.partners) AS x(partner_id)
                WHERE i.started_on BETWEEN $1 AND $2
                """
            return """
                WITH s AS (\(scoped(fact, pilot: true, by: by)))
                SELECT scope, 'total', 'total', 'partners', count(DISTINCT partner_id)::float8, 'count' FROM s GROUP BY scope
                UNION ALL
                SELECT s.scope, 'kind', pa.kind, 'partners', count(DISTINCT s.partner_id)::float8, 'count'
                FROM s JOIN research.partners pa ON pa.partner_id = s.partner_id GROUP BY s.scope, pa.kind
                """
        case .pilotProgress:
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
                WITH s AS (\(scoped(stages, pilot: true, by: by))),
                     t AS (\(scoped(targets, pilot: true, by: by))),
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
        case .contextPathways:
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
                WITH r AS (\(scoped(referrals, pilot: false, by: by))),
                     d AS (\(scoped(decisions, pilot: false, by: by))),
                     a AS (\(scoped(actions, pilot: false, by: by))),
                     v AS (\(scoped(reviews, pilot: false, by: by))),
                     o AS (\(scoped(outcomes, pilot: false, by: by)))
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
        case .locationsOfConcern:
            // Locations open on the period's last day, closed in the period (and the median days
            // they were open), and interventions started in the period by kind.
            let locations = """
                SELECT lo.la_id, lo.location_id, lo.identified_on, c.closed_on
                FROM research.locations lo
                LEFT JOIN LATERAL (SELECT min(x.closed_on) AS closed_on FROM research.location_closures x WHERE x.location_id = lo.location_id) c ON true
                WHERE lo.identified_on <= $2
                """
            let interventions = "SELECT i.la_id, i.kind FROM research.interventions i WHERE i.started_on BETWEEN $1 AND $2"
            return """
                WITH s AS (\(scoped(locations, pilot: false, by: by))),
                     i AS (\(scoped(interventions, pilot: false, by: by)))
                SELECT scope, 'total', 'total', 'open', count(*) FILTER (WHERE closed_on IS NULL OR closed_on > $2)::float8, 'count' FROM s GROUP BY scope
                UNION ALL SELECT scope, 'total', 'total', 'closed', count(*) FILTER (WHERE closed_on BETWEEN $1 AND $2)::float8, 'count' FROM s GROUP BY scope
                UNION ALL SELECT scope, 'total', 'total', 'median_days_open',
                                 percentile_cont(0.5) WITHIN GROUP (ORDER BY closed_on - identified_on) FILTER (WHERE closed_on BETWEEN $1 AND $2)::float8, 'other'
                          FROM s GROUP BY scope
                UNION ALL SELECT scope, 'interventions', kind, 'interventions', count(*)::float8, 'count' FROM i GROUP BY scope, kind
                """
        case .surveyChange, .strategyProgress:
            preconditionFailure("survey_change and strategy_progress are computed by their own functions below")
        }
    }

    // MARK: survey_change

    /// Per respondent group and measure: the pooled share agreeing at baseline and at the
    /// latest follow-up, the difference in percentage points with Newcombe's 95% interval, and
    /// both sample sizes. A survey unit is a pilot's school (or the pilot, for surveys not at
    /// one school) and a respondent group; it counts when its latest follow-up wave is dated in
    /// the period and it has a baseline wave before it, so both shares come from the same units.
    func surveyChange(_ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        let pairs = """
            SELECT fu.la_id, fu.pilot_id, fu.school_id, fu.respondent_group, fm.measure,
                   bm.agreeing AS base_agreeing, bm.answering AS base_answering, fm.agreeing AS follow_agreeing, fm.answering AS follow_answering
            FROM (SELECT DISTINCT ON (w.pilot_id, coalesce(w.school_id, ''), w.respondent_group) w.*
                  FROM research.survey_waves w WHERE w.wave_number > 0 AND w.date BETWEEN $1 AND $2
                  ORDER BY w.pilot_id, coalesce(w.school_id, ''), w.respondent_group, w.wave_number DESC, w.date DESC) fu
            JOIN LATERAL (SELECT b.wave_event_id FROM research.survey_waves b
                          WHERE b.pilot_id = fu.pilot_id AND coalesce(b.school_id, '') = coalesce(fu.school_id, '')
                            AND b.respondent_group = fu.respondent_group AND b.wave_number = 0 AND b.date <= fu.date
                          ORDER BY b.date DESC LIMIT 1) bl ON true
            JOIN research.survey_measures fm ON fm.wave_event_id = fu.wave_event_id
            JOIN research.survey_measures bm ON bm.wave_event_id = bl.wave_event_id AND bm.measure = fm.measure
            """
        let sql = """
            WITH s AS (\(Self.scoped(pairs, pilot: true, by: query.by)))
            SELECT scope, respondent_group || '/' || measure, sum(base_agreeing)::int8, sum(base_answering)::int8,
                   sum(follow_agreeing)::int8, sum(follow_answering)::int8, count(DISTINCT school_id)::int8
            FROM s GROUP BY scope, respondent_group, measure ORDER BY 1, 2
            """
        let label = query.period.label
        var out: [Observation] = []
        for row in try run(sql, parameters(query), on: connection).mapRows({ row in
            (try row.decode(0, as: String.self), try row.decode(1, as: String.self), try row.decode(2, as: Int.self),
             try row.decode(3, as: Int.self), try row.decode(4, as: Int.self), try row.decode(5, as: Int.self), try row.decode(6, as: Int.self))
        }) {
            let (scope, category, x0, n0, x1, n1, schools) = row
            func add(_ statistic: String, _ value: Double?, _ sensitivity: Sensitivity, base: Int?) {
                out.append(Observation(metric: Metric.surveyChange.rawValue, period: label, scope: scope, dimension: "measure",
                                       category: category, statistic: statistic, value: value, sensitivity: sensitivity,
                                       base: base, schools: schools))
            }
            let baseline = n0 > 0 ? Double(x0) / Double(n0) : nil
            let followUp = n1 > 0 ? Double(x1) / Double(n1) : nil
            let interval = Newcombe.difference(x1: x1, n1: n1, x2: x0, n2: n0)
            func percent(_ p: Double?) -> Double? { p.map { ($0 * 1000).rounded() / 10 } }
            add("baseline_percent", percent(baseline), .share, base: n0)
            add("follow_up_percent", percent(followUp), .share, base: n1)
            add("difference_pp", percent(interval?.difference), .share, base: min(n0, n1))
            add("difference_low_pp", percent(interval?.lower), .share, base: min(n0, n1))
            add("difference_high_pp", percent(interval?.upper), .share, base: min(n0, n1))
            // How many pupils answered is a count of young people.
            let answering: Sensitivity = category.hasPrefix("\(RespondentGroup.pupils.rawValue)/") ? .children : .count
            add("baseline_answering", Double(n0), answering, base: nil)
            add("follow_up_answering", Double(n1), answering, base: nil)
            add("schools", Double(schools), .count, base: nil)
        }
        return out
    }

    // MARK: strategy_progress

    /// The headline figures per strategy project, objective and policy goal, for each academic
    /// year of the 2024-2029 strategy that overlaps the period.
    func strategyProgress(_ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        try strategyProgressJobs(query).flatMap { try $0(connection) }
    }

    /// strategy_progress for each strategy year in the period: the activity figures of the
    /// three strategy cuts in one query, then partners and pilot progress per cut.
    func strategyProgressJobs(_ query: MetricQuery) -> [Job] {
        var jobs: [Job] = []
        let cuts: [ScopeDimension] = [.project, .objective, .policyGoal]
        @Sendable func observation(_ year: Period, _ scope: String, _ metric: Metric, _ statistic: String, _ value: Double?, _ sensitivity: Sensitivity) -> Observation {
            Observation(metric: Metric.strategyProgress.rawValue, period: year.label, scope: scope, dimension: metric.rawValue,
                        category: "total", statistic: statistic, value: value, sensitivity: sensitivity)
        }
        for year in Period.strategyYears where year.start <= query.period.end && year.end >= query.period.start {
            var sub = query
            sub.period = year
            let all = AttendanceCell.all.map(\.column).joined(separator: " + ")
            let staff = AttendanceCell.all.filter { $0.audience == "staff" }.map(\.column).joined(separator: " + ")
            let minutes = AttendanceCell.audiences.map { "minutes_\($0)" }.joined(separator: " + ")
            let source = Self.activitySource(wholeMonths: year.isWholeMonths)
            // The activities are summed by pilot and school once, then each sum counts towards
            // its pilot's project, objectives and policy goals.
            let sql = """
                WITH f AS (SELECT pilot_id, school_id, sum(sessions) AS sessions, sum(\(all)) AS attendances,
                                  sum(\(staff)) FILTER (WHERE kind = 'staff_training') AS staff, sum(\(minutes)) AS minutes
                           FROM (\(Self.scoped(source, pilot: true, by: nil))) s GROUP BY pilot_id, school_id)
                SELECT c.scope, count(DISTINCT f.school_id)::float8, sum(f.sessions)::float8, coalesce(sum(f.attendances), 0)::float8,
                       coalesce(sum(f.staff), 0)::float8, round(coalesce(sum(f.minutes), 0)::numeric / 60, 1)::float8
                FROM f JOIN research.pilots p ON p.pilot_id = f.pilot_id
                CROSS JOIN LATERAL (SELECT 'project:' || p.strategy_project
                                    UNION ALL SELECT 'objective:' || o FROM unnest(p.objectives) AS o
                                    UNION ALL SELECT 'policy_goal:' || g FROM unnest(p.policy_goals) AS g) AS c(scope)
                GROUP BY c.scope ORDER BY c.scope
                """
            let parameters = parameters(sub)
            jobs.append { [self] connection in
                var out: [Observation] = []
                for row in try run(sql, parameters, on: connection).mapRows({ row in
                    (try row.decode(0, as: String.self), try row.decode(1, as: Double.self), try row.decode(2, as: Double.self),
                     try row.decode(3, as: Double.self), try row.decode(4, as: Double.self), try row.decode(5, as: Double.self))
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
                for (metric, statistics) in [(Metric.partnersInvolved, ["partners"]), (.pilotProgress, ["implementing_or_beyond", "target_schools"])] {
                    jobs.append { [self] connection in
                        try compute(metric, byCut, on: connection)
                            .filter { $0.dimension == "total" && statistics.contains($0.statistic) }
                            .map { observation(year, $0.scope, metric, $0.statistic, $0.value, $0.sensitivity) }
                    }
                }
            }
        }
        return jobs
    }

    // MARK: Periods

    /// The sub-periods of `period` for a cut by time, clipped to it.
    public static func split(_ period: Period, by: ScopeDimension) -> [Period] {
        var out: [Period] = []
        var cursor = period.start
        while cursor <= period.end {
            let piece: Period
            switch by {
            case .academicYear:
                piece = Period.academicYear(cursor.month >= 9 ? cursor.year : cursor.year - 1)
            case .financialYear:
                piece = Period.financialYear(cursor.month >= 4 ? cursor.year : cursor.year - 1)
            case .quarter:
                piece = Period.quarter(cursor.year, (cursor.month - 1) / 3 + 1)
            default:
                piece = Period.month(cursor.year, cursor.month)
            }
            out.append(Period(label: piece.label, start: max(piece.start, period.start), end: min(piece.end, period.end)))
            let next = PostgresDate(year: piece.end.month == 12 ? piece.end.year + 1 : piece.end.year,
                                    month: piece.end.month == 12 ? 1 : piece.end.month + 1, day: 1)
            cursor = next
        }
        return out
    }
}

/// Newcombe's hybrid score interval for a difference of two independent proportions
/// (Newcombe 1998, method 10), from Wilson score intervals for each proportion.
public enum Newcombe {
    /// The Wilson score interval for x successes out of n.
    public static func wilson(x: Int, n: Int, z: Double = 1.959963984540054) -> (lower: Double, upper: Double)? {
        guard n > 0 else { return nil }
        let p = Double(x) / Double(n), nn = Double(n), z2 = z * z
        let centre = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot() / (1 + z2 / nn)
        return (centre - half, centre + half)
    }

    /// p1 - p2 with its 95% interval, for p1 = x1/n1 and p2 = x2/n2.
    public static func difference(x1: Int, n1: Int, x2: Int, n2: Int) -> (difference: Double, lower: Double, upper: Double)? {
        guard let w1 = wilson(x: x1, n: n1), let w2 = wilson(x: x2, n: n2) else { return nil }
        let p1 = Double(x1) / Double(n1), p2 = Double(x2) / Double(n2)
        let d = p1 - p2
        let lower = d - ((p1 - w1.lower) * (p1 - w1.lower) + (w2.upper - p2) * (w2.upper - p2)).squareRoot()
        let upper = d + ((w1.upper - p1) * (w1.upper - p1) + (p2 - w2.lower) * (p2 - w2.lower)).squareRoot()
        return (d, lower, upper)
    }
}

/// Connections handed to worker threads, one each.
/// The connections of one computation, handed to its workers. `@unchecked`: a `Connection` is
/// not `Sendable` (it must not be used from two threads at once), and worker `n` uses only
/// connection `n`, from its own thread, while the caller waits for every worker to end.
private struct UncheckedConnections: @unchecked Sendable {
    let connections: [Connection]
    init(_ connections: [Connection]) { self.connections = connections }
}

/// The jobs of one computation shared among worker threads: each takes the next job, and
/// the results are kept in job order.
private final class SharedJobs: Sendable {
    private struct State {
        var taken = 0
        var done: [[Observation]?]
        var failure: (any Error)?
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(done: Array(repeating: nil, count: count))) }

    func next() -> Int? {
        state.withLock { state in
            guard state.failure == nil, state.taken < state.done.count else { return nil }
            state.taken += 1
            return state.taken - 1
        }
    }

    func finish(_ index: Int, _ rows: [Observation]) { state.withLock { $0.done[index] = rows } }

    func fail(_ error: any Error) { state.withLock { if $0.failure == nil { $0.failure = error } } }

    func results() throws -> [Observation] {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            return state.done.flatMap { $0 ?? [] }
        }
    }
}
