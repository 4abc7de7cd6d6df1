import ArgumentParser
import Foundation
import ReachApp
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachTestSupport
import Testing

@testable import reach

/// The `reach` commands, parsed from the words a person types and run against a real database.
@Suite("reach commands")
struct CommandTests {
    /// The test database as a URL a person could pass with --database-url.
    func url(_ db: TestDatabase, user: String) -> String {
        "postgresql:///\(db.name)?host=\(TestCluster.shared.dataDirectory)&user=\(user)"
    }

    @Test("db migrate, events append, read and verify work end to end with --database-url")
    func appendReadVerify() async throws {
        let db = try TestDatabase.create(migrated: false)
        let migrate = try Database.Migrate.parseAsRoot(["--database-url", url(db, user: "postgres")]) as! Database.Migrate
        try await migrate.run()
        #expect(try Migrator.applied(on: db.ownerConnection()).count == (try Schema.migrator().migrations.count))
        try DatabaseTarget.ensureApplicationLogin(TestCluster.applicationUser, on: db.ownerConnection())

        let app = url(db, user: TestCluster.applicationUser)
        let id = UUID().uuidString.lowercased()
        let first =
            try Events.Append.parseAsRoot([
                "school-T-1", "school_registered", #"{"name":"Example Academy"}"#, "--expected-version", "none",
                "--id", id, "--occurred-on", "2024-09-02", "--authority", "test", "--actor", "tester", "--database-url", app,
            ]) as! Events.Append
        try await first.run()
        let again = first // the same id again appends nothing
        try await again.run()
        let second =
            try Events.Append.parseAsRoot([
                "school-T-1", "activity_delivered", #"{"kind":"assembly"}"#, "--expected-version", "1", "--database-url", app,
            ]) as! Events.Append
        try await second.run()
        let stale =
            try Events.Append.parseAsRoot([
                "school-T-1", "activity_delivered", #"{"kind":"assembly"}"#, "--expected-version", "1", "--database-url", app,
            ]) as! Events.Append
        await #expect(throws: EventLogError.self) { try await stale.run() }

        let events = try EventLog.readStream("school-T-1", on: db.applicationConnection())
        #expect(events.map(\.type) == ["school_registered", "activity_delivered"])
        #expect(events[0].eventID.lowercasedString == id)
        #expect(events[0].authorityID == "test")
        #expect(events[0].metadata.contains("tester"))

        let verify = try Events.Verify.parseAsRoot(["--database-url", app]) as! Events.Verify
        try await verify.run()
    }

    @Test("seal, then verify against the seal: a stream deleted by the database's owner fails it")
    func sealAndVerify() async throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        _ = try EventLog.append([NewEvent(streamID: "kept", type: "t", data: "{}"), NewEvent(streamID: "gone", type: "t", data: "{}")], on: owner)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("seal-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let database = url(db, user: "postgres")
        try await
            (try Events.Seal.parseAsRoot(["--database-url", database, "--key", folder + "/key", "--out", folder + "/seal.json"]) as! Events.Seal)
            .run()
        #expect(try FileManager.default.attributesOfItem(atPath: folder + "/key")[.posixPermissions] as? Int == 0o600)
        try await (try Events.Verify.parseAsRoot(["--database-url", database, "--seal", folder + "/seal.json"]) as! Events.Verify).run()
        try owner.executeScript(
            """
            ALTER TABLE reach.events DISABLE TRIGGER events_append_only;
            DELETE FROM reach.events WHERE stream_id = 'gone'; DELETE FROM reach.streams WHERE stream_id = 'gone';
            ALTER TABLE reach.events ENABLE TRIGGER events_append_only;
            """)
        try await (try Events.Verify.parseAsRoot(["--database-url", database]) as! Events.Verify).run()
        let verify = try Events.Verify.parseAsRoot(["--database-url", database, "--seal", folder + "/seal.json"]) as! Events.Verify
        let error = await #expect(throws: ExitCode.self) { try await verify.run() }
        #expect(error == ExitCode(1))
    }

    @Test("verify exits with status 1 when a chain is broken")
    func verifyFails() async throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        let results = try EventLog.append(
            [NewEvent(streamID: "v", type: "t", data: "{}"), NewEvent(streamID: "v", type: "t", data: "{}")], on: owner)
        try owner.executeScript("ALTER TABLE reach.events DISABLE TRIGGER events_append_only")
        try owner.execute("UPDATE reach.events SET data = '{\"x\": 1}' WHERE \"position\" = $1", [results[0].position])
        let verify = try Events.Verify.parseAsRoot(["--database-url", url(db, user: "postgres")]) as! Events.Verify
        let error = await #expect(throws: ExitCode.self) { try await verify.run() }
        #expect(error == ExitCode(1))
    }

    @Test("reach record takes JSON Lines, appends what passes and exits 1 when anything was refused")
    func recordFile() async throws {
        let db = try TestDatabase.create()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("records-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try """
        {"type":"local_authority_registered","id":"la-1","data":{"la_id":"demo","name":"Demo Council","region":"london","joined_on":"2024-09-01"}}

        {"type":"school_registered","id":"sch-1","data":{"school_id":"100001","la_id":"demo","name":"Example Academy","phase":"secondary"}}
        {"type":"school_registered","id":"sch-2","data":{"school_id":"100002","la_id":"nowhere","name":"Elsewhere School","phase":"primary"}}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let command = try Record.parseAsRoot([file, "--database-url", url(db, user: TestCluster.applicationUser)]) as! Record
        let error = await #expect(throws: ExitCode.self) { try await command.run() }
        #expect(error == ExitCode(1))
        let connection = try db.applicationConnection()
        #expect(try EventLog.streamVersion("school:100001", on: connection) == 1)
        #expect(try EventLog.streamVersion("school:100002", on: connection) == 0)
        #expect(ReachApplication.split("{\"a\":\n 1}").count == 1)
        #expect(ReachApplication.split("{\"a\":1}\n\n{\"b\":2}\n").map(\.line) == [1, 3])
    }

    @Test("accounts and tokens from the command line: a made password shown once, roles checked, a token that works until revoked")
    func accounts() async throws {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let db = try TestDatabase.create()
        let database = url(db, user: "postgres")
        let connection = try db.applicationConnection()
        _ = try EventLog.append(
            [
                NewEvent(
                    id: EventLog.recordEventID("la-acc"), streamID: Entity.authority.stream("northvale"), type: "local_authority_registered",
                    data: #"{"la_id":"northvale","name":"Northvale Council","region":"london","joined_on":"2024-09-01"}"#,
                    authorityID: "northvale")
            ], on: connection)
        func fails(_ arguments: [String]) async -> String {
            do {
                var command = try Reach.parseAsRoot(arguments + ["--database-url", database]) as! any AsyncParsableCommand
                try await command.run()
                return ""
            } catch { return "\(error)" }
        }
        #expect(await fails(["users", "add", "sam", "--role", "staff"]).contains("at least one authority"))
        #expect(await fails(["users", "add", "lee", "--role", "la_viewer", "--la", "nowhere"]).contains("no local authority 'nowhere'"))
        #expect(await fails(["users", "add", "Bad Name", "--role", "researcher"]).contains("account name"))
        #expect(await fails(["users", "add", "sam", "--role", "staff", "--la", "northvale"]) == "")
        #expect(await fails(["users", "add", "sam", "--role", "researcher"]).contains("exists already"))
        let stored = try db.ownerConnection().query(
            "SELECT role, authorities::text, password_hash LIKE '$2b$%' FROM reach.accounts WHERE name = 'sam'")
        #expect(try stored.decode(String.self, row: 0, column: 0) == "staff")
        #expect(try stored.decode(String.self, row: 0, column: 1) == "{northvale}")
        #expect(try stored.decode(Bool.self, row: 0, column: 2))
        #expect(await fails(["tokens", "create", "sam"]) == "")
        #expect(await fails(["users", "list"]) == "")
        #expect(await fails(["users", "disable", "sam"]) == "")
        #expect(await fails(["tokens", "create", "sam"]).contains("no account that may sign in"))
        #expect(await fails(["tokens", "revoke", "000000000000"]).contains("no token"))
    }

    @Test("bad arguments are refused with a message that names the problem")
    func badArguments() throws {
        func message(_ arguments: [String]) -> String {
            do {
                _ = try Reach.parseAsRoot(arguments)
                return ""
            } catch {
                return Reach.message(for: error)
            }
        }
        #expect(
            message(["events", "append", "s", "t", "{}", "--expected-version", "banana"]).contains(
                "--expected-version must be any, none or a whole number"))
        #expect(message(["events", "append", "s", "t", "{}", "--occurred-on", "2024-02-30"]).contains("real date"))
        #expect(message(["events", "append", "s", "t", "{}", "--id", "not-a-uuid"]).contains("must be a UUID"))
        #expect(message(["events", "read", "s", "--follow"]).contains("leave out the stream"))
    }
}
