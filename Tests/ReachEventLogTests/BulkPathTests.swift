import Foundation
import ReachPostgres
import ReachTestSupport
import Testing

@testable import ReachEventLog

@Suite("the bulk path's hashing in this process")
struct BulkPathTests {
    static let documents = [
        #"{"n":1,"kind":"assembly"}"#,
        #"{ "b" : [1, 2.50, -0, -0.0, 0.000001, 12345678901234567890, true, false, null], "a": {} , "aa": []}"#,
        #"{"z":1,"z":2,"y":{"dd":"x","c":"y","c":"last"}}"#,
        #"{"text":"tab\there, \"quoted\", back\\slash, \/ slash, \u00e9, \ud83d\ude00, bell \u0007, \b\f\n\r"}"#,
        #"{"nested":{"attendance":{"staff":{"teaching":7,"dsl":1},"pupils":{"ks3":210}}},"list":[{"b":1,"a":2},[],{}]}"#,
        #""just a string""#,
        #"[]"#,
        #"{"unicode key é":"ü","ä":1,"b":2}"#,
        #"{"deep":[[[[{"x":[{"y":{"b":"1","a":"2"}}]}]]]]}"#,
        #"{"a\"b":1,"a":{"\u00e9":2,"z\n":3,"b\tc":[]},"":0}"#,
        #"{"b":-0,"a":-0.0,"c":-0.50,"d":10.250,"dd":{"y":1,"x":2,"y":3}}"#,
    ]

    @Test("documents are written as jsonb prints them")
    func canonical() throws {
        // No migrations: only the server's jsonb is needed, so connect as the owner (the
        // application's login is created by migrating, which this database skips).
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        for document in Self.documents {
            let server: String = try connection.query("SELECT $1::jsonb::text", [document]).decode(row: 0, column: 0)
            let local = try #require(JSONBText.canonical(document))
            #expect(String(decoding: local, as: UTF8.self) == server, "\(document)")
        }
    }

    @Test("metadata is written as jsonb prints it, whichever fields are present")
    func metadata() throws {
        let db = try TestDatabase.create(migrated: false)
        let connection = try db.ownerConnection()
        let all = EventMetadata(actor: "staff \"A\" é", correlationID: "row\t7", causationID: "c\\1", source: "import:term 1.csv")
        for metadata in [all, EventMetadata(), EventMetadata(actor: "demo", correlationID: "act-1", source: "demo:1"), EventMetadata(source: "cli")] {
            let server: String = try connection.query("SELECT $1::jsonb::text", [metadata.json]).decode(row: 0, column: 0)
            #expect(String(decoding: metadata.jsonbBytes, as: UTF8.self) == server)
        }
    }

    @Test("what it cannot print for certain is left to the server")
    func declines() {
        #expect(JSONBText.canonical(#"{"n":1e3}"#) == nil)
        #expect(JSONBText.canonical(#"{"a":"\u0000"}"#) == nil)
        #expect(JSONBText.canonical(#"{"a":"\ud800"}"#) == nil)
        #expect(JSONBText.canonical("{not json") == nil)
        #expect(JSONBText.canonical(#"{"a":1} x"#) == nil)
        #expect(JSONBText.canonical(#"{"a":01}"#) == nil)
    }

    @Test("the server's append and this process's bulk path place the same input identically")
    func samePlacement() throws {
        // The same events, some streams new and some with heads already, appended through
        // reach.append_events in one log and through the bulk path in another.
        var events: [NewEvent] = []
        for n in 0..<300 {
            var event = sampleEvent("same-\(n % 7)", n, id: UUID(uuidString: String(format: "00000000-0000-4000-8000-%012x", n + 1))!)
            event.data = BulkPathTests.documents[n % 5].replacingOccurrences(of: "{", with: "{\"n\":\(n),", options: .anchored)
            if n % 11 == 0 {
                event.occurredOn = nil
                event.authorityID = nil
            }
            events.append(event)
        }
        let first = Array(events.prefix(3))
        let rest = Array(events.dropFirst(3))
        let server = try TestDatabase.create()
        let client = try TestDatabase.create()
        let serverLog = try server.applicationConnection()
        let clientLog = try client.applicationConnection()
        for event in first {
            _ = try EventLog.append([event], on: serverLog)
            _ = try EventLog.append([event], on: clientLog)
        }
        _ = try EventLog.append(Array(rest.prefix(150)), on: serverLog)
        _ = try EventLog.append(Array(rest.dropFirst(150)), on: serverLog)
        let bulk = try clientLog.withTransaction { try EventLog.appendBulk(rest, chunkSize: 100, on: $0) }
        #expect(bulk.appended == rest.count)

        // Row for row the same, but for positions, clocks and (following the clock) hashes.
        let content = """
            SELECT event_id, stream_id, version, event_type, schema_version, data::text, metadata::text,
                   occurred_on::text, authority_id
            FROM reach.events ORDER BY stream_id, version
            """
        func rows(_ connection: Connection) throws -> [[String?]] {
            try connection.query(content).mapRows { row in try (0..<9).map { try row.decodeIfPresent($0, as: String.self) } }
        }
        #expect(try rows(serverLog) == rows(clientLog))
        #expect(try rows(serverLog).count == events.count)

        // Each log's hashes follow both implementations of the rule: the server's for the rows
        // placed here, this process's for the rows the server placed.
        let byID = Dictionary(uniqueKeysWithValues: events.map { ($0.id, EventLog.PreparedEvent($0)) })
        for connection in [serverLog, clientLog] {
            let placed = try connection.query(
                """
                SELECT event_id, version, extract(epoch FROM recorded_at)::text, encode(hash, 'hex'),
                       encode(coalesce(lag(hash) OVER (PARTITION BY stream_id ORDER BY version), '\\x'), 'hex'),
                       hash = reach.event_hash(coalesce(lag(hash) OVER (PARTITION BY stream_id ORDER BY version), '\\x'),
                           event_id, stream_id, version, event_type, schema_version, data, metadata, occurred_on,
                           authority_id, recorded_at)
                FROM reach.events ORDER BY stream_id, version
                """)
            var buffer: [UInt8] = []
            for row in 0..<placed.rowCount {
                #expect(try placed.decode(Bool.self, row: row, column: 5))
                var prepared = try #require(byID[try placed.decode(UUID.self, row: row, column: 0)])
                let hash = EventLog.eventHash(
                    previous: try #require(Hex.decode(try placed.decode(String.self, row: row, column: 4).utf8)), &prepared,
                    version: try placed.decode(row: row, column: 1), epoch: try placed.decode(row: row, column: 2), buffer: &buffer)
                #expect(PostgresBytes(hash).hex == (try placed.decode(String.self, row: row, column: 3)))
            }
        }
        #expect(try EventLog.verify(on: serverLog).ok)
        #expect(try EventLog.verify(on: clientLog).ok)
    }

    @Test("chunks hashed here and chunks left to the server make one chain that verifies")
    func mixedChunks() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("mix-0"), sampleEvent("mix-1")], on: connection)
        var events: [NewEvent] = []
        for n in 0..<1_200 {
            var event = sampleEvent("mix-\(n % 5)", n)
            event.data = BulkPathTests.documents[n % 5].replacingOccurrences(of: "{", with: "{\"n\":\(n),", options: .anchored)
            // One chunk in three holds a number the server must print.
            if n / 200 % 3 == 2 && n % 200 == 0 { event.data = #"{"n":\#(n),"big":1e2}"# }
            events.append(event)
        }
        let summary = try connection.withTransaction { try EventLog.appendBulk(events, chunkSize: 200, on: $0) }
        #expect(summary.appended == 1_200)
        let positions = try connection.query("SELECT \"position\" FROM reach.events WHERE stream_id LIKE 'mix-%' ORDER BY \"position\"")
            .mapRows { try $0.decode(0, as: Int64.self) }
        #expect(positions.count == 1_202)
        // Each stream's versions follow the events' order, from its head.
        let stream = try EventLog.readStream("mix-3", limit: 1_000, on: connection)
        #expect(stream.map(\.version) == Array(1...Int64(stream.count)))
        #expect(stream.map(\.position) == stream.map(\.position).sorted())
        #expect(try EventLog.verify(on: connection).ok)
        // Half new, half already present: the present half is skipped, the rest appended.
        let more = events.prefix(100) + (0..<100).map { sampleEvent("mix-new-\($0 % 3)", $0) }
        let second = try connection.withTransaction { try EventLog.appendBulk(Array(more), chunkSize: 50, on: $0) }
        #expect(second.appended == 100)
        #expect(second.alreadyPresent == 100)
        #expect(try EventLog.verify(on: connection).ok)
        // Every stream's head is its last event, whichever path wrote it.
        let stale = try connection.query(
            """
            SELECT count(*) FROM reach.streams s
            JOIN LATERAL (SELECT version, hash FROM reach.events e WHERE e.stream_id = s.stream_id ORDER BY version DESC LIMIT 1) last ON true
            WHERE last.version <> s.version OR last.hash <> s.last_hash
            """
        ).decode(Int.self, row: 0, column: 0)
        #expect(stale == 0)
    }
}

@Suite("record ids")
struct RecordIDTests {
    @Test("a record's event id is the one reach.record_event_id derives")
    func sameAsServer() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        for record in ["act-2024-10-03-1", "quickstart-assembly-1", "é ü 😀", "", String(repeating: "x", count: 300)] {
            let server: UUID = try connection.query("SELECT reach.record_event_id($1)", [record]).decode(row: 0, column: 0)
            #expect(EventLog.recordEventID(record) == server, "\(record)")
        }
    }
}
