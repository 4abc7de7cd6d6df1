import ArgumentParser
import Foundation
import Logging
import ReachApp
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Synchronization
import Testing

@testable import reach

/// `reach db backup` and `reach db restore`, end to end: a backup taken while appends go on,
/// restored into a new cluster of Reach's own.
@Suite("backup and restore")
struct BackupTests {
    @Test(
        "a backup taken while appends go on, restored into a new cluster: the log verifies and its seal holds, it is the source's log up to a point with nothing skipped or doubled, and the projections resume from their checkpoints to the figures of a full rebuild"
    )
    func backupWhileAppending() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let db = try TestDatabase.create()
        var logger = Logger(label: "reach.test")
        logger.logLevel = .warning
        var target = DatabaseTarget.url("")
        target.application = db.application
        target.owner = db.owner
        let admin = Identity(name: "ops", role: .admin)
        let source = ReachApplication(target: target, logger: logger)
        _ = try await source.loadDemo(seed: 5, events: 3000, as: admin)
        let period = try Period.parse("2024/25").get()
        _ = try await source.metrics(MetricQuery(period: period, metrics: [.sessions]), as: admin) // projections caught up
        let sourceURL = "postgresql:///\(db.name)?host=\(TestCluster.shared.dataDirectory)&user=postgres"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reach-backup-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A seal of the log as it stands, to check the restored log against.
        try await
            (try Events.Seal.parseAsRoot(["--database-url", sourceURL, "--key", folder + "/key", "--out", folder + "/seal.json"]) as! Events.Seal)
            .run()

        // Appends go on, one event per transaction, while the backup is taken.
        let appending = Atomic<Bool>(true)
        let appended = Atomic<Int>(0)
        let application = db.application
        let appender = Task.detached {
            let connection = try Connection(configuration: application)
            var index = 0
            while appending.load(ordering: .relaxed) {
                index += 1
                _ = try EventLog.append(
                    [NewEvent(streamID: "during-backup-\(index % 7)", type: "backup_probe", data: #"{"n":\#(index)}"#)], on: connection)
                appended.add(1, ordering: .relaxed)
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let before = appended.load(ordering: .relaxed)
        let file = folder + "/reach.dump"
        try await (try Database.Backup.parseAsRoot(["--database-url", sourceURL, file]) as! Database.Backup).run()
        let during = appended.load(ordering: .relaxed) - before
        appending.store(false, ordering: .relaxed)
        try await appender.value
        #expect(during > 0, "appends went on while the backup was taken")
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600)

        // Restored into a new cluster of Reach's own.
        let restoredDirectory = folder + "/cluster"
        defer { try? LocalCluster(dataDirectory: restoredDirectory).stop(mode: "immediate") }
        try await (try Database.Restore.parseAsRoot(["--data-dir", restoredDirectory, file]) as! Database.Restore).run()
        let cluster = try LocalCluster(dataDirectory: restoredDirectory)
        let restored = try Connection(configuration: cluster.configuration(database: DatabaseTarget.localDatabase))
        #expect(try EventLog.verify(on: restored).ok)
        let seal = try Seal(fileText: try String(contentsOfFile: folder + "/seal.json", encoding: .utf8))
        #expect(try EventLog.verify(against: seal, on: restored).ok, "the seal made before the backup holds on the restored log")

        // The source's log up to the restored log's last position, event for event.
        let last = try #require(try EventLog.size(on: restored).lastPosition)
        let digest = """
            SELECT count(*)::bigint, md5(string_agg(encode(hash, 'hex'), '' ORDER BY "position")) FROM reach.events WHERE "position" <= $1
            """
        let sourceConnection = try db.ownerConnection()
        let sourceDigest = try sourceConnection.query(digest, [last])
        let restoredDigest = try restored.query(digest, [last])
        #expect(try sourceDigest.decode(Int64.self, row: 0, column: 0) == restoredDigest.decode(Int64.self, row: 0, column: 0))
        #expect(try sourceDigest.decode(String.self, row: 0, column: 1) == restoredDigest.decode(String.self, row: 0, column: 1))
        #expect(try restored.query("SELECT count(*) FROM reach.events WHERE \"position\" > $1", [last]).decode(Int64.self, row: 0, column: 0) == 0)
        #expect(
            try sourceConnection.query("SELECT count(*) FROM reach.events WHERE \"position\" > $1", [last]).decode(Int64.self, row: 0, column: 0) > 0,
            "the source went on past the backup")

        // Every projection's checkpoint is within the restored log; they resume from there to
        // exactly the figures a full rebuild gives.
        let checkpoints = try restored.query("SELECT name, checkpoint FROM projections.state").mapRows {
            (try $0.decode(0, as: String.self), try $0.decode(1, as: Int64.self))
        }
        #expect(!checkpoints.isEmpty && checkpoints.allSatisfy { $0.1 <= last && $0.1 > 0 }, "\(checkpoints)")
        var restoredTarget = DatabaseTarget.url("")
        restoredTarget.owner = cluster.configuration(database: DatabaseTarget.localDatabase)
        restoredTarget.application = cluster.configuration(database: DatabaseTarget.localDatabase, user: DatabaseTarget.localApplicationUser)
        restoredTarget.cluster = cluster
        let app = ReachApplication(target: restoredTarget, logger: logger)
        let query = MetricQuery(
            period: period, by: .la, metrics: [.schoolsEngaged, .sessions, .attendances, .staffTrained, .pilotProgress, .surveyChange])
        let resumed = try await app.metrics(query, as: admin).rows
        try await app.rebuildProjections(Projection.all, workers: 2, as: admin)
        let rebuilt = try await app.metrics(query, as: admin).rows
        #expect(!resumed.isEmpty && resumed == rebuilt)
        let sourceFigures = try await source.metrics(query, as: admin).rows
        #expect(resumed == sourceFigures, "the probes appended meanwhile count in no figure, so the figures are the source's")
    }
}
