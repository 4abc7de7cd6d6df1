import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
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

/// Faults on purpose, on a cluster of the test's own: what the service's clients see, and that
/// no acknowledged record is lost or doubled.
extension ServerTests {
    @Test("kill -9 of PostgreSQL while 32 clients post records: they get 503 and retry with the same ids; after PostgreSQL restarts every acknowledged record is in the log exactly once and the log verifies")
    func postgresKilled() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let logger: Logger = {
            var logger = Logger(label: "reach.test")
            logger.logLevel = .critical
            return logger
        }()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reach-fault-\(UUID().uuidString.prefix(8))").path
        let data = directory + "/data"
        defer {
            try? LocalCluster(dataDirectory: data).stop(mode: "immediate")
            try? FileManager.default.removeItem(atPath: directory)
        }
        let target = try await onThreadOfItsOwn { try DatabaseTarget.local(dataDirectory: data, migrations: ReadSide.migrations(), logger: logger).0 }
        var app = ReachApplication(target: target, logger: logger)
        let admin = Identity(name: "ops", role: .admin)
        _ = try await app.loadDemo(seed: 7, events: 3000, as: admin)
        _ = try await app.addUser("sam", role: .staff, authorities: ["northvale"], password: "a long enough password", as: admin)
        let token = try await app.createToken(for: "sam", as: admin).token
        _ = try await app.publishSummaries(as: admin)  // (brings the projections up to date)
        let assembly = try Assembly(try Connection(configuration: target.owner))
        app.publishesAfterWriting = false
        app.pool = ConnectionPool(maximumIdle: 8)
        app.recordBatcher = RecordBatcher()
        app.tokenCache = TokenCache(lifetime: .seconds(30))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = Application(router: ReachServer.router(app), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                 onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let serving = Task { try await group.run() }
        var port = 0
        for await value in ports { port = value; break }
        let base = "http://127.0.0.1:\(port)"

        // 32 clients, in a process of their own (Python's requests, each client a thread),
        // post records for 8 seconds, each retrying a record with the same id until it is
        // acknowledged; meanwhile PostgreSQL's postmaster is killed outright, then started again.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard let tool = Self.schemathesisPath() else {
            Issue.record("the tests' Python tools are not installed: Deploy/test.sh (the README's test command) installs them")
            return
        }
        let clients = Task {
            try await onThreadOfItsOwn {
                try Programs.run((tool as NSString).deletingLastPathComponent + "/python",
                                 [root + "/Tests/Faults/post_records.py", base, token, assembly.pilot, assembly.school, "8", "32"], errors: false)
            }
        }
        try await Task.sleep(for: .milliseconds(1500))
        let pid = (try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8))?.split(separator: "\n").first.flatMap { pid_t($0) } ?? 0
        #expect(pid > 0)
        kill(pid, SIGKILL)
        let killed = ContinuousClock.now
        try await Task.sleep(for: .seconds(1))
        var restarted = false
        for _ in 0..<40 where !restarted {
            restarted = (try? await onThreadOfItsOwn { try LocalCluster(dataDirectory: data, settings: DatabaseTarget.localSettings).start() }) != nil
            if !restarted { try await Task.sleep(for: .milliseconds(500)) }
        }
        let down = ContinuousClock.now - killed
        #expect(restarted, "PostgreSQL started again")
        let (status, output) = try await clients.value
        struct Outcome: Decodable {
            var acknowledged: [String]
            var counts: [String: Int]
            var other_statuses: [Int]
            var longest_gap: Double?
        }
        let outcome = try #require(try? JSONDecoder().decode(Outcome.self, from: Data(output.utf8)), "the clients said: \(status) \(output.suffix(500))")
        let acknowledged = outcome.acknowledged
        await group.triggerGracefulShutdown()
        _ = try? await serving.value

        let owner = try Connection(configuration: target.owner)
        let stored = try owner.query(
            "SELECT count(*), count(DISTINCT event_id) FROM reach.events WHERE event_id = ANY($1::uuid[])",
            [PostgresArray(acknowledged.map { EventLog.recordEventID($0).uuidString })])
        print("""
            kill -9 of PostgreSQL under 32 clients: \(acknowledged.count) records acknowledged, \(try stored.decode(Int.self, row: 0, column: 0)) in the log \
            (\(try stored.decode(Int.self, row: 0, column: 1)) distinct); answers 503: \(outcome.counts["unavailable"] ?? 0), \
            no answer: \(outcome.counts["no_answer"] ?? 0), other answers: \(outcome.counts["other"] ?? 0) \(outcome.other_statuses); \
            PostgreSQL down for \(down); the clients saw no acknowledgement for \(outcome.longest_gap.map { String(format: "%.1f s", $0) } ?? "-") at most
            """)
        #expect(acknowledged.count > 32)
        #expect(try stored.decode(Int.self, row: 0, column: 0) == acknowledged.count, "every acknowledged record is in the log once")
        #expect(try stored.decode(Int.self, row: 0, column: 1) == acknowledged.count)
        #expect((outcome.counts["unavailable"] ?? 0) > 0, "clients were told the service was unavailable")
        #expect((outcome.counts["other"] ?? 0) == 0, "no record was refused for any other reason: \(outcome.other_statuses)")
        #expect((outcome.longest_gap ?? 99) < 15, "the service recovered without a restart of its own")
        #expect(try EventLog.verify(on: owner).ok)
    }
}

extension ServerTests {
    @Test("kill -9 of reach serve in the middle of an import job: nothing of the import is in the log, and the job shows as failed, not running")
    func serveKilledDuringImport() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let binary = root + "/.build/debug/reach"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("\(binary) is not built: the README's test command (Deploy/test.sh) builds it before the tests")
            return
        }
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
        struct Job: Decodable { var id: String; var state: String; var rows_read: Int }
        let job = try JSONDecoder().decode(Job.self, from: body)
        // Killed once the job has read rows, before it can finish.
        var seen = job
        for _ in 0..<200 where seen.rows_read == 0 && seen.state == "running" {
            try await Task.sleep(for: .milliseconds(50))
            var status = URLRequest(url: URL(string: base + "/api/v1/imports/\(job.id)")!)
            status.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            seen = try JSONDecoder().decode(Job.self, from: try await Self.client.data(for: status).0)
        }
        #expect(seen.state == "running" && seen.rows_read > 0, "the job was \(seen.state) with \(seen.rows_read) rows read")
        kill(process.processIdentifier, SIGKILL)
        try await onThreadOfItsOwn { process.waitUntilExit() }
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
        print("kill -9 of reach serve during an import: \(seen.rows_read) of 300000 rows read when killed; events before \(before), after \(after); the job is \(failed.state): \(failed.error ?? "")")
        #expect(failed.state == "failed" && failed.error?.contains("stopped") == true)
        #expect(try EventLog.verify(on: owner).ok)
    }
}
