import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachTestSupport
import Testing

/// A small synthetic world: one authority, one school, one pilot.
func seedWorld(_ recorder: RecordWriter, on connection: Connection, authority: String = "demo") throws {
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
    let recorder = RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: CalendarDate(year: 2026, month: 11, day: 22)))

    @Test("a record is appended once; the same id with other data is refused")
    func idempotent() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let activity =
            #"{"type":"activity_delivered","id":"act-1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"demo-100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":180}}}}"#
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
        let events = try EventLog.readStream(Streams.activities(pilot: "demo-csrp", school: "demo-100001"), on: connection)
        #expect(events.count == 1)
        #expect(events[0].authorityID == "demo")
        #expect(events[0].occurredOn == CalendarDate(year: 2024, month: 10, day: 3))
        #expect(events[0].metadata.contains(#""correlation_id": "act-1""#))
    }

    @Test("references must exist and belong to the authority the record names")
    func references() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        try seedWorld(recorder, on: connection, authority: "other")
        let wrongAuthority =
            #"{"type":"activity_delivered","id":"act-x","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"other-100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":10}}}}"#
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
        let twice =
            #"{"type":"local_authority_registered","id":"la-again","data":{"la_id":"demo","name":"Demo again","region":"london","joined_on":"2024-09-01"}}"#
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
        guard case .accepted = try outcome(stage("implementing", id: "e1")) else {
            Issue.record("e1")
            return
        }
        guard case .refused(let back) = try outcome(stage("identified", id: "e2")) else {
            Issue.record("e2")
            return
        }
        #expect(back.map(\.field) == ["stage"])
        guard case .accepted = try outcome(stage("withdrawn", id: "e3", extra: #","reason":"budget""#)) else {
            Issue.record("e3")
            return
        }
        guard case .accepted = try outcome(stage("identified", id: "e4", date: "2025-09-01")) else {
            Issue.record("e4")
            return
        }
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

@Suite("recording referrals, surveys, corrections and withdrawals")
struct MoreRecordTests {
    let recorder = RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: CalendarDate(year: 2026, month: 11, day: 22)))

    func outcome(_ text: String, on connection: Connection) throws -> RecordOutcome {
        try recorder.record(text, on: connection).outcome
    }

    func refusedFields(_ text: String, on connection: Connection) throws -> [String] {
        guard case .refused(let refusals) = try outcome(text, on: connection) else { return [] }
        return refusals.map(\.field)
    }

    @Test("a referral is decided with a pathway that fits its level, and only that")
    func referralAndThreshold() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let referral =
            #"{"type":"context_referral_received","id":"ref-1","data":{"referral_id":"ref-1","la_id":"demo","school_id":"demo-100001","source":"school DSL","concerns":["harmful_incidents_in_context"],"date":"2025-01-13"}}"#
        guard case .accepted = try outcome(referral, on: connection) else {
            Issue.record("referral")
            return
        }
        let wrong =
            #"{"type":"threshold_decided","id":"dec-1","data":{"referral_id":"ref-1","la_id":"demo","level":"universal_early_help","pathway":"school_assessment","date":"2025-02-03"}}"#
        guard case .refused(let refusals) = try outcome(wrong, on: connection) else {
            Issue.record("a misfit pathway was accepted")
            return
        }
        #expect(
            refusals == [
                Refusal(
                    "pathway", "school_assessment is not available at level universal_early_help; choose safety_summit or school_partnership_meeting")
            ])
        let right = wrong.replacingOccurrences(of: "universal_early_help", with: "child_in_need")
        guard case .accepted = try outcome(right, on: connection) else {
            Issue.record("a fitting pathway was refused")
            return
        }
        #expect(
            try EventLog.readStream(Entity.referral.stream("ref-1"), on: connection).map(\.type) == [
                "context_referral_received", "threshold_decided",
            ])
        let noContext = referral.replacingOccurrences(of: #""school_id":"demo-100001","#, with: "").replacingOccurrences(of: "ref-1", with: "ref-2")
        #expect(try refusedFields(noContext, on: connection) == ["school_id"])
    }

    @Test("survey counts: agreeing <= answering <= respondents, measures of the right group")
    func surveys() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let wave =
            #"{"type":"survey_wave_recorded","id":"sv-1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"demo-100001","respondent_group":"pupils","wave":"baseline","date":"2024-10-10","respondents":120,"measures":{"feel_safe_in_school":{"agreeing":70,"answering":110}},"unsafe_places":[{"label":"bus stop after dark","mentions":14}]}}"#
        guard case .accepted = try outcome(wave, on: connection) else {
            Issue.record("wave")
            return
        }
        let more = wave.replacingOccurrences(of: "\"agreeing\":70", with: "\"agreeing\":111").replacingOccurrences(of: "sv-1", with: "sv-2")
        #expect(try refusedFields(more, on: connection) == ["measures.feel_safe_in_school.agreeing"])
        let answering = wave.replacingOccurrences(of: "\"answering\":110", with: "\"answering\":121").replacingOccurrences(of: "sv-1", with: "sv-3")
        #expect(try refusedFields(answering, on: connection) == ["measures.feel_safe_in_school.answering"])
        let group = wave.replacingOccurrences(of: "feel_safe_in_school", with: "confident_responding_efh").replacingOccurrences(
            of: "sv-1", with: "sv-4")
        #expect(try refusedFields(group, on: connection) == ["measures.confident_responding_efh"])
        let badWave = wave.replacingOccurrences(of: "baseline", with: "follow-up").replacingOccurrences(of: "sv-1", with: "sv-5")
        #expect(try refusedFields(badWave, on: connection) == ["wave"])
    }

    @Test("corrections name a record that exists and pass its checks; a withdrawn record cannot be corrected")
    func correctionsAndWithdrawals() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let activity =
            #"{"type":"activity_delivered","id":"act-9","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"demo-100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":180}}}}"#
        guard case .accepted = try outcome(activity, on: connection) else {
            Issue.record("activity")
            return
        }
        let correction =
            #"{"type":"event_corrected","id":"fix-1","data":{"record_id":"act-9","reason":"the head count was 150","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"demo-100001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":150}}}}}"#
        guard case .accepted = try outcome(correction, on: connection) else {
            Issue.record("correction")
            return
        }
        let badCorrection = correction.replacingOccurrences(of: "\"ks3\":150", with: "\"ks3\":-5").replacingOccurrences(of: "fix-1", with: "fix-2")
        #expect(try refusedFields(badCorrection, on: connection) == ["data.attendance.pupils.ks3"])
        let missing = correction.replacingOccurrences(of: "\"record_id\":\"act-9\"", with: "\"record_id\":\"act-404\"").replacingOccurrences(
            of: "fix-1", with: "fix-3")
        #expect(try refusedFields(missing, on: connection) == ["record_id"])
        let ofCorrection = #"{"type":"event_withdrawn","id":"wd-0","data":{"record_id":"fix-1","reason":"mistake"}}"#
        #expect(try refusedFields(ofCorrection, on: connection) == ["record_id"])
        let withdrawal = #"{"type":"event_withdrawn","id":"wd-1","data":{"record_id":"act-9","reason":"recorded twice"}}"#
        guard case .accepted = try outcome(withdrawal, on: connection) else {
            Issue.record("withdrawal")
            return
        }
        let late = correction.replacingOccurrences(of: "fix-1", with: "fix-4")
        guard case .refused(let refusals) = try outcome(late, on: connection) else {
            Issue.record("a withdrawn record was corrected")
            return
        }
        #expect(refusals.map(\.field) == ["record_id"])
        #expect(refusals[0].reason.contains("withdrawn"))
        #expect(
            try EventLog.readStream(Streams.activities(pilot: "demo-csrp", school: "demo-100001"), on: connection).map(\.type) == [
                "activity_delivered", "event_corrected", "event_withdrawn",
            ])
    }

    @Test("locations are kept no finer than a postcode district, and peer groups carry no names")
    func locationsAndPeerGroups() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let location =
            #"{"type":"location_registered","id":"loc-1","data":{"location_id":"loc-1","la_id":"demo","kind":"park","label":"Park near the school","area":"SE13","concern_types":["violence","substance_misuse"],"identified_on":"2024-11-05"}}"#
        guard case .accepted = try outcome(location, on: connection) else {
            Issue.record("location")
            return
        }
        let postcode = location.replacingOccurrences(of: "\"SE13\"", with: "\"SE13 6AB\"").replacingOccurrences(of: "loc-1", with: "loc-2")
        #expect(try refusedFields(postcode, on: connection) == ["area"])
        let group =
            #"{"type":"peer_group_registered","id":"pg-1","data":{"peer_group_id":"pg-1","la_id":"demo","size":6,"age_min":13,"age_max":15,"genders":{"female":2,"male":4},"school_ids":["demo-100001"],"location_ids":["loc-1"]}}"#
        guard case .accepted = try outcome(group, on: connection) else {
            Issue.record("peer group")
            return
        }
        let named = group.replacingOccurrences(of: "\"size\":6", with: "\"size\":6,\"names\":[\"A\"]").replacingOccurrences(of: "pg-1", with: "pg-2")
        #expect(try refusedFields(named, on: connection) == ["names"])
        let tooMany = group.replacingOccurrences(of: "\"male\":4", with: "\"male\":9").replacingOccurrences(of: "pg-1", with: "pg-3")
        #expect(try refusedFields(tooMany, on: connection) == ["genders.total"])
    }
}

@Suite("recording a context's path: assessment, plan, actions, outcomes, review")
struct ContextPathTests {
    let recorder = RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: CalendarDate(year: 2026, month: 11, day: 22)))

    @Test("a referral goes through assessment, a safety plan with actions, outcomes and a de-escalation")
    func fullPath() throws {
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        func accept(_ text: String) throws {
            let outcome = try recorder.record(text, on: connection).outcome
            guard case .accepted = outcome else { throw Refusals([Refusal("test", "\(outcome)")]) }
        }
        func refused(_ text: String) throws -> [String] {
            guard case .refused(let refusals) = try recorder.record(text, on: connection).outcome else { return [] }
            return refusals.map(\.field)
        }
        try accept(
            #"{"type":"context_referral_received","id":"r1","data":{"referral_id":"r1","la_id":"demo","school_id":"demo-100001","source":"police","concerns":["harmful_incidents_in_context","guardians_normalise_harm"],"date":"2025-01-13"}}"#
        )
        try accept(
            #"{"type":"threshold_decided","id":"r1-d","data":{"referral_id":"r1","la_id":"demo","level":"child_in_need","pathway":"school_assessment","date":"2025-02-03"}}"#
        )
        try accept(
            #"{"type":"school_assessment_completed","id":"r1-a","data":{"referral_id":"r1","la_id":"demo","school_id":"demo-100001","date":"2025-03-20","methods":["focus_groups","surveys"],"domains":{"pupil_development_needs":{"strengths":"peer support","rating":2},"guardianship_capacity":{"concerns":"lunchtime cover","rating":3},"environmental_and_family_factors":{"rating":2}},"young_people_took_part":true,"parents_took_part":false}}"#
        )
        let plan =
            #"{"type":"safety_plan_agreed","id":"p1","data":{"plan_id":"p1","referral_id":"r1","la_id":"demo","date":"2025-04-01","actions":[{"action_id":"a1","description":"Staff presence at the bus stop after school","owner_role":"deputy head","due_on":"2025-05-01"},{"action_id":"a2","description":"Review lunchtime supervision","owner_role":"DSL","due_on":"2025-04-15"}]}}"#
        #expect(
            try refused(
                plan.replacingOccurrences(of: "2025-04-15", with: "2025-03-15").replacingOccurrences(of: "\"id\":\"p1\"", with: "\"id\":\"p0\"")) == [
                    "actions.1.due_on"
                ])
        try accept(plan)
        try accept(#"{"type":"action_completed","id":"p1-a2","data":{"plan_id":"p1","action_id":"a2","la_id":"demo","date":"2025-04-14"}}"#)
        try accept(
            #"{"type":"action_rescheduled","id":"p1-a1","data":{"plan_id":"p1","action_id":"a1","la_id":"demo","date":"2025-04-30","new_due_on":"2025-06-01"}}"#
        )
        #expect(
            try refused(#"{"type":"action_completed","id":"p1-a9","data":{"plan_id":"p1","action_id":"a9","la_id":"demo","date":"2025-04-14"}}"#) == [
                "action_id"
            ])
        try accept(
            #"{"type":"outcome_shared","id":"r1-o","data":{"referral_id":"r1","la_id":"demo","date":"2025-06-10","shared_with":["young_people","parents_carers"]}}"#
        )
        #expect(
            try refused(
                #"{"type":"context_reviewed","id":"r1-x","data":{"referral_id":"r1","la_id":"demo","date":"2025-07-01","outcome":"de_escalated"}}"#)
                == ["new_level"])
        try accept(
            #"{"type":"context_reviewed","id":"r1-r","data":{"referral_id":"r1","la_id":"demo","date":"2025-07-01","outcome":"de_escalated","new_level":"universal_early_help"}}"#
        )
        try accept(
            #"{"type":"beyond_referrals_self_assessment_completed","id":"br-1","data":{"school_id":"demo-100001","la_id":"demo","date":"2025-09-20","ratings":{"structures_and_systems":"amber","prevention":"green","identification_and_response":"amber","intervention":"red"}}}"#
        )
        try accept(
            #"{"type":"school_statistics_reported","id":"st-1","data":{"school_id":"demo-100001","la_id":"demo","academic_year":"2024/25","suspensions":41,"permanent_exclusions":2,"pupils_on_roll":1010,"attendance_percent":91.4}}"#
        )
        #expect(
            try refused(
                #"{"type":"school_statistics_reported","id":"st-2","data":{"school_id":"demo-100001","la_id":"demo","academic_year":"2024/25","suspensions":40,"permanent_exclusions":2,"pupils_on_roll":1010,"attendance_percent":91.4}}"#
            ) == ["academic_year"])
        try accept(
            #"{"type":"location_registered","id":"l1","data":{"location_id":"l1","la_id":"demo","kind":"transport","label":"Bus interchange","area":"SE13","concern_types":["violence"],"identified_on":"2024-11-05"}}"#
        )
        try accept(
            #"{"type":"intervention_started","id":"i1","data":{"intervention_id":"i1","location_id":"l1","la_id":"demo","kind":"youth_outreach","date":"2024-12-01"}}"#
        )
        try accept(#"{"type":"intervention_ended","id":"i1-end","data":{"intervention_id":"i1","la_id":"demo","date":"2025-03-01"}}"#)
        try accept(#"{"type":"location_concern_closed","id":"l1-closed","data":{"location_id":"l1","la_id":"demo","date":"2025-06-01"}}"#)
        #expect(
            try EventLog.readStream(Entity.referral.stream("r1"), on: connection).map(\.type) == [
                "context_referral_received", "threshold_decided", "school_assessment_completed", "outcome_shared", "context_reviewed",
            ])
        #expect(try EventLog.verify(on: connection).ok)
    }
}

@Suite("recording older schema versions")
struct OlderVersionTests {
    @Test("a version 1 record is accepted and stored as version 2; a version 1 event in the log reads as version 2")
    func versionOne() throws {
        let recorder = RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: CalendarDate(year: 2026, month: 11, day: 22)))
        let db = try TestDatabase.create()
        let connection = try db.applicationConnection()
        try seedWorld(recorder, on: connection)
        let v1 =
            #"{"type":"activity_delivered","schema_version":1,"id":"old-1","data":{"pilot_id":"demo-csrp","la_id":"demo","school_id":"demo-100001","kind":"assembly","date":"2023-10-03","duration_minutes":45,"virtual":false,"attendance":{"pupils":{"ks3":90}}}}"#
        guard case .accepted = try recorder.record(v1, on: connection).outcome else {
            Issue.record("v1 record refused")
            return
        }
        let stored = try EventLog.readStream(Streams.activities(pilot: "demo-csrp", school: "demo-100001"), on: connection)
        #expect(stored[0].schemaVersion == 2)
        #expect(stored[0].data.contains(#""mode": "in_person""#))

        // An event an older Reach wrote at version 1.
        _ = try EventLog.append(
            [
                NewEvent(
                    streamID: "activities:older", type: "activity_delivered", schemaVersion: 1,
                    data: #"{"kind":"assembly","virtual":true}"#)
            ], on: connection)
        let older = try EventLog.readStream("activities:older", on: connection)[0]
        #expect(try RecordType.currentData(of: older)["mode"] == .string("virtual"))
    }
}
