/// One synthetic example of each record type's data, consistent with each other and with the
/// demo data set (they refer to the authority `northvale`, school `900001`, pilot
/// `northvale-pilot`...), so that after `reach demo` a template's example row imports as it is.
/// `reach template` prints them, and the CSV layout of each type is derived from them.
public enum Examples {
    public static let data: [String: String] = [
        "local_authority_registered": #"{"la_id":"northvale","name":"Northvale Council","gss_code":"E09000099","region":"london","joined_on":"2024-09-01"}"#,
        "school_registered": #"{"school_id":"900001","la_id":"northvale","name":"Example Academy","phase":"secondary","pupils_on_roll":1010}"#,
        "partner_registered": #"{"partner_id":"partner-1","name":"Northvale youth work","kind":"youth_work"}"#,
        "pilot_registered": #"{"pilot_id":"northvale-pilot","la_id":"northvale","name":"CS and restorative practice in schools","approach":"CS-restorative practice","strategy_project":"local","objectives":[1,3],"policy_goals":[2,5],"target_schools":11,"start_date":"2024-09-01"}"#,
        "pilot_target_changed": #"{"pilot_id":"northvale-pilot","la_id":"northvale","target_schools":31,"date":"2025-09-01","reason":"roll-out to a further 20 schools"}"#,
        "location_registered": #"{"location_id":"northvale-park-1","la_id":"northvale","kind":"park","label":"Park next to the school","area":"SE13","concern_types":["violence","substance_misuse"],"identified_on":"2024-11-05"}"#,
        "peer_group_registered": #"{"peer_group_id":"pg-7f3a","la_id":"northvale","size":6,"age_min":13,"age_max":15,"genders":{"female":2,"male":4,"other_or_unknown":0},"school_ids":["900001"],"location_ids":["northvale-park-1"]}"#,
        "engagement_stage_reached": #"{"pilot_id":"northvale-pilot","school_id":"900001","la_id":"northvale","stage":"scoping","date":"2024-09-20","reason":"first meeting with the head"}"#,
        "activity_delivered": #"{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","accredited_by":"Restorative Justice Council","delivered_by":{"team":"CS schools team","partners":["partner-1"]},"attendance":{"pupils":{"ks3":180,"ks4":0},"staff":{"teaching":6,"pastoral":2},"parents_carers":0,"professionals":{"police":1}}}"#,
        "survey_wave_recorded": #"{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","respondent_group":"pupils","wave":"baseline","date":"2024-10-10","respondents":120,"measures":{"feel_safe_in_school":{"agreeing":70,"answering":110},"trusted_adult_in_school":{"agreeing":61,"answering":112}}}"#,
        "school_statistics_reported": #"{"school_id":"900001","la_id":"northvale","academic_year":"2023/24","suspensions":41,"permanent_exclusions":2,"pupils_on_roll":1010,"attendance_percent":91.4}"#,
        "context_referral_received": #"{"referral_id":"northvale-ref-1","la_id":"northvale","school_id":"900001","source":"school DSL","concerns":["harmful_incidents_in_context"],"date":"2025-01-13"}"#,
        "threshold_decided": #"{"referral_id":"northvale-ref-1","la_id":"northvale","level":"child_in_need","pathway":"school_assessment","date":"2025-02-03"}"#,
        "school_assessment_completed": #"{"referral_id":"northvale-ref-1","la_id":"northvale","school_id":"900001","date":"2025-03-20","methods":["focus_groups","surveys"],"domains":{"pupil_development_needs":{"strengths":"peer support","concerns":"online conflict","rating":2},"guardianship_capacity":{"strengths":"DSL team","concerns":"lunchtime cover","rating":3},"environmental_and_family_factors":{"strengths":"youth club","concerns":"bus route","rating":2}},"young_people_took_part":true,"parents_took_part":false}"#,
        "beyond_referrals_self_assessment_completed": #"{"school_id":"900001","la_id":"northvale","referral_id":"northvale-ref-1","date":"2025-03-01","ratings":{"structures_and_systems":"amber","prevention":"green","identification_and_response":"amber","intervention":"red"}}"#,
        "safety_plan_agreed": #"{"plan_id":"northvale-plan-1","referral_id":"northvale-ref-1","la_id":"northvale","date":"2025-04-01","actions":[{"action_id":"a1","description":"Staff presence at the bus stop after school","owner_role":"deputy head","due_on":"2025-05-01"}]}"#,
        "action_completed": #"{"plan_id":"northvale-plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-28"}"#,
        "action_rescheduled": #"{"plan_id":"northvale-plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-20","new_due_on":"2025-06-01","reason":"staff absence"}"#,
        "action_cancelled": #"{"plan_id":"northvale-plan-1","action_id":"a1","la_id":"northvale","date":"2025-04-20","reason":"no longer needed"}"#,
        "outcome_shared": #"{"referral_id":"northvale-ref-1","la_id":"northvale","date":"2025-06-10","shared_with":["young_people","parents_carers"]}"#,
        "context_reviewed": #"{"referral_id":"northvale-ref-1","la_id":"northvale","date":"2025-07-01","outcome":"de_escalated","new_level":"universal_early_help"}"#,
        "intervention_started": #"{"intervention_id":"northvale-park-1-int-1","location_id":"northvale-park-1","la_id":"northvale","kind":"youth_outreach","date":"2024-12-01","partners":["partner-1"]}"#,
        "intervention_ended": #"{"intervention_id":"northvale-park-1-int-1","la_id":"northvale","date":"2025-03-01"}"#,
        "location_concern_closed": #"{"location_id":"northvale-park-1","la_id":"northvale","date":"2025-06-01","reason":"no reports since March"}"#,
        "event_corrected": #"{"record_id":"assembly-2024-10-03","reason":"the head count was 150","data":{"pilot_id":"northvale-pilot","la_id":"northvale","school_id":"900001","kind":"assembly","date":"2024-10-03","duration_minutes":45,"mode":"in_person","attendance":{"pupils":{"ks3":150}}}}"#,
        "summary_exported": #"{"la_id":"northvale","period":"2024/25","format":"csv","policy":"dfe","rows":120,"date":"2025-09-15"}"#,
        "event_withdrawn": #"{"record_id":"assembly-2024-10-03","reason":"recorded twice"}"#,
    ]
}
