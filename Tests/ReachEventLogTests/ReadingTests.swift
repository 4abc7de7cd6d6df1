import Foundation
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Synchronization
import Testing

/// Collects what a follower hands over. A lock rather than an actor: handing events over then
/// needs no thread of the cooperative pool, which other suites' synchronous tests may hold.
final class Collected: Sendable {
    private let state = Mutex<[Int64]>([])
    func add(_ events: [RecordedEvent]) { state.withLock { $0 += events.map(\.position) } }
    var positions: [Int64] { state.withLock { $0 } }
    var count: Int { state.withLock { $0.count } }
}

func allPositions(_ db: TestDatabase) throws -> [Int64] {
    try db.ownerConnection().query("SELECT \"position\" FROM reach.events ORDER BY \"position\"").mapRows { try $0.decode(0) }
}

func waitUntil(seconds: Double = 20, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

@Suite("reading and following the log")
struct ReadingTests {
    @Test("a reader never passes an event whose transaction is still open, then reads it in order")
    func heldOpenTransaction() throws {
        let db = try TestDatabase.create()
        let held = try db.applicationConnection()
        let writer = try db.applicationConnection()
        let reading = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("early")], on: writer)

        try held.executeScript("BEGIN")
        let heldPosition = try EventLog.append([sampleEvent("held")], on: held)[0].position
        var later: [Int64] = []
        for n in 0..<20 { later += try EventLog.append([sampleEvent("later-\(n % 4)", n)], on: writer).map(\.position) }
        #expect(later.allSatisfy { $0 > heldPosition })

        var reader = LogReader(after: 0)
        var seen: [Int64] = []
        for _ in 0..<3 { seen += try reader.next(limit: 7, maxWaitMilliseconds: 50, on: reading).map(\.position) }
        #expect(seen.allSatisfy { $0 < heldPosition })
        #expect(reader.checkpoint < heldPosition)

        try held.executeScript("COMMIT")
        // An empty batch means the horizon has not settled yet (transactions of other tests on
        // the same server hold it back too), not the end: read until every event is seen.
        let all = try allPositions(db)
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.count < all.count && ContinuousClock.now < deadline {
            seen += try reader.next(limit: 7, on: reading).map(\.position)
        }
        #expect(seen == all)
        #expect(seen.contains(heldPosition))
    }

    @Test("a rolled-back append leaves a gap the reader steps over")
    func rolledBackGap() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        _ = try EventLog.append([sampleEvent("g")], on: connection)
        try connection.executeScript("BEGIN")
        _ = try EventLog.append([sampleEvent("g-lost")], on: connection)
        try connection.executeScript("ROLLBACK")
        _ = try EventLog.append([sampleEvent("g")], on: connection)
        var reader = LogReader()
        let events = try reader.next(on: connection)
        #expect(events.map(\.position) == [1, 3])
        #expect(try reader.next(on: connection).isEmpty)
        #expect(reader.checkpoint == 3)
    }

    @Test("eight writers, some holding transactions open, while a follower receives every event once, in position order")
    func followerUnderConcurrentWriters() async throws {
        let db = try TestDatabase.create()
        let store = EventStore(client: PostgresClient(configuration: db.application, maximumConnections: 2))
        let collected = Collected()
        let follower = taskOnThreadOfItsOwn(name: "follower") {
            try await store.follow(after: 0, batchSize: 50, pollInterval: .milliseconds(200)) { collected.add($0) }
        }
        let perWriter = 60
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    let connection = try await PostgresConnection.connect(db.application)
                    try await connection.run { connection in
                        for n in 0..<perWriter {
                            if n % 15 == 7 {
                                // Hold this transaction open while the other writers commit later positions.
                                try connection.withTransaction { connection in
                                    _ = try EventLog.append([sampleEvent("w\(writer)", n)], on: connection)
                                    usleep(60_000)
                                }
                            } else {
                                _ = try EventLog.append([sampleEvent("w\(writer)", n)], on: connection)
                            }
                        }
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        let expected = try allPositions(db)
        #expect(expected.count == 8 * perWriter)
        #expect(try await waitUntil { collected.count >= expected.count })
        try await Task.sleep(for: .milliseconds(300)) // anything extra would show up now
        follower.cancel()
        _ = try? await follower.value
        let positions = collected.positions
        #expect(positions == expected)
        await store.client.shutdown()
    }

    @Test("a follower whose connections are killed reconnects and resumes from its checkpoint")
    func followerReconnects() async throws {
        let db = try TestDatabase.create()
        let name = "follower-\(UUID().uuidString.prefix(8))"
        let store = EventStore(client: PostgresClient(configuration: db.application.overriding(["application_name": name]), maximumConnections: 1))
        let writer = try db.applicationConnection()
        let collected = Collected()
        let follower = taskOnThreadOfItsOwn(name: "follower") {
            try await store.follow(after: 0, pollInterval: .milliseconds(100)) { collected.add($0) }
        }
        for n in 0..<10 { _ = try EventLog.append([sampleEvent("r", n)], on: writer) }
        #expect(try await waitUntil { collected.count == 10 })
        let killed = try db.ownerConnection().query(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", [name]
        ).decode(Int.self, row: 0, column: 0)
        #expect(killed == 2)
        for n in 10..<25 { _ = try EventLog.append([sampleEvent("r", n)], on: writer) }
        #expect(try await waitUntil { collected.count >= 25 })
        try await Task.sleep(for: .milliseconds(200))
        follower.cancel()
        _ = try? await follower.value
        #expect(collected.positions == (try allPositions(db)))
        await store.client.shutdown()
    }

    @Test("a long transaction in another database does not hold back a reader or a follower of this log")
    func otherDatabaseDoesNotDelay() async throws {
        let db = try TestDatabase.create()
        let other = try TestDatabase.create(migrated: false)
        // A transaction with an id, older than every append below, left open in another
        // database on the same server: it can never write this log.
        let elsewhere = try other.ownerConnection()
        try elsewhere.executeScript("BEGIN; CREATE TABLE held (n int); SELECT pg_current_xact_id();")
        defer { try? elsewhere.executeScript("ROLLBACK") }
        let writer = try db.applicationConnection()
        for n in 0..<5 { _ = try EventLog.append([sampleEvent("o", n)], on: writer) }
        // A reader that waits at most 50 ms for the horizon reads every event at once.
        var reader = LogReader()
        #expect(try reader.next(maxWaitMilliseconds: 50, on: writer).count == 5)

        let store = EventStore(client: PostgresClient(configuration: db.application, maximumConnections: 1))
        let collected = Collected()
        let follower = taskOnThreadOfItsOwn(name: "follower") {
            try await store.follow(after: 0, pollInterval: .milliseconds(100)) { collected.add($0) }
        }
        for n in 5..<10 { _ = try EventLog.append([sampleEvent("o", n)], on: writer) }
        #expect(try await waitUntil { collected.count == 10 })
        follower.cancel()
        _ = try? await follower.value
        await store.client.shutdown()

        // A transaction of this database that is older still holds the reader back, as it must,
        // also when the reader is another login (the server shows every session's transaction
        // id and database to every role).
        let held = try db.applicationConnection()
        try held.executeScript("BEGIN")
        _ = try EventLog.append([sampleEvent("o-held")], on: held)
        _ = try EventLog.append([sampleEvent("o", 11)], on: writer)
        try DatabaseTarget.ensureApplicationLogin("reach_other_reader", on: db.ownerConnection())
        try db.ownerConnection().executeScript("ALTER ROLE reach_other_reader PASSWORD 'other-secret'")
        let otherLogin = try Connection(configuration: db.application.overriding(["user": "reach_other_reader", "password": "other-secret"]))
        var late = LogReader(after: 10)
        #expect(try late.next(maxWaitMilliseconds: 50, on: otherLogin).isEmpty)
        try held.executeScript("COMMIT")
        #expect(try late.next(maxWaitMilliseconds: 2_000, on: otherLogin).count == 2)
    }
}
