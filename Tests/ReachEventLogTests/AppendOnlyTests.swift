import Foundation
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Testing

@Suite("append-only and tamper evidence")
struct AppendOnlyTests {
    @Test("the application's role cannot UPDATE, DELETE or TRUNCATE the log")
    func applicationRoleCannotChange() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("ro")], on: connection)
        for statement in ["UPDATE reach.events SET data = '{}'", "DELETE FROM reach.events", "TRUNCATE reach.events"] {
            let error = #expect(throws: PostgresError.self, "\(statement)") { try connection.executeScript(statement) }
            #expect(error?.sqlState == PostgresError.SQLState.insufficientPrivilege, "\(statement)")
        }
        let grants = try connection.query(
            """
            SELECT string_agg(privilege_type, ',' ORDER BY privilege_type) FROM information_schema.role_table_grants
            WHERE grantee = 'reach_app' AND table_schema = 'reach' AND table_name = 'events'
            """
        ).decode(String.self, row: 0, column: 0)
        #expect(grants == "INSERT,SELECT")
    }

    @Test("the trigger refuses UPDATE, DELETE and TRUNCATE even for the owner")
    func triggerRefusesOwner() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        _ = try EventLog.append([sampleEvent("ro")], on: connection)
        for statement in ["UPDATE reach.events SET data = '{}'", "DELETE FROM reach.events", "TRUNCATE reach.events"] {
            let error = #expect(throws: PostgresError.self, "\(statement)") { try connection.executeScript(statement) }
            #expect(error?.sqlState == "RX003", "\(statement)")
            #expect(error?.message.contains("append-only") == true)
        }
        #expect(try connection.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == 1)
    }

    @Test("verify finds the first event a superuser changed with the trigger disabled")
    func verifyDetectsTampering() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        var results: [AppendResult] = []
        for n in 0..<30 { results += try EventLog.append([sampleEvent("t-\(n % 3)", n)], on: connection) }
        #expect(try EventLog.verify(on: connection) == VerifyReport(events: 30, streams: 3, firstBroken: nil))
        let victim = results[17]
        try connection.executeScript("ALTER TABLE reach.events DISABLE TRIGGER events_append_only")
        try connection.execute("UPDATE reach.events SET data = jsonb_set(data, '{n}', '1000') WHERE \"position\" = $1", [victim.position])
        try connection.executeScript("ALTER TABLE reach.events ENABLE TRIGGER events_append_only")
        let report = try EventLog.verify(on: connection)
        #expect(!report.ok)
        #expect(report.firstBroken?.position == victim.position)
        #expect(report.firstBroken?.streamID == victim.streamID)

        // Rewriting the hash too is caught at the next event of the stream.
        let db2 = try TestDatabase.create()
        let other = try db2.ownerConnection()
        var placed: [AppendResult] = []
        for n in 0..<6 { placed += try EventLog.append([sampleEvent("h", n)], on: other) }
        try other.executeScript("ALTER TABLE reach.events DISABLE TRIGGER events_append_only")
        try other.execute(
            """
            UPDATE reach.events SET data = '{"n": 7}',
                hash = sha256(coalesce((SELECT hash FROM reach.events p WHERE p.stream_id = events.stream_id AND p.version = events.version - 1), '\\x'::bytea)
                       || reach.event_digest_input(event_id, stream_id, version, event_type, schema_version, '{"n": 7}', metadata, occurred_on, authority_id, recorded_at))
            WHERE "position" = $1
            """, [placed[2].position])
        try other.executeScript("ALTER TABLE reach.events ENABLE TRIGGER events_append_only")
        #expect(try EventLog.verify(on: other).firstBroken?.position == placed[3].position)
    }

    @Test("verify finds a moved head, an event at a position the log never draws, and a stream without a head")
    func verifyChecksBeyondTheChains() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        for n in 0..<6 { _ = try EventLog.append([sampleEvent("v-\(n % 2)", n)], on: connection) }
        #expect(try EventLog.verify(on: connection).ok)

        // A head moved back (the next honest append would look broken) is refused when the
        // transaction commits, for the application's role and the owner alike...
        let application = try db.applicationConnection()
        #expect(throws: PostgresError.self) { try application.execute("UPDATE reach.streams SET version = 2 WHERE stream_id = 'v-1'") }
        #expect(throws: PostgresError.self) { try connection.execute("UPDATE reach.streams SET version = 2 WHERE stream_id = 'v-1'") }
        // ...and found by verify, should a superuser move it with the check turned off.
        try connection.executeScript("ALTER TABLE reach.streams DISABLE TRIGGER streams_checked")
        try connection.execute("UPDATE reach.streams SET version = 2 WHERE stream_id = 'v-1'")
        var report = try EventLog.verify(on: connection)
        #expect(report.firstBroken?.streamID == "v-1")
        #expect(report.firstBroken?.reason.contains("head is at version 2") == true, "\(String(describing: report.firstBroken))")
        try connection.execute("UPDATE reach.streams SET version = 3 WHERE stream_id = 'v-1'")
        #expect(try EventLog.verify(on: connection).ok)

        // A head whose hash is not its last event's.
        try connection.execute("UPDATE reach.streams SET last_hash = sha256('forged') WHERE stream_id = 'v-0'")
        report = try EventLog.verify(on: connection)
        #expect(report.firstBroken?.streamID == "v-0")
        #expect(report.firstBroken?.reason.contains("hash") == true)

        // An event written straight into the table, with a correct hash but a back-dated time,
        // or at position -1 (never read by the projections): the application's role is refused...
        let forged = try TestDatabase.create()
        let owner = try forged.ownerConnection()
        _ = try EventLog.append([sampleEvent("w", 0)], on: owner)
        let writer = try forged.applicationConnection()
        func forge(position: String, recordedAt: String) -> String {
            """
            WITH e AS (SELECT \(position) AS p, gen_random_uuid() AS id, \(recordedAt)::timestamptz AS at)
            INSERT INTO reach.events ("position", event_id, stream_id, version, event_type, data, metadata, recorded_at, hash)
            SELECT e.p, e.id, 'forged', 1, 'activity_delivered', '{}', '{"actor":"someone else"}', e.at,
                   sha256('\\x'::bytea || reach.event_digest_input(e.id, 'forged', 1, 'activity_delivered', 1, '{}', '{"actor":"someone else"}', NULL, NULL, e.at))
            FROM e
            """
        }
        for (position, at) in [("(SELECT reach.draw_positions(1))", "'2020-01-01'"), ("-1", "now()")] {
            let error = #expect(throws: PostgresError.self) { try writer.executeScript(forge(position: position, recordedAt: at)) }
            #expect(error?.sqlState == "RX004", "\(position) \(at)")
        }
        // ...and verify finds one a superuser writes with the checks turned off.
        try owner.executeScript(
            "ALTER TABLE reach.events DISABLE TRIGGER events_checked; \(forge(position: "-1", recordedAt: "now()")); ALTER TABLE reach.events ENABLE TRIGGER events_checked"
        )
        report = try EventLog.verify(on: owner)
        #expect(report.firstBroken?.position == -1)
        #expect(report.firstBroken?.reason.contains("position") == true)
    }

    @Test("an event is never recorded before the event before it in its stream, by any path, and verify says where one is")
    func recordedInOrder() throws {
        let db = try TestDatabase.create()
        let first = try db.applicationConnection()
        let second = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("ordered", 0)], on: first)
        // A transaction that started first appends after one that started later, one event,
        // a batch, and through the bulk path.
        let appends: [(Connection) throws -> Void] = [
            { _ = try EventLog.append([sampleEvent("ordered", 10)], on: $0) },
            { _ = try EventLog.append([sampleEvent("ordered", 20), sampleEvent("other", 21)], on: $0) },
            { _ = try EventLog.appendBulk([sampleEvent("ordered", 30), sampleEvent("ordered", 31)], on: $0) },
        ]
        for (index, append) in appends.enumerated() {
            try first.executeScript("BEGIN; SELECT now()")
            Thread.sleep(forTimeInterval: 0.05)
            _ = try EventLog.append([sampleEvent("ordered", 100 + index)], on: second)
            try append(first)
            try first.executeScript("COMMIT")
        }
        let times = try first.query("SELECT recorded_at::text FROM reach.events WHERE stream_id = 'ordered' ORDER BY version").mapRows {
            try $0.decode(0, as: String.self)
        }
        #expect(times.count == 8)
        let ordered = try first.query(
            """
            SELECT bool_and(recorded_at >= coalesce(previous, recorded_at)) FROM (
                SELECT recorded_at, lag(recorded_at) OVER (PARTITION BY stream_id ORDER BY version) AS previous FROM reach.events) e
            """
        ).decode(Bool.self, row: 0, column: 0)
        #expect(ordered, "\(times)")
        #expect(try EventLog.verify(on: first).ok)

        // A superuser who back-dates an event and re-chains its stream is found by verify.
        let owner = try db.ownerConnection()
        try owner.executeScript(
            """
            ALTER TABLE reach.events DISABLE TRIGGER events_append_only;
            UPDATE reach.events SET recorded_at = recorded_at - interval '1 day' WHERE stream_id = 'ordered' AND version = 5;
            UPDATE reach.events e SET hash = r.hash FROM (
                SELECT "position", reach.chain('\\x'::bytea, reach.event_digest_input(event_id, stream_id, version, event_type, schema_version,
                       data, metadata, occurred_on, authority_id, recorded_at)) OVER (ORDER BY version) AS hash
                FROM reach.events WHERE stream_id = 'ordered') r
            WHERE e."position" = r."position";
            ALTER TABLE reach.streams DISABLE TRIGGER streams_checked;
            UPDATE reach.streams SET last_hash = (SELECT hash FROM reach.events WHERE stream_id = 'ordered' ORDER BY version DESC LIMIT 1) WHERE stream_id = 'ordered';
            ALTER TABLE reach.streams ENABLE TRIGGER streams_checked;
            ALTER TABLE reach.events ENABLE TRIGGER events_append_only
            """)
        let report = try EventLog.verify(on: owner)
        #expect(report.firstBroken?.streamID == "ordered")
        #expect(report.firstBroken?.version == 5)
        #expect(report.firstBroken?.reason.contains("before the event before it") == true, "\(String(describing: report.firstBroken))")
    }
}
