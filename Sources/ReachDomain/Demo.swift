import Foundation
import ReachCalendar
import ReachEventLog

/// A record the demo generator made: everything needed to append it, with its data as JSON.
public struct DemoRecord: Sendable, Hashable {
    public var type: String
    /// The record's id (its event id is `reach.record_event_id(id)`, as for any record).
    public var id: String
    public var data: String
    public var streamID: String
    public var authorityID: String?
    public var occurredOn: CalendarDate?
}

/// A small, fast, seedable generator (SplitMix64), so a seed always gives the same data set.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A realistic, synthetic, deterministic data set: about 30 authorities and 400 schools over the
/// academic years 2022/23 to 2025/26, mostly activities, with the situations of the seed
/// documents recognisable in it:
/// - a CS-restorative practice schools pilot in 11 schools with a roll-out to a further 20,
///   going through engagement, assessment and support with the activities of each;
/// - a location of concern near a school, handled through peer group conferences, with several
///   interventions, later closed;
/// - a school referred to a context panel, decided at child in need, assessed across the three
///   domains, with a safety plan whose actions are done late and on time, outcomes shared with
///   young people, and a later de-escalation;
/// - survey baselines and follow-ups; corrections and a withdrawal.
/// Every name is invented; no young person appears in it.
public struct DemoGenerator: Sendable {
    public let seed: UInt64
    /// Roughly how many events to make (at least the fixed part of about 4,300).
    public let events: Int
    /// The last date anything may happen on.
    public let today: CalendarDate

    public init(seed: UInt64 = 1, events: Int = 100_000, today: CalendarDate = .today) {
        self.seed = seed
        self.events = events
        self.today = today
    }

    static let places = [
        "Northvale", "Eastbridge", "Southmere", "Westford", "Ashcombe", "Brookfield", "Calderwood", "Dunmore",
        "Elmstead", "Fairhaven", "Glenrock", "Hollowmere", "Ironbridge", "Juniper Vale", "Kingsford", "Larchfield",
        "Millbrook", "Newhaven", "Oakridge", "Pinecrest", "Queensmead", "Riverside", "Stonebury", "Thornbury",
        "Upton Moor", "Valemouth", "Whitcombe", "Yarrowby", "Ashworth", "Beckham Green",
    ]

    /// Calls `emit` for every record, registrations before what refers to them.
    public func generate(_ emit: (DemoRecord) throws -> Void) rethrows {
        var run = Run(self)
        try run.partners(emit)
        try run.authorities(emit)
        // The referral of the seed documents, and a location of concern near a school.
        try run.referral(emit)
        try run.safetyPlan(emit)
        try run.locationOfConcern(emit)
        try run.surveys(emit)
        try run.statistics(emit)
        try run.activities(emit)
    }

    /// A school of a pilot, with its engagement stages.
    struct PilotSchool {
        var school: String
        var authority: String
        var pilot: String
        var start: CalendarDate
        var stages: [(EngagementStage, CalendarDate)]
    }

    /// One run of the generator: its random numbers, and what earlier parts made that later
    /// parts refer to. Each part is called in turn, in the same order, so a seed always gives
    /// the same records.
    struct Run {
        typealias Emit = (DemoRecord) throws -> Void
        let seed: UInt64
        let events: Int
        let prefix: String
        let firstDay = CalendarDate(year: 2022, month: 9, day: 1)
        let lastDay: CalendarDate
        var random: SeededGenerator
        var emitted = 0
        var partners: [String] = []
        var pilotSchools: [PilotSchool] = []
        var schoolsOf: [String: [String]] = [:]

        init(_ generator: DemoGenerator) {
            seed = generator.seed
            events = generator.events
            prefix = "demo-\(generator.seed)"
            lastDay = min(generator.today, CalendarDate(year: 2026, month: 8, day: 31))
            random = SeededGenerator(seed: generator.seed)
        }

        mutating func record(
            _ emit: Emit, _ type: String, _ id: String, _ data: JSONValue, stream: String, authority: String?, on date: CalendarDate?
        ) rethrows {
            try emit(DemoRecord(type: type, id: "\(prefix).\(id)", data: data.text, streamID: stream, authorityID: authority, occurredOn: date))
            emitted += 1
        }
        func s(_ text: String) -> JSONValue { .string(text) }
        func n(_ value: Int) -> JSONValue { .number(Double(value)) }
        func date(_ d: CalendarDate) -> JSONValue { .string(d.description) }

        /// The authority, school and pilot of the seed documents' situations.
        var scenarioAuthority: String { DemoGenerator.places[0].lowercased() }
        var scenarioSchool: String { schoolsOf[scenarioAuthority]![2] }
        var scenarioPilot: String { "\(scenarioAuthority)-pilot" }

        /// Partners, programme-wide.
        mutating func partners(_ emit: Emit) rethrows {
            let partnerKinds = PartnerKind.allCases
            partners = (1...40).map { "partner-\($0)" }
            for (index, partner) in partners.enumerated() {
                let kind = partnerKinds[index % partnerKinds.count]
                try record(
                    emit,
                    "partner_registered", partner,
                    .object([
                        "partner_id": s(partner),
                        "name": s("\(DemoGenerator.places[index % 30]) \(kind.rawValue.replacingOccurrences(of: "_", with: " "))"),
                        "kind": s(kind.rawValue),
                    ]),
                    stream: Entity.partner.stream(partner), authority: nil, on: nil)
            }
        }

        /// Authorities, each with schools and one pilot; the first runs the CS-restorative
        /// practice pilot.
        mutating func authorities(_ emit: Emit) rethrows {
            let regions = Region.allCases.filter { ![.wales, .scotland, .northernIreland].contains($0) }
            var schoolNumber = 900_000
            for (index, place) in DemoGenerator.places.enumerated() {
                let authority = place.lowercased().replacingOccurrences(of: " ", with: "-")
                let joined = firstDay.adding(days: Int.random(in: 0...60, using: &random))
                try record(
                    emit,
                    "local_authority_registered", "la-\(authority)",
                    .object([
                        "la_id": s(authority), "name": s("\(place) Council"), "region": s(regions[index % regions.count].rawValue),
                        "joined_on": date(joined),
                    ]), stream: Entity.authority.stream(authority), authority: authority, on: joined)
                let schoolCount = index == 0 ? 40 : 12 + (index % 2)
                var schools: [String] = []
                for number in 0..<schoolCount {
                    schoolNumber += 1
                    let school = String(schoolNumber)
                    let phase: SchoolPhase = number % 7 == 6 ? .alternativeProvision : (number % 3 == 0 ? .primary : .secondary)
                    try record(
                        emit,
                        "school_registered", "school-\(school)",
                        .object([
                            "school_id": s(school), "la_id": s(authority),
                            "name": s(
                                "\(place) \(["Academy", "High School", "Primary School", "College", "Community School"][number % 5]) \(number + 1)"),
                            "phase": s(phase.rawValue),
                            "pupils_on_roll": n(
                                phase == .primary ? Int.random(in: 180...480, using: &random) : Int.random(in: 600...1500, using: &random)),
                        ]), stream: Entity.school.stream(school), authority: authority, on: nil)
                    schools.append(school)
                }
                schoolsOf[authority] = schools
                let pilot = "\(authority)-pilot"
                let special = index == 0
                let start = special ? CalendarDate(year: 2022, month: 9, day: 5) : joined.adding(days: Int.random(in: 10...200, using: &random))
                let projects = StrategyProject.allCases
                try record(
                    emit,
                    "pilot_registered", "pilot-\(pilot)",
                    .object([
                        "pilot_id": s(pilot), "la_id": s(authority),
                        "name": s(special ? "CS-restorative practice schools pilot" : "\(place) contextual safeguarding in schools"),
                        "approach": s(special ? "CS-restorative practice" : "Contextual Safeguarding in schools"),
                        "strategy_project": s(special ? "capacity_to_context" : projects[index % projects.count].rawValue),
                        "objectives": .array([n(1 + index % 4)]), "policy_goals": .array([n(1 + index % 7), n(1 + (index + 3) % 7)].uniqued()),
                        "target_schools": n(special ? 11 : 8), "start_date": date(start),
                    ]), stream: Entity.pilot.stream(pilot), authority: authority, on: start)
                if special {
                    let rollOut = CalendarDate(year: 2024, month: 9, day: 2)
                    try record(
                        emit,
                        "pilot_target_changed", "pilot-\(pilot)-rollout",
                        .object([
                            "pilot_id": s(pilot), "la_id": s(authority), "target_schools": n(31), "date": date(rollOut),
                            "reason": s("roll-out to a further 20 schools"),
                        ]), stream: Entity.pilot.stream(pilot), authority: authority, on: rollOut)
                }
                try engagement(emit, authority: authority, pilot: pilot, schools: schools, start: start, special: special)
            }
        }

        /// Engagement: schools move forward through the stages; some withdraw.
        mutating func engagement(_ emit: Emit, authority: String, pilot: String, schools: [String], start: CalendarDate, special: Bool) rethrows {
            let engaged = special ? Array(schools.prefix(31)) : Array(schools.prefix(8 + Int.random(in: 0...3, using: &random)))
            for (position, school) in engaged.enumerated() {
                let schoolStart = special && position >= 11 ? CalendarDate(year: 2024, month: 9, day: 9) : start
                var day = schoolStart.adding(days: Int.random(in: 0...20, using: &random))
                let reach = special && position < 11 ? 7 : Int.random(in: 2...7, using: &random)
                var stages: [(EngagementStage, CalendarDate)] = []
                for stage in EngagementStage.allCases.prefix(reach + 1) where stage != .withdrawn {
                    guard day <= lastDay else { break }
                    stages.append((stage, day))
                    day = day.adding(days: Int.random(in: 20...120, using: &random))
                }
                if !special && Int.random(in: 0..<10, using: &random) == 0 && day <= lastDay {
                    stages.append((.withdrawn, day))
                }
                for (stage, on) in stages {
                    var data: JSONObject = [
                        "pilot_id": s(pilot), "school_id": s(school), "la_id": s(authority), "stage": s(stage.rawValue), "date": date(on),
                    ]
                    if stage == .withdrawn {
                        data["reason"] = s(["budget", "leadership turnover", "competing priorities"][Int.random(in: 0...2, using: &random)])
                    }
                    try record(
                        emit,
                        "engagement_stage_reached", "engagement-\(pilot)-\(school)-\(stage.rawValue)", .object(data),
                        stream: Streams.engagement(pilot: pilot, school: school), authority: authority, on: on)
                }
                pilotSchools.append(PilotSchool(school: school, authority: authority, pilot: pilot, start: schoolStart, stages: stages))
            }
        }

        /// A school referred to a context panel, decided at child in need and assessed across
        /// the three domains.
        mutating func referral(_ emit: Emit) rethrows {
            let (scenarioAuthority, scenarioSchool) = (self.scenarioAuthority, self.scenarioSchool)
            let referral = "\(scenarioAuthority)-ref-1"
            let r = { (d: Int) in CalendarDate(year: 2024, month: 1, day: 15).adding(days: d) }
            let referralStream = Entity.referral.stream(referral)
            try record(
                emit,
                "context_referral_received", "ref-1",
                .object([
                    "referral_id": s(referral), "la_id": s(scenarioAuthority), "school_id": s(scenarioSchool), "source": s("school DSL"),
                    "concerns": .array([s("harmful_incidents_in_context"), s("inconsistent_adult_responses")]), "date": date(r(0)),
                ]), stream: referralStream, authority: scenarioAuthority, on: r(0))
            try record(
                emit,
                "threshold_decided", "ref-1-decision",
                .object([
                    "referral_id": s(referral), "la_id": s(scenarioAuthority), "level": s("child_in_need"), "pathway": s("school_assessment"),
                    "date": date(r(16)),
                ]), stream: referralStream, authority: scenarioAuthority, on: r(16))
            try record(
                emit,
                "school_assessment_completed", "ref-1-assessment",
                .object([
                    "referral_id": s(referral), "la_id": s(scenarioAuthority), "school_id": s(scenarioSchool), "date": date(r(60)),
                    "methods": .array([s("focus_groups"), s("surveys"), s("policy_review"), s("observations")]),
                    "domains": .object([
                        "pupil_development_needs": .object([
                            "strengths": s("strong peer support in year 9"), "concerns": s("conflict carried over from social media"), "rating": n(2),
                        ]),
                        "guardianship_capacity": .object([
                            "strengths": s("committed pastoral team"), "concerns": s("no staff presence at the bus stop after school"),
                            "rating": n(3),
                        ]),
                        "environmental_and_family_factors": .object([
                            "strengths": s("youth club nearby"), "concerns": s("park next to the school at night"), "rating": n(3),
                        ]),
                    ]),
                    "young_people_took_part": .bool(true), "parents_took_part": .bool(true),
                ]), stream: referralStream, authority: scenarioAuthority, on: r(60))
        }

        /// The referral's safety plan, whose actions are done late and on time, its outcomes
        /// shared with young people, and a later de-escalation.
        mutating func safetyPlan(_ emit: Emit) rethrows {
            let scenarioAuthority = self.scenarioAuthority
            let referral = "\(scenarioAuthority)-ref-1"
            let r = { (d: Int) in CalendarDate(year: 2024, month: 1, day: 15).adding(days: d) }
            let referralStream = Entity.referral.stream(referral)
            let plan = "\(scenarioAuthority)-plan-1"
            let planStream = Entity.plan.stream(plan)
            try record(
                emit,
                "safety_plan_agreed", "plan-1",
                .object([
                    "plan_id": s(plan), "referral_id": s(referral), "la_id": s(scenarioAuthority), "date": date(r(75)),
                    "actions": .array([
                        .object([
                            "action_id": s("a1"), "description": s("Staff presence at the bus stop after school"), "owner_role": s("deputy head"),
                            "due_on": date(r(90)),
                        ]),
                        .object([
                            "action_id": s("a2"), "description": s("Review lunchtime supervision"), "owner_role": s("DSL"), "due_on": date(r(105)),
                        ]),
                        .object([
                            "action_id": s("a3"), "description": s("Youth outreach in the park on Friday evenings"),
                            "owner_role": s("youth service lead"), "due_on": date(r(120)),
                        ]),
                    ]),
                ]), stream: planStream, authority: scenarioAuthority, on: r(75))
            try record(
                emit,
                "action_completed", "plan-1-a1",
                .object(["plan_id": s(plan), "action_id": s("a1"), "la_id": s(scenarioAuthority), "date": date(r(88))]),
                stream: planStream, authority: scenarioAuthority, on: r(88))
            try record(
                emit,
                "action_completed", "plan-1-a2",
                .object(["plan_id": s(plan), "action_id": s("a2"), "la_id": s(scenarioAuthority), "date": date(r(131))]), stream: planStream,
                authority: scenarioAuthority, on: r(131))
            try record(
                emit,
                "action_rescheduled", "plan-1-a3",
                .object([
                    "plan_id": s(plan), "action_id": s("a3"), "la_id": s(scenarioAuthority), "date": date(r(115)), "new_due_on": date(r(150)),
                    "reason": s("waiting for outreach staff"),
                ]), stream: planStream, authority: scenarioAuthority, on: r(115))
            try record(
                emit,
                "action_completed", "plan-1-a3-done",
                .object(["plan_id": s(plan), "action_id": s("a3"), "la_id": s(scenarioAuthority), "date": date(r(148))]), stream: planStream,
                authority: scenarioAuthority, on: r(148))
            try record(
                emit,
                "outcome_shared", "ref-1-outcome",
                .object([
                    "referral_id": s(referral), "la_id": s(scenarioAuthority), "date": date(r(160)),
                    "shared_with": .array([s("young_people"), s("parents_carers"), s("school_community")]),
                ]), stream: referralStream, authority: scenarioAuthority, on: r(160))
            try record(
                emit,
                "context_reviewed", "ref-1-review",
                .object([
                    "referral_id": s(referral), "la_id": s(scenarioAuthority), "date": date(r(230)), "outcome": s("de_escalated"),
                    "new_level": s("universal_early_help"),
                ]), stream: referralStream, authority: scenarioAuthority, on: r(230))
        }

        /// A location of concern near the school, handled through peer group conferences, with
        /// several interventions, later closed.
        mutating func locationOfConcern(_ emit: Emit) rethrows {
            let (scenarioAuthority, scenarioSchool, scenarioPilot) = (self.scenarioAuthority, self.scenarioSchool, self.scenarioPilot)
            let location = "\(scenarioAuthority)-park-1"
            let l = { (d: Int) in CalendarDate(year: 2023, month: 11, day: 6).adding(days: d) }
            try record(
                emit,
                "location_registered", "location-1",
                .object([
                    "location_id": s(location), "la_id": s(scenarioAuthority), "kind": s("park"), "label": s("Park next to the school"),
                    "area": s("NV4"),
                    "concern_types": .array([s("violence"), s("substance_misuse")]), "identified_on": date(l(0)),
                ]), stream: Entity.location.stream(location), authority: scenarioAuthority, on: l(0))
            let group = "pg-\(seed)-1"
            try record(
                emit,
                "peer_group_registered", "peer-group-1",
                .object([
                    "peer_group_id": s(group), "la_id": s(scenarioAuthority), "size": n(7), "age_min": n(14), "age_max": n(16),
                    "genders": .object(["female": n(2), "male": n(5)]), "school_ids": .array([s(scenarioSchool)]),
                    "location_ids": .array([s(location)]),
                ]), stream: Entity.peerGroup.stream(group), authority: scenarioAuthority, on: nil)
            for (number, offset) in [14, 42, 84].enumerated() {
                try record(
                    emit,
                    "activity_delivered", "location-1-conference-\(number + 1)",
                    .object([
                        "pilot_id": s(scenarioPilot), "la_id": s(scenarioAuthority), "school_id": s(scenarioSchool),
                        "kind": s("peer_group_conference"),
                        "date": date(l(offset)), "duration_minutes": n(90), "mode": s("in_person"),
                        "delivered_by": .object(["team": s("CS team"), "partners": .array([s("partner-2"), s("partner-9")])]),
                        "attendance": .object([
                            "staff": .object(["pastoral": n(2), "dsl": n(1)]),
                            "professionals": .object(["police": n(1), "youth_work": n(2), "community_safety": n(1)]),
                        ]),
                    ]), stream: Streams.activities(pilot: scenarioPilot, school: scenarioSchool), authority: scenarioAuthority, on: l(offset))
            }
            for (number, (kind, startOffset, endOffset)) in [("youth_outreach", 30, 200), ("cctv", 45, 400), ("licensing_visit", 60, 61)].enumerated()
            {
                let intervention = "\(location)-int-\(number + 1)"
                try record(
                    emit,
                    "intervention_started", "location-1-intervention-\(number + 1)",
                    .object([
                        "intervention_id": s(intervention), "location_id": s(location), "la_id": s(scenarioAuthority), "kind": s(kind),
                        "date": date(l(startOffset)),
                    ]), stream: Entity.intervention.stream(intervention), authority: scenarioAuthority, on: l(startOffset))
                try record(
                    emit,
                    "intervention_ended", "location-1-intervention-\(number + 1)-end",
                    .object(["intervention_id": s(intervention), "la_id": s(scenarioAuthority), "date": date(l(endOffset))]),
                    stream: Entity.intervention.stream(intervention), authority: scenarioAuthority, on: l(endOffset))
            }
            try record(
                emit,
                "location_concern_closed", "location-1-closed",
                .object(["location_id": s(location), "la_id": s(scenarioAuthority), "date": date(l(420)), "reason": s("no reports for three months")]
                ),
                stream: Entity.location.stream(location), authority: scenarioAuthority, on: l(420))
        }

        /// Surveys: a baseline when a school starts and a follow-up a year on.
        mutating func surveys(_ emit: Emit) rethrows {
            var surveyCount = 0
            for ps in pilotSchools where ps.stages.count >= 3 {
                for (wave, offset) in [("baseline", 30), ("follow_up_1", 395)] {
                    let on = ps.start.adding(days: offset)
                    guard on <= lastDay else { continue }
                    surveyCount += 1
                    let respondents = Int.random(in: 80...220, using: &random)
                    var measures: JSONObject = [:]
                    for measure in SurveyMeasure.allCases where measure.group == .pupils {
                        let answering = respondents - Int.random(in: 0...10, using: &random)
                        let share = (wave == "baseline" ? 0.55 : 0.64) + Double(Int.random(in: -8...8, using: &random)) / 100
                        measures[measure.rawValue] = .object(["agreeing": n(Int(Double(answering) * share)), "answering": n(answering)])
                    }
                    try record(
                        emit,
                        "survey_wave_recorded", "survey-\(ps.pilot)-\(ps.school)-\(wave)",
                        .object([
                            "pilot_id": s(ps.pilot), "la_id": s(ps.authority), "school_id": s(ps.school), "respondent_group": s("pupils"),
                            "wave": s(wave), "date": date(on), "respondents": n(respondents), "measures": .object(measures),
                        ]), stream: Streams.surveys(pilot: ps.pilot, school: ps.school), authority: ps.authority, on: on)
                }
            }
        }

        /// Published statistics for every school and year.
        mutating func statistics(_ emit: Emit) rethrows {
            for (authority, schools) in schoolsOf.sorted(by: { $0.key < $1.key }) {
                for school in schools {
                    for year in 2022...2024 {
                        try record(
                            emit,
                            "school_statistics_reported", "stats-\(school)-\(year)",
                            .object([
                                "school_id": s(school), "la_id": s(authority), "academic_year": s(AcademicYear(startYear: year).description),
                                "suspensions": n(Int.random(in: 0...80, using: &random)),
                                "permanent_exclusions": n(Int.random(in: 0...4, using: &random)),
                                "pupils_on_roll": n(Int.random(in: 200...1500, using: &random)),
                                "attendance_percent": .number(Double(Int.random(in: 880...965, using: &random)) / 10),
                            ]), stream: "school-statistics:\(school):\(year)", authority: authority,
                            on: CalendarDate(year: year + 1, month: 8, day: 31))
                    }
                }
            }
        }

        /// Activities make up the rest, by each school's stage at the time. One activity in 400
        /// is corrected or withdrawn afterwards.
        mutating func activities(_ emit: Emit) rethrows {
            let activityCount = max((events - emitted) * 400 / 401, pilotSchools.count * 3)
            var corrected = 0
            for number in 0..<activityCount {
                let ps = pilotSchools[number % pilotSchools.count]
                guard let firstStage = ps.stages.first else { continue }
                let lastStageDay = min(lastDay, (ps.stages.last?.1 ?? firstStage.1).adding(days: 300))
                let window = max(1, firstStage.1.days(to: lastStageDay))
                let on = firstStage.1.adding(days: Int.random(in: 0...window, using: &random))
                let stage = ps.stages.last(where: { $0.1 <= on })?.0 ?? firstStage.0
                let phase: ActivityPhase
                switch stage {
                case .identified, .scoping, .leadershipEngaged: phase = .engagement
                case .strategyAgreed, .assessing: phase = .assessment
                default: phase = Int.random(in: 0..<10, using: &random) == 0 ? .multiAgency : .support
                }
                let kinds = ActivityKind.allCases.filter { $0.phase == phase }
                let kind = kinds[Int.random(in: 0..<kinds.count, using: &random)]
                let id = "activity-\(number)"
                let text = DemoGenerator.activityJSON(
                    kind: kind, pilot: ps.pilot, authority: ps.authority, school: ps.school, on: on,
                    partner: Int.random(in: 0..<4, using: &random) == 0 ? partners[number % partners.count] : nil, random: &random)
                let stream = Streams.activities(pilot: ps.pilot, school: ps.school)
                try emit(
                    DemoRecord(
                        type: "activity_delivered", id: "\(prefix).\(id)", data: text, streamID: stream, authorityID: ps.authority, occurredOn: on)
                )
                if number % 400 == 17 {
                    corrected += 1
                    let fixedText = DemoGenerator.activityJSON(
                        kind: kind, pilot: ps.pilot, authority: ps.authority, school: ps.school, on: on, partner: nil, random: &random)
                    let correction = #"{"data":\#(fixedText),"reason":"head count corrected","record_id":\#(JSONWriter.quote("\(prefix).\(id)"))}"#
                    try emit(
                        DemoRecord(
                            type: corrected % 10 == 1 ? "event_withdrawn" : "event_corrected", id: "\(prefix).\(id)-fix",
                            data: corrected % 10 == 1
                                ? #"{"reason":"recorded twice","record_id":\#(JSONWriter.quote("\(prefix).\(id)"))}"# : correction,
                            streamID: stream, authorityID: ps.authority, occurredOn: nil))
                }
            }
        }
    }

    /// An activity's data as JSON.
    static func activityJSON(
        kind: ActivityKind, pilot: String, authority: String, school: String, on: CalendarDate, partner: String?, random: inout SeededGenerator
    ) -> String {
        var writer = JSONWriter(.compact(sortedKeys: true), capacity: 400)
        func count(_ key: String, _ range: ClosedRange<Int>) {
            writer.key(key)
            writer.number(token: String(range.count == 1 ? range.lowerBound : Int.random(in: range, using: &random)))
        }
        func group(_ key: String, _ counts: () -> Void) {
            writer.key(key)
            writer.beginObject()
            counts()
            writer.endObject()
        }
        func text(_ key: String, _ value: String) {
            writer.key(key)
            writer.string(value)
        }
        writer.beginObject()
        let duration: Int
        writer.key("attendance")
        writer.beginObject()
        switch kind {
        case .assembly:
            duration = [30, 45, 60][Int.random(in: 0...2, using: &random)]
            group("pupils") {
                count("ks3", 60...240)
                count("ks4", 0...200)
            }
            group("staff") { count("teaching", 2...10) }
        case .staffTraining, .leadershipCoaching, .networkSession:
            duration = [90, 120, 180, 360][Int.random(in: 0...3, using: &random)]
            group("staff") {
                count("leadership", 0...4)
                count("teaching", 2...30)
                count("pastoral", 1...8)
                count("dsl", 0...2)
                count("support", 0...10)
            }
        case .restorativeCircle, .pupilWorkshop, .peerMentorTraining, .focusGroup, .peerMapping, .safetyMapping:
            duration = [45, 60, 90][Int.random(in: 0...2, using: &random)]
            group("pupils") {
                count("ks3", 4...18)
                count("ks4", 0...12)
            }
            group("staff") { count("pastoral", 1...2) }
        case .parentGovernorWorkshop, .parentConsultation:
            duration = 90
            count("parents_carers", 3...40)
            group("staff") {
                count("governor", 0...3)
                count("leadership", 1...1)
            }
        default:
            duration = [60, 90, 120][Int.random(in: 0...2, using: &random)]
            group("staff") {
                count("leadership", 1...3)
                count("dsl", 1...1)
            }
            group("professionals") {
                count("social_care", 0...2)
                count("police", 0...2)
                count("youth_work", 1...3)
            }
        }
        writer.endObject()
        text("date", on.description)
        if let partner {
            writer.key("delivered_by")
            writer.beginObject()
            writer.key("partners")
            writer.beginArray()
            writer.string(partner)
            writer.endArray()
            text("team", "CS schools team")
            writer.endObject()
        }
        count("duration_minutes", duration...duration)
        text("kind", kind.rawValue)
        text("la_id", authority)
        text("mode", Int.random(in: 0..<8, using: &random) == 0 ? "virtual" : "in_person")
        text("pilot_id", pilot)
        text("school_id", school)
        writer.endObject()
        return writer.text
    }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
