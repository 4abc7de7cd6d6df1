import ArgumentParser
import Foundation
import Logging
import ReachApp
import ReachCommandLine
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachProjections
import Synchronization

/// `reach bench projections`: rebuild rate, live lag and metric query times.
struct ProjectionBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Benchmark the projections: full rebuild rate, live lag under steady appends, and metric query times.",
        discussion: """
            By default loads the demo data set with --events events into a scratch database (its \
            bulk-append rate is the baseline printed beside the rebuild rate), then measures there. \
            With --existing, measures the rebuild and the queries on the configured database as it \
            is (load it first with reach demo --events N) and takes the bulk-append baseline from \
            loading --baseline-events demo events into a scratch database. The live-lag phase always \
            runs in a scratch database, so the configured one never gets benchmark events.
              swift build -c release && .build/release/reach bench projections --events 1000000
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Demo events to load into the scratch database.")
    var events = 1_000_000
    @Flag(help: "Measure the rebuild and queries on the configured database's existing data.")
    var existing = false
    @Option(help: "With --existing: demo events bulk-appended into a scratch database for the baseline rate.")
    var baselineEvents = 200_000
    @Option(help: "Seconds of steady appends for the live-lag phase.")
    var lagSeconds = 20
    @Option(help: "Appends per second in the live-lag phase (default: half the 8-client append capacity measured first).")
    var rate: Int?
    @Option(help: "Times each metric query is run (after warming up).")
    var repetitions = 30
    @Flag(help: "With --existing: only the metric queries (no rebuild, no live-lag phase).")
    var queriesOnly = false

    func validate() throws {
        if queriesOnly && !existing { throw ValidationError("--queries-only goes with --existing") }
    }

    func run() async throws {
        let logger = makeLogger()
        let target = try await database.target(logger: logger)
        // Blocking work (libpq) runs on threads of its own, off the cooperative pool; the live
        // phase's appenders, monitor and runner are tasks of one group.
        try await onThreadOfItsOwn(name: "reach.bench", async: { try await measure(target, logger: logger) })
    }

    func measure(_ target: DatabaseTarget, logger: Logger) async throws {
        let admin = try Connection(configuration: target.owner, logger: logger)
        var scratchNames: [String] = []
        defer { for name in scratchNames { try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") } }
        func scratch() throws -> ConnectionConfiguration {
            let name = "reach_bench_projections_\(getpid())_\(scratchNames.count)"
            try admin.executeScript("CREATE DATABASE \(name)")
            scratchNames.append(name)
            let configuration = target.owner.overriding(["dbname": name])
            _ = try Schema.migrator(logger: logger).migrate(on: try Connection(configuration: configuration, logger: logger))
            return configuration
        }
        func load(_ count: Int, into configuration: ConnectionConfiguration) throws -> (events: Int, seconds: Double) {
            let connection = try Connection(configuration: configuration, logger: logger)
            let start = ContinuousClock.now
            let summary = try DemoLoader(generator: DemoGenerator(seed: 1, events: count)).load(on: connection)
            return (summary.appended, seconds(since: start))
        }

        // The data, and the bulk-append baseline of this run.
        let measured: ConnectionConfiguration
        let baseline: (events: Int, seconds: Double)
        if existing {
            measured = target.owner
            baseline = queriesOnly ? (0, 1) : try load(baselineEvents, into: try scratch())
        } else {
            measured = try scratch()
            baseline = try load(events, into: measured)
        }
        let connection = try Connection(configuration: measured, logger: logger)
        let logEvents = try EventLog.size(on: connection).events
        let bulkRate = Double(baseline.events) / baseline.seconds
        emit(try connection.query("SELECT version()").decode(String.self, row: 0, column: 0))
        emit("log: \(logEvents) events\(existing ? " (existing)" : " (demo, seed 1)"); \(ProcessInfo.processInfo.activeProcessorCount) cores")
        if !queriesOnly {
            emit(String(format: "bulk append (demo load, %d events):           %8.0f events/s   baseline", baseline.events, bulkRate))
        }

        // 1. A full rebuild of every projection.
        let engine = ProjectionEngine(logger: logger)
        try engine.install(on: connection)
        if !queriesOnly {
            try await rebuildAll(engine, measured, logEvents: logEvents, bulkRate: bulkRate, logger: logger)
            // 2. Live lag under steady appends, in a scratch database with the demo's default data,
            // at half the append capacity of 8 clients measured there first.
            let lagDatabase = try scratch()
            _ = try load(100_000, into: lagDatabase)
            try await liveLagPhase(lagDatabase, logger: logger)
        }

        // 3. Metric queries.
        try metricQueries(measured, on: connection, logger: logger)
    }

    /// A full rebuild of every projection, one per core at once, against the bulk append.
    func rebuildAll(
        _ engine: ProjectionEngine, _ measured: ConnectionConfiguration, logEvents: Int, bulkRate: Double, logger: Logger
    ) async throws {
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let rebuildStart = ContinuousClock.now
        try await engine.rebuild(Projection.all, workers: workers, configuration: measured) { projection, took in
            emit("  rebuild " + pad(projection.name, 11) + String(format: " %7.2f s", took))
        }
        let rebuildSeconds = seconds(since: rebuildStart)
        let rebuildRate = Double(logEvents) / rebuildSeconds
        emit(
            String(
                format: "full rebuild of all projections (%d at once):    %8.0f events/s   %.2fx bulk append   %.1f s   target >= 1.20x  %@",
                workers, rebuildRate, rebuildRate / bulkRate, rebuildSeconds, rebuildRate >= 1.2 * bulkRate ? "ok" : "MISSED"))

    }

    /// Live lag under steady appends at half the capacity of 8 clients (or `--rate`), second
    /// by second.
    func liveLagPhase(_ lagDatabase: ConnectionConfiguration, logger: Logger) async throws {
        let capacity = try await appendCapacity(lagDatabase, clients: 8, logger: logger)
        let steady = rate ?? max(1, Int(capacity / 2))
        emit(
            String(
                format: "append capacity, 8 clients, 1 event/txn:         %8.0f events/s   the live phase appends at %d/s (%@)",
                capacity, steady, rate == nil ? "half of it" : "--rate"))
        let samples = try await liveLag(lagDatabase, rate: steady, logger: logger)
        let lags = samples.map(\.lag)
        emit(
            String(
                format: "live lag at %d appends/s for %d s (%d events):  p50 %.0f ms   p95 %.0f ms   max %.0f ms   target p95 < 1,000 ms  %@",
                steady, lagSeconds, lags.count, percentile(lags, 0.5) * 1000, percentile(lags, 0.95) * 1000, (lags.max() ?? 0) * 1000,
                percentile(lags, 0.95) < 1 ? "ok" : "MISSED"))
        // Over time, second by second of the appends: a runner falling behind shows as a rising line.
        let bySecond = Dictionary(grouping: samples, by: { Int($0.at) })
        let scale = max(0.001, lags.max() ?? 0)
        for second in bySecond.keys.sorted() {
            let these = bySecond[second]!.map(\.lag)
            let p95 = percentile(these, 0.95)
            emit(
                String(
                    format: "  second %3d  %5d events  p50 %5.0f ms  p95 %5.0f ms  max %5.0f ms  ", second, these.count,
                    percentile(these, 0.5) * 1000, p95 * 1000, (these.max() ?? 0) * 1000)
                    + String(repeating: "#", count: max(1, Int(p95 / scale * 40))))
        }
    }

    /// Metric queries for the authority with the most activities, one academic year: each
    /// metric alone, then every metric as `reach metrics` runs them.
    func metricQueries(_ measured: ConnectionConfiguration, on connection: Connection, logger: Logger) throws {
        // Once the loads above have been vacuumed: background maintenance would share the cores.
        if !queriesOnly {
            try EventLog.analyze(on: connection)
            let settleStart = ContinuousClock.now
            while seconds(since: settleStart) < 300,
                try connection.query("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").decode(
                    Int.self, row: 0, column: 0) > 0
            {
                usleep(500_000)
            }
        }
        let la: String = try connection.query("SELECT la_id FROM research.activities GROUP BY la_id ORDER BY count(*) DESC, la_id LIMIT 1").decode(
            row: 0, column: 0)
        let reader = try Connection(configuration: measured, logger: logger)
        try reader.executeScript(ReachApplication.metricsSessionSettings)
        let calculator = MetricsCalculator()
        let period = try Period.parse("2024/25").get()
        emit(
            "metric queries, --la \(la) --period 2024/25 (\(repetitions) runs each, strategy_progress \(min(repetitions, 5)), after 3 warm-up runs):")
        var everyMetric: [Double] = []
        var worst = 0.0
        for metric in Metric.allCases {
            let query = MetricQuery(period: period, la: la, metrics: [metric])
            var times: [Double] = []
            let runs = metric == .strategyProgress ? min(repetitions, 5) : repetitions
            for run in 0..<(runs + 3) {
                let start = ContinuousClock.now
                _ = try calculator.compute(query, on: reader)
                if run >= 3 { times.append(seconds(since: start)) }
            }
            worst = max(worst, percentile(times, 0.95))
            emit(
                "  " + pad(metric.rawValue, 22)
                    + String(format: " p50 %6.1f ms   p95 %6.1f ms", percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000))
        }
        // As `reach metrics` runs it: the query's parts shared among one connection per core.
        let all = MetricQuery(period: period, la: la)
        var readers = [reader]
        while readers.count < min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) {
            let more = try Connection(configuration: measured, logger: logger)
            try more.executeScript(ReachApplication.metricsSessionSettings)
            readers.append(more)
        }
        var oneConnection: [Double] = []
        for run in 0..<(repetitions + 3) {
            var start = ContinuousClock.now
            let sequential = try calculator.compute(all, on: reader)
            if run >= 3 { oneConnection.append(seconds(since: start)) }
            start = ContinuousClock.now
            let shared = try calculator.compute(all, on: readers)
            if run >= 3 { everyMetric.append(seconds(since: start)) }
            guard shared == sequential else { throw CommandError("the figures computed on \(readers.count) connections differ from those on one") }
        }
        emit(String(format: "slowest single metric p95 %.1f ms", worst * 1000))
        emit(
            String(
                format: "every metric at once on one connection: p50 %.1f ms   p95 %.1f ms",
                percentile(oneConnection, 0.5) * 1000, percentile(oneConnection, 0.95) * 1000))
        let p95 = percentile(everyMetric, 0.95)
        emit(
            String(
                format: "reach metrics --la %@ --period 2024/25 (every metric, %d connections): p50 %.1f ms   p95 %.1f ms   target p95 < 50 ms  %@",
                la, readers.count, percentile(everyMetric, 0.5) * 1000, p95 * 1000, p95 < 0.05 ? "ok" : "MISSED"))
    }

    static let lagData =
        #"{"pilot_id":"bench-pilot","la_id":"bench","school_id":"bench-1","kind":"assembly","date":"2025-03-04","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":30},"staff":{"teaching":2}}}"#

    /// Appends per second that `clients` connections reach, each appending one event per
    /// transaction for two seconds.
    func appendCapacity(_ configuration: ConnectionConfiguration, clients: Int, logger: Logger) async throws -> Double {
        let start = ContinuousClock.now
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in 0..<clients {
                group.addTask {
                    try await blocking {
                        let connection = try Connection(configuration: configuration, logger: logger)
                        var count = 0
                        while seconds(since: start) < 2 {
                            _ = try EventLog.append(
                                [NewEvent(streamID: "bench-capacity:\(client):\(count % 20)", type: "activity_delivered", data: Self.lagData)],
                                on: connection)
                            count += 1
                        }
                        return count
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(counts) / seconds(since: start)
    }

    /// Appends activities one per transaction at `rate` per second, from as many connections
    /// as that needs, while a runner follows (the service `reach projections run` runs); each
    /// event's lag is from its append returning to the activities projection's checkpoint
    /// covering it, with when it was appended (seconds from the start).
    func liveLag(_ configuration: ConnectionConfiguration, rate: Int, logger: Logger) async throws -> [(at: Double, lag: Double)] {
        let engine = ProjectionEngine(logger: logger)
        try await blocking {
            _ = try engine.waitUntilCaughtUp(timeout: .seconds(600), on: Connection(configuration: configuration, logger: logger))
        }
        let runner = ProjectionRunnerService(runner: ProjectionRunner(engine: engine, configuration: configuration, logger: logger))
        let total = rate * lagSeconds
        // One connection appends about 2,000 events a second here; a few more keep the pace.
        let writers = max(1, min(8, (rate + 999) / 1000))
        let limit = Double(lagSeconds) * 3 + 60
        let start = ContinuousClock.now
        // The last position appended, once every event is: the monitor then watches until the
        // projection covers it.
        final class Last: Sendable { let position = Atomic<Int64>(0) }
        let lastAppended = Last()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.run() }
            defer { group.cancelAll() }
            async let covered = blocking { () throws -> [(checkpoint: Int64, at: ContinuousClock.Instant)] in
                let monitor = try Connection(configuration: configuration, logger: logger)
                var covered: [(checkpoint: Int64, at: ContinuousClock.Instant)] = []
                while seconds(since: start) < limit {
                    let checkpoint: Int64 = try monitor.query("SELECT checkpoint FROM projections.state WHERE name = 'activities'", prepared: true)
                        .decode(row: 0, column: 0)
                    covered.append((checkpoint, ContinuousClock.now))
                    let last = lastAppended.position.load(ordering: .acquiring)
                    if last > 0 && checkpoint >= last { break }
                    Thread.sleep(forTimeInterval: 0.001)
                }
                return covered
            }
            let appended = try await withThrowingTaskGroup(of: [(position: Int64, at: ContinuousClock.Instant)].self) { writing in
                for writer in 0..<writers {
                    writing.addTask {
                        try await blocking {
                            let connection = try Connection(configuration: configuration, logger: logger)
                            var appended: [(position: Int64, at: ContinuousClock.Instant)] = []
                            for index in stride(from: writer, to: total, by: writers) {
                                let due = start + .seconds(1) / rate * index
                                if ContinuousClock.now < due { Thread.sleep(forTimeInterval: seconds(due - ContinuousClock.now)) }
                                let result = try EventLog.append(
                                    [NewEvent(streamID: "bench-lag:\(index % 50)", type: "activity_delivered", data: Self.lagData)], on: connection)
                                appended.append((result[0].position, ContinuousClock.now))
                            }
                            return appended
                        }
                    }
                }
                return try await writing.reduce(into: []) { $0 += $1 }
            }
            lastAppended.position.store(appended.map(\.position).max() ?? 1, ordering: .releasing)
            let samples = try await covered
            // The first sample at which the checkpoint covers each event (checkpoints only grow).
            var lags: [(at: Double, lag: Double)] = []
            for event in appended {
                var low = 0
                var high = samples.count
                while low < high {
                    let middle = (low + high) / 2
                    if samples[middle].checkpoint >= event.position { high = middle } else { low = middle + 1 }
                }
                // An event the projection never covered counts as late as the phase could wait.
                let covered = low < samples.count ? samples[low].at : start + .seconds(limit)
                lags.append((seconds(event.at - start), max(0, seconds(covered - event.at))))
            }
            // The runner's own error, if it failed.
            group.cancelAll()
            try await group.waitForAll()
            return lags
        }
    }
}

func seconds(since start: ContinuousClock.Instant) -> Double { seconds(ContinuousClock.now - start) }
func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}
