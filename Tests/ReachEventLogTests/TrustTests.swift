import Foundation
import ReachCalendar
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Testing

/// The attacks of the outside security review on the log itself, as the application's role
/// (what anyone holding its login could try) and as a superuser: each refused by PostgreSQL,
/// or found by a seal.
@Suite("the log's integrity, attacked")
struct TrustTests {
    /// An event written straight into the table at `position`, in a stream of its own, with a
    /// correct hash and head: everything right but, perhaps, its position.
    static func forged(at position: String, stream: String, recordedAt: String = "now()") -> String {
        """
        WITH e AS (SELECT \(position)::bigint AS p, gen_random_uuid() AS id, \(recordedAt)::timestamptz AS at),
        ins AS (
            INSERT INTO reach.events ("position", event_id, stream_id, version, event_type, data, metadata, recorded_at, hash, authority_id)
            SELECT e.p, e.id, '\(stream)', 1, 'activity_delivered', '{"n":1}', '{"actor":"someone else"}', e.at,
                   reach.event_hash('\\x'::bytea, e.id, '\(stream)', 1, 'activity_delivered', 1, '{"n":1}', '{"actor":"someone else"}', NULL, 'LA01', e.at), 'LA01'
            FROM e RETURNING hash, recorded_at)
        INSERT INTO reach.streams (stream_id, version, last_hash, last_recorded_at) SELECT '\(stream)', 1, hash, recorded_at FROM ins
        """
    }

    @Test(
        "no event enters at a position a reader or a seal may already have passed: the application's role draws no position itself, and places none its own transaction did not draw"
    )
    func positionsDrawnHere() throws {
        let db = try TestDatabase.create()
        let application = try db.applicationConnection()
        for n in 0..<4 { _ = try EventLog.append([sampleEvent("s-\(n % 2)", n)], on: application) }
        // nextval on the log's sequence is the log's own functions' alone.
        let drawing = #expect(throws: PostgresError.self) { try application.execute("SELECT nextval('reach.event_position')") }
        #expect(drawing?.sqlState == "42501")
        #expect(throws: PostgresError.self) { try application.execute("SELECT setval('reach.event_position', 1000)") }
        // The review's attack: draw a position (through the one function that may), let the
        // transaction end, let readers and a seal pass it, then insert an event there.
        let drawn: Int64 = try application.query("SELECT reach.draw_positions(1)").decode(row: 0, column: 0)
        _ = try EventLog.append([sampleEvent("s-0", 9)], on: application)
        let seal = try EventLog.seal(privateKey: try Ed25519.newPrivateKey(), on: application)
        #expect(seal.lastPosition > drawn)
        let late = #expect(throws: PostgresError.self) { try application.executeScript(Self.forged(at: String(drawn), stream: "late")) }
        #expect(late?.sqlState == "RX004")
        #expect(late?.description.contains("not drawn by the transaction") == true, "\(String(describing: late))")
        // Nor with positions of its own drawn first: the old one is below them all.
        let below = #expect(throws: PostgresError.self) {
            try application.withTransaction { connection in
                _ = try connection.query("SELECT reach.draw_positions(3)")
                try connection.executeScript(Self.forged(at: String(drawn), stream: "late"))
            }
        }
        #expect(below?.sqlState == "RX004")
        // A position drawn by the transaction that places it is the bulk path's, and is let in.
        try application.withTransaction { connection in
            try connection.executeScript(Self.forged(at: "(SELECT reach.draw_positions(1))", stream: "own-draw"))
        }
        #expect(try EventLog.verify(against: seal, on: application).ok)
        #expect(try EventLog.readStream("late", on: application).isEmpty)
        #expect(try EventLog.readStream("own-draw", on: application).count == 1)
    }

    @Test(
        "a seal covers every event up to its position: an event a superuser inserts below it, back-dated, in a stream of its own, is found; so is one deleted or changed"
    )
    func sealCoversEveryEvent() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        for n in 0..<6 { _ = try EventLog.append([sampleEvent("s-\(n % 3)", n)], on: owner) }
        // A gap: positions drawn by a transaction that rolled back.
        try? owner.withTransaction { connection in
            _ = try EventLog.append([sampleEvent("s-0", 50)], on: connection)
            throw CancellationError()
        }
        for n in 6..<9 { _ = try EventLog.append([sampleEvent("s-\(n % 3)", n)], on: owner) }
        let gap: Int64 = try owner.query(
            """
            SELECT min(p) FROM generate_series(1, (SELECT max("position") FROM reach.events)) p
            WHERE NOT EXISTS (SELECT FROM reach.events WHERE "position" = p)
            """
        ).decode(row: 0, column: 0)
        let seal = try EventLog.seal(privateKey: try Ed25519.newPrivateKey(), on: owner)
        #expect(seal.blocks?.first?.events == 9)
        #expect(try EventLog.verify(against: seal, on: owner).ok)
        // Read back from its file, the seal is the same, blocks and all.
        #expect(try Seal(fileText: seal.fileText) == seal)

        // As a superuser, the checks off: an event at the gap, in a new stream, back-dated, its
        // chain and head correct. The chains hold; the seal does not.
        try owner.executeScript(
            """
            ALTER TABLE reach.events DISABLE TRIGGER events_checked;
            \(Self.forged(at: String(gap), stream: "inserted", recordedAt: "'2024-01-01'"));
            ALTER TABLE reach.events ENABLE TRIGGER events_checked;
            """)
        #expect(try EventLog.verify(on: owner).ok)
        let report = try EventLog.verify(against: seal, on: owner)
        #expect(report.firstBroken?.reason.contains("inserted below the seal") == true, "\(String(describing: report.firstBroken))")

        // Another log: an event deleted below the seal, its stream's later events re-chained.
        let other = try TestDatabase.create()
        let second = try other.ownerConnection()
        for n in 0..<6 { _ = try EventLog.append([sampleEvent("only", n)], on: second) }
        _ = try EventLog.append([sampleEvent("alone", 0)], on: second)
        let sealed = try EventLog.seal(privateKey: try Ed25519.newPrivateKey(), on: second)
        try second.executeScript(
            """
            ALTER TABLE reach.events DISABLE TRIGGER events_append_only;
            DELETE FROM reach.events WHERE stream_id = 'alone';
            UPDATE reach.streams SET version = 0, last_hash = '\\x', last_recorded_at = NULL WHERE stream_id = 'alone';
            ALTER TABLE reach.events ENABLE TRIGGER events_append_only;
            """)
        let deleted = try EventLog.verify(against: sealed, on: second)
        #expect(deleted.firstBroken != nil)
    }

    @Test("a stream's head cannot be moved back to an earlier event of its stream, nor to version 0")
    func headMovedBack() throws {
        let db = try TestDatabase.create()
        let application = try db.applicationConnection()
        for n in 0..<7 { _ = try EventLog.append([sampleEvent("long", n)], on: application) }
        for sql in [
            """
            UPDATE reach.streams SET (version, last_hash, last_recorded_at) =
                (SELECT version, hash, recorded_at FROM reach.events WHERE stream_id = 'long' AND version = 5)
            WHERE stream_id = 'long'
            """, "UPDATE reach.streams SET version = 0, last_hash = '\\x' WHERE stream_id = 'long'",
        ] {
            let error = #expect(throws: PostgresError.self) { try application.executeScript(sql) }
            #expect(error?.sqlState == "RX004", "\(String(describing: error))")
        }
        // Nor renamed to another stream (the application's role may change a head's version,
        // hash and time only), nor a placeholder planted with a hash or time of its own.
        let renamed = #expect(throws: PostgresError.self) {
            try application.executeScript("UPDATE reach.streams SET stream_id = 'x-long' WHERE stream_id = 'long'")
        }
        #expect(renamed?.sqlState == "42501")
        let planted = #expect(throws: PostgresError.self) {
            try application.executeScript(
                "INSERT INTO reach.streams (stream_id, version, last_hash, last_recorded_at) VALUES ('school:999999', 0, '\\xdead', '2999-01-01')")
        }
        #expect(planted?.sqlState == "RX004")
        // Nor an event appended without moving its stream's head: its position drawn here, its
        // hash right, its head left behind.
        let behind = #expect(throws: PostgresError.self) {
            try application.withTransaction { connection in
                try connection.executeScript(
                    """
                    WITH e AS (SELECT (SELECT reach.draw_positions(1)) AS p, gen_random_uuid() AS id, now() AS at),
                         h AS (SELECT last_hash FROM reach.streams WHERE stream_id = 'long')
                    INSERT INTO reach.events ("position", event_id, stream_id, version, event_type, data, metadata, recorded_at, hash, authority_id)
                    SELECT e.p, e.id, 'long', 8, 'activity_delivered', '{"n":8}', '{}', e.at,
                           reach.event_hash(h.last_hash, e.id, 'long', 8, 'activity_delivered', 1, '{"n":8}', '{}', NULL, 'LA01', e.at), 'LA01'
                    FROM e, h
                    """)
            }
        }
        #expect(behind?.sqlState == "RX004" && behind?.description.contains("without moving its head") == true, "\(String(describing: behind))")
        // The next honest append still works.
        #expect(try EventLog.append([sampleEvent("long", 8)], expecting: ["long": .exactly(7)], on: application)[0].version == 8)
        #expect(try EventLog.verify(on: application).ok)
    }

    @Test("in the log itself, an amendment keeps the authority of the record it amends: by the append functions and the bulk path alike")
    func amendmentsKeepTheirAuthority() throws {
        let db = try TestDatabase.create()
        let application = try db.applicationConnection()
        let recordID = "school-b"
        let original = NewEvent(
            id: EventLog.recordEventID(recordID), streamID: "school:900002", type: "school_registered",
            data: #"{"la_id":"southmere","name":"B","phase":"primary","school_id":"900002"}"#, authorityID: "southmere")
        _ = try EventLog.append([original], on: application)
        func amendment(_ type: String, stream: String = "school:900002", authority: String?, data: String) -> NewEvent {
            NewEvent(id: UUID(), streamID: stream, type: type, data: data, authorityID: authority)
        }
        let takeover = #"{"data":{"la_id":"northvale","name":"B","phase":"primary","school_id":"900002"},"reason":"ours now","record_id":"school-b"}"#
        let keeps = #"{"data":{"la_id":"southmere","name":"B","phase":"secondary","school_id":"900002"},"reason":"phase","record_id":"school-b"}"#
        let wrong: [NewEvent] = [
            amendment("event_corrected", authority: "northvale", data: takeover), // the review's attack
            amendment("event_corrected", authority: "southmere", data: takeover), // the old authority, new data naming another
            amendment("event_corrected", authority: "northvale", data: keeps), // another authority's amendment
            amendment("event_withdrawn", authority: "northvale", data: #"{"reason":"x","record_id":"school-b"}"#),
            amendment("event_withdrawn", stream: "school:900003", authority: "southmere", data: #"{"reason":"x","record_id":"school-b"}"#),
            amendment("event_withdrawn", stream: "school:900002", authority: "southmere", data: #"{"reason":"x","record_id":"no-such-record"}"#),
        ]
        for event in wrong {
            let single = #expect(throws: PostgresError.self) { try EventLog.append([event], on: application) }
            #expect(single?.sqlState == "RX005", "\(String(describing: single))")
            let bulk = #expect(throws: PostgresError.self) { try EventLog.appendBulk([event], on: application) }
            #expect(bulk?.sqlState == "RX005", "\(String(describing: bulk))")
        }
        #expect(try EventLog.readStream("school:900002", on: application).count == 1)
        // Nor a correction whose data names no authority, nor an amendment of what cannot be amended.
        let unnamed = #"{"data":{"name":"B","phase":"primary","school_id":"900002"},"reason":"x","record_id":"school-b"}"#
        let noData = #"{"data":"nothing","reason":"x","record_id":"school-b"}"#
        for data in [unnamed, noData] {
            let error = #expect(throws: PostgresError.self) {
                try EventLog.append([amendment("event_corrected", authority: "southmere", data: data)], on: application)
            }
            #expect(error?.sqlState == "RX005")
        }
        _ = try EventLog.append(
            [
                NewEvent(
                    streamID: "authority:southmere", type: "local_authority_registered",
                    data: #"{"la_id":"southmere","name":"Southmere","region":"london","joined_on":"2024-09-01"}"#, authorityID: "southmere")
            ],
            on: application)
        let exportPosition: Int64 = try application.query("SELECT publication.append_export('southmere', '2024/25', 'csv', 'dfe', 3, 'ops')").decode(
            row: 0, column: 0)
        let export = try #require(try EventLog.event(at: exportPosition, on: application))
        let exportID: String = try db.ownerConnection().query(
            "SELECT metadata->>'correlation_id' FROM reach.events WHERE \"position\" = $1", [exportPosition]
        )
        .decode(row: 0, column: 0)
        // (An export's record id, as the export function makes it.)
        let auditWithdrawn = #expect(throws: PostgresError.self) {
            try application.execute(
                """
                SELECT * FROM reach.append_event(gen_random_uuid(), $1, 'event_withdrawn', 1,
                    jsonb_build_object('record_id', 'export' || chr(31) || 'southmere' || chr(31) || $2, 'reason', 'hide it'), '{}', NULL, 'southmere')
                """, [export.streamID, exportID])
        }
        #expect(
            auditWithdrawn?.sqlState == "RX005" && auditWithdrawn?.description.contains("cannot be amended") == true,
            "\(String(describing: auditWithdrawn))")
        // The right amendment goes in.
        _ = try EventLog.append([amendment("event_corrected", authority: "southmere", data: keeps)], on: application)
        #expect(try EventLog.readStream("school:900002", on: application).count == 2)
        // One the log refused, written with its checks off (as before they existed): verify names it.
        let owner = try db.ownerConnection()
        try owner.executeScript("ALTER TABLE reach.events DISABLE TRIGGER events_checked")
        _ = try EventLog.append([amendment("event_corrected", authority: "northvale", data: takeover)], on: owner)
        try owner.executeScript("ALTER TABLE reach.events ENABLE TRIGGER events_checked")
        let report = try EventLog.verify(on: owner)
        #expect(
            report.firstBroken?.streamID == "school:900002" && report.firstBroken?.reason.contains("keep its record's authority") == true,
            "\(String(describing: report.firstBroken))")
    }

    @Test("records only Reach writes (the audit of exports) enter the log through its export function alone")
    func systemRecords() throws {
        let db = try TestDatabase.create()
        let application = try db.applicationConnection()
        let forgedExport = NewEvent(
            streamID: "exports:northvale", type: "summary_exported",
            data: #"{"date":"2020-01-01","format":"csv","la_id":"northvale","period":"2024/25","policy":"dfe","rows":0}"#,
            occurredOn: CalendarDate(year: 2020, month: 1, day: 1), authorityID: "northvale")
        let single = #expect(throws: PostgresError.self) { try EventLog.append([forgedExport], on: application) }
        #expect(single?.sqlState == "42501", "\(String(describing: single))")
        let bulk = #expect(throws: PostgresError.self) { try EventLog.appendBulk([forgedExport], on: application) }
        #expect(bulk?.sqlState == "42501", "\(String(describing: bulk))")
        #expect(throws: PostgresError.self) { try application.execute("INSERT INTO reach.system_appends VALUES (pg_current_xact_id())") }
        // The export function records one, with the server's date, and checks what it is given.
        _ = try EventLog.append(
            [
                NewEvent(
                    streamID: "authority:northvale", type: "local_authority_registered",
                    data: #"{"la_id":"northvale","name":"Northvale","region":"london","joined_on":"2024-09-01"}"#, authorityID: "northvale")
            ],
            on: application)
        let position: Int64 = try application.query("SELECT publication.append_export('northvale', '2024/25', 'csv', 'dfe', 12, 'sam')").decode(
            row: 0, column: 0)
        let recorded = try #require(try EventLog.event(at: position, on: application))
        #expect(recorded.type == "summary_exported" && recorded.authorityID == "northvale" && recorded.data.contains(#""rows": 12"#))
        for call in [
            "SELECT publication.append_export('northvale', '2024/25', 'exe', 'dfe', 12, 'sam')",
            "SELECT publication.append_export('northvale', '2024/25', 'csv', 'none', 12, 'sam')",
            "SELECT publication.append_export('north vale', '2024/25', 'csv', 'dfe', 12, 'sam')",
            "SELECT publication.append_export('nowhere', '2024/25', 'csv', 'dfe', 12, 'sam')",
            "SELECT publication.append_export('northvale', 'all of it, honest', 'csv', 'dfe', 12, 'sam')",
            "SELECT publication.append_export('northvale', '2024/25', 'csv', 'dfe', 12, E'sam\\u202Eops')",
        ] {
            let error = #expect(throws: PostgresError.self) { try application.execute(call) }
            #expect(error?.sqlState == "22023")
        }
        // The mark lasts only while the export function appends.
        #expect(try db.ownerConnection().query("SELECT count(*) FROM reach.system_appends").decode(Int64.self, row: 0, column: 0) == 0)
    }

    @Test("a backend notices its client has gone while it runs a statement (client_connection_check_interval)")
    func clientCheck() throws {
        let db = try TestDatabase.create()
        let application = try db.applicationConnection()
        let setting: String = try application.query("SHOW client_connection_check_interval").decode(row: 0, column: 0)
        #expect(setting == "2s")
    }
}
