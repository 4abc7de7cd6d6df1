import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ReachApp
import ReachCommandLine
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachServer
import ServiceLifecycle

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `reach bench web`: how long the web app's authority dashboard takes to render on a large
/// log, and what it weighs, against the API's figures for the same authority and year measured
/// the same way in the same run.
struct WebBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Benchmark the web app's authority dashboard: server time and page weight on a large log.",
        discussion: """
            Starts the service in this process on the configured database, or on reach's own \
            cluster, loading the demo data set first when the log is empty (--events). Requests \
            are sent one at a time on loopback, so each one's time is the server's. Measured: \
            the dashboard of the authority with the most activities in 2024/25, for its lead \
            (dfe) and for staff (no policy), first with no cache of figures (every request \
            computes them), then as reach serve runs (figures kept 5 s); the baseline is \
            GET /api/v1/metrics for the same authority and year, without a cache. Build with \
            -c release: swift build -c release && .build/release/reach bench web
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Events of the demo data set to load when the log is empty.")
    var events = 10_000_000
    @Option(help: "Requests measured per case (after 5 untimed).")
    var requests = 200

    func run() async throws {
        let logger = makeLogger()
        var loading = ReachApplication.Settings.commandLine
        loading.publishesAfterWriting = false
        let app = try await database.application(loading)
        let target = app.target
        let admin = try await app.identify(actor: "bench")
        let logSize = try await ServeBench.demoLog(app, events: events, as: admin, logger: logger)
        let la = try await blocking { () -> String in
            let owner = try Connection(configuration: target.owner, logger: logger)
            _ = try ProjectionEngine(logger: logger).waitUntilCaughtUp(on: owner)
            let found = try owner.query(
                """
                SELECT la_id FROM research.activities WHERE date BETWEEN '2024-09-01' AND '2025-08-31'
                GROUP BY la_id ORDER BY count(*) DESC LIMIT 1
                """)
            guard found.rowCount == 1 else { throw CommandError("the log holds no activity in 2024/25 to show") }
            return try found.decode(row: 0, column: 0)
        }
        let run = String(UUID().uuidString.prefix(8)).lowercased()
        let password = "bench password \(run)"
        _ = try await app.addUser("bench-lead-\(run)", role: .laViewer, authorities: [la], password: password, as: admin)
        _ = try await app.addUser("bench-staff-\(run)", role: .staff, authorities: [la], password: password, as: admin)
        _ = try await app.addUser("bench-researcher-\(run)", role: .researcher, authorities: [], password: password, as: admin)
        // Published once the authority has its lead (summaries are published for authorities
        // with a login or a lead's account).
        _ = try await app.publishSummaries(as: admin)
        let lead = try await app.signIn(name: "bench-lead-\(run)", password: password, from: "bench").session
        let staff = try await app.signIn(name: "bench-staff-\(run)", password: password, from: "bench").session
        let token = try await app.createToken(for: "bench-researcher-\(run)", as: admin).token
        emit("log: \(logSize.events) events; the dashboard of \(la), 2024/25; \(requests) requests per case, one at a time")

        let dashboard = "/authorities/\(la)?period=2024/25"
        var rows: [(String, Timing)] = []
        for cached in [false, true] {
            var quiet = logger
            quiet.logLevel = .error
            // (One request at a time, so that each time is the server's alone: no limit on its statements.)
            var served = app.with(.service(figuresSeconds: cached ? 5 : 0, requestTimeoutSeconds: nil, idleConnections: 8))
            served.logger = quiet
            let (base, stop) = try await ServeBench.serve(served, logger: quiet)
            let note = cached ? "figures kept 5 s, as served" : "no cache"
            if !cached {
                rows.append(
                    (
                        "GET /api/v1/metrics, same authority and year (baseline, \(note))",
                        try await Self.time(
                            base + "/api/v1/metrics?la=\(la)&period=2024/25", headers: ["Authorization": "Bearer \(token)"], count: requests)
                    ))
            }
            rows.append(
                (
                    "dashboard, lead (dfe), \(note)",
                    try await Self.time(base + dashboard, headers: ["Cookie": "reach_session=\(lead)"], count: requests)
                ))
            rows.append(
                (
                    "dashboard, staff (no policy), \(note)",
                    try await Self.time(base + dashboard, headers: ["Cookie": "reach_session=\(staff)"], count: requests)
                ))
            await stop()
        }
        report(rows, logEvents: logSize.events)
    }

    /// The table of the cases, and the dashboard against its targets.
    func report(_ rows: [(String, Timing)], logEvents: Int) {

        emit("")
        emit(
            pad("case", 66) + pad("p50 ms", 8, right: true) + pad("p95 ms", 8, right: true) + pad("p99 ms", 8, right: true)
                + pad("KB", 7, right: true) + pad("x base", 8, right: true))
        let baseline = rows[0].1
        for (name, timing) in rows {
            emit(
                pad(name, 66) + pad(String(format: "%.1f", timing.p50), 8, right: true) + pad(String(format: "%.1f", timing.p95), 8, right: true)
                    + pad(String(format: "%.1f", timing.p99), 8, right: true)
                    + pad(String(format: "%.1f", Double(timing.bytes) / 1024), 7, right: true)
                    + pad(String(format: "%.2f", timing.p95 / baseline.p95), 8, right: true))
        }
        let cold = rows.filter { $0.0.hasPrefix("dashboard") && $0.0.contains("no cache") }.map(\.1)
        let worst = cold.map(\.p95).max() ?? 0
        let heaviest = rows.map(\.1.bytes).max() ?? 0
        emit("")
        emit(
            String(
                format:
                    "dashboard on %d events, no cache: p95 %.1f ms (target < 150) %@; heaviest page %.1f KB (target < 200) %@; every answer 200: %@",
                logEvents, worst, worst < 150 ? "ok" : "MISSED", Double(heaviest) / 1024, heaviest < 200 * 1024 ? "ok" : "MISSED",
                rows.allSatisfy { $0.1.failures == 0 } ? "ok" : "MISSED"))
    }

    struct Timing {
        var p50: Double
        var p95: Double
        var p99: Double
        var bytes: Int
        var failures: Int
    }

    /// Requests `url` one at a time, 5 untimed then `count` timed, and takes the percentiles.
    static func time(_ url: String, headers: [String: String], count: Int) async throws -> Timing {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        let session = URLSession(configuration: configuration)
        var request = URLRequest(url: URL(string: url)!)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        var times: [Double] = []
        var bytes = 0
        var failures = 0
        for index in 0..<(count + 5) {
            let started = ContinuousClock.now
            let (data, response) = try await session.data(for: request)
            let elapsed = ContinuousClock.now - started
            if (response as? HTTPURLResponse)?.statusCode != 200 {
                failures += 1
                if failures == 1 {
                    let text = String(decoding: data, as: UTF8.self)
                    let shown = text.range(of: "<h1>").map { String(text[$0.lowerBound...].prefix(400)) } ?? String(text.prefix(400))
                    emit("  \(url): \((response as? HTTPURLResponse)?.statusCode ?? 0) \(shown)")
                }
            }
            bytes = max(bytes, data.count)
            if index >= 5 { times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000) }
        }
        times.sort()
        func percentile(_ p: Double) -> Double { times[min(times.count - 1, Int((Double(times.count) * p).rounded(.up)) - 1)] }
        return Timing(p50: percentile(0.5), p95: percentile(0.95), p99: percentile(0.99), bytes: bytes, failures: failures)
    }
}
