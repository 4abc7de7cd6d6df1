import Foundation
import ReachCalendar
import ReachDomain
import ReachPostgres
import Synchronization

/// Computes the metrics from the `research` views (the same views researchers query), so
/// every figure can be reproduced in SQL. Each metric's definition and SQL is a file of its own
/// in `Definitions/`; the statements' parameters are those of ``MetricSQL``.
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
                let parts = parts(metric, next)
                guard let timeScope else {
                    jobs += parts
                    continue
                }
                let label = query.period.label
                jobs += parts.map { part in
                    { connection in
                        try part(connection).map {
                            var row = $0
                            row.scope = timeScope
                            row.period = label
                            return row
                        }
                    }
                }
            }
        }
        return jobs
    }

    /// Whether a metric has figures for the query's cut (facts without a pilot have none by pilot).
    static func appliesToPilots(_ metric: Metric, _ query: MetricQuery) -> Bool {
        metric.about.belongsToPilots || !(query.filtersByPilot || query.by?.needsPilot == true)
    }

    /// The independent parts of one metric's figures for one period.
    func parts(_ metric: Metric, _ query: MetricQuery) -> [Job] {
        guard Self.appliesToPilots(metric, query) else {
            // Referrals and locations belong to an authority, not to a pilot.
            let label = query.period.label
            let none = Observation(
                metric: metric.rawValue, period: label, scope: query.by.map { "\($0.rawValue):*" } ?? "all",
                dimension: "total", category: "total", statistic: metric.rawValue, value: nil, symbol: "z", sensitivity: .other)
            return [{ _ in [none] }]
        }
        switch metric.about.figures {
        case .parts(let parts):
            return parts(self, query)
        case .statement(let statement):
            let sql = statement(query.by, query.period.isWholeMonths)
            return [{ [self] connection in try observations(metric, sql, query, on: connection) }]
        }
    }

    /// One metric's figures for one period, its parts run in turn on one connection.
    func compute(_ metric: Metric, _ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        try parts(metric, query).flatMap { try $0(connection) }
    }

    /// The rows of a metric's statement as observations, in a stable order; a headline of 0
    /// when nothing happened.
    private func observations(_ metric: Metric, _ sql: String, _ query: MetricQuery, on connection: Connection) throws -> [Observation] {
        let label = query.period.label
        let result = try run(sql, parameters(query), on: connection)
        // A seventh column, where a metric has one, is the base of a derived figure.
        let hasBase = result.columnCount > 6
        let rows = try result.mapRows { row in
            Observation(
                metric: metric.rawValue, period: label, scope: try row.decode(0), dimension: try row.decode(1),
                category: try row.decode(2), statistic: try row.decode(3), value: try row.decodeIfPresent(4),
                sensitivity: Sensitivity(rawValue: try row.decode(5)) ?? .other,
                base: hasBase ? try row.decodeIfPresent(6, as: Int.self) : nil)
        }
        if rows.isEmpty && (query.by == nil || query.by?.isTime == true), let headline = metric.about.headline {
            return [
                Observation(
                    metric: metric.rawValue, period: label, scope: query.by.map { "\($0.rawValue):\(label)" } ?? "all", dimension: "total",
                    category: "total",
                    statistic: headline.statistic, value: 0, sensitivity: headline.sensitivity)
            ]
        }
        return rows.sorted {
            ($0.scope, $0.dimension == "total" ? "" : $0.dimension, $0.category, $0.statistic) < (
                $1.scope, $1.dimension == "total" ? "" : $1.dimension, $1.category, $1.statistic
            )
        }
    }

    func parameters(_ query: MetricQuery) -> [any PostgresEncodable] {
        [
            query.period.start, query.period.end, query.la, query.region, query.pilot, query.project,
            query.objective.map { Int32($0) }, query.policyGoal.map { Int32($0) },
        ]
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
            let next = CalendarDate(
                year: piece.end.month == 12 ? piece.end.year + 1 : piece.end.year,
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
        let p = Double(x) / Double(n)
        let nn = Double(n)
        let z2 = z * z
        let centre = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot() / (1 + z2 / nn)
        return (centre - half, centre + half)
    }

    /// p1 - p2 with its 95% interval, for p1 = x1/n1 and p2 = x2/n2.
    public static func difference(x1: Int, n1: Int, x2: Int, n2: Int) -> (difference: Double, lower: Double, upper: Double)? {
        guard let w1 = wilson(x: x1, n: n1), let w2 = wilson(x: x2, n: n2) else { return nil }
        let p1 = Double(x1) / Double(n1)
        let p2 = Double(x2) / Double(n2)
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
