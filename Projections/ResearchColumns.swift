import ReachEventLog
import ReachPostgres

/// What each column of the research views holds, written into PostgreSQL as column comments
/// (`\d+ research.activities` in psql shows them; the web app's page for researchers lists
/// them). Columns are described by name, a view's own meaning first: the same name means the
/// same thing in every view. Applied whenever the views are made or remade.
enum ResearchColumns {
    /// Descriptions of columns of one view only, as `view.column`.
    static let byView: [String: String] = [
        "activities.attendees": "Everyone counted at the activity: the sum of its attendance columns.",
        "activities.partners": "The partner organisations (partner_id) that delivered it.",
        "activity_months.sessions": "Activities in the month.",
        "activity_months.minutes": "Their durations summed, in minutes.",
        "activity_partner_months.sessions": "Activities the partner delivered in the month.",
        "attendance.count": "Attendances (contacts, not unique people) of the sub-group at the activity; above zero.",
        "attendance.audience": "pupils, staff, parents_carers or professionals.",
        "attendance.subgroup": "Key stage (pupils), role (staff), agency (professionals), or total (parents and carers).",
        "authorities.name": "The local authority's name.",
        "schools.name": "The school's name (schools are institutions, never people).",
        "partners.name": "The partner organisation's name.",
        "schools.phase": "The school's phase (primary, secondary, alternative provision...).",
        "partners.kind": "The partner's kind of organisation (police, health, vcse...).",
        "pilots.name": "The pilot's name.",
        "pilot_targets.date": "The day the target was set.",
        "pilot_targets.target_schools": "Schools the pilot aims to have implementing or beyond, from that day.",
        "pilot_targets.position": "The log position of the change, ordering changes on the same day.",
        "locations.kind": "The kind of place (park, transport hub, high street...).",
        "locations.area": "Where it is, no finer than a postcode district.",
        "interventions.kind": "The kind of intervention at the location.",
        "interventions.partners": "The partner organisations (partner_id) involved.",
        "engagement_stages.date": "The day the school reached the stage.",
        "engagement_stages.recorded_order": "The order the stages were recorded in (the log's position).",
        "context_assessments.kind": "The kind of assessment of the school context.",
        "context_assessments.date": "The day the assessment was completed.",
        "context_outcomes.date": "The day the outcome was shared.",
        "context_reviews.date": "The day of the review.",
        "survey_measures.agreeing": "Respondents agreeing (agree or strongly agree).",
        "survey_measures.answering": "Respondents who answered the question.",
        "survey_waves.respondents": "Respondents in the wave.",
        "survey_measures.respondents": "Respondents in the wave.",
        "peer_groups.size": "How many young people are in the group (a count; no one is named).",
    ]

    /// Descriptions of columns by name, in every view.
    static let byName: [String: String] = [
        "la_id": "The local authority (see research.authorities).",
        "pilot_id": "The pilot (see research.pilots).",
        "school_id": "The school (see research.schools); NULL where there is none (an activity held online, say).",
        "partner_id": "The partner organisation (see research.partners).",
        "location_id": "The location of concern (see research.locations).",
        "referral_id": "The referral of a context (see research.context_referrals).",
        "plan_id": "The safety plan.",
        "action_id": "The action of the safety plan.",
        "intervention_id": "The intervention.",
        "peer_group_id": "The peer group (an identifier only; its members are never named).",
        "online": "Whether the activity was held online rather than at a school.",
        "kind": "The kind (an activity kind: assembly, staff_training...).",
        "phase": "The programme's phase the activity kind belongs to: engagement, assessment, support or multi_agency.",
        "date": "The day it happened.",
        "month": "The first day of the month.",
        "duration_minutes": "How long the activity lasted, in minutes.",
        "mode": "How it was delivered: in_person, online or hybrid.",
        "accredited": "Whether an accrediting body is named for it.",
        "activity_event_id": "The event that recorded the activity (its id in the log).",
        "wave_event_id": "The event that recorded the survey wave (its id in the log).",
        "gss_code": "The authority's GSS code (ONS).",
        "region": "The English region.",
        "joined_on": "The day the authority joined the programme.",
        "pupils_on_roll": "Pupils on roll, as the school reported.",
        "approach": "The pilot's approach.",
        "strategy_project": "The 2024-2029 strategy project the pilot serves, or local.",
        "objectives": "The strategic objectives (1 to 4) the pilot serves.",
        "policy_goals": "The policy goals (1 to 7) the pilot serves.",
        "first_target_schools": "The pilot's first target: schools implementing or beyond.",
        "current_target_schools": "The pilot's target now (after any changes).",
        "start_date": "The day the pilot started.",
        "stage": "The engagement stage the school reached (identified, scoping, ... sustaining, withdrawn).",
        "concern_types": "The kinds of harm of concern there.",
        "identified_on": "The day the location was identified as of concern.",
        "closed_on": "The day the concern was closed.",
        "started_on": "The day it started.",
        "ended_on": "The day it ended; NULL while it goes on.",
        "context_kind": "The kind of context referred (school, location, peer group).",
        "context_id": "The context referred: a school_id, location_id or peer_group_id.",
        "referred_on": "The day the referral was received.",
        "level": "The level of need decided.",
        "pathway": "The pathway decided for the context.",
        "decided_on": "The day the threshold was decided; NULL until then.",
        "days_to_decision": "Days from referral to decision.",
        "shared_with": "Who the outcome was shared with (young people, parents and carers, school...).",
        "outcome": "What the review concluded.",
        "new_level": "The level after the review, where it changed.",
        "agreed_on": "The day the safety plan was agreed.",
        "first_due_on": "The day the action was first due.",
        "due_on": "The day the action is due now (after any rescheduling).",
        "completed_on": "The day the action was completed; NULL if not.",
        "cancelled_on": "The day the action was cancelled; NULL if not.",
        "respondent_group": "Who answered: pupils, staff or parents_carers.",
        "wave": "The wave's name (baseline, follow-up-1...).",
        "wave_number": "The wave's order for the school and group: 1 is the baseline.",
        "measure": "The survey question (feel_safe_in_school, trusted_adult_in_school...).",
        "respondents": "Respondents.",
        "name": "Its name.",
        "sessions": "Activities.",
        "minutes": "Minutes summed.",
    ]

    /// A column's description: its view's own, its name's, or one made from its name's parts
    /// (`pupils_ks3`, `staff_dsl`, `minutes_pupils`).
    static func describe(view: String, column: String) -> String {
        if let text = byView["\(view).\(column)"] ?? byName[column] { return text }
        if column.hasPrefix("minutes_") {
            return
                "Minutes of attendance of \(column.dropFirst("minutes_".count).replacingOccurrences(of: "_", with: " ")) (duration x attendees), summed."
        }
        for audience in ["pupils", "staff", "professionals"] where column.hasPrefix(audience + "_") {
            let group = column.dropFirst(audience.count + 1).replacingOccurrences(of: "_", with: " ").uppercasedIfKeyStage
            return "Attendances of \(audience) (\(group)): contacts, not unique people\(view == "activity_months" ? ", summed over the month" : "")."
        }
        if column == "parents_carers" { return "Attendances of parents and carers: contacts, not unique people." }
        return "See the view's description."
    }

    /// The research schema's comment once its columns are described; it names the version of
    /// the descriptions, so that a program with new descriptions writes them again.
    static var schemaComment: String {
        let digest = EventLog.sha256Hex(
            (byView.sorted { $0.key < $1.key } + byName.sorted { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: "\n"))
        return "Read-only views over the projection tables, for researchers (role reach_researcher). Columns described: \(digest.prefix(12))."
    }

    /// Writes the column comments of the research views (of `views` only, when given: a
    /// rebuild's swap comments its own views, and touches no other projection's, which another
    /// rebuild may be swapping at the same moment), and the schema's comment.
    static func apply(on connection: Connection, views: [String]? = nil) throws {
        let columns = try connection.query(
            """
            SELECT table_name::text, column_name::text FROM information_schema.columns
            WHERE table_schema = 'research' AND ($1::text[] IS NULL OR table_name::text = ANY ($1::text[]))
            ORDER BY table_name, ordinal_position
            """, [views.map { PostgresArray($0) }]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
        var script = ""
        for (view, column) in columns {
            script +=
                "COMMENT ON COLUMN research.\(try connection.quoteIdentifier(view)).\(try connection.quoteIdentifier(column)) IS \(literal(describe(view: view, column: column)));\n"
        }
        if views == nil { script += "COMMENT ON SCHEMA research IS \(literal(schemaComment));\n" }
        try connection.executeScript(script)
    }

    /// Text of ours as an SQL literal.
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}

extension String {
    /// `ks3` as `KS3`; other text as it is.
    fileprivate var uppercasedIfKeyStage: String { hasPrefix("ks") && count == 3 ? uppercased() : self }
}
