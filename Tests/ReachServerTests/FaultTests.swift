import Foundation
import Hummingbird
import Logging
import ReachApp
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachServer
import ReachTestSupport
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A service in this process on a database cluster of a fault test's own, set up as `reach serve`
/// sets itself up, with a staff member's and a researcher's tokens, and 32 clients (a Python
/// process of their own, Tests/Faults/post_records.py) to post records at it.
struct FaultRig {
    static let logger: Logger = {
        var logger = Logger(label: "reach.test")
        logger.logLevel = .critical
        return logger
    }()
    static let admin = Identity(name: "ops", role: .admin)

    /// A directory for the test's clusters, removed (with its clusters stopped) by ``remove(_:)``.
    static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("reach-fault-\(UUID().uuidString.prefix(8))").path
    }

    static func remove(_ directory: String, clusters: [String]) {
        for data in clusters { try? LocalCluster(dataDirectory: data).stop(mode: "immediate") }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The demo data set, a staff member of northvale (`sam`), a researcher (`rita`) and an
    /// admin (`ops`), on the database `app` writes to, its projections up to date; their tokens.
    static func prepare(_ app: ReachApplication) async throws -> (staff: String, researcher: String, admin: String) {
        _ = try await app.loadDemo(seed: 7, events: 3000, as: admin)
        _ = try await app.addUser("sam", role: .staff, authorities: ["northvale"], password: "a long enough password", as: admin)
        _ = try await app.addUser("rita", role: .researcher, authorities: [], password: "a long enough password", as: admin)
        _ = try await app.addUser("ops", role: .admin, authorities: [], password: "a long enough password", as: admin)
        let tokens = (
            try await app.createToken(for: "sam", as: admin).token, try await app.createToken(for: "rita", as: admin).token,
            try await app.createToken(for: "ops", as: admin).token
        )
        _ = try await app.publishSummaries(as: admin) // (brings the projections up to date)
        return tokens
    }

    /// The Python of the tests' tools (Deploy/test.sh installs them), and the repository's root.
    static func python() throws -> (python: String, root: String) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard let tool = ServerTests.schemathesisPath() else {
            throw Programs.Missing("the tests' Python tools are not installed: Deploy/test.sh (the README's test command) installs them")
        }
        return ((tool as NSString).deletingLastPathComponent + "/python", root)
    }

    var app: ReachApplication
    let base: String
    let group: ServiceGroup
    let serving: Task<Void, any Error>

    /// Serves `app` as `reach serve` does: pooled connections, records batched, tokens kept a
    /// moment, requests limited to `requestSeconds`, and with `runner` the projection runner in
    /// the same service group (figures read as it keeps them).
    static func serve(_ app: ReachApplication, requestSeconds: Int = 30, runner: Bool = false) async throws -> FaultRig {
        // As reach serve runs, with or without its projection runner; figures always computed,
        // tokens kept 30 s (so that clients keep going while the database is away).
        let app = app.with(.service(runner: runner, figuresSeconds: 0, requestTimeoutSeconds: requestSeconds, tokenSeconds: 30, idleConnections: 8))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = Application(
            router: ReachServer.router(app), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        var services: [any Service] = app.services + [server]
        if runner { services.append(try app.projectionRunner(as: admin)) }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let serving = Task { try await group.run() }
        var port = 0
        for await value in ports {
            port = value
            break
        }
        return FaultRig(app: app, base: "http://127.0.0.1:\(port)", group: group, serving: serving)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await serving.value
    }

    /// The projection lag `/health/ready` reports once it is 0, or its last answer (-1: none)
    /// after `seconds`.
    func projectionLag(within seconds: Int) async throws -> Int {
        var lag = -1
        let deadline = ContinuousClock.now + .seconds(seconds)
        while lag != 0 && ContinuousClock.now < deadline {
            let body = try await blocking { FaultRig.get(base + "/health/ready").body }
            lag = ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["projection_lag"] as? Int ?? -1
            if lag != 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        return lag
    }

    /// What the clients saw.
    struct Outcome: Decodable {
        var acknowledged: [String]
        var counts: [String: Int]
        var other_statuses: [Int]
        var longest_gap: Double?
        /// The longest one request took to be answered, in seconds.
        var slowest: Double
    }

    /// `count` clients posting records for `seconds` as the staff member `token` is, each
    /// retrying a record with the same id until it is acknowledged.
    func clients(token: String, seconds: Int, count: Int = 32) throws -> Task<Outcome, any Error> {
        let (python, root) = try Self.python()
        let (base, app) = (base, app)
        return Task {
            let owner = try Connection(configuration: app.target.owner)
            let assembly = try ServerTests.Assembly(owner)
            let (status, output) = try await blocking {
                try Programs.run(
                    python, [root + "/Tests/Faults/post_records.py", base, token, assembly.pilot, assembly.school, "\(seconds)", "\(count)"],
                    errors: false)
            }
            guard let outcome = try? JSONDecoder().decode(Outcome.self, from: Data(output.utf8)) else {
                throw Programs.Missing("the clients said: \(status) \(output.suffix(500))")
            }
            return outcome
        }
    }

    /// A follower of the log through the service's event stream from `position`, for `seconds`,
    /// reconnecting from the last event it got whenever the stream ends: the positions it got.
    func follower(token: String, from position: Int64, seconds: Int) throws -> Task<(positions: [Int64], reconnects: Int), any Error> {
        let (python, root) = try Self.python()
        let base = base
        return Task {
            let (status, output) = try await blocking {
                try Programs.run(python, [root + "/Tests/Faults/follow_events.py", base, token, "\(position)", "\(seconds)"], errors: false)
            }
            struct Followed: Decodable {
                var positions: [Int64]
                var reconnects: Int
            }
            guard let followed = try? JSONDecoder().decode(Followed.self, from: Data(output.utf8)) else {
                throw Programs.Missing("the follower said: \(status) \(output.suffix(500))")
            }
            return (followed.positions, followed.reconnects)
        }
    }

    /// How many of `ids` are in the log, and how many distinct.
    static func stored(_ ids: [String], on connection: Connection) throws -> (count: Int, distinct: Int) {
        let found = try connection.query(
            "SELECT count(*), count(DISTINCT event_id) FROM reach.events WHERE event_id = ANY($1::uuid[])",
            [PostgresArray(ids.map { EventLog.recordEventID($0).uuidString })])
        return (try found.decode(row: 0, column: 0), try found.decode(row: 0, column: 1))
    }

    /// The postmaster of the cluster in `data`, from its lock file.
    static func postmaster(_ data: String) -> pid_t {
        ((try? LocalCluster(dataDirectory: data))?.postmasterPID) ?? 0
    }

    /// Sends `signal` to the postmaster of `data` and every process it started (the whole
    /// server): the postmaster first, so that it starts no process the signal misses, then its
    /// children, looked for again until no new one turns up.
    static func signalServer(_ data: String, _ signal: Int32) {
        let postmaster = postmaster(data)
        guard postmaster > 0 else { return }
        kill(postmaster, signal)
        var signalled: Set<pid_t> = [postmaster]
        while true {
            var children: [pid_t] = []
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(entry), !signalled.contains(pid),
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let end = stat.lastIndex(of: ")")
                else { continue }
                let fields = stat[stat.index(after: end)...].split(separator: " ")
                if fields.count > 1, pid_t(fields[1]) == postmaster { children.append(pid) }
            }
            guard !children.isEmpty else { return }
            for pid in children { kill(pid, signal) }
            signalled.formUnion(children)
        }
    }

    /// `GET url` (or `POST` with `body`, as JSON) with `token`: the status (0 when no answer
    /// came), the seconds it took and the body. It blocks its thread: call it on a thread of
    /// its own.
    static func get(_ url: String, token: String? = nil, post body: String? = nil, timeout: Double = 60) -> (
        status: Int, seconds: Double, body: String
    ) {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: timeout)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let started = ContinuousClock.now
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var answer = (0, "")
        ServerTests.client.dataTask(with: request) { data, response, _ in
            answer = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
            done.signal()
        }.resume()
        done.wait()
        let took = ContinuousClock.now - started
        return (answer.0, Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18, answer.1)
    }
}

/// Faults on purpose, on a cluster of the test's own: what the service's clients see, and that
/// no acknowledged record is lost or doubled.
extension ServerTests {
    @Test(
        "kill -9 of PostgreSQL while 32 clients post records: they get 503 and retry with the same ids; after PostgreSQL restarts every acknowledged record is in the log exactly once and the log verifies"
    )
    func postgresKilled() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let directory = FaultRig.directory()
        let data = directory + "/data"
        defer { FaultRig.remove(directory, clusters: [data]) }
        let target = try await blocking {
            try DatabaseTarget.local(dataDirectory: data, migrations: Schema.migrations(), logger: FaultRig.logger).0
        }
        // (Reach's own cluster: its other databases are its superuser's alone, so that no login
        // reads the server-wide statistics there.)
        let connectable: Bool = try Connection(configuration: target.owner).query(
            "SELECT has_database_privilege('public', 'postgres', 'CONNECT') OR has_database_privilege('public', 'template1', 'CONNECT')"
        ).decode(row: 0, column: 0)
        #expect(!connectable)
        let app = ReachApplication(target: target, logger: FaultRig.logger)
        let token = try await FaultRig.prepare(app).staff
        let rig = try await FaultRig.serve(app)

        // 32 clients post records for 8 seconds; 1.5 s in, PostgreSQL's postmaster is killed
        // outright, then started again a second later.
        let clients = try rig.clients(token: token, seconds: 8)
        try await Task.sleep(for: .milliseconds(1500))
        let pid = FaultRig.postmaster(data)
        #expect(pid > 0)
        kill(pid, SIGKILL)
        let killed = ContinuousClock.now
        try await Task.sleep(for: .seconds(1))
        var restarted = false
        for _ in 0..<40 where !restarted {
            restarted = (try? await blocking { try LocalCluster(dataDirectory: data, settings: DatabaseTarget.localSettings).start() }) != nil
            if !restarted { try await Task.sleep(for: .milliseconds(500)) }
        }
        let down = ContinuousClock.now - killed
        #expect(restarted, "PostgreSQL started again")
        let outcome = try await clients.value
        let acknowledged = outcome.acknowledged
        await rig.stop()

        let owner = try Connection(configuration: target.owner)
        let stored = try FaultRig.stored(acknowledged, on: owner)
        print(
            """
            kill -9 of PostgreSQL under 32 clients: \(acknowledged.count) records acknowledged, \(stored.count) in the log \
            (\(stored.distinct) distinct); answers 503: \(outcome.counts["unavailable"] ?? 0), \
            no answer: \(outcome.counts["no_answer"] ?? 0), other answers: \(outcome.counts["other"] ?? 0) \(outcome.other_statuses); \
            PostgreSQL down for \(down); the clients saw no acknowledgement for \(outcome.longest_gap.map { String(format: "%.1f s", $0) } ?? "-") at most
            """)
        #expect(acknowledged.count > 32)
        #expect(stored.count == acknowledged.count, "every acknowledged record is in the log once")
        #expect(stored.distinct == acknowledged.count)
        #expect((outcome.counts["unavailable"] ?? 0) > 0, "clients were told the service was unavailable")
        #expect((outcome.counts["other"] ?? 0) == 0, "no record was refused for any other reason: \(outcome.other_statuses)")
        #expect((outcome.longest_gap ?? 99) < 15, "the service recovered without a restart of its own")
        #expect(try EventLog.verify(on: owner).ok)
    }

    @Test(
        "PostgreSQL hangs (every server process stopped with SIGSTOP) while 32 clients post records: requests fail within the request limit, /health/ready turns unready, and on SIGCONT everything recovers without a restart of the service; every acknowledged record is in the log exactly once"
    )
    func postgresStopped() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let directory = FaultRig.directory()
        let data = directory + "/data"
        defer {
            FaultRig.signalServer(data, SIGCONT)
            FaultRig.remove(directory, clusters: [data])
        }
        let target = try await blocking {
            try DatabaseTarget.local(dataDirectory: data, migrations: Schema.migrations(), logger: FaultRig.logger).0
        }
        let app = ReachApplication(target: target, logger: FaultRig.logger)
        let token = try await FaultRig.prepare(app).staff
        // The limit REACH_HTTP_REQUEST_TIMEOUT_SECONDS sets, at 2 s (a database that does not
        // answer is given up on a second after it); the projection runner runs too.
        let limit = 2.0
        let rig = try await FaultRig.serve(app, requestSeconds: Int(limit), runner: true)
        #expect(try await blocking { FaultRig.get(rig.base + "/health/ready").status } == 200)

        // 32 clients post records for 10 s; 2 s in, every process of the server is stopped for 5 s.
        let clients = try rig.clients(token: token, seconds: 10)
        try await Task.sleep(for: .seconds(2))
        FaultRig.signalServer(data, SIGSTOP)
        let stopped = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(500))
        let unready = try await blocking { FaultRig.get(rig.base + "/health/ready") }
        try await Task.sleep(until: stopped + .seconds(5))
        FaultRig.signalServer(data, SIGCONT)
        let resumed = ContinuousClock.now
        var ready = (status: 0, seconds: 0.0, body: "")
        while ready.status != 200 && ContinuousClock.now < resumed + .seconds(20) {
            ready = try await blocking { FaultRig.get(rig.base + "/health/ready") }
            if ready.status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        let recovery = ContinuousClock.now - resumed
        let outcome = try await clients.value
        let acknowledged = outcome.acknowledged
        // The runner went on where it was: the projections catch up with the log.
        let lag = try await rig.projectionLag(within: 10)
        await rig.stop()

        let owner = try Connection(configuration: target.owner)
        let stored = try FaultRig.stored(acknowledged, on: owner)
        print(
            """
            SIGSTOP of PostgreSQL for 5 s under 32 clients, request limit \(limit) s: \(acknowledged.count) records acknowledged, \
            \(stored.count) in the log (\(stored.distinct) distinct); answers 503: \(outcome.counts["unavailable"] ?? 0), \
            no answer: \(outcome.counts["no_answer"] ?? 0), other: \(outcome.counts["other"] ?? 0); slowest answer \
            \(String(format: "%.2f", outcome.slowest)) s; /health/ready while stopped: \(unready.status) in \(String(format: "%.2f", unready.seconds)) s; \
            ready again \(recovery) after SIGCONT; projection lag afterwards \(lag)
            """)
        #expect(unready.status == 503, "/health/ready is unready while PostgreSQL hangs")
        #expect(unready.seconds < limit + 1.5, "the readiness check answered within the limit")
        #expect(ready.status == 200, "ready again after SIGCONT, without a restart")
        #expect(outcome.slowest < limit + 2.5, "every request was answered within the limit and a second (\(outcome.slowest) s)")
        #expect((outcome.counts["unavailable"] ?? 0) > 0, "clients were told the service was unavailable")
        #expect((outcome.counts["other"] ?? 0) == 0 && (outcome.counts["no_answer"] ?? 0) == 0, "\(outcome.counts) \(outcome.other_statuses)")
        #expect(acknowledged.count > 32)
        #expect(stored.count == acknowledged.count && stored.distinct == acknowledged.count, "every acknowledged record is in the log once")
        #expect(lag == 0, "the projection runner caught up after SIGCONT")
        #expect(try EventLog.verify(on: owner).ok)
    }
}

extension ServerTests {
    @Test("kill -9 of reach serve in the middle of an import job: nothing of the import is in the log, and the job shows as failed, not running")
    func serveKilledDuringImport() async throws {
        guard let binary = Self.builtReach() else { return }
        let (db, app) = try await Self.demo()
        let admin = Identity(name: "ops", role: .admin)
        _ = try await app.addUser("sam", role: .staff, authorities: ["northvale"], password: "a long enough password", as: admin)
        let token = try await app.createToken(for: "sam", as: admin).token
        let owner = try db.ownerConnection()
        let before: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)

        let (process, port) = try await Self.serveProcess(binary, db: db)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        let base = "http://127.0.0.1:\(port)"

        // An import big enough to be killed in the middle of: 300,000 new schools.
        let rows = (1...300_000).map { "kill-\($0),\(1_000_000 + $0),northvale,Test School \($0),secondary,600\n" }.joined()
        var upload = URLRequest(url: URL(string: base + "/api/v1/imports?name=school_registered.csv")!)
        upload.httpMethod = "POST"
        upload.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        upload.setValue("text/csv", forHTTPHeaderField: "Content-Type")
        upload.httpBody = Data(("id,school_id,la_id,name,phase,pupils_on_roll\n" + rows).utf8)
        let (body, response) = try await Self.client.data(for: upload)
        #expect((response as? HTTPURLResponse)?.statusCode == 202)
        struct Job: Decodable {
            var id: String
            var state: String
            var rows_read: Int
        }
        let job = try JSONDecoder().decode(Job.self, from: body)
        // Killed once the job has read rows, before it can finish (the first chunk, 20,000 rows,
        // takes a few seconds in a debug build; up to a minute is waited for).
        var seen = job
        let accepted = ContinuousClock.now
        for _ in 0..<1200 where seen.rows_read == 0 && seen.state == "running" {
            try await Task.sleep(for: .milliseconds(50))
            var status = URLRequest(url: URL(string: base + "/api/v1/imports/\(job.id)")!)
            status.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            seen = try JSONDecoder().decode(Job.self, from: try await Self.client.data(for: status).0)
        }
        let firstRows = ContinuousClock.now - accepted
        #expect(seen.state == "running" && seen.rows_read > 0, "the job was \(seen.state) with \(seen.rows_read) rows read after \(firstRows)")
        kill(process.processIdentifier, SIGKILL)
        try await blocking { process.waitUntilExit() }
        #expect(process.terminationReason == .uncaughtSignal)

        // Nothing of it in the log; the job, read again, has failed.
        try await Task.sleep(for: .milliseconds(500))
        let after: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        #expect(after == before, "\(after - before) events appended by a killed import")
        var failed = try await app.importJob(job.id, as: admin)
        for _ in 0..<40 where failed.state == "running" {
            try await Task.sleep(for: .milliseconds(250))
            failed = try await app.importJob(job.id, as: admin)
        }
        print(
            "kill -9 of reach serve during an import: \(seen.rows_read) of 300000 rows read when killed (\(firstRows) after the upload); events before \(before), after \(after); the job is \(failed.state): \(failed.error ?? "")"
        )
        #expect(failed.state == "failed" && failed.error?.contains("stopped") == true)
        #expect(try EventLog.verify(on: owner).ok)
    }
}

extension ServerTests {
    /// Whether a small tmpfs can be mounted here (root, with the right to mount).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let point = FileManager.default.temporaryDirectory.appendingPathComponent("reach-mount-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: point) }
        guard (try? FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)) != nil,
            (try? Programs.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", point]))?.status == 0
        else { return false }
        _ = try? Programs.run("/bin/umount", [point])
        return true
    }()

    @Test(
        "the disk fills during an import (the log's table on a small tmpfs): a clear error, nothing of the import in the log, the job failed; once space is freed the log verifies and the same import succeeds",
        .enabled(if: canMountTmpfs, "mounting a small tmpfs needs root and the right to mount"))
    func diskFull() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        guard let binary = Self.builtReach() else { return }
        let directory = FaultRig.directory()
        let (data, small) = (directory + "/data", directory + "/small")
        defer {
            try? LocalCluster(dataDirectory: data).stop(mode: "immediate")
            _ = try? Programs.run("/bin/umount", [small])
            try? FileManager.default.removeItem(atPath: directory)
        }
        let target = try await blocking {
            try DatabaseTarget.local(dataDirectory: data, migrations: Schema.migrations(), logger: FaultRig.logger).0
        }
        let app = ReachApplication(target: target, logger: FaultRig.logger)
        _ = try await FaultRig.prepare(app)
        let sam = Identity(name: "sam", role: .staff, authorities: ["northvale"])

        // The log's table moves to a tablespace on a tmpfs with 2 MiB to spare.
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(try Programs.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", small]).status == 0)
        _ = try Programs.run("/bin/chown", [LocalCluster.serverUserWhenRoot, small])
        let owner = try Connection(configuration: target.owner)
        try owner.executeScript("CREATE TABLESPACE small LOCATION '\(small)'")
        try owner.executeScript("ALTER TABLE reach.events SET TABLESPACE small")
        let space = try FileManager.default.attributesOfFileSystem(forPath: small)
        let usedBytes = ((space[.systemSize] as? NSNumber)?.intValue ?? 0) - ((space[.systemFreeSize] as? NSNumber)?.intValue ?? 0)
        #expect(try Programs.run("/bin/mount", ["-o", "remount,size=\(usedBytes + (2 << 20))", small]).status == 0)
        let before: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)

        // 20,000 new schools: several times the space left.
        let file = directory + "/school_registered.csv"
        let rows = (1...20_000).map { "full-\($0),\(2_000_000 + $0),northvale,Test School \($0),secondary,600\n" }.joined()
        try ("id,school_id,la_id,name,phase,pupils_on_roll\n" + rows).write(toFile: file, atomically: false, encoding: .utf8)
        let url = "postgresql:///reach?host=\(data)&user=\(LocalCluster.superuser)"

        // The command line: exit 1, saying the disk is full.
        let (status, said) = try Programs.run(binary, ["import", file, "--database-url", url])
        #expect(status == 1 && said.contains("No space left on device"), "reach import said (\(status)): \(said.suffix(600))")
        // The service's import job (its import jobs run as reach serve runs them): failed, saying so.
        let served = app.with(.service(runner: false, figuresSeconds: 0))
        let jobs = ServiceGroup(configuration: .init(services: served.services, logger: FaultRig.logger))
        let running = Task { try await jobs.run() }
        defer { running.cancel() }
        let upload = directory + "/upload"
        try FileManager.default.createDirectory(atPath: upload, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: file, toPath: upload + "/school_registered.csv")
        var job = try await served.startImport(
            file: upload + "/school_registered.csv", name: "school_registered.csv", bytes: 0, type: nil, skipInvalid: false, as: sam)
        for _ in 0..<300 where job.state == "running" {
            try await Task.sleep(for: .milliseconds(100))
            job = try await served.importJob(job.id, as: sam)
        }
        await jobs.triggerGracefulShutdown()
        #expect(job.state == "failed" && job.error?.contains("out of disk space") == true, "\(job.state): \(job.error ?? "")")
        let afterFull: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        #expect(afterFull == before, "nothing of the import is in the log (\(afterFull - before) events)")
        #expect(try EventLog.verify(on: owner).ok)

        // Space freed: the same import, as it was, succeeds.
        #expect(try Programs.run("/bin/mount", ["-o", "remount,size=256m", small]).status == 0)
        let (again, saidAgain) = try Programs.run(binary, ["import", file, "--database-url", url])
        let after: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        print(
            "disk full during an import of 20000 rows: reach import exited \(status) with \(said.split(separator: "\n").last ?? ""); the job \(job.state): \(job.error ?? ""); events before \(before), after the failures \(afterFull); after freeing space the import exited \(again) and the log holds \(after)"
        )
        #expect(again == 0, "\(saidAgain.suffix(600))")
        #expect(after == before + 20_000)
        #expect(try EventLog.verify(on: owner).ok)
    }
}
