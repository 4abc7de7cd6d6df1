import Foundation
import Logging
import ReachApp
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A read replica and a failover, on two local PostgreSQL clusters of the test's own: a primary,
/// and a hot standby made from it with `pg_basebackup -R` that follows it by streaming
/// replication, synchronously (a commit is acknowledged once the standby has it).
extension ServerTests {
    @Test(
        "a read replica: researchers' figures come from it and equal the primary's, staff see their own records at once; then the replica is promoted while 32 clients post records through the service, which follows it: every acknowledged record is in the log once, the projection runner goes on, and a follower of the event stream gets every event once"
    )
    func replicaAndFailover() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let logger = FaultRig.logger
        let directory = FaultRig.directory()
        let (primaryData, standbyData) = (directory + "/primary", directory + "/standby")
        defer { FaultRig.remove(directory, clusters: [primaryData, standbyData]) }
        let primaryTarget = try await blocking {
            try DatabaseTarget.local(dataDirectory: primaryData, migrations: Schema.migrations(), logger: logger).0
        }
        let primary = try #require(primaryTarget.cluster)
        let onPrimary = ReachApplication(target: primaryTarget, logger: logger)
        let tokens = try await FaultRig.prepare(onPrimary)

        // The standby, then synchronous replication to it.
        let standby = try await blocking {
            let standby = try LocalCluster.standby(of: primary, in: standbyData, settings: DatabaseTarget.localSettings)
            try standby.start()
            return standby
        }
        let primaryAdmin = try Connection(configuration: primary.configuration(database: "reach"))
        try primaryAdmin.executeScript("ALTER SYSTEM SET synchronous_standby_names = '*'")
        try primaryAdmin.executeScript("SELECT pg_reload_conf()")
        var state = ""
        for _ in 0..<100 where state != "sync" {
            state = (try? primaryAdmin.query("SELECT sync_state FROM pg_stat_replication").decode(String.self, row: 0, column: 0)) ?? ""
            if state != "sync" { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(state == "sync", "the standby replicates synchronously")
        let standbyAdmin = try Connection(configuration: standby.configuration(database: "reach"))
        #expect(try standbyAdmin.query("SELECT pg_is_in_recovery()").decode(Bool.self, row: 0, column: 0))

        // The service writes to whichever of the two accepts writes (libpq's multi-host
        // connection string), and reads researchers' figures from the standby.
        func either(_ user: String) -> ConnectionConfiguration {
            ConnectionConfiguration(
                "",
                overrides: [
                    "host": "\(primaryData),\(standbyData)", "port": "5432,5432", "dbname": "reach", "user": user,
                    "target_session_attrs": "read-write", "application_name": "reach",
                ])
        }
        var target = primaryTarget
        target.cluster = nil
        target.application = either(DatabaseTarget.localApplicationUser)
        target.owner = either(LocalCluster.superuser)
        target.reader = standby.configuration(database: "reach", user: DatabaseTarget.localApplicationUser).overriding(["application_name": "reach"])
        let rita = Identity(name: "rita", role: .researcher)
        let year = try Period.parse("2024/25").get()
        let query = MetricQuery(
            period: year, by: .la, metrics: [.schoolsEngaged, .sessions, .attendances, .staffTrained, .pilotProgress, .surveyChange])

        // Figures on the replica, once it has replayed the primary's catch-up (as the command
        // line reads them, bringing the projections up to date first), equal the primary's.
        let fromPrimary = try await onPrimary.metrics(query, as: rita).rows
        let fromReplica = try await ReachApplication(target: target, logger: logger).metrics(query, as: rita).rows
        #expect(!fromPrimary.isEmpty && fromReplica == fromPrimary, "the replica's figures equal the primary's")

        let rig = try await FaultRig.serve(ReachApplication(target: target, logger: logger), requestSeconds: 5, runner: true)
        let sessionsURL = rig.base + "/api/v1/metrics?la=northvale&period=2024/25&metric=sessions&format=csv"
        func sessions(_ token: String) async throws -> Double? {
            let answer = try await blocking { FaultRig.get(sessionsURL, token: token) }
            return Self.headline(answer.body, statistic: "sessions")
        }
        let before = try #require(try await sessions(tokens.researcher))
        #expect(try await sessions(tokens.staff) == before)
        #expect(
            try standbyAdmin.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reach-request'").decode(
                Int.self, row: 0, column: 0) > 0,
            "the researcher's request read on the standby")

        // With the standby's replay paused, a staff member's new record shows in their own
        // figures (the primary's) and not yet in the researcher's (the standby's); once replay
        // resumes, in both.
        try standbyAdmin.executeScript("SELECT pg_wal_replay_pause()")
        let assembly = try ServerTests.Assembly(primaryAdmin)
        let posted = try await blocking {
            FaultRig.get(rig.base + "/api/v1/records", token: tokens.staff, post: assembly.record("replica-1"))
        }
        #expect(posted.status == 200, "\(posted.body)")
        var staffSees = before
        for _ in 0..<100 where staffSees == before {
            staffSees = try await sessions(tokens.staff) ?? before
            if staffSees == before { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(staffSees == before + 1, "staff see their own record at once")
        #expect(try await sessions(tokens.researcher) == before, "the researcher reads the standby, which has not replayed it yet")
        try standbyAdmin.executeScript("SELECT pg_wal_replay_resume()")
        var researcherSees = before
        for _ in 0..<100 where researcherSees != staffSees {
            researcherSees = try await sessions(tokens.researcher) ?? before
            if researcherSees != staffSees { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(researcherSees == staffSees, "the researcher sees it once the standby has replayed it")
        let ready = try await blocking { FaultRig.get(rig.base + "/health/ready") }
        let replicaState = ((try? JSONSerialization.jsonObject(with: Data(ready.body.utf8))) as? [String: Any])?["read_replica"] as? [String: Any]
        #expect(ready.status == 200 && replicaState?["state"] as? String == "ok", "\(ready.body)")

        // Failover: 32 clients post records for 10 s, and a follower reads the log's event
        // stream; 2 s in, the primary is killed outright and the standby promoted. The service
        // finds the new primary by itself.
        let followedFrom: Int64 = try primaryAdmin.query("SELECT max(\"position\") + 1 FROM reach.events").decode(row: 0, column: 0)
        let follower = try rig.follower(token: tokens.admin, from: followedFrom, seconds: 16)
        let clients = try rig.clients(token: tokens.staff, seconds: 10)
        try await Task.sleep(for: .seconds(2))
        let lastOnPrimary: Int64 = try primaryAdmin.query("SELECT coalesce(max(\"position\"), 0) FROM reach.events").decode(row: 0, column: 0)
        kill(FaultRig.postmaster(primaryData), SIGKILL)
        let killed = ContinuousClock.now
        try await blocking { try standby.promote() }
        let promoted = ContinuousClock.now - killed
        let outcome = try await clients.value
        let acknowledged = outcome.acknowledged

        // The projection runner went on, on the new primary, from its checkpoints.
        let lag = try await rig.projectionLag(within: 15)
        let followed = try await follower.value
        await rig.stop()
        let newPrimary = try Connection(configuration: standby.configuration(database: "reach"))
        #expect(try !newPrimary.query("SELECT pg_is_in_recovery()").decode(Bool.self, row: 0, column: 0))
        let stored = try FaultRig.stored(acknowledged, on: newPrimary)
        let last: Int64 = try newPrimary.query("SELECT max(\"position\") FROM reach.events").decode(row: 0, column: 0)
        print(
            """
            failover to the promoted standby under 32 clients: \(acknowledged.count) records acknowledged, \(stored.count) in the new \
            primary's log (\(stored.distinct) distinct); answers 503: \(outcome.counts["unavailable"] ?? 0), no answer: \
            \(outcome.counts["no_answer"] ?? 0), other: \(outcome.counts["other"] ?? 0); promoted \(promoted) after the kill; no \
            acknowledgement for \(outcome.longest_gap.map { String(format: "%.1f s", $0) } ?? "-") at most; the log went from position \
            \(lastOnPrimary) (before the kill) to \(last); projection lag afterwards \(lag)
            """)
        #expect(acknowledged.count > 32)
        #expect(
            stored.count == acknowledged.count && stored.distinct == acknowledged.count, "every acknowledged record is in the new primary's log once")
        #expect((outcome.counts["other"] ?? 0) == 0, "\(outcome.other_statuses)")
        #expect(last > lastOnPrimary, "records were appended on the new primary")
        #expect(lag == 0, "the projection runner went on, on the new primary")
        // The follower got every event of the new primary's log from where it began, in order,
        // none twice.
        let logged = try newPrimary.query("SELECT \"position\" FROM reach.events WHERE \"position\" >= $1 ORDER BY 1", [followedFrom]).mapRows {
            try $0.decode(0, as: Int64.self)
        }
        print(
            "the log's follower through the failover: \(followed.positions.count) events received (\(Set(followed.positions).count) distinct), \(logged.count) in the new primary's log from position \(followedFrom); it reconnected \(followed.reconnects) times"
        )
        #expect(followed.positions == logged, "the follower got the new primary's log from \(followedFrom), in order, none skipped or twice")
        #expect(try EventLog.verify(on: newPrimary).ok)
        // Its figures, resumed from the checkpoints, are a full rebuild's.
        var promotedTarget = target
        promotedTarget.application = standby.configuration(database: "reach", user: DatabaseTarget.localApplicationUser)
        promotedTarget.owner = standby.configuration(database: "reach")
        promotedTarget.reader = nil
        let onPromoted = ReachApplication(target: promotedTarget, logger: logger)
        let admin = Identity(name: "ops", role: .admin)
        let resumed = try await onPromoted.metrics(query, as: admin).rows
        try await onPromoted.rebuildProjections(Projection.all, workers: 2, as: admin)
        #expect(try await onPromoted.metrics(query, as: admin).rows == resumed, "the figures the runner resumed to are a full rebuild's")
    }

    /// The headline value of `statistic` in a metrics CSV.
    static func headline(_ csv: String, statistic: String) -> Double? {
        let lines = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, let dimension = header.firstIndex(of: "dimension"), let stat = header.firstIndex(of: "statistic"),
            let value = header.firstIndex(of: "value")
        else { return nil }
        return lines.dropFirst().first { $0.count > value && $0[dimension] == "total" && $0[stat] == statistic }.flatMap { Double($0[value]) }
    }
}
