import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachPostgres
import Synchronization
import Testing

/// The rules between records, judged from facts given by hand: no database.
@Suite("the rules between records")
struct CrossRecordRulesTests {
    static let today = CalendarDate(year: 2026, month: 11, day: 30)

    /// A candidate from a record's JSON data, its own checks passed.
    func candidate(_ line: Int, _ type: RecordType, _ id: String, _ data: String) throws -> Candidate {
        guard case .object(let fields) = try JSONValue.parse(data) else { throw Refusals([Refusal("data", "not an object")]) }
        let checked = try type.checkFields(fields, id: id, today: Self.today).get()
        return Candidate(line: line, recordID: id, type: type, data: fields, dataText: JSONValue.object(fields).text, checked: checked)
    }

    func judge(_ candidates: [Candidate], _ facts: LogFacts = LogFacts(), rule: RecordingRule = .unrestricted) -> [String] {
        CrossRecordRules.judge(candidates, facts: facts, today: Self.today, rule: rule).map { verdict in
            switch verdict {
            case .append(let checked, let expected): "append \(checked.streamID) \(expected)"
            case .alreadyPresent(let position): "present \(position.map(String.init) ?? "in batch")"
            case .refused(let refusals, let byLog): "refused \(refusals.map(\.field)) \(byLog ? "log" : "batch")"
            }
        }
    }

    let school = #"{"school_id":"900001","la_id":"northvale","name":"Example Academy","phase":"secondary"}"#
    func stage(_ stage: String) -> String {
        #"{"pilot_id":"northvale-pilot","school_id":"900001","la_id":"northvale","stage":"\#(stage)","date":"2024-09-20","reason":"r"}"#
    }
    let activity =
        #"{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}"#

    /// The log of these tests: the authority and its pilot are registered; school 900001 is not.
    var facts: LogFacts {
        var facts = LogFacts()
        facts.owners = ["authority:northvale": "northvale", "pilot:northvale-pilot": "northvale"]
        return facts
    }

    @Test("a registration is once, and what refers to it may follow it in the same batch, not precede it")
    func registrationsAndReferences() throws {
        let verdicts = judge(
            [
                try candidate(1, .activityDelivered, "a0", activity),
                try candidate(2, .schoolRegistered, "s1", school),
                try candidate(3, .schoolRegistered, "s2", school),
                try candidate(4, .activityDelivered, "a1", activity),
            ], facts)
        #expect(
            verdicts == [
                "refused [\"school_id\"] log",
                "append school:900001 none",
                "refused [\"school_id\"] log",
                "append activities:northvale-pilot:900001 any",
            ])
        var registered = facts
        registered.registered = ["school:900001"]
        #expect(judge([try candidate(1, .schoolRegistered, "s1", school)], registered) == ["refused [\"school_id\"] log"])
    }

    @Test("a row refused earlier in a batch is judged again when it comes again, as one by one")
    func refusedThenAgain() throws {
        let verdicts = judge(
            [
                try candidate(1, .activityDelivered, "a1", activity),
                try candidate(2, .schoolRegistered, "s1", school),
                try candidate(3, .activityDelivered, "a1", activity),
            ], facts)
        #expect(verdicts == ["refused [\"school_id\"] log", "append school:900001 none", "append activities:northvale-pilot:900001 any"])
    }

    @Test("a record sent twice is one record; an id holds one record only")
    func ids() throws {
        let first = try candidate(1, .schoolRegistered, "s1", school)
        var present = facts
        present.present = [first.eventID: PresentRecord(position: 42, same: true, authorityID: first.checked.authorityID)]
        #expect(judge([first], present) == ["present 42"])
        present.present = [first.eventID: PresentRecord(position: 42, same: false, authorityID: first.checked.authorityID)]
        #expect(judge([first], present) == ["refused [\"id\"] log"])
        let other = try candidate(2, .schoolRegistered, "s1", school.replacingOccurrences(of: "Example", with: "Other"))
        #expect(
            judge([first, try candidate(2, .schoolRegistered, "s1", school), other], facts)
                == ["append school:900001 none", "present in batch", "refused [\"id\"] batch"])
    }

    @Test("engagement stages move forward from the log's last stage and through the batch")
    func stages() throws {
        var facts = self.facts
        facts.registered = ["school:900001"]
        facts.owners["school:900001"] = "northvale"
        facts.stages = ["engagement:northvale-pilot:900001": (version: 2, stage: .scoping)]
        let verdicts = judge(
            [
                try candidate(1, .engagementStageReached, "e1", stage("identified")),
                try candidate(2, .engagementStageReached, "e2", stage("assessing")),
                try candidate(3, .engagementStageReached, "e3", stage("scoping")),
            ], facts)
        #expect(
            verdicts == [
                "refused [\"stage\"] log",
                "append engagement:northvale-pilot:900001 2",
                "refused [\"stage\"] log",
            ])
    }

    @Test("amendments name a record recorded before, in the log or earlier in the batch, that can take them")
    func amendments() throws {
        var facts = self.facts
        facts.registered = ["school:900001"]
        facts.owners["school:900001"] = "northvale"
        let withdraw = { (line: Int, id: String, target: String) in
            try self.candidate(line, .eventWithdrawn, id, #"{"record_id":"\#(target)","reason":"twice"}"#)
        }
        let verdicts = judge(
            [
                try withdraw(1, "w0", "a1"),
                try candidate(2, .activityDelivered, "a1", activity),
                try candidate(
                    3, .eventCorrected, "c1", #"{"record_id":"a1","reason":"count","data":\#(activity.replacingOccurrences(of: "10", with: "12"))}"#),
                try withdraw(4, "w1", "a1"),
                try withdraw(5, "w2", "a1"),
                try withdraw(6, "w3", "c1"),
            ], facts)
        #expect(
            verdicts == [
                "refused [\"record_id\"] log",
                "append activities:northvale-pilot:900001 any",
                "append activities:northvale-pilot:900001 any",
                "append activities:northvale-pilot:900001 any",
                "refused [\"record_id\"] log",
                "refused [\"record_id\"] log",
            ])
    }

    @Test("who may record what is asked of the record as it will be appended (an amendment: the record it amends)")
    func permits() throws {
        var facts = self.facts
        facts.registered = ["school:900001"]
        facts.owners["school:900001"] = "northvale"
        let asked = Mutex<[String?]>([])
        let verdicts = CrossRecordRules.judge(
            [
                try candidate(1, .activityDelivered, "a1", activity),
                try candidate(2, .eventWithdrawn, "w1", #"{"record_id":"a1","reason":"twice"}"#),
            ], facts: facts, today: Self.today,
            rule: RecordingRule(
                permits: { type, checked in
                    asked.withLock { $0.append(checked.authorityID) }
                    return type.name == "event_withdrawn" ? Refusal("la_id", "not yours") : nil
                }, sees: { _ in true }))
        #expect(asked.withLock { $0 } == ["northvale", "northvale"])
        // Refused for whose record it amends, which the log told.
        guard case .refused(let refusals, byLog: true) = verdicts[1] else {
            Issue.record("\(verdicts[1])")
            return
        }
        #expect(refusals.map(\.field) == ["la_id"])
    }

    @Test("to a recorder who may not see another authority, its records and things do not exist: amendments, references and records sent again")
    func otherAuthoritiesUnseen() throws {
        var facts = self.facts
        facts.registered = ["school:900001", "school:900002"]
        facts.owners["school:900001"] = "northvale"
        facts.owners["school:900002"] = "southmere"
        let theirs = RecordedEvent(
            position: 5, eventID: EventLog.recordEventID("s-b"), streamID: "school:900002", version: 1,
            type: "school_registered", schemaVersion: 1, data: "{}", metadata: "{}", occurredOn: nil,
            recordedAt: "2026-01-01T00:00:00Z", authorityID: "southmere", hash: "")
        facts.recorded["s-b"] = (theirs, false)
        let northvaleOnly = RecordingRule(
            permits: { _, checked in
                checked.authorityID.map { $0 == "northvale" } == false ? Refusal("la_id", "not yours") : nil
            }, sees: { $0.map { $0 == "northvale" } ?? true })
        let other = #"{"school_id":"900002","la_id":"southmere","name":"B","phase":"primary"}"#
        let ours = #"{"school_id":"900002","la_id":"northvale","name":"B","phase":"primary"}"#
        func reasons(_ candidates: [Candidate], _ facts: LogFacts) -> [[Refusal]] {
            CrossRecordRules.judge(candidates, facts: facts, today: Self.today, rule: northvaleOnly).map { verdict in
                if case .refused(let refusals, _) = verdict { return refusals }
                return []
            }
        }
        let verdicts = reasons(
            [
                try candidate(1, .eventCorrected, "c1", #"{"record_id":"s-b","reason":"ours","data":\#(ours)}"#),
                try candidate(2, .eventWithdrawn, "w1", #"{"record_id":"s-b","reason":"gone"}"#),
                try candidate(3, .eventWithdrawn, "w2", #"{"record_id":"s-none","reason":"gone"}"#),
                try candidate(4, .activityDelivered, "a1", activity.replacingOccurrences(of: "900001", with: "900002")),
                try candidate(5, .activityDelivered, "a2", activity.replacingOccurrences(of: "900001", with: "900009")),
            ], facts)
        #expect(verdicts[0] == [CrossRecordRules.noRecord("s-b")] && verdicts[1] == [CrossRecordRules.noRecord("s-b")])
        #expect(verdicts[2] == [CrossRecordRules.noRecord("s-none")])
        #expect(verdicts[3].map(\.reason) == ["school '900002' is not registered; register it first"])
        #expect(verdicts[3].map(\.reason) == verdicts[4].map { $0.reason.replacingOccurrences(of: "900009", with: "900002") })
        // Their record sent again: refused as a new one naming their authority, not "already recorded".
        var present = facts
        let again = try candidate(1, .schoolRegistered, "s-b", other)
        present.present[again.eventID] = PresentRecord(position: 5, same: true, authorityID: again.checked.authorityID)
        #expect(reasons([again], present) == [[Refusal("la_id", "not yours")]])
        // An admin sees all, and may amend, but never moves a record to another authority.
        let moved = CrossRecordRules.judge(
            [try candidate(1, .eventCorrected, "c1", #"{"record_id":"s-b","reason":"ours","data":\#(ours)}"#)],
            facts: facts, today: Self.today, rule: .unrestricted)
        guard case .refused(let refusals, _) = moved[0] else {
            Issue.record("\(moved)")
            return
        }
        #expect(refusals.map(\.field) == ["data.la_id"])
    }
}
