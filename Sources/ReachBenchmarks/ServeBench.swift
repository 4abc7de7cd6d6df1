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

/// `reach bench serve`: the HTTP service under load from wrk, against the log's own single
/// appends measured on the same server in the same run.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Benchmark the HTTP service with wrk: records, metrics on a large log, and a mixed load.",
        discussion: """
            Starts the service in this process (with its projection runner) on the configured \
            database, or on reach's own cluster, loading the demo data set first when the log is \
            empty (--events). The load generator is wrk (Debian's wrk package), on loopback. The \
            baseline, reach's own single appends from 8 clients, is measured in a scratch \
            database on the same server in the same run. Build with -c release:
              swift build -c release && .build/release/reach bench serve
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Events of the demo data set to load when the log is empty.")
    var events = 10_000_000
    @Option(help: "Seconds of each single-route phase.")
    var seconds = 20
    @Option(help: "Seconds of the mixed phase.")
    var mixedSeconds = 60

    func run() async throws {
        guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CommandError("reach bench serve needs wrk: apt-get install wrk")
        }
        let logger = makeLogger()
        // Loading the demo leaves publishing to the service's projection runner.
        var loading = ReachApplication.Settings.commandLine
        loading.publishesAfterWriting = false
        let app = try await database.application(loading)
        let target = app.target
        let admin = try await app.identify(actor: "bench")

        // The log: the demo data set, when empty.
        let logSize = try await Self.demoLog(app, events: events, as: admin, logger: logger)
        emit("log: \(logSize.events) events; wrk \(Self.version(wrk)); \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // The baseline: reach append, one event per transaction, 8 clients, in a scratch database.
        let baseline = try await baselineRate(target, logger: logger)

        // Accounts and what the requests ask about: an authority's pilot and school with
        // activities in 2024/25.
        let run = String(UUID().uuidString.prefix(8)).lowercased()
        let (la, pilot, school) = try await Self.askedAbout(target, logger: logger)
        let password = "bench password \(run)"
        _ = try await app.addUser("bench-staff-\(run)", role: .staff, authorities: [la], password: password, as: admin)
        _ = try await app.addUser("bench-researcher-\(run)", role: .researcher, authorities: [], password: password, as: admin)
        let staffToken = try await app.createToken(for: "bench-staff-\(run)", as: admin).token
        let researcherToken = try await app.createToken(for: "bench-researcher-\(run)", as: admin).token

        // Every authority published before the load (the runner then publishes what changes).
        let publishing = ContinuousClock.now
        let published = try await app.publishSummaries(every: true, as: admin)
        emit("published \(published.count) authorities in \(Self.seconds(ContinuousClock.now - publishing)) s")

        // The service, as reach serve runs it.
        var quiet = logger
        quiet.logLevel = .error
        var served = app.with(.service())
        served.logger = quiet
        let runner = try served.projectionRunner(as: admin)
        let (base, stop) = try await Self.serve(served, beside: [runner], logger: quiet)

        let scripts = FileManager.default.temporaryDirectory.appendingPathComponent("reach-bench-\(run)").path
        try FileManager.default.createDirectory(atPath: scripts, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scripts) }
        let record =
            #"{"type":"activity_delivered","id":"ID","data":{"pilot_id":"\#(pilot)","la_id":"\#(la)","school_id":"\#(school)","kind":"assembly","date":"2025-03-04","duration_minutes":45,"mode":"in_person","delivered_by":{"team":"CS schools team"},"attendance":{"pupils":{"ks3":30,"ks4":0},"staff":{"teaching":4}}}}"#
        try Self.writeScripts(in: scripts, run: run, la: la, record: record, staff: staffToken, researcher: researcherToken)

        // Warm-up, untimed.
        _ = try await Self.wrk(wrk, base, script: scripts + "/metrics.lua", connections: 4, seconds: 3)
        let records = try await Self.wrk(wrk, base, script: scripts + "/records.lua", connections: 32, seconds: seconds)
        let metrics = try await Self.wrk(wrk, base, script: scripts + "/metrics.lua", connections: 16, seconds: seconds)
        var rss: [Double] = []
        let sampler = Task {
            try await Task.sleep(for: .seconds(10))
            rss.append(AppendBench.residentMiB())
            try await Task.sleep(for: .seconds(max(1, mixedSeconds - 10)))
            rss.append(AppendBench.residentMiB())
            return rss
        }
        // While the mixed load runs: how long a record takes to reach its authority's publication.
        let (staff, researcher) = (try await served.identify(token: staffToken), try await served.identify(token: researcherToken))
        let latency = Task {
            try await Self.publicationLatency(
                served, la: la, record: record, run: run, as: staff, reading: researcher, for: .seconds(mixedSeconds), logger: logger)
        }
        let mixed = try await Self.wrk(wrk, base, script: scripts + "/mixed.lua", connections: 16, seconds: mixedSeconds + 1)
        let samples = try await sampler.value
        let publication = try await latency.value
        // And with no other load: one record at a time.
        let idle = try await Self.publicationLatency(
            served, la: la, record: record, run: run + "i", as: staff, reading: researcher, for: .seconds(20), logger: logger)
        await stop()

        report(baseline: baseline, records: records, metrics: metrics, mixed: mixed, memory: samples, logEvents: logSize.events)
        report(la: la, records: records, mixed: mixed, publication: publication, idle: idle)
    }

    /// The mixed phase against its targets, and how long a record took to reach its
    /// authority's publication, under that load and with none.
    func report(la: String, records: Result, mixed: Result, publication: [Double], idle: [Double]) {
        emit(
            String(
                format:
                    "mixed: p95 %.1f ms (target < 150) %@; p99 %.1f ms (target < 500) %@; %.0f req/s, %.2fx the records phase (target >= 0.5x) %@",
                mixed.p95, mixed.p95 < 150 ? "ok" : "MISSED", mixed.p99, mixed.p99 < 500 ? "ok" : "MISSED", mixed.rate, mixed.rate / records.rate,
                mixed.rate / records.rate >= 0.5 ? "ok" : "MISSED"))
        for (load, times) in [("under the mixed load", publication), ("with no other load", idle)] {
            let p95 = percentile(times, 0.95)
            emit(
                String(
                    format: "publication of %@ after a new record, %@: %d samples, p50 %.2f s, p95 %.2f s, max %.2f s (target p95 < 5 s) %@",
                    la, load, times.count, percentile(times, 0.5), p95, times.max() ?? 0, p95 < 5 && !times.isEmpty ? "ok" : "MISSED"))
        }
    }

    /// The wrk scripts of the phases, in `directory`: records, metrics, and the mixed load.
    static func writeScripts(in directory: String, run: String, la: String, record: String, staff: String, researcher: String) throws {
        let metricsPath = "/api/v1/metrics?la=\(la)&period=2024/25"
        try Self.script(at: directory + "/records.lua", run: run, requests: [("POST", "/api/v1/records", staff, record)])
        try Self.script(at: directory + "/metrics.lua", run: run, requests: [("GET", metricsPath, researcher, nil)])
        try Self.script(
            at: directory + "/mixed.lua", run: run + "m",
            requests: [
                ("POST", "/api/v1/records", staff, record), ("POST", "/api/v1/records", staff, record),
                ("POST", "/api/v1/records", staff, record),
                ("POST", "/api/v1/records", staff, record), ("POST", "/api/v1/records", staff, record),
                ("GET", metricsPath, researcher, nil),
                ("GET", metricsPath + "&policy=dfe", researcher, nil),
                ("GET", "/api/v1/authorities/\(la)/summary?period=2024/25&format=json", researcher, nil),
                ("GET", "/api/v1/projections", researcher, nil), ("GET", "/health/ready", researcher, nil),
            ])
    }

    /// Every 2 s for `duration`: records one activity for `la` and times how long until the
    /// authority's publication reflects it (its log position at least the record's), in seconds.
    static func publicationLatency(
        _ app: ReachApplication, la: String, record: String, run: String, as staff: Identity, reading researcher: Identity,
        for duration: Duration, logger: Logger
    ) async throws -> [Double] {
        let clock = ContinuousClock()
        let end = clock.now + duration
        var out: [Double] = []
        var index = 0
        while clock.now < end {
            index += 1
            let next = clock.now + .seconds(2)
            let text = record.replacingOccurrences(of: "\"ID\"", with: "\"bench-\(run)-publication-\(index)\"")
            guard let position = try await app.record(text, source: "bench", as: staff).first?.position else {
                throw CommandError("the probe record was not accepted")
            }
            let recorded = clock.now
            while clock.now < recorded + .seconds(60) {
                // (As a researcher asks: the publication's position comes with its figures.)
                let figures = try await app.metrics(
                    MetricQuery(period: try Period.parse("2024/25").get(), la: la, metrics: [.sessions]), policy: .dfe, as: researcher)
                if (figures.position ?? 0) >= position { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            out.append((clock.now - recorded) / .seconds(1))
            if clock.now < next { try await Task.sleep(until: next) }
        }
        return out
    }

    /// The table of the phases, and each against its target.
    func report(baseline: AppendBench.Row, records: Result, metrics: Result, mixed: Result, memory samples: [Double], logEvents: Int) {
        func verdict(_ ok: Bool) -> String { ok ? "ok" : "MISSED" }
        emit("")
        emit(
            pad("phase", 58) + pad("requests", 10, right: true) + pad("req/s", 9, right: true) + pad("p50 ms", 8, right: true)
                + pad("p95 ms", 8, right: true) + pad("p99 ms", 8, right: true) + pad("errors", 8, right: true))
        emit(pad(baseline.name, 58) + pad(String(baseline.events), 10, right: true) + pad(String(format: "%.0f", baseline.rate), 9, right: true))
        for (name, result) in [
            ("POST /api/v1/records, 1 activity/request, 32 connections", records),
            ("GET /api/v1/metrics, one authority and year, 16 connections", metrics),
            ("mixed (records, metrics, summaries, status), 16 connections", mixed),
        ] {
            emit(
                pad(name, 58) + pad(String(result.requests), 10, right: true) + pad(String(format: "%.0f", result.rate), 9, right: true)
                    + pad(String(format: "%.1f", result.p50), 8, right: true) + pad(String(format: "%.1f", result.p95), 8, right: true)
                    + pad(String(format: "%.1f", result.p99), 8, right: true) + pad(String(result.errors), 8, right: true))
        }
        emit("")
        let ratio = records.rate / baseline.rate
        emit(
            String(
                format: "records: %.2fx the single-append rate (target >= 0.70x) %@; p99 %.1f ms (target < 100) %@; %d errors %@",
                ratio, verdict(ratio >= 0.7), records.p99, verdict(records.p99 < 100), records.errors, verdict(records.errors == 0)))
        emit(
            String(
                format: "metrics on %d events: p95 %.1f ms (target < 100) %@; %d errors", logEvents, metrics.p95, verdict(metrics.p95 < 100),
                metrics.errors))
        if samples.count == 2 {
            let growth = (samples[1] - samples[0]) / samples[0] * 100
            emit(
                String(
                    format: "mixed: %d errors %@; resident memory %.1f MiB at 10 s, %.1f MiB at %d s: %+.1f%% (target < 10%%) %@",
                    mixed.errors, verdict(mixed.errors == 0), samples[0], samples[1], mixedSeconds, growth, verdict(growth < 10)))
        }
    }

    /// The service as `reach serve` runs it (its services, `beside` more, and the HTTP server) on
    /// a free local port: its address, and what stops it.
    static func serve(_ served: ReachApplication, beside: [any Service] = [], logger: Logger) async throws -> (
        base: String, stop: @Sendable () async -> Void
    ) {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = Application(
            router: ReachServer.router(served), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: served.services + beside + [server], logger: logger))
        let serving = Task { try await group.run() }
        var port = 0
        for await value in ports {
            port = value
            break
        }
        return (
            "http://127.0.0.1:\(port)",
            {
                await group.triggerGracefulShutdown()
                _ = try? await serving.value
            }
        )
    }

    /// What the requests ask about: an authority's pilot and school with activities in 2024/25.
    static func askedAbout(_ target: DatabaseTarget, logger: Logger) async throws -> (la: String, pilot: String, school: String) {
        try await blocking { () -> (String, String, String) in
            let owner = try Connection(configuration: target.owner, logger: logger)
            _ = try ProjectionEngine(logger: logger).waitUntilCaughtUp(on: owner)
            let found = try owner.query(
                """
                SELECT la_id, pilot_id, school_id FROM research.activities
                WHERE date BETWEEN '2024-09-01' AND '2025-08-31' AND school_id IS NOT NULL ORDER BY date LIMIT 1
                """)
            guard found.rowCount == 1 else { throw CommandError("the log holds no activity in 2024/25 to ask about") }
            return (try found.decode(row: 0, column: 0), try found.decode(row: 0, column: 1), try found.decode(row: 0, column: 2))
        }
    }

    /// The log's size, after loading the demo data set (`events` of it) when the log is empty.
    static func demoLog(_ app: ReachApplication, events: Int, as admin: Identity, logger: Logger) async throws -> (events: Int, lastPosition: Int64?)
    {
        let target = app.target
        let size = try await blocking { try EventLog.size(on: Connection(configuration: target.owner, logger: logger)) }
        guard size.events == 0 else { return size }
        emit("loading the demo data set: \(events) events")
        let started = ContinuousClock.now
        _ = try await app.loadDemo(seed: 1, events: events, as: admin)
        emit("loaded in \(Self.seconds(ContinuousClock.now - started)) s")
        return try await blocking { try EventLog.size(on: Connection(configuration: target.owner, logger: logger)) }
    }

    /// What wrk measured, read from the line the scripts' `done` prints.
    struct Result {
        var requests: Int
        var seconds: Double
        var p50: Double
        var p95: Double
        var p99: Double
        var errors: Int
        var rate: Double { Double(requests) / seconds }
    }

    /// A wrk script that sends `requests` in turn, each record with a new id (`ID` in the body
    /// becomes run, thread and counter), and prints one `RESULT` line at the end.
    static func script(at path: String, run: String, requests: [(method: String, path: String, token: String, body: String?)]) throws {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let table = requests.map {
            "{" + quoted($0.method) + ", " + quoted($0.path) + ", " + quoted($0.token) + ", " + ($0.body.map(quoted) ?? "nil") + "}"
        }
        let lua = """
            local requests = {\(table.joined(separator: ",\n  "))}
            local threads = 0
            function setup(thread) threads = threads + 1; thread:set("tid", threads) end
            local counter = 0
            function request()
              counter = counter + 1
              local r = requests[(counter % #requests) + 1]
              local headers = {["Authorization"] = "Bearer " .. r[3], ["Content-Type"] = "application/json"}
              local body = r[4]
              if body then body = body:gsub("\\"ID\\"", "\\"bench-\(run)-" .. tostring(tid) .. "-" .. counter .. "\\"") end
              return wrk.format(r[1], r[2], headers, body)
            end
            local shown = 0
            function response(status, headers, body)
              if status >= 400 and shown < 3 then
                shown = shown + 1
                io.write("REFUSED " .. status .. " " .. string.sub(body or "", 1, 160) .. "\\n")
              end
            end
            function done(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(50),
                latency:percentile(95), latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
            end
            """
        try lua.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Runs wrk (two threads) and reads its `RESULT` line.
    static func wrk(_ wrk: String, _ base: String, script: String, connections: Int, seconds: Int) async throws -> Result {
        try await blocking {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: wrk)
            // (No answer within the service's own request limit, 30 s, counts as an error.)
            process.arguments = ["-t2", "-c\(connections)", "-d\(seconds)s", "--timeout", "30s", "-s", script, base]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            for refused in text.split(separator: "\n") where refused.hasPrefix("REFUSED ") { emit("  " + refused) }
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) else {
                throw CommandError("wrk gave no result: \(text.prefix(400))")
            }
            let numbers = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            guard numbers.count == 6 else { throw CommandError("wrk's result is not as expected: \(line)") }
            return Result(
                requests: Int(numbers[0]), seconds: numbers[1] / 1e6, p50: numbers[2] / 1000, p95: numbers[3] / 1000,
                p99: numbers[4] / 1000, errors: Int(numbers[5]))
        }
    }

    /// reach append, one event per transaction with its expected version, from 8 clients, in a
    /// scratch database on the same server (created and dropped): the best of two runs.
    func baselineRate(_ target: DatabaseTarget, logger: Logger) async throws -> AppendBench.Row {
        let scratch = "reach_bench_\(getpid())"
        let (admin, owner) = try await blocking { () throws -> (ConnectionConfiguration, ConnectionConfiguration) in
            let admin = target.owner.overriding(["dbname": target.cluster == nil ? AppendBench.scratchParent(target) : "postgres"])
            let connection = try Connection(configuration: admin, logger: logger)
            try connection.executeScript("CREATE DATABASE \(try connection.quoteIdentifier(scratch))")
            return (admin, target.owner.overriding(["dbname": scratch]))
        }
        do {
            try await blocking {
                _ = try Schema.migrator(logger: logger).migrate(on: Connection(configuration: owner, logger: logger))
            }
            let append = try AppendBench.parse([])
            _ = try await append.reachSingles(owner, clients: 8, perClient: 200)
            let first = try await append.reachSingles(owner, clients: 8, perClient: 1_500)
            let second = try await append.reachSingles(owner, clients: 8, perClient: 1_500)
            try await AppendBench.drop(scratch, admin: admin, logger: logger)
            return first.rate >= second.rate ? first : second
        } catch {
            try? await AppendBench.drop(scratch, admin: admin, logger: logger)
            throw error
        }
    }

    static func version(_ wrk: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = ["-v"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        guard (try? process.run()) != nil else { return "?" }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
