import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachTestSupport
import Testing

@Suite("the demo data set")
struct DemoTests {
    static let today = CalendarDate(year: 2026, month: 11, day: 22)

    func records(seed: UInt64, events: Int = 6_000) -> [DemoRecord] {
        var out: [DemoRecord] = []
        DemoGenerator(seed: seed, events: events, today: Self.today).generate { out.append($0) }
        return out
    }

    @Test("the same seed gives the same data; another seed gives other data")
    func deterministic() {
        let first = records(seed: 7)
        #expect(first == records(seed: 7))
        #expect(first.map(\.data) != records(seed: 8).map(\.data))
        #expect(abs(first.count - 6_000) <= 10)
    }

    @Test("every generated record passes the same checks as a record sent by a person, in the stream they would put it")
    func everyRecordIsValid() throws {
        for record in records(seed: 3) where record.type != "event_corrected" && record.type != "event_withdrawn" {
            guard case .object(let fields) = try JSONValue.parse(record.data), let type = RecordType.all[record.type] else {
                Issue.record("\(record.type) \(record.id) is not an object of a known type")
                continue
            }
            var reader = FieldReader(fields, today: Self.today)
            let checked = type.checkData(&reader, record.id)
            #expect(reader.refusals + reader.unknownFieldRefusals == [], "\(record.type) \(record.id)")
            #expect(checked?.streamID == record.streamID, "\(record.type) \(record.id)")
            #expect(checked?.authorityID == record.authorityID, "\(record.type) \(record.id)")
        }
    }

    @Test("the case-study situations are in it")
    func situations() {
        let all = records(seed: 1)
        let types = Set(all.map(\.type))
        for type in [
            "pilot_target_changed", "threshold_decided", "school_assessment_completed", "safety_plan_agreed",
            "action_completed", "action_rescheduled", "outcome_shared", "context_reviewed", "location_registered",
            "intervention_started", "location_concern_closed", "survey_wave_recorded", "event_corrected", "event_withdrawn",
        ] {
            #expect(types.contains(type), "\(type)")
        }
        #expect(
            all.contains { $0.type == "pilot_registered" && $0.data.contains("CS-restorative practice") && $0.data.contains(#""target_schools":11"#) }
        )
        #expect(all.contains { $0.type == "activity_delivered" && $0.data.contains("peer_group_conference") })
        #expect(all.contains { $0.type == "threshold_decided" && $0.data.contains("child_in_need") })
        #expect(Set(all.filter { $0.type == "survey_wave_recorded" }.compactMap { $0.data.range(of: "follow_up_1") }).count > 0)
    }

    @Test("loading appends every event once and keeps every chain whole; loading again appends nothing")
    func loadTwice() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        let loader = DemoLoader(generator: DemoGenerator(seed: 5, events: 6_000, today: Self.today), chunkSize: 2_500)
        try loader.checkTarget(on: connection)
        let first = try loader.load(on: connection)
        #expect(first.appended == first.byType.values.reduce(0, +))
        #expect(first.alreadyPresent == 0)
        let second = try loader.load(on: connection)
        #expect(second.appended == 0 && second.alreadyPresent == first.appended)
        #expect(try EventLog.verify(on: connection).ok)
        let other = DemoLoader(generator: DemoGenerator(seed: 6, events: 6_000, today: Self.today))
        #expect(throws: Refusals.self) { try other.checkTarget(on: connection) }
    }
}
