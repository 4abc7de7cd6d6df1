import ArgumentParser
import Foundation
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Testing

@testable import reach

/// `reach metrics`, `reach export summary` and `reach projections`, as a person types them.
@Suite("reach metrics, export and projections commands")
struct MetricsCommandTests {
    func url(_ db: TestDatabase) -> String {
        "postgresql:///\(db.name)?host=\(TestCluster.shared.dataDirectory)&user=postgres"
    }

    @Test("after a demo: metrics bring the projections up to date, an export writes a suppressed summary and records itself")
    func demoMetricsExport() async throws {
        let db = try TestDatabase.create()
        let database = url(db)
        let demo = try Reach.parseAsRoot(["demo", "--events", "5000", "--database-url", database]) as! Demo
        try await demo.run()
        let metrics =
            try Reach.parseAsRoot([
                "metrics", "--database-url", database, "--la", "northvale", "--period", "2024/25",
                "--metric", "sessions", "--metric", "attendances", "--format", "csv", "--publish",
            ]) as! Metrics
        try await metrics.run()
        let owner = try db.ownerConnection()
        let last: Int64 = try owner.query("SELECT max(\"position\") FROM reach.events").decode(row: 0, column: 0)
        let checkpoints = try owner.query("SELECT min(checkpoint) FROM projections.state").decode(Int64.self, row: 0, column: 0)
        #expect(checkpoints == last)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("northvale-\(UUID().uuidString.prefix(6)).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let export =
            try Reach.parseAsRoot([
                "export", "summary", "--database-url", database, "--la", "northvale", "--period", "2024/25",
                "--format", "csv", "--out", file, "--actor", "la-lead",
            ]) as! Export.Summary
        try await export.run()
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.first == "metric,period,scope,dimension,category,statistic,value,policy,la_id")
        #expect(lines.dropFirst().allSatisfy { $0.hasSuffix(",dfe,northvale") })
        #expect(lines.contains { $0.hasPrefix("pilot_progress,2024/25,pilot:") })
        #expect(lines.contains { $0.hasPrefix("sessions,2024/25,month:2024-10,total,total,sessions,") })
        // Pupils' small counts never leave as numbers from 1 to 5.
        for line in lines where line.hasPrefix("attendances,") && line.contains(",pupils,") {
            let value = line.split(separator: ",", omittingEmptySubsequences: false)[6]
            if let number = Int(value) { #expect(number == 0 || number > 5, "\(line)") }
        }
        let recorded = try owner.query(
            """
            SELECT data ->> 'policy', data ->> 'period', metadata ->> 'actor', (data ->> 'rows')::int
            FROM reach.events WHERE event_type = 'summary_exported'
            """)
        #expect(recorded.rowCount == 1)
        #expect(try recorded.decode(String.self, row: 0, column: 0) == "dfe")
        #expect(try recorded.decode(String.self, row: 0, column: 1) == "2024/25")
        #expect(try recorded.decode(String.self, row: 0, column: 2) == "la-lead")
        #expect(try recorded.decode(Int.self, row: 0, column: 3) == lines.count - 1)

        let rebuild = try Reach.parseAsRoot(["projections", "rebuild", "reference", "--database-url", database]) as! Projections.Rebuild
        try await rebuild.run()
        let rebuilt = try owner.query("SELECT rebuilt_at IS NOT NULL FROM projections.state WHERE name = 'reference'").decode(
            Bool.self, row: 0, column: 0)
        #expect(rebuilt)
        let status = try Reach.parseAsRoot(["projections", "status", "--database-url", database, "--format", "json"]) as! Projections.Status
        try await status.run()
    }

    @Test("one policy per authority: set by the programme and recorded, the only one its figures leave under, and fixed once they have left")
    func onePolicyPerAuthority() async throws {
        let db = try TestDatabase.create()
        let database = url(db)
        try await (try Reach.parseAsRoot(["demo", "--events", "5000", "--database-url", database]) as! Demo).run()
        func run(_ arguments: [String]) async -> String? {
            do {
                var command = try Reach.parseAsRoot(arguments)
                if var asynchronous = command as? any AsyncParsableCommand { try await asynchronous.run() } else { try command.run() }
                return nil
            } catch {
                return "\(error)"
            }
        }
        // Until one is set, dfe; the programme sets nhs for southmere, with a reason, recorded.
        #expect(
            await run(["policy", "set", "--database-url", database, "--la", "southmere", "--policy", "nhs", "--reason", "as it reports to the NHS"])
                == nil)
        let owner = try db.ownerConnection()
        let set = try owner.query(
            "SELECT data ->> 'policy', data ->> 'reason', metadata ->> 'actor' FROM reach.events WHERE event_type = 'disclosure_policy_set'")
        #expect(set.rowCount == 1)
        #expect(try set.decode(String.self, row: 0, column: 0) == "nhs")
        #expect(try set.decode(String.self, row: 0, column: 1) == "as it reports to the NHS")
        // Setting it again changes nothing.
        #expect(await run(["policy", "set", "--database-url", database, "--la", "southmere", "--policy", "nhs"]) == nil)
        #expect(
            try owner.query("SELECT count(*)::int FROM reach.events WHERE event_type = 'disclosure_policy_set'").decode(Int.self, row: 0, column: 0)
                == 1)
        // Its figures under the other policy are refused, naming the one in force; its own are answered.
        let other = await run([
            "metrics", "--database-url", database, "--la", "southmere", "--period", "2024/25", "--policy", "dfe", "--metric", "attendances",
        ])
        #expect(other?.contains("southmere's figures leave under nhs") == true, "\(other ?? "answered")")
        #expect(
            await run([
                "metrics", "--database-url", database, "--la", "southmere", "--period", "FY2024/25", "--policy", "nhs", "--metric", "attendances",
            ]) == nil)
        // An export leaves under nhs by default; after it, the policy cannot change.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("southmere-\(UUID().uuidString.prefix(6)).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(
            await run(["export", "summary", "--database-url", database, "--la", "southmere", "--period", "2024/25", "--format", "csv", "--out", file])
                == nil)
        #expect(try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").dropFirst().allSatisfy { $0.hasSuffix(",nhs,southmere") })
        let change = await run(["policy", "set", "--database-url", database, "--la", "southmere", "--policy", "dfe"])
        #expect(change?.contains("have already left under nhs") == true, "\(change ?? "changed")")
        // The publication read and then exported (nothing changed between) is kept as one release.
        let releases = try owner.query("SELECT count(*)::int FROM publication.releases WHERE la_id = 'southmere'").decode(Int.self, row: 0, column: 0)
        #expect(releases == 1)
        #expect(
            await run(["policy", "set", "--database-url", database, "--la", "nowhere", "--policy", "nhs"])?.contains("registered local authority")
                == true)
        // Published for a login but never read: the change withdraws it, and it is published again under the new policy.
        _ = try owner.execute("INSERT INTO reach.authority_logins (login, la_id) VALUES ('eastbridge_lead', 'eastbridge')")
        #expect(await run(["projections", "publish", "--database-url", database]) == nil)
        func published(_ policy: String) throws -> Int {
            try owner.query("SELECT count(*)::int FROM publication.summaries WHERE la_id = 'eastbridge' AND policy = $1", [policy]).decode(
                row: 0, column: 0)
        }
        #expect(try published("dfe") > 0)
        #expect(await run(["policy", "set", "--database-url", database, "--la", "eastbridge", "--policy", "nhs"]) == nil)
        #expect(try published("dfe") == 0)
        #expect(await run(["projections", "publish", "--database-url", database]) == nil)
        #expect(try published("nhs") > 0 && published("dfe") == 0)
    }

    @Test("a local authority's login reads and exports its own published figures only, in the application and in PostgreSQL")
    func authorityLogin() async throws {
        let db = try TestDatabase.create()
        let database = url(db)
        try await (try Reach.parseAsRoot(["demo", "--events", "5000", "--database-url", database]) as! Demo).run()
        let owner = try db.ownerConnection()
        let login = "la_tester_\(UUID().uuidString.prefix(8).lowercased())"
        try owner.executeScript("CREATE ROLE \(login) LOGIN PASSWORD 'la-secret' IN ROLE reach_authority")
        _ = try owner.execute("INSERT INTO reach.authority_logins (login, la_id) VALUES ($1, 'northvale')", [login])
        let loginURL = database.replacingOccurrences(of: "user=postgres", with: "user=\(login)&password=la-secret")

        // Until the programme publishes, the login has nothing to read.
        func refusal(_ arguments: [String]) async -> String {
            do {
                var command = try Reach.parseAsRoot(arguments) as! any AsyncParsableCommand
                try await command.run()
                return ""
            } catch { return "\(error)" }
        }
        let early = await refusal(["metrics", "--database-url", loginURL, "--period", "2024/25"])
        #expect(early.contains("published"), "\(early)")
        try await (try Reach.parseAsRoot(["projections", "publish", "--database-url", database]) as! Projections.Publish).run()
        let other: String = try owner.query("SELECT min(la_id) FROM research.activities WHERE la_id <> 'northvale'").decode(row: 0, column: 0)
        let periods: Int = try owner.query("SELECT count(DISTINCT period) FROM publication.summaries WHERE la_id = 'northvale'").decode(
            row: 0, column: 0)
        #expect(periods > 20)
        // Every authority is published (for the programme's figures under a policy too); the
        // login reads its own only.
        let registered: Int = try owner.query("SELECT count(*)::int FROM reach.streams WHERE stream_id LIKE 'authority:%'").decode(row: 0, column: 0)
        #expect(
            try owner.query("SELECT count(DISTINCT la_id)::int FROM publication.summaries").decode(Int.self, row: 0, column: 0) == registered)

        // The application refuses another authority's figures, figures without a policy, and
        // ranges of dates; it scopes the rest to its own.
        let refused = await refusal(["metrics", "--database-url", loginURL, "--la", other, "--period", "2024/25"])
        #expect(refused.contains("reads the figures of local authority 'northvale' only"), "\(refused)")
        #expect(await refusal(["metrics", "--database-url", loginURL, "--period", "2024/25", "--policy", "none"]).contains("not none"))
        #expect(await refusal(["metrics", "--database-url", loginURL, "--period", "2024-10-01..2024-10-30"]).contains("standard period"))
        try await
            (try Reach.parseAsRoot(["metrics", "--database-url", loginURL, "--period", "2024/25", "--by", "month", "--format", "csv"]) as! Metrics)
            .run()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("northvale-\(UUID().uuidString.prefix(6)).csv").path
        let programmeFile = file + ".programme.csv"
        defer {
            try? FileManager.default.removeItem(atPath: file)
            try? FileManager.default.removeItem(atPath: programmeFile)
        }
        let refusedExport = await refusal(["export", "summary", "--database-url", loginURL, "--la", other, "--period", "2024/25", "--out", file])
        #expect(refusedExport.contains("only"), "\(refusedExport)")
        try await
            (try Reach.parseAsRoot([
                "export", "summary", "--database-url", loginURL, "--la", "northvale", "--period", "2024/25",
                "--out", file,
            ]) as! Export.Summary).run()
        // The file holds programme data: its owner alone may read it.
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        let exported = try owner.query(
            "SELECT metadata ->> 'actor', authority_id, (data ->> 'rows')::int, data ->> 'policy' FROM reach.events WHERE event_type = 'summary_exported'"
        )
        #expect(exported.rowCount == 1)
        #expect(try exported.decode(String.self, row: 0, column: 0) == login)
        #expect(try exported.decode(String.self, row: 0, column: 1) == "northvale")
        #expect(try exported.decode(Int.self, row: 0, column: 2) == lines.count - 1)
        #expect(try exported.decode(String.self, row: 0, column: 3) == "dfe")
        // Its figures are those the programme exports for the same authority and period.
        try await
            (try Reach.parseAsRoot([
                "export", "summary", "--database-url", database, "--la", "northvale", "--period", "2024/25",
                "--out", programmeFile,
            ]) as! Export.Summary).run()
        #expect(try String(contentsOfFile: file, encoding: .utf8) == String(contentsOfFile: programmeFile, encoding: .utf8))

        // A record made afterwards reaches what the login reads: recording publishes.
        let published: Int64 = try owner.query("SELECT min(log_position) FROM publication.summaries WHERE la_id = 'northvale'").decode(
            row: 0, column: 0)
        let fact = try owner.query("SELECT pilot_id, school_id FROM research.activities WHERE la_id = 'northvale' AND school_id IS NOT NULL LIMIT 1")
        let record =
            #"{"type":"activity_delivered","id":"act-late-1","data":{"pilot_id":"\#(try fact.decode(String.self, row: 0, column: 0))","la_id":"northvale","school_id":"\#(try fact.decode(String.self, row: 0, column: 1))","kind":"assembly","date":"2025-06-03","duration_minutes":45,"mode":"in_person","delivered_by":{"team":"CS schools team"},"attendance":{"pupils":{"ks3":3,"ks4":0},"staff":{"teaching":6}}}}"#
        let recordFile = file + ".jsonl"
        defer { try? FileManager.default.removeItem(atPath: recordFile) }
        try record.write(toFile: recordFile, atomically: true, encoding: .utf8)
        try await (try Reach.parseAsRoot(["record", recordFile, "--database-url", database]) as! Record).run()
        let republished: Int64 = try owner.query("SELECT min(log_position) FROM publication.summaries WHERE la_id = 'northvale'").decode(
            row: 0, column: 0)
        #expect(republished > published)

        // PostgreSQL itself: no row-level view, nothing but the published summaries of its own.
        let scoped = try Connection(configuration: db.owner.overriding(["user": login, "password": "la-secret"]))
        #expect(
            try scoped.query("SELECT count(*) FROM pg_class WHERE relnamespace = 'authority'::regnamespace").decode(Int.self, row: 0, column: 0) == 0)
        for forbidden in [
            "SELECT count(*) FROM research.activities", "SELECT count(*) FROM reach.events", "SELECT count(*) FROM proj_activities.activities",
            "SELECT count(*) FROM publication.summaries", "UPDATE reach.authority_logins SET la_id = '\(other)'",
        ] {
            do {
                _ = try scoped.query(forbidden)
                Issue.record("allowed: \(forbidden)")
            } catch let error as PostgresError { #expect(error.sqlState == "42501", "\(forbidden): \(error)") }
        }
        try owner.executeScript("DROP OWNED BY \(login); DROP ROLE \(login)")
    }

    @Test("mistakes in metrics and export options are refused, naming the problem")
    func badOptions() {
        func message(_ arguments: [String]) -> String {
            do {
                _ = try Reach.parseAsRoot(arguments)
                return ""
            } catch {
                return Reach.message(for: error)
            }
        }
        #expect(message(["metrics", "--period", "2024/26"]).contains("names two consecutive years"))
        #expect(message(["metrics", "--metric", "reach"]).contains("metric"))
        #expect(message(["metrics", "--by", "school"]).contains("by"))
        #expect(message(["metrics", "--objective", "9"]).contains("--objective is 1 to 4"))
        #expect(message(["metrics", "--region", "mars"]).contains("not a region"))
        #expect(message(["metrics", "--publish", "--policy", "none"]).contains("--publish needs a disclosure policy"))
        #expect(message(["export", "summary", "--la", "x", "--period", "2024/25", "--out", "f", "--policy", "none"]).contains("not none"))
        #expect(message(["projections", "rebuild", "everything"]).contains("is not a projection"))
    }
}
