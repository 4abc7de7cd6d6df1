import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachTestSupport
import Testing

/// A small synthetic world: one authority, one school, one pilot.
func seedWorld(_ recorder: Recorder, on connection: Connection, authority: String = "demo") throws {
    let records = [
        #"{"type":"local_authority_registered","id":"la-\#(authority)","data":{"la_id":"\#(authority)","name":"Demo Council","region":"london","joined_on":"2024-09-01"}}"#,
        #"{"type":"school_registered","id":"sch-\#(authority)","data":{"school_id":"\#(authority)-100001","la_id":"\#(authority)","name":"Example Academy","phase":"secondary"}}"#,
        #"{"type":"pilot_registered","id":"pilot-\#(authority)","data":{"pilot_id":"\#(authority)-csrp","la_id":"\#(authority)","name":"CS and restorative practice","approach":"CS-restorative practice","strategy_project":"local","objectives":[1,3],"policy_goals":[2],"target_schools":11,"start_date":"2024-09-01"}}"#,
    ]
    for record in records {
        let outcome = try recorder.record(record, on: connection).outcome
        guard case .accepted = outcome else { throw Refusals([Refusal("seed", "\(outcome)")]) }
    }
}

func stage(_ stage: String, id: String, date: String = "2024-10-01", extra: String = "") -> String {
    #"{"type":"engagement_stage_reached","id":"\#(id)","data":{"pilot_id":"demo-csrp","school_id":"demo-100001","la_id":"demo","stage":"\#(stage)","date":"\#(date)"\#(extra)}}"#
}

@Suite("recording")
struct RecorderTests {
    let recorder = Recorder(actor: "tester", source: "test", today: PostgresDate(year: 2026, month: 11, day: 22))

    @Test("a record is appended once; the same id with other data is refused")
    func idempotent() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let activity = #"{"type":"activity_delivered","id":"act-1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"demo-100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":180}}}}"#
        guard case .accepted(let position) = try recorder.record(activity, on: connection).outcome else {
            Issue.record("the activity was not accepted")
            return
        }
        #expect(try recorder.record(activity, on: connection).outcome == .alreadyRecorded(position: position))
        let changed = activity.replacingOccurrences(of: "180", with: "181")
        guard case .refused(let refusals) = try recorder.record(changed, on: connection).outcome else {
            Issue.record("other data under the same id was accepted")
            return
        }
        #expect(refusals.map(\.field) == ["id"])
        let events = try EventLog.readStream(Streams.activity("act-1"), on: connection)
        #expect(events.count == 1)
        #expect(events[0].authorityID == "demo")
        #expect(events[0].occurredOn == PostgresDate(year: 2024, month: 10, day: 3))
        #expect(events[0].metadata.contains(#""correlation_id": "act-1""#))
    }

    @Test("references must exist and belong to the authority the record names")
    func references() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        try seedWorld(recorder, on: connection, authority: "other")
        let wrongAuthority = #"{"type":"activity_delivered","id":"act-x","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"other-100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}"#
        guard case .refused(let refusals) = try recorder.record(wrongAuthority, on: connection).outcome else {
            Issue.record("a school of another authority was accepted")
            return
        }
        #expect(refusals == [Refusal("school_id", "school 'other-100001' belongs to other, not to demo as la_id says")])
        let missing = wrongAuthority.replacingOccurrences(of: "other-100001", with: "nowhere").replacingOccurrences(of: "act-x", with: "act-y")
        guard case .refused(let missingRefusals) = try recorder.record(missing, on: connection).outcome else {
            Issue.record("an unregistered school was accepted")
            return
        }
        #expect(missingRefusals.map(\.field) == ["school_id"])
        #expect(missingRefusals[0].reason.contains("not registered"))
        let twice = #"{"type":"local_authority_registered","id":"la-again","data":{"la_id":"demo","name":"Demo again","region":"london","joined_on":"2024-09-01"}}"#
        guard case .refused(let again) = try recorder.record(twice, on: connection).outcome else {
            Issue.record("a second registration was accepted")
            return
        }
        #expect(again.map(\.field) == ["la_id"])
    }

    @Test("engagement stages move forward, and restart only after withdrawn")
    func stagesForward() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        func outcome(_ text: String) throws -> RecordOutcome { try recorder.record(text, on: connection).outcome }
        guard case .accepted = try outcome(stage("implementing", id: "e1")) else { Issue.record("e1"); return }
        guard case .refused(let back) = try outcome(stage("identified", id: "e2")) else { Issue.record("e2"); return }
        #expect(back.map(\.field) == ["stage"])
        guard case .accepted = try outcome(stage("withdrawn", id: "e3", extra: #","reason":"budget""#)) else { Issue.record("e3"); return }
        guard case .accepted = try outcome(stage("identified", id: "e4", date: "2025-09-01")) else { Issue.record("e4"); return }
    }

    @Test("two people recording one school's stage at once cannot both win")
    func concurrentStages() async throws {
        let db = try TestDatabase.create()
        try seedWorld(recorder, on: db.applicationConnection())
        let recorder = self.recorder
        let outcomes = try await withThrowingTaskGroup(of: RecordOutcome.self) { group in
            for n in 0..<6 {
                group.addTask {
                    let connection = try await PostgresConnection.connect(db.application)
                    let outcome = try await connection.run { try recorder.record(stage("scoping", id: "race-\(n)"), on: $0).outcome }
                    await connection.close()
                    return outcome
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let accepted = outcomes.filter { if case .accepted = $0 { true } else { false } }
        #expect(accepted.count == 1)
        #expect(outcomes.count == 6)
        let events = try EventLog.readStream(Streams.engagement(pilot: "demo-csrp", school: "demo-100001"), on: db.applicationConnection())
        #expect(events.count == 1)
    }

    @Test("a broken envelope is refused with the field named")
    func envelope() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        for (text, field) in [
            ("not json", "record"), ("[1]", "record"),
            (#"{"type":"activity_deliverd","id":"a","data":{}}"#, "type"),
            (#"{"type":"activity_delivered","data":{}}"#, "id"),
            (#"{"type":"activity_delivered","id":"a"}"#, "data"),
            (#"{"type":"activity_delivered","id":"a","data":{},"extra":1}"#, "extra"),
        ] {
            guard case .refused(let refusals) = try recorder.record(text, on: connection).outcome else {
                Issue.record("\(text) was accepted")
                continue
            }
            #expect(refusals.map(\.field).contains(field), "\(text): \(refusals)")
        }
        #expect(try connection.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == 0)
    }
}
