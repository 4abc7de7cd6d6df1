import Foundation
import ReachCalendar
import ReachDomain
import ReachIngest
import ReachPostgres
import ReachTestSupport

@testable import ReachProjections

/// A small worked scenario from the seed documents, small enough to compute by hand: a
/// CS-restorative practice pilot in 11 schools with a roll-out target of a further 20 (31),
/// named activities with attendances (one corrected, one withdrawn), one pupil survey baseline
/// and follow-up, one referral through to de-escalation, and one location of concern.
enum Scenario {
    static let today = CalendarDate(year: 2026, month: 11, day: 22)

    static var records: [String] {
        var lines = [
            #"{"type":"local_authority_registered","id":"la","data":{"la_id":"northvale","name":"Northvale Council","region":"london","joined_on":"2024-09-01"}}"#,
            #"{"type":"partner_registered","id":"p1","data":{"partner_id":"partner-1","name":"Northvale youth work","kind":"youth_work"}}"#,
            #"{"type":"partner_registered","id":"p2","data":{"partner_id":"partner-2","name":"Northvale police","kind":"police"}}"#,
            #"{"type":"pilot_registered","id":"pilot","data":{"pilot_id":"northvale-pilot","la_id":"northvale","name":"CS and restorative practice in schools","approach":"CS-restorative practice","strategy_project":"local","objectives":[1,3],"policy_goals":[2,5],"target_schools":11,"start_date":"2024-09-01"}}"#,
            #"{"type":"pilot_target_changed","id":"target-31","data":{"pilot_id":"northvale-pilot","la_id":"northvale","target_schools":31,"date":"2025-09-01","reason":"roll-out to a further 20 schools"}}"#,
        ]
        for n in 1...11 {
            let school = "9000\(String(format: "%02d", n))"
            lines.append(
                #"{"type":"school_registered","id":"s\#(n)","data":{"school_id":"\#(school)","la_id":"northvale","name":"School \#(n)","phase":"secondary"}}"#
            )
            for (stage, date) in [
                ("identified", "2024-09-05"), ("scoping", "2024-09-20"), ("leadership_engaged", "2024-10-01"),
                ("strategy_agreed", "2024-11-01"), ("assessing", "2024-12-01"), ("implementing", "2025-01-10"),
            ] {
                lines.append(
                    #"{"type":"engagement_stage_reached","id":"st-\#(n)-\#(stage)","data":{"pilot_id":"northvale-pilot","school_id":"\#(school)","la_id":"northvale","stage":"\#(stage)","date":"\#(date)"}}"#
                )
            }
        }
        lines.append(
            #"{"type":"engagement_stage_reached","id":"st-11-embedding","data":{"pilot_id":"northvale-pilot","school_id":"900011","la_id":"northvale","stage":"embedding","date":"2025-03-01"}}"#
        )
        func activity(_ id: String, _ body: String) -> String {
            #"{"type":"activity_delivered","id":"\#(id)","data":{"pilot_id":"northvale-pilot","la_id":"northvale",\#(body)}}"#
        }
        lines += [
            activity(
                "a1",
                #""school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","delivered_by":{"team":"CS team","partners":["partner-1"]},"attendance":{"pupils":{"ks3":180},"staff":{"teaching":6,"pastoral":2}}"#
            ),
            activity(
                "a2",
                #""school_id":"900001","kind":"staff_training","date":"2024-11-12","duration_minutes":90,"mode":"in_person","attendance":{"staff":{"teaching":12,"dsl":2,"support":4}}"#
            ),
            activity(
                "a3",
                #""school_id":"900002","kind":"restorative_circle","date":"2025-01-20","duration_minutes":60,"mode":"in_person","attendance":{"pupils":{"ks3":4},"staff":{"pastoral":1}}"#
            ),
            activity(
                "a4",
                #""school_id":"900003","kind":"safety_summit","date":"2025-03-05","duration_minutes":120,"mode":"in_person","delivered_by":{"partners":["partner-2"]},"attendance":{"pupils":{"ks4":30},"parents_carers":5,"professionals":{"police":2}}"#
            ),
            activity(
                "a5",
                #""online":true,"kind":"staff_training","date":"2025-06-10","duration_minutes":60,"mode":"virtual","attendance":{"staff":{"leadership":3,"teaching":7}}"#
            ),
            activity(
                "a6",
                #""school_id":"900004","kind":"pupil_workshop","date":"2025-02-11","duration_minutes":50,"mode":"in_person","attendance":{"pupils":{"ks3":25}}"#
            ),
            #"{"type":"event_corrected","id":"fix-a1","data":{"record_id":"a1","reason":"the head count was 150","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","delivered_by":{"team":"CS team","partners":["partner-1"]},"attendance":{"pupils":{"ks3":150},"staff":{"teaching":6,"pastoral":2}}}}}"#,
            #"{"type":"event_withdrawn","id":"drop-a6","data":{"record_id":"a6","reason":"recorded against the wrong pilot"}}"#,
            #"{"type":"survey_wave_recorded","id":"sv-base","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","respondent_group":"pupils","wave":"baseline","date":"2024-10-10","respondents":85,"measures":{"feel_safe_in_school":{"agreeing":48,"answering":80}}}}"#,
            #"{"type":"survey_wave_recorded","id":"sv-fu1","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","respondent_group":"pupils","wave":"follow_up_1","date":"2025-06-20","respondents":72,"measures":{"feel_safe_in_school":{"agreeing":56,"answering":70}}}}"#,
            #"{"type":"context_referral_received","id":"ref","data":{"referral_id":"ref-1","la_id":"northvale","school_id":"900001","source":"school DSL","concerns":["harmful_incidents_in_context"],"date":"2025-01-13"}}"#,
            #"{"type":"threshold_decided","id":"dec","data":{"referral_id":"ref-1","la_id":"northvale","level":"child_in_need","pathway":"school_assessment","date":"2025-02-03"}}"#,
            #"{"type":"school_assessment_completed","id":"assess","data":{"referral_id":"ref-1","la_id":"northvale","school_id":"900001","date":"2025-03-20","methods":["focus_groups","surveys"],"domains":{"pupil_development_needs":{"strengths":"peer support","concerns":"online conflict","rating":2},"guardianship_capacity":{"strengths":"DSL team","concerns":"lunchtime cover","rating":3},"environmental_and_family_factors":{"strengths":"youth club","concerns":"bus route","rating":2}},"young_people_took_part":true,"parents_took_part":false}}"#,
            #"{"type":"safety_plan_agreed","id":"plan","data":{"plan_id":"plan-1","referral_id":"ref-1","la_id":"northvale","date":"2025-04-01","actions":[{"action_id":"a1","description":"Staff at the bus stop after school","owner_role":"deputy head","due_on":"2025-05-01"},{"action_id":"a2","description":"Lunchtime cover rota","owner_role":"business manager","due_on":"2025-05-15"},{"action_id":"a3","description":"Youth club referral route","owner_role":"DSL","due_on":"2025-06-30"}]}}"#,
            #"{"type":"action_completed","id":"ac1","data":{"plan_id":"plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-28"}}"#,
            #"{"type":"action_completed","id":"ac2","data":{"plan_id":"plan-1","action_id":"a2","la_id":"northvale","date":"2025-05-20"}}"#,
            #"{"type":"action_rescheduled","id":"ar3","data":{"plan_id":"plan-1","action_id":"a3","la_id":"northvale","date":"2025-06-20","new_due_on":"2025-07-15","reason":"staff absence"}}"#,
            #"{"type":"action_completed","id":"ac3","data":{"plan_id":"plan-1","action_id":"a3","la_id":"northvale","date":"2025-07-10"}}"#,
            #"{"type":"outcome_shared","id":"out","data":{"referral_id":"ref-1","la_id":"northvale","date":"2025-06-10","shared_with":["young_people","parents_carers"]}}"#,
            #"{"type":"context_reviewed","id":"rev","data":{"referral_id":"ref-1","la_id":"northvale","date":"2025-07-01","outcome":"de_escalated","new_level":"universal_early_help"}}"#,
            #"{"type":"location_registered","id":"loc","data":{"location_id":"loc-1","la_id":"northvale","kind":"park","label":"Park by the school","area":"SE13","concern_types":["violence"],"identified_on":"2024-11-05"}}"#,
            #"{"type":"intervention_started","id":"int1","data":{"intervention_id":"int-1","location_id":"loc-1","la_id":"northvale","kind":"youth_outreach","date":"2024-12-01","partners":["partner-1"]}}"#,
            #"{"type":"intervention_ended","id":"int1-end","data":{"intervention_id":"int-1","la_id":"northvale","date":"2025-03-01"}}"#,
            #"{"type":"intervention_started","id":"int2","data":{"intervention_id":"int-2","location_id":"loc-1","la_id":"northvale","kind":"cctv","date":"2025-01-10"}}"#,
            #"{"type":"location_concern_closed","id":"loc-closed","data":{"location_id":"loc-1","la_id":"northvale","date":"2025-06-01","reason":"no reports since March"}}"#,
        ]
        return lines
    }

    /// Records the scenario through the domain's checks; every record must be accepted.
    static func record(on connection: Connection) throws {
        let recorder = RecordWriter(recorder: Recorder(actor: "tester", source: "test", today: today))
        for line in records {
            let (id, outcome) = try recorder.record(line, on: connection)
            guard case .accepted = outcome else { throw ScenarioError(message: "record \(id ?? "?") was not accepted: \(outcome)") }
        }
    }
}

struct ScenarioError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
