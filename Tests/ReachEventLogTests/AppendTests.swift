import Foundation
import ReachCalendar
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Testing

func sampleEvent(_ stream: String, _ n: Int = 0, id: UUID = UUID(), type: String = "activity_delivered") -> NewEvent {
    NewEvent(
        id: id, streamID: stream, type: type, data: #"{"n":\#(n),"kind":"assembly"}"#,
        metadata: EventMetadata(actor: "test", source: "test"),
        occurredOn: CalendarDate(year: 2024, month: 10, day: 1 + n % 28), authorityID: "LA01")
}

@Suite("appending")
struct AppendTests {
    @Test("the same event sent by two sessions at the same moment is appended once; the second gets it back")
    func sameEventAtOnce() async throws {
        let db = try TestDatabase.create()
        let first = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("race", 0)], on: first)
        let event = sampleEvent("race", 1)
        // The first session appends it and holds its transaction open: the second, appending
        // the same event to the same stream, waits for the stream's head, then finds the event.
        try first.executeScript("BEGIN")
        let appended = try EventLog.append([event], on: first)[0]
        let application = db.application
        let second = Task.detached { try EventLog.append([event], on: Connection(configuration: application))[0] }
        try await Task.sleep(for: .milliseconds(300))
        try first.executeScript("COMMIT")
        let answer = try await second.value
        #expect(answer.duplicate)
        #expect(answer.position == appended.position)
        #expect(try EventLog.readStream("race", on: first).count == 2)
    }

    @Test("events land with positions, versions from 1, and their content intact")
    func appendAndRead() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        let results = try EventLog.append(
            [sampleEvent("s-a", 1), sampleEvent("s-b", 2), sampleEvent("s-a", 3)], expecting: ["s-a": .noStream], on: connection)
        #expect(results.map(\.version) == [1, 1, 2])
        #expect(results.map(\.position) == results.map(\.position).sorted())
        #expect(results.allSatisfy { !$0.duplicate })
        let stream = try EventLog.readStream("s-a", on: connection)
        #expect(stream.map(\.version) == [1, 2])
        #expect(stream[0].data == #"{"n": 1, "kind": "assembly"}"#)
        #expect(stream[0].occurredOn == CalendarDate(year: 2024, month: 10, day: 2))
        #expect(stream[0].authorityID == "LA01")
        #expect(stream[0].metadata.contains(#""actor": "test""#))
        #expect(try EventLog.streamVersion("s-a", on: connection) == 2)
        #expect(try EventLog.verify(on: connection).ok)
    }

    @Test("eight writers racing on one stream: one wins each version, the others are told the current version")
    func racingWriters() async throws {
        let db = try TestDatabase.create()
        let store = EventStore(client: PostgresClient(configuration: db.application, maximumConnections: 8))
        let rounds = 15
        for round in 0..<rounds {
            let outcomes = try await withThrowingTaskGroup(of: Result<AppendResult, EventLogError>.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        do {
                            return .success(
                                try await store.append(sampleEvent("race", writer), expecting: round == 0 ? .noStream : .exactly(Int64(round))))
                        } catch let error as EventLogError {
                            return .failure(error)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let wins = outcomes.compactMap { try? $0.get() }
            let losses = outcomes.compactMap { if case .failure(let e) = $0 { e } else { nil } }
            #expect(wins.count == 1)
            #expect(wins.first?.version == Int64(round + 1))
            #expect(losses.count == 7)
            #expect(losses.allSatisfy { $0.code == .wrongExpectedVersion && $0.currentVersion == Int64(round + 1) })
        }
        let events = try await store.readStream("race")
        #expect(events.map(\.version) == (1...Int64(rounds)).map { $0 })
        #expect(try await store.verify().ok)
        await store.client.shutdown()
    }

    @Test("re-sending events appends nothing and returns their original positions; other content under the same id is refused")
    func idempotency() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        let events = [sampleEvent("idem", 1), sampleEvent("idem", 2)]
        let first = try EventLog.append(events, expecting: ["idem": .noStream], on: connection)
        // The stream has moved on, yet a re-send (even with the old expectation) succeeds.
        let again = try EventLog.append(events, expecting: ["idem": .noStream], on: connection)
        #expect(again.map(\.position) == first.map(\.position))
        #expect(again.map(\.version) == first.map(\.version))
        #expect(again.allSatisfy { $0.duplicate })
        // A mix of old and new appends only the new one.
        let mixed = try EventLog.append([events[1], sampleEvent("idem", 3)], on: connection)
        #expect(mixed.map(\.duplicate) == [true, false])
        #expect(mixed[1].version == 3)

        var altered = events[0]
        altered.data = #"{"n":99}"#
        let error = #expect(throws: EventLogError.self) { try EventLog.append([altered], on: connection) }
        #expect(error?.code == .idempotencyConflict)
        #expect(error?.message.contains(altered.id.uuidString.lowercased()) == true)
        let twice = #expect(throws: EventLogError.self) { try EventLog.append([events[0], events[0]], on: connection) }
        #expect(twice?.code == .idempotencyConflict)
        #expect(try EventLog.readStream("idem", on: connection).count == 3)
    }

    @Test("a batch to several streams is all or nothing when one expectation fails")
    func atomicBatch() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("b-one"), sampleEvent("b-two")], on: connection)
        let before = try connection.query("SELECT count(*), coalesce(max(\"position\"), 0) FROM reach.events")
        let (count, _) = (try before.decode(Int.self, row: 0, column: 0), try before.decode(Int64.self, row: 0, column: 1))
        let batch = [sampleEvent("b-one", 1), sampleEvent("b-two", 2), sampleEvent("b-three", 3)]
        let error = #expect(throws: EventLogError.self) {
            try EventLog.append(batch, expecting: ["b-one": .exactly(1), "b-two": .exactly(5), "b-three": .noStream], on: connection)
        }
        #expect(error?.code == .wrongExpectedVersion)
        #expect(error?.currentVersion == 1)
        #expect(error?.message == "stream b-two is at version 1, expected 5")
        #expect(try connection.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == count)
        #expect(try EventLog.streamVersion("b-three", on: connection) == 0)
        // The stream heads were not moved either: the same batch with right expectations works.
        let ok = try EventLog.append(batch, expecting: ["b-one": .exactly(1), "b-two": .exactly(1), "b-three": .noStream], on: connection)
        #expect(ok.map(\.version) == [2, 2, 1])
        #expect(try EventLog.verify(on: connection).ok)
    }

    @Test("the bulk path appends with versions and hash chains, in one transaction, idempotently")
    func bulk() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("bulk-0")], on: connection)
        let events = (0..<2_500).map { sampleEvent("bulk-\($0 % 7)", $0) }
        let summary = try connection.withTransaction { try EventLog.appendBulk(events, chunkSize: 1_000, on: $0) }
        #expect(summary.appended == 2_500)
        #expect(summary.alreadyPresent == 0)
        let again = try connection.withTransaction { try EventLog.appendBulk(events, on: $0) }
        #expect(again.appended == 0)
        #expect(again.alreadyPresent == 2_500)
        #expect(try EventLog.streamVersion("bulk-0", on: connection) == 1 + (2_500 + 6) / 7)
        let versions = try EventLog.readStream("bulk-3", limit: 10_000, on: connection).map(\.version)
        #expect(versions == Array(1...Int64(versions.count)))
        #expect(try EventLog.verify(on: connection).ok)

        // A bad row (invalid JSON) fails the whole load.
        var broken = (0..<10).map { sampleEvent("bulk-bad", $0) }
        broken[7].data = "{not json"
        #expect(throws: (any Error).self) { try connection.withTransaction { try EventLog.appendBulk(broken, on: $0) } }
        #expect(try EventLog.streamVersion("bulk-bad", on: connection) == 0)
    }
}
