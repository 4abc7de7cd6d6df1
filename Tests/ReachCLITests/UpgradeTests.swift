import Foundation
import Logging
import ReachApp
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Synchronization
import Testing

/// Upgrading while the service runs: the newer migrations applied to a database an older
/// service is appending to (Deploy/README.md, "Upgrades").
@Suite("upgrades", .serialized)
struct UpgradeTests {
    /// What the appenders did.
    final class Counts: Sendable {
        let running = Atomic<Bool>(true)
        let appended = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        /// The slowest append, in microseconds.
        let slowest = Atomic<Int>(0)
    }

    /// Appenders standing in for an older service: each appends one event per transaction
    /// through the log's append function (which every version calls), timing each append.
    struct Appenders {
        let counts = Counts()
        let tasks: [Task<Void, any Error>]
        var appended: Int { counts.appended.load(ordering: .relaxed) }
        var failed: Int { counts.failed.load(ordering: .relaxed) }
        var slowestMilliseconds: Double { Double(counts.slowest.load(ordering: .relaxed)) / 1000 }

        init(_ configuration: ConnectionConfiguration, count: Int = 4) {
            let counts = counts
            tasks = (0..<count).map { client in
                Task.detached {
                    try await blocking {
                        let connection = try Connection(configuration: configuration)
                        var index = 0
                        while counts.running.load(ordering: .relaxed) {
                            index += 1
                            let started = ContinuousClock.now
                            do {
                                _ = try EventLog.append(
                                    [NewEvent(streamID: "upgrade-\(client)-\(index % 5)", type: "upgrade_probe", data: #"{"n":\#(index)}"#)],
                                    on: connection)
                                counts.appended.add(1, ordering: .relaxed)
                            } catch {
                                counts.failed.add(1, ordering: .relaxed)
                                Thread.sleep(forTimeInterval: 0.05)
                            }
                            let took = ContinuousClock.now - started
                            counts.slowest.max(
                                Int(took.components.seconds) * 1_000_000 + Int(took.components.attoseconds / 1_000_000_000_000), ordering: .relaxed)
                        }
                    }
                }
            }
        }

        func stop() async throws {
            counts.running.store(false, ordering: .relaxed)
            for task in tasks { try await task.value }
        }
    }

    @Test(
        "the pending migrations applied while an older service appends: no append fails or waits long, the newer service is not ready until they are applied, and the log verifies"
    )
    func migrateWhileAppending() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let logger = {
            var logger = Logger(label: "reach.test")
            logger.logLevel = .critical
            return logger
        }()
        let db = try TestDatabase.create(migrated: false)
        let all = try Schema.migrator(logger: logger).migrations
        // The database as the release before the service's accounts and request roles left it.
        let older = all.filter { $0.name < "0021" }
        let newer = all.filter { $0.name >= "0021" }.map(\.name)
        #expect(newer.count >= 3)
        _ = try Migrator(migrations: older, logger: logger).migrate(on: db.ownerConnection())
        var target = DatabaseTarget.url("")
        target.application = db.application
        target.owner = db.owner
        let app = ReachApplication(target: target, logger: logger)
        // What the older release recorded (through the log's append function: this release's
        // bulk path needs the positions function of its own migrations).
        let earlier = try db.applicationConnection()
        for batch in 0..<30 {
            _ = try EventLog.append(
                (0..<100).map { n in
                    NewEvent(
                        streamID: "older-\(batch % 7)", type: "upgrade_probe_before", data: #"{"n":\#(batch * 100 + n)}"#, authorityID: "northvale")
                }, on: earlier)
        }

        // The newer service is not ready on it: it names what is missing.
        var unready = ""
        do { _ = try await app.readiness() } catch let error as RequestError { unready = error.description }
        #expect(newer.allSatisfy { unready.contains($0) }, "\(unready)")

        // The older service appends while the newer migrations are applied.
        let appenders = Appenders(db.application)
        defer { appenders.counts.running.store(false, ordering: .relaxed) }
        try await Task.sleep(for: .milliseconds(300))
        let before = appenders.appended
        let started = ContinuousClock.now
        let applied = try await blocking { try Migrator(migrations: all, logger: logger).migrate(on: db.ownerConnection()) }
        let took = ContinuousClock.now - started
        try await Task.sleep(for: .milliseconds(300))
        let during = appenders.appended - before
        try await appenders.stop()
        print(
            """
            upgrade while appending: \(applied.count) migrations (\(applied.joined(separator: ", "))) applied in \(took) while 4 older \
            appenders made \(during) appends; failed appends \(appenders.failed); slowest append \
            \(appenders.slowestMilliseconds) ms
            """)
        #expect(applied == newer)
        #expect(during > 0, "appends went on")
        #expect(appenders.failed == 0, "no append failed")
        #expect(appenders.slowestMilliseconds < 2000, "no append waited 2 s")
        _ = try await app.readiness()
        let owner = try db.ownerConnection()
        #expect(try EventLog.verify(on: owner).ok)
        let probes: Int = try owner.query("SELECT count(*) FROM reach.events WHERE event_type = 'upgrade_probe'").decode(row: 0, column: 0)
        #expect(probes == appenders.appended, "every acknowledged append is in the log")
    }

    @Test("a migration that needs a lock a long query holds gives way and tries again, rather than queueing every append behind it")
    func migrationGivesWay() async throws {
        var logger = Logger(label: "reach.test")
        logger.logLevel = .critical
        let db = try TestDatabase.create()
        // A researcher's long query holds the log's table (ACCESS SHARE) for 3 s.
        let reader = try db.ownerConnection()
        try reader.executeScript("BEGIN")
        _ = try reader.query("SELECT count(*) FROM reach.events")
        let appenders = Appenders(db.application)
        defer { appenders.counts.running.store(false, ordering: .relaxed) }
        try await Task.sleep(for: .milliseconds(200))
        // A migration that alters the log's table (ACCESS EXCLUSIVE): it must wait for the reader.
        let alter = Migrator.Migration(name: "9999_test_alter.sql", sql: "ALTER TABLE reach.events ADD COLUMN upgrade_test int")
        let migrator = try {
            var migrator = Migrator(migrations: try Schema.migrator(logger: logger).migrations + [alter], logger: logger)
            migrator.lockTimeout = .milliseconds(200)
            return migrator
        }()
        let migrating = Task.detached { try await blocking { try migrator.migrate(on: db.ownerConnection()) } }
        try await Task.sleep(for: .seconds(3))
        let duringRead = appenders.appended
        try reader.executeScript("COMMIT")
        let applied = try await migrating.value
        try await appenders.stop()
        print(
            """
            a migration waiting on a 3 s query: applied \(applied) once it ended; \(duringRead) appends meanwhile, slowest \
            \(appenders.slowestMilliseconds) ms, failed \(appenders.failed)
            """)
        #expect(applied == ["9999_test_alter.sql"])
        #expect(duringRead > 50, "appends went on while the migration waited")
        #expect(appenders.failed == 0)
        #expect(appenders.slowestMilliseconds < 1000, "no append queued behind the waiting migration for long")
    }

    @Test(
        "a database migrated by the release before the migrations were kept by their owners migrates on: the same files, names, checksums and order, and nothing is refused"
    )
    func migratedBeforeOwners() throws {
        // The names and checksums that release recorded in reach_migrations (commit 8e5c345).
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/migrations-8e5c345.txt")
        let previous = try String(contentsOf: fixture, encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ")
            return (name: String(parts[0]), checksum: String(parts[1]))
        }
        #expect(previous.count == 27)
        let all = try Schema.migrator().migrations
        let checksums = Dictionary(uniqueKeysWithValues: all.map { ($0.name, EventLog.sha256Hex($0.sql)) })
        for file in previous { #expect(checksums[file.name] == file.checksum, "\(file.name) is unchanged") }
        #expect(Array(all.map(\.name).prefix(previous.count)) == previous.map(\.name), "that release's files come first, in its order")
        // Each owner holds its own: the application's files are no longer the event log's.
        let application = try Schema.applicationMigrations().map(\.name)
        #expect(
            application == ["0018_accounts.sql", "0019_sessions.sql", "0022_import_jobs.sql", "0023_recent_records.sql", "0027_sign_in_guard.sql"])
        #expect(try Migrator().migrations.map(\.name).allSatisfy { !application.contains($0) })

        // The database as that release left it: its files applied, in its order, by its migrator.
        let db = try TestDatabase.create(migrated: false)
        let owner = try db.ownerConnection()
        let names = Set(previous.map(\.name))
        _ = try Migrator(migrations: all.filter { names.contains($0.name) }).migrate(on: owner)
        let recorded = try owner.query("SELECT name, checksum FROM public.reach_migrations ORDER BY name").mapRows {
            "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: String.self))"
        }
        #expect(recorded == previous.map { "\($0.name) \($0.checksum)" })
        // This release migrates it on, applying only what came after.
        let applied = try Schema.migrator().migrate(on: owner)
        #expect(applied == all.map(\.name).filter { !names.contains($0) })
        #expect(try Migrator.applied(on: owner) == all.map(\.name))
        #expect(try Schema.migrator().migrate(on: owner).isEmpty)
    }
}
