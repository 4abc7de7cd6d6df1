import Foundation
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachTestSupport
import Testing

@testable import ReachProjections

/// A digest of every row of every table of every projection.
func tableDigests(on connection: Connection) throws -> [String: String] {
    var out: [String: String] = [:]
    for projection in Projection.all {
        // The roll-ups are kept by triggers; they must follow the same history too.
        for table in projection.tables + (projection == .activities ? ["activity_months", "activity_partner_months"] : []) {
            let name = "\(projection.schema).\(table)"
            out[name] = try connection.query("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') FROM \(name) t")
                .decode(String.self, row: 0, column: 0)
        }
    }
    return out
}

func lastPosition(_ connection: Connection) throws -> Int64 {
    try connection.query("SELECT coalesce(max(\"position\"), 0) FROM reach.events").decode(row: 0, column: 0)
}

struct InjectedCrash: Error {}

/// A generator of random events: activities with attendance, corrections and withdrawals of
/// earlier ones, stages and survey waves, appended straight to the log.
struct RandomLog {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }

    mutating func append(_ count: Int, on connection: Connection) throws {
        var live: [String] = []
        var withdrawn = Set<String>()
        // Where each record is, and whose: an amendment goes to its record's stream and keeps
        // its authority, as the log requires.
        var placed: [String: (stream: String, la: String)] = [:]
        var events: [(String, String, String, String, String)] = [] // record id, type, data, stream, authority
        for index in 0..<count {
            let roll = next(10)
            if roll < 6 || live.isEmpty {
                let id = "r\(state % 1_000_000)-\(index)"
                let la = "la\(next(2))"
                let stream = "random:\(next(7))"
                live.append(id)
                placed[id] = (stream, la)
                events.append((id, "activity_delivered", activity(index, la: la), stream, la))
            } else if roll < 8 {
                let target = live[next(live.count)]
                let (stream, la) = placed[target]!
                events.append(
                    (
                        "c\(index)", "event_corrected", #"{"record_id":"\#(target)","reason":"fix","data":\#(activity(index + 1000, la: la))}"#,
                        stream, la
                    ))
            } else if roll < 9 {
                let target = live.remove(at: next(live.count))
                withdrawn.insert(target)
                let (stream, la) = placed[target]!
                events.append(("w\(index)", "event_withdrawn", #"{"record_id":"\#(target)","reason":"twice"}"#, stream, la))
            } else {
                let la = "la\(next(2))"
                events.append(
                    (
                        "s\(index)", "engagement_stage_reached",
                        #"{"pilot_id":"p\#(next(3))","school_id":"\#(100 + next(5))","la_id":"\#(la)","stage":"scoping","date":"2024-10-0\#(1 + next(9))"}"#,
                        "random:\(next(7))", la
                    ))
            }
        }
        for (id, type, data, stream, la) in events {
            let eventID = try connection.query("SELECT reach.record_event_id($1)", [id]).decode(UUID.self, row: 0, column: 0)
            _ = try EventLog.append([NewEvent(id: eventID, streamID: stream, type: type, data: data, authorityID: la)], on: connection)
        }
    }

    mutating func activity(_ index: Int, la: String) -> String {
        #"{"pilot_id":"p\#(next(3))","la_id":"\#(la)","school_id":"\#(100 + next(5))","kind":"assembly","date":"2024-10-\#(10 + next(9))","duration_minutes":\#(10 + next(50)),"mode":"in_person","attendance":{"pupils":{"ks3":\#(next(40))},"staff":{"teaching":\#(1 + next(5))}}}"#
    }
}

@Suite("the projection engine")
struct EngineTests {
    @Test("random logs, applied in random batch sizes with crashes and restarts, give exactly the tables of one full rebuild", arguments: [1, 2, 3])
    func crashesAndRestarts(seed: Int) throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        var log = RandomLog(state: UInt64(seed) * 7919)
        try log.append(300, on: connection)
        var engine = ProjectionEngine()
        try engine.install(on: connection)
        let end = try lastPosition(connection)
        var rounds = 0
        while try Projection.all.contains(where: { try engine.checkpoint(of: $0, on: connection) < end }) {
            rounds += 1
            engine.batchSize = Int64(1 + log.next(60))
            let crashAt = Int64(log.next(Int(end) + 40))
            engine.faultBeforeCommit = { upTo in if upTo >= crashAt && crashAt % 3 == 0 { throw InjectedCrash() } }
            for projection in Projection.all {
                // A new connection each round: a restarted process.
                let restarted = try db.ownerConnection()
                do {
                    _ = try engine.catchUp(projection, to: end, on: restarted)
                } catch is InjectedCrash {
                    #expect(!restarted.isInTransaction)
                }
            }
            #expect(rounds < 1_000)
        }
        let incremental = try tableDigests(on: connection)
        var clean = ProjectionEngine()
        clean.batchSize = 100_000
        for projection in Projection.all { try clean.rebuild(projection, on: connection) }
        #expect(try tableDigests(on: connection) == incremental)
        // And the withdrawn activities are gone, the corrected ones corrected: the rebuild agrees.
        let activities = try connection.query("SELECT count(*) FROM research.activities").decode(Int.self, row: 0, column: 0)
        #expect(activities > 0)
    }

    @Test("two runners at once: only one applies each projection; when it is killed the other takes over, with no double count")
    func twoRunners() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        try Scenario.record(on: try db.applicationConnection())
        let first = ProjectionRunner(
            engine: ProjectionEngine(), configuration: db.owner.overriding(["application_name": "first-runner"]),
            logger: .init(label: "first"), pollInterval: .milliseconds(20))
        let second = ProjectionRunner(
            engine: ProjectionEngine(), configuration: db.owner, logger: .init(label: "second"), pollInterval: .milliseconds(20))
        let firstDone = DispatchSemaphore(value: 0)
        let secondDone = DispatchSemaphore(value: 0)
        _ = taskOnThreadOfItsOwn(name: "first") {
            try? await first.run()
            firstDone.signal()
        }
        try waitFor { try caughtUp(connection) }
        _ = taskOnThreadOfItsOwn(name: "second") {
            try? await second.run()
            secondDone.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        let applied = try eventsApplied(connection)
        let expected = try connection.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0)
        // Every event of a projection's types, plus each amendment once for its projection.
        #expect(applied == expected)
        // Kill the first runner: its connections go, and its locks with them.
        first.stop()
        _ = try connection.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'first-runner'")
        #expect(firstDone.wait(timeout: .now() + 10) == .success)
        try RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: Scenario.today)).record(
            #"{"type":"activity_delivered","id":"late","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900005","kind":"assembly","date":"2025-05-05","duration_minutes":30,"mode":"in_person","attendance":{"pupils":{"ks4":90}}}}"#,
            on: try db.applicationConnection()
        ).outcome.expectAccepted()
        try waitFor { try caughtUp(connection) }
        #expect(try eventsApplied(connection) == applied + 1)
        #expect(try connection.query("SELECT count(*) FROM research.activities").decode(Int.self, row: 0, column: 0) == 6)
        second.stop()
        #expect(secondDone.wait(timeout: .now() + 10) == .success)
        let after = try ProjectionEngine().status(on: connection)
        #expect(after.allSatisfy { !$0.runnerActive }, "\(after.map { "\($0.name) \($0.runnerActive)" })")
    }

    @Test("a runner killed without a chance to tidy up leaves no projection shown as running")
    func stateFromLock() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        let engine = ProjectionEngine()
        try engine.install(on: connection)
        #expect(try engine.status(on: connection).allSatisfy { $0.state == "idle" && !$0.runnerActive })
        // A runner's connection holds a projection's lock, then dies as with kill -9: the
        // server ends its session, and nothing of the runner runs afterwards.
        let runner = try Connection(configuration: db.owner.overriding(["application_name": "killed-runner"]))
        let projection = Projection.all[0]
        #expect(try engine.tryLock(projection, on: runner))
        let held = try engine.status(on: connection).first { $0.name == projection.name }
        #expect(held?.state == "running" && held?.runnerActive == true)
        _ = try connection.query("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'killed-runner'")
        let after = try engine.status(on: connection)
        #expect(after.allSatisfy { $0.state == "idle" && !$0.runnerActive }, "\(after.map { "\($0.name) \($0.state)" })")
    }

    func eventsApplied(_ connection: Connection) throws -> Int {
        try connection.query("SELECT sum(events_applied)::int8 FROM projections.state").decode(Int.self, row: 0, column: 0)
    }

    /// Every projection has a state row (a runner made it), a runner, and no lag. Before the
    /// first runner makes the rows there are none, and "all of none" would be true at once.
    func caughtUp(_ connection: Connection) throws -> Bool {
        let status = try ProjectionEngine().status(on: connection)
        return status.count == Projection.all.count && status.allSatisfy { $0.runnerActive && $0.lagEvents == 0 }
    }

    func waitFor(_ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("timed out")
    }

    @Test("a poison event stops only its projection, visibly, after applying everything before it")
    func poison() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        try Scenario.record(on: try db.applicationConnection())
        // Written past the domain's checks, as an older program might have.
        let poison = try EventLog.append(
            [
                NewEvent(
                    streamID: "activities:northvale-pilot:900001", type: "activity_delivered",
                    data:
                        #"{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2025-05-05","duration_minutes":"forty","mode":"in_person"}"#
                )
            ],
            on: connection)[0]
        try RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: Scenario.today)).record(
            #"{"type":"school_registered","id":"s12","data":{"school_id":"900012","la_id":"northvale","name":"School 12","phase":"primary"}}"#,
            on: try db.applicationConnection()
        ).outcome.expectAccepted()
        let behind = try ProjectionEngine().waitUntilCaughtUp(on: connection)
        #expect(behind == ["activities"])
        let status = try ProjectionEngine().status(on: connection)
        let activities = try #require(status.first { $0.name == "activities" })
        #expect(activities.state == "failed")
        #expect(activities.failedPosition == poison.position)
        #expect(activities.failedEventID == poison.eventID.lowercasedString)
        #expect(activities.failedError?.contains("integer") == true)
        #expect(activities.checkpoint == poison.position - 1)
        #expect(try connection.query("SELECT count(*) FROM research.activities").decode(Int.self, row: 0, column: 0) == 5)
        let reference = try #require(status.first { $0.name == "reference" })
        #expect(reference.state == "idle" && reference.failedPosition == nil)
        #expect(try connection.query("SELECT count(*) FROM research.schools").decode(Int.self, row: 0, column: 0) == 12)
    }

    @Test("a rebuild while queries run: every query sees the whole table, never a half-built one")
    func rebuildDuringQueries() throws {
        let db = try TestDatabase.create()
        let connection = try db.ownerConnection()
        var log = RandomLog(state: 42)
        try log.append(400, on: connection)
        _ = try ProjectionEngine().waitUntilCaughtUp(on: connection)
        let expected = try connection.query("SELECT count(*), sum(attendees) FROM research.activities").mapRows {
            "\(try $0.decode(0, as: Int.self))/\(try $0.decode(1, as: Int.self))"
        }[0]
        let application = db.application
        let stop = LockedFlag()
        let results = LockedList()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            guard let reader = try? Connection(configuration: application) else {
                results.append("no connection")
                done.signal()
                return
            }
            while !stop.value {
                do {
                    let seen = try reader.query("SELECT count(*), sum(attendees) FROM research.activities").mapRows {
                        "\(try $0.decode(0, as: Int.self))/\(try $0.decode(1, as: Int.self))"
                    }[0]
                    results.append(seen)
                } catch {
                    results.append("error: \(error)")
                }
            }
            done.signal()
        }
        var engine = ProjectionEngine()
        engine.batchSize = 7
        for _ in 0..<3 { try engine.rebuild(.activities, on: connection) }
        stop.set()
        done.wait()
        #expect(results.items.count > 3)
        #expect(Set(results.items) == [expected])
    }

    @Test("researchers read the research views and nothing else")
    func researcherRole() throws {
        let db = try TestDatabase.create()
        let owner = try db.ownerConnection()
        try Scenario.record(on: try db.applicationConnection())
        _ = try ProjectionEngine().waitUntilCaughtUp(on: owner)
        try owner.executeScript(
            """
            DO $$ BEGIN
                CREATE ROLE reach_research_tester LOGIN PASSWORD 'research-secret' IN ROLE reach_researcher;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
            """)
        let researcher = try Connection(configuration: db.owner.overriding(["user": "reach_research_tester", "password": "research-secret"]))
        #expect(try researcher.query("SELECT count(*) FROM research.activities").decode(Int.self, row: 0, column: 0) == 5)
        #expect(try researcher.query("SELECT count(*) FROM research.safety_plan_actions").decode(Int.self, row: 0, column: 0) == 3)
        for forbidden in [
            "SELECT count(*) FROM reach.events", "SELECT count(*) FROM proj_activities.activities",
            "SELECT count(*) FROM projections.state", "CREATE TABLE research.mine (x int)",
        ] {
            #expect(throws: PostgresError.self) { _ = try researcher.query(forbidden) }
            do { _ = try researcher.query(forbidden) } catch let error as PostgresError { #expect(error.sqlState == "42501", "\(forbidden)") }
        }
    }
}

extension RecordOutcome {
    func expectAccepted() {
        if case .accepted = self { return }
        Issue.record("not accepted: \(self)")
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.withLock { flag } }
    func set() { lock.withLock { flag = true } }
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    var items: [String] { lock.withLock { list } }
    func append(_ item: String) { lock.withLock { list.append(item) } }
}
