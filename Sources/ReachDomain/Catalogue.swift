import ReachEventLog
import ReachPostgres

/// The kinds of thing records register and refer to, each with a stream of its own.
public enum Entity: String, Sendable, Hashable, CaseIterable {
    case authority, school, pilot, partner, location, peerGroup = "peer_group", referral, plan, intervention

    /// What a person calls it.
    public var name: String {
        switch self {
        case .authority: return "local authority"
        case .peerGroup: return "peer group"
        case .location: return "location of concern"
        case .plan: return "safety plan"
        default: return rawValue
        }
    }

    /// The stream of the thing with this id.
    public func stream(_ id: String) -> String {
        switch self {
        case .peerGroup: return "peer-group:\(id)"
        default: return "\(rawValue):\(id)"
        }
    }
}

/// Something a record points at, which must exist and, when `authority` is given, belong to it.
public struct Reference: Sendable, Hashable {
    public var entity: Entity
    public var id: String
    public var field: String
    public var authority: String?

    public init(_ entity: Entity, _ id: String, field: String, authority: String? = nil) {
        self.entity = entity
        self.id = id
        self.field = field
        self.authority = authority
    }

    /// The stream that registered it.
    public var streamID: String { entity.stream(id) }

    /// The authority each registered thing of `streams` belongs to (the `la_id` of its
    /// registration; nil for programme-wide things); streams not registered are absent.
    public static func owners(of streams: [String], on connection: Connection) throws -> [String: String?] {
        try EventLog.firstEventField("la_id", of: streams, on: connection)
    }

    /// What is wrong with this reference, given the owners of registered things (stream id to
    /// the authority it belongs to; absent when not registered).
    public func refusal(owners: [String: String?]) -> Refusal? {
        var what: String { "\(entity.name) '\(id)'" }
        guard let owner = owners[streamID] else { return Refusal(field, "\(what) is not registered; register it first") }
        if let authority, owner != authority {
            return Refusal(field, "\(what) belongs to \(owner ?? "no authority"), not to \(authority) as la_id says")
        }
        return nil
    }
}

/// How a record's stream must look for it to be appended.
public enum StreamRule: Sendable, Hashable {
    /// A registration: the stream must not exist yet.
    case register(what: String, field: String)
    /// An engagement stage: stages move forward (see ``EngagementStage/mayFollow(_:)``).
    case engagementStage(EngagementStage)
    /// A correction or withdrawal of the record with this id, appended to that record's stream.
    case amends(recordID: String, withdraws: Bool, correctedData: JSONObject?)
    /// No rule (each record has a stream of its own).
    case none

    /// The refusal of a registration whose thing is registered already.
    static func alreadyRegistered(_ what: String, field: String) -> Refusal {
        Refusal(field, "\(what) is already registered; record a correction to change it")
    }

    /// Per engagement stream that exists: its version and its latest stage (corrections and
    /// withdrawals in the stream count for the version, not for the stage).
    static func engagementHeads(_ streams: [String], on connection: Connection) throws -> [String: (version: Int64, stage: EngagementStage?)] {
        try EventLog.streamHeads(streams, latest: "stage", ofType: RecordType.engagementStageReached.name, on: connection)
            .mapValues { ($0.version, $0.latest.flatMap(EngagementStage.init(rawValue:))) }
    }

    /// The refusal of a stage that does not follow the current one.
    static func stageGoesBack(from current: EngagementStage, to stage: EngagementStage) -> Refusal {
        Refusal("stage", "cannot go back from \(current.rawValue) to \(stage.rawValue): stages only move forward (record withdrawn first if the school stopped and is starting again)")
    }
}

/// A record whose data passed every check that needs nothing but the record itself.
public struct CheckedRecord: Sendable, Hashable {
    public var streamID: String
    public var authorityID: String?
    public var occurredOn: PostgresDate?
    public var references: [Reference]
    public var rule: StreamRule
    /// For a safety-plan action's update: the plan and the action, which must be in the plan.
    public var planAction: PlanAction?

    public struct PlanAction: Sendable, Hashable {
        public var planID: String
        public var actionID: String
    }

    init(streamID: String, authorityID: String?, occurredOn: PostgresDate?, references: [Reference], rule: StreamRule, planAction: PlanAction? = nil) {
        self.streamID = streamID
        self.authorityID = authorityID
        self.occurredOn = occurredOn
        self.references = references
        self.rule = rule
        self.planAction = planAction
    }
}

/// The streams of records that are not registrations.
public enum Streams {
    public static func engagement(pilot: String, school: String) -> String { "engagement:\(pilot):\(school)" }
    /// A pilot's activities at one school (or online): one stream each, so a school's activities
    /// read in order and a busy log does not need a stream per activity.
    public static func activities(pilot: String, school: String?) -> String { "activities:\(pilot):\(school ?? "online")" }
    /// A pilot's survey waves at one school (or across the pilot).
    public static func surveys(pilot: String, school: String?) -> String { "surveys:\(pilot):\(school ?? "all")" }
}

/// One record type of the catalogue: its wire name and the checks of its data.
public struct RecordType: Sendable {
    /// The `type` of the record on the wire, such as `activity_delivered`.
    public let name: String
    /// The version of the data's schema this program writes.
    public let schemaVersion: Int32
    /// Reads and checks the data; returns `nil` when `reader` collected refusals.
    let check: @Sendable (_ reader: inout FieldReader, _ recordID: String) -> CheckedRecord?

    /// Runs the checks of the data alone, which need no database.
    public func checkData(_ reader: inout FieldReader, _ recordID: String) -> CheckedRecord? {
        check(&reader, recordID)
    }

    /// The record types Reach knows, by name.
    public static let all: [String: RecordType] = Dictionary(uniqueKeysWithValues: [
        localAuthorityRegistered, schoolRegistered, partnerRegistered, pilotRegistered,
        engagementStageReached, activityDelivered, locationRegistered, peerGroupRegistered,
        contextReferralReceived, thresholdDecided, surveyWaveRecorded, eventCorrected, eventWithdrawn,
        schoolAssessmentCompleted, beyondReferralsSelfAssessmentCompleted, safetyPlanAgreed,
        actionCompleted, actionRescheduled, actionCancelled, outcomeShared, contextReviewed,
        interventionStarted, interventionEnded, locationConcernClosed, schoolStatisticsReported,
        pilotTargetChanged, summaryExported,
    ].map { ($0.name, $0) })

    /// Types whose records can be corrected or withdrawn (everything but corrections and
    /// withdrawals themselves).
    public var isAmendable: Bool { !["event_corrected", "event_withdrawn", "summary_exported"].contains(self.name) }

    public static let localAuthorityRegistered = RecordType(name: "local_authority_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("la_id")
        _ = reader.text("name")
        if let gss = reader.text("gss_code", required: false, maxLength: 9),
           !(gss.count == 9 && "EWSN".contains(gss.first!) && gss.dropFirst().allSatisfy(\.isNumber)) {
            reader.refuse("gss_code", "'\(gss)' is not a GSS code such as E09000023")
        }
        _ = reader.word("region", Region.self)
        let joined = reader.date("joined_on")
        guard let id, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.authority.stream(id), authorityID: id, occurredOn: joined, references: [],
                             rule: .register(what: "local authority \(id)", field: "la_id"))
    }

    public static let schoolRegistered = RecordType(name: "school_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        _ = reader.text("name")
        _ = reader.word("phase", SchoolPhase.self)
        _ = reader.count("pupils_on_roll", required: false, maximum: 10_000)
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.school.stream(id), authorityID: authority, occurredOn: nil,
                             references: [Reference(.authority, authority, field: "la_id")],
                             rule: .register(what: "school \(id)", field: "school_id"))
    }

    public static let partnerRegistered = RecordType(name: "partner_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("partner_id")
        _ = reader.text("name")
        _ = reader.word("kind", PartnerKind.self)
        guard let id, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.partner.stream(id), authorityID: nil, occurredOn: nil, references: [],
                             rule: .register(what: "partner \(id)", field: "partner_id"))
    }

    public static let pilotRegistered = RecordType(name: "pilot_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        _ = reader.text("name")
        _ = reader.text("approach")
        _ = reader.word("strategy_project", StrategyProject.self)
        _ = reader.numbers("objectives", in: 1...4)
        _ = reader.numbers("policy_goals", in: 1...7)
        _ = reader.count("target_schools", minimum: 1, maximum: 10_000)
        let start = reader.date("start_date")
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.pilot.stream(id), authorityID: authority, occurredOn: start,
                             references: [Reference(.authority, authority, field: "la_id")],
                             rule: .register(what: "pilot \(id)", field: "pilot_id"))
    }

    public static let engagementStageReached = RecordType(name: "engagement_stage_reached", schemaVersion: 1) { reader, _ in
        let pilot = reader.identifier("pilot_id")
        let school = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        let stage = reader.word("stage", EngagementStage.self)
        let date = reader.date("date")
        let reason = reader.text("reason", required: false)
        if stage == .withdrawn && reason == nil && !reader.refusals.contains(where: { $0.field.hasSuffix("reason") }) {
            reader.refuse("reason", "is required when a school withdraws (for example budget or leadership turnover)")
        }
        guard let pilot, let school, let authority, let stage, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Streams.engagement(pilot: pilot, school: school), authorityID: authority, occurredOn: date,
            references: [Reference(.pilot, pilot, field: "pilot_id", authority: authority), Reference(.school, school, field: "school_id", authority: authority)],
            rule: .engagementStage(stage))
    }

    /// Version 2: `mode` replaced version 1's `virtual` flag (see ``Upcaster``).
    public static let activityDelivered = RecordType(name: "activity_delivered", schemaVersion: 2) { reader, recordID in
        let pilot = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        let school = reader.identifier("school_id", required: false)
        let online = reader.flag("online") ?? false
        if (school != nil) == online && !reader.refusals.contains(where: { ["school_id", "online"].contains($0.field) }) {
            reader.refuse("school_id", "give either school_id or online: true for where the activity took place, not both or neither")
        }
        _ = reader.word("kind", ActivityKind.self)
        let date = reader.date("date")
        _ = reader.count("duration_minutes", minimum: 1, maximum: 1_440)
        _ = reader.word("mode", DeliveryMode.self)
        _ = reader.text("accredited_by", required: false)
        var partners: [String] = []
        if var deliveredBy = reader.object("delivered_by", required: false) {
            _ = deliveredBy.text("team", required: false)
            partners = deliveredBy.identifiers("partners") ?? []
            reader.finish(deliveredBy)
        }
        if var attendance = reader.object("attendance") {
            var total = 0
            if var pupils = attendance.object("pupils", required: false) {
                for stage in KeyStage.allCases { total += pupils.count(stage.rawValue, required: false) ?? 0 }
                attendance.finish(pupils)
            }
            if var staff = attendance.object("staff", required: false) {
                for role in StaffRole.allCases { total += staff.count(role.rawValue, required: false) ?? 0 }
                attendance.finish(staff)
            }
            total += attendance.count("parents_carers", required: false) ?? 0
            if var professionals = attendance.object("professionals", required: false) {
                for kind in PartnerKind.allCases { total += professionals.count(kind.rawValue, required: false) ?? 0 }
                attendance.finish(professionals)
            }
            if total == 0 && attendance.refusals.isEmpty && attendance.unknownFieldRefusals.isEmpty {
                attendance.refuse("total", "an activity needs at least one attendee: give the counts of pupils, staff, parents or professionals who came")
            }
            reader.finish(attendance)
        }
        guard let pilot, let authority, reader.refusals.isEmpty else { return nil }
        var references = [Reference(.pilot, pilot, field: "pilot_id", authority: authority)]
        if let school { references.append(Reference(.school, school, field: "school_id", authority: authority)) }
        references += partners.map { Reference(.partner, $0, field: "delivered_by.partners") }
        return CheckedRecord(streamID: Streams.activities(pilot: pilot, school: school), authorityID: authority, occurredOn: date,
                             references: references, rule: .none)
    }

    public static let locationRegistered = RecordType(name: "location_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("location_id")
        let authority = reader.identifier("la_id")
        _ = reader.word("kind", LocationKind.self)
        _ = reader.text("label")
        if let area = reader.text("area", maxLength: 100),
           area.uppercased().wholeMatch(of: /[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}/) != nil {
            reader.refuse("area", "'\(area)' is a full postcode; give the postcode district (such as SE13) or the ward, never anything finer")
        }
        _ = reader.words("concern_types", ConcernType.self)
        let identified = reader.date("identified_on")
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.location.stream(id), authorityID: authority, occurredOn: identified,
                             references: [Reference(.authority, authority, field: "la_id")],
                             rule: .register(what: "location of concern \(id)", field: "location_id"))
    }

    /// A peer group is known only by a pseudonymous id and numbers: never a name.
    public static let peerGroupRegistered = RecordType(name: "peer_group_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("peer_group_id")
        let authority = reader.identifier("la_id")
        let size = reader.count("size", minimum: 2, maximum: 200)
        let youngest = reader.count("age_min", minimum: 8, maximum: 25)
        let oldest = reader.count("age_max", minimum: 8, maximum: 25)
        if let youngest, let oldest, youngest > oldest {
            reader.refuse("age_max", "is \(oldest), below age_min \(youngest)")
        }
        if var genders = reader.object("genders", required: false) {
            let total = ["female", "male", "other_or_unknown"].compactMap { genders.count($0, required: false) }.reduce(0, +)
            if let size, total > size { genders.refuse("total", "the gender counts add up to \(total), more than the group's size \(size)") }
            reader.finish(genders)
        }
        let schools = reader.identifiers("school_ids") ?? []
        let locations = reader.identifiers("location_ids") ?? []
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.peerGroup.stream(id), authorityID: authority, occurredOn: nil,
            references: [Reference(.authority, authority, field: "la_id")]
                + schools.map { Reference(.school, $0, field: "school_ids", authority: authority) }
                + locations.map { Reference(.location, $0, field: "location_ids", authority: authority) },
            rule: .register(what: "peer group \(id)", field: "peer_group_id"))
    }

    public static let contextReferralReceived = RecordType(name: "context_referral_received", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("referral_id")
        let authority = reader.identifier("la_id")
        let contexts: [(Entity, String?)] = [
            (.school, reader.identifier("school_id", required: false)),
            (.location, reader.identifier("location_id", required: false)),
            (.peerGroup, reader.identifier("peer_group_id", required: false)),
        ]
        let named = contexts.filter { $0.1 != nil }
        if named.count != 1 && !reader.refusals.contains(where: { $0.field.hasSuffix("_id") }) {
            reader.refuse("school_id", "name exactly one context: school_id, location_id or peer_group_id")
        }
        _ = reader.text("source", maxLength: 100)
        _ = reader.words("concerns", ThresholdIndicator.self)
        let date = reader.date("date")
        guard let id, let authority, let context = named.first, let contextID = context.1, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(
            streamID: Entity.referral.stream(id), authorityID: authority, occurredOn: date,
            references: [Reference(context.0, contextID, field: context.0 == .peerGroup ? "peer_group_id" : "\(context.0.rawValue)_id", authority: authority)],
            rule: .register(what: "referral \(id)", field: "referral_id"))
    }

    public static let thresholdDecided = RecordType(name: "threshold_decided", schemaVersion: 1) { reader, _ in
        let referral = reader.identifier("referral_id")
        let authority = reader.identifier("la_id")
        let level = reader.word("level", ThresholdLevel.self)
        let pathway = reader.word("pathway", Pathway.self)
        if let level, let pathway, !level.pathways.contains(pathway) {
            let choices = level.pathways.map(\.rawValue)
            reader.refuse("pathway", "\(pathway.rawValue) is not available at level \(level.rawValue); choose \(choices.count == 1 ? choices[0] : choices.joined(separator: " or "))")
        }
        let date = reader.date("date")
        guard let referral, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.referral.stream(referral), authorityID: authority, occurredOn: date,
                             references: [Reference(.referral, referral, field: "referral_id", authority: authority)], rule: .none)
    }

    public static let surveyWaveRecorded = RecordType(name: "survey_wave_recorded", schemaVersion: 1) { reader, recordID in
        let pilot = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        let school = reader.identifier("school_id", required: false)
        let group = reader.word("respondent_group", RespondentGroup.self)
        if let wave = reader.text("wave", maxLength: 20), SurveyWave(wave) == nil {
            reader.refuse("wave", "'\(wave)' is not a wave; write baseline, follow_up_1, follow_up_2 ...")
        }
        let date = reader.date("date")
        let respondents = reader.count("respondents", minimum: 1)
        if var measures = reader.object("measures") {
            for measure in SurveyMeasure.allCases {
                guard var answers = measures.object(measure.rawValue, required: false) else { continue }
                if let group, measure.group != group {
                    measures.refuse(measure.rawValue, "is asked of \(measure.group.rawValue), not of \(group.rawValue)")
                }
                let agreeing = answers.count("agreeing")
                let answering = answers.count("answering")
                if let agreeing, let answering, agreeing > answering {
                    answers.refuse("agreeing", "is \(agreeing), more than the \(answering) who answered")
                }
                if let answering, let respondents, answering > respondents {
                    answers.refuse("answering", "is \(answering), more than the \(respondents) respondents")
                }
                measures.finish(answers)
            }
            if measures.refusals.isEmpty && measures.unknownFieldRefusals.isEmpty && measures.fields.isEmpty {
                measures.refuse("measures", "give at least one measure with the numbers agreeing and answering")
            }
            reader.finish(measures)
        }
        for var place in reader.objects("unsafe_places") ?? [] {
            _ = place.text("label", maxLength: 100)
            _ = place.count("mentions", minimum: 1)
            reader.finish(place)
        }
        guard let pilot, let authority, reader.refusals.isEmpty else { return nil }
        var references = [Reference(.pilot, pilot, field: "pilot_id", authority: authority)]
        if let school { references.append(Reference(.school, school, field: "school_id", authority: authority)) }
        return CheckedRecord(streamID: Streams.surveys(pilot: pilot, school: school), authorityID: authority, occurredOn: date,
                             references: references, rule: .none)
    }

    /// Corrects an earlier record: `data` replaces its data whole and must pass its checks.
    public static let eventCorrected = RecordType(name: "event_corrected", schemaVersion: 1) { reader, _ in
        let target = reader.text("record_id", maxLength: 100)
        _ = reader.text("reason")
        let data = reader.rawObject("data")
        guard let target, let data, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: "", authorityID: nil, occurredOn: nil, references: [],
                             rule: .amends(recordID: target, withdraws: false, correctedData: data))
    }

    /// Withdraws an earlier record: figures are then as if it had never been recorded.
    public static let eventWithdrawn = RecordType(name: "event_withdrawn", schemaVersion: 1) { reader, _ in
        let target = reader.text("record_id", maxLength: 100)
        _ = reader.text("reason")
        guard let target, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: "", authorityID: nil, occurredOn: nil, references: [],
                             rule: .amends(recordID: target, withdraws: true, correctedData: nil))
    }

    /// A record about a referral's context, appended to the referral's stream.
    private static func aboutReferral(_ reader: inout FieldReader) -> (referral: String, authority: String, date: PostgresDate?)? {
        let referral = reader.identifier("referral_id")
        let authority = reader.identifier("la_id")
        let date = reader.date("date")
        guard let referral, let authority else { return nil }
        return (referral, authority, date)
    }

    public static let schoolAssessmentCompleted = RecordType(name: "school_assessment_completed", schemaVersion: 1) { reader, _ in
        let about = aboutReferral(&reader)
        let school = reader.identifier("school_id")
        _ = reader.words("methods", AssessmentMethod.self)
        if var domains = reader.object("domains") {
            for domain in AssessmentDomain.allCases {
                guard var one = domains.object(domain.rawValue) else { continue }
                _ = one.text("strengths", required: false)
                _ = one.text("concerns", required: false)
                _ = one.count("rating", minimum: 1, maximum: 4)
                domains.finish(one)
            }
            reader.finish(domains)
        }
        _ = reader.flag("young_people_took_part", required: true)
        _ = reader.flag("parents_took_part", required: true)
        guard let about, let school, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.referral.stream(about.referral), authorityID: about.authority, occurredOn: about.date,
                             references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority),
                                          Reference(.school, school, field: "school_id", authority: about.authority)],
                             rule: .none)
    }

    public static let beyondReferralsSelfAssessmentCompleted = RecordType(name: "beyond_referrals_self_assessment_completed", schemaVersion: 1) { reader, recordID in
        let school = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        let referral = reader.identifier("referral_id", required: false)
        let date = reader.date("date")
        if var ratings = reader.object("ratings") {
            for area in SelfAssessmentArea.allCases { _ = ratings.word(area.rawValue, RAGRating.self) }
            reader.finish(ratings)
        }
        guard let school, let authority, reader.refusals.isEmpty else { return nil }
        var references = [Reference(.school, school, field: "school_id", authority: authority)]
        if let referral { references.append(Reference(.referral, referral, field: "referral_id", authority: authority)) }
        return CheckedRecord(streamID: "beyond-referrals:\(recordID)", authorityID: authority, occurredOn: date,
                             references: references, rule: .none)
    }

    public static let safetyPlanAgreed = RecordType(name: "safety_plan_agreed", schemaVersion: 1) { reader, _ in
        let plan = reader.identifier("plan_id")
        let about = aboutReferral(&reader)
        var actionIDs: [String] = []
        if let actions = reader.objects("actions", required: true) {
            if actions.isEmpty { reader.refuse("actions", "a safety plan needs at least one action") }
            for var action in actions {
                if let id = action.identifier("action_id") {
                    if actionIDs.contains(id) { action.refuse("action_id", "'\(id)' is used twice in this plan") }
                    actionIDs.append(id)
                }
                _ = action.text("description")
                _ = action.text("owner_role", maxLength: 100)
                if let due = action.date("due_on", allowFuture: true), let planDate = about?.date, due < planDate {
                    action.refuse("due_on", "\(due) is before the plan was agreed on \(planDate); actions are due on or after the plan's date")
                }
                reader.finish(action)
            }
        }
        guard let plan, let about, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.plan.stream(plan), authorityID: about.authority, occurredOn: about.date,
                             references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority)],
                             rule: .register(what: "safety plan \(plan)", field: "plan_id"))
    }

    /// An update to one action of a safety plan.
    private static func planActionRecord(_ name: String, _ extra: @escaping @Sendable (inout FieldReader) -> Void) -> RecordType {
        RecordType(name: name, schemaVersion: 1) { reader, _ in
            let plan = reader.identifier("plan_id")
            let action = reader.identifier("action_id")
            let authority = reader.identifier("la_id")
            let date = reader.date("date")
            extra(&reader)
            guard let plan, let action, let authority, reader.refusals.isEmpty else { return nil }
            return CheckedRecord(streamID: Entity.plan.stream(plan), authorityID: authority, occurredOn: date,
                                 references: [Reference(.plan, plan, field: "plan_id", authority: authority)], rule: .none,
                                 planAction: .init(planID: plan, actionID: action))
        }
    }

    public static let actionCompleted = planActionRecord("action_completed") { _ in }
    public static let actionRescheduled = planActionRecord("action_rescheduled") { reader in
        _ = reader.date("new_due_on", allowFuture: true)
        _ = reader.text("reason", required: false)
    }
    public static let actionCancelled = planActionRecord("action_cancelled") { reader in
        _ = reader.text("reason")
    }

    public static let outcomeShared = RecordType(name: "outcome_shared", schemaVersion: 1) { reader, _ in
        let about = aboutReferral(&reader)
        _ = reader.words("shared_with", SharedWith.self)
        guard let about, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.referral.stream(about.referral), authorityID: about.authority, occurredOn: about.date,
                             references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority)], rule: .none)
    }

    public static let contextReviewed = RecordType(name: "context_reviewed", schemaVersion: 1) { reader, _ in
        let about = aboutReferral(&reader)
        let outcome = reader.word("outcome", ReviewOutcome.self)
        let level = reader.word("new_level", ThresholdLevel.self, required: false)
        if let outcome, outcome != .closed, level == nil, !reader.refusals.contains(where: { $0.field == "new_level" }) {
            reader.refuse("new_level", "is required when a context is \(outcome.rawValue.replacingOccurrences(of: "_", with: "-"))")
        }
        guard let about, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.referral.stream(about.referral), authorityID: about.authority, occurredOn: about.date,
                             references: [Reference(.referral, about.referral, field: "referral_id", authority: about.authority)], rule: .none)
    }

    public static let interventionStarted = RecordType(name: "intervention_started", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("intervention_id")
        let location = reader.identifier("location_id")
        let authority = reader.identifier("la_id")
        _ = reader.word("kind", InterventionKind.self)
        let date = reader.date("date")
        _ = reader.identifiers("partners")
        guard let id, let location, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.intervention.stream(id), authorityID: authority, occurredOn: date,
                             references: [Reference(.location, location, field: "location_id", authority: authority)],
                             rule: .register(what: "intervention \(id)", field: "intervention_id"))
    }

    public static let interventionEnded = RecordType(name: "intervention_ended", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("intervention_id")
        let authority = reader.identifier("la_id")
        let date = reader.date("date")
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.intervention.stream(id), authorityID: authority, occurredOn: date,
                             references: [Reference(.intervention, id, field: "intervention_id", authority: authority)], rule: .none)
    }

    public static let locationConcernClosed = RecordType(name: "location_concern_closed", schemaVersion: 1) { reader, _ in
        let location = reader.identifier("location_id")
        let authority = reader.identifier("la_id")
        let date = reader.date("date")
        _ = reader.text("reason", required: false)
        guard let location, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.location.stream(location), authorityID: authority, occurredOn: date,
                             references: [Reference(.location, location, field: "location_id", authority: authority)], rule: .none)
    }

    public static let schoolStatisticsReported = RecordType(name: "school_statistics_reported", schemaVersion: 1) { reader, _ in
        let school = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        var year: AcademicYear?
        if let text = reader.text("academic_year", maxLength: 7) {
            year = AcademicYear(text)
            if year == nil { reader.refuse("academic_year", "'\(text)' is not an academic year such as 2024/25") }
        }
        _ = reader.count("suspensions")
        _ = reader.count("permanent_exclusions")
        _ = reader.count("pupils_on_roll", maximum: 10_000)
        _ = reader.number("attendance_percent", in: 0...100)
        guard let school, let authority, let year, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: "school-statistics:\(school):\(year.startYear)", authorityID: authority,
                             occurredOn: PostgresDate(year: year.startYear + 1, month: 8, day: 31),
                             references: [Reference(.school, school, field: "school_id", authority: authority)],
                             rule: .register(what: "the statistics of school \(school) for \(year)", field: "academic_year"))
    }

    /// A pilot's target changed, such as a roll-out to "a further 20 schools" (the new total).
    public static let pilotTargetChanged = RecordType(name: "pilot_target_changed", schemaVersion: 1) { reader, _ in
        let pilot = reader.identifier("pilot_id")
        let authority = reader.identifier("la_id")
        _ = reader.count("target_schools", minimum: 1, maximum: 10_000)
        let date = reader.date("date")
        _ = reader.text("reason", required: false)
        guard let pilot, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Entity.pilot.stream(pilot), authorityID: authority, occurredOn: date,
                             references: [Reference(.pilot, pilot, field: "pilot_id", authority: authority)], rule: .none)
    }

    /// A local authority's summary left the programme: who (the event's actor), for which
    /// authority and period, in which format, under which disclosure policy.
    public static let summaryExported = RecordType(name: "summary_exported", schemaVersion: 1) { reader, _ in
        let authority = reader.identifier("la_id")
        _ = reader.text("period", maxLength: 30)
        if let format = reader.text("format", maxLength: 10), !["csv", "json"].contains(format) {
            reader.refuse("format", "'\(format)' is not an export format; choose csv or json")
        }
        if let policy = reader.text("policy", maxLength: 10), !["dfe", "nhs"].contains(policy) {
            reader.refuse("policy", "'\(policy)' is not a disclosure policy for an export; choose dfe or nhs")
        }
        _ = reader.count("rows")
        let date = reader.date("date")
        guard let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: "exports:\(authority)", authorityID: authority, occurredOn: date,
                             references: [Reference(.authority, authority, field: "la_id")], rule: .none)
    }
}

extension RecordType {
    /// The record's own checks (its fields, their words and ranges), without asking the log.
    public func checkFields(_ data: JSONObject, id: String, today: PostgresDate) -> Result<CheckedRecord, Refusals> {
        var reader = FieldReader(data, today: today)
        let checked = check(&reader, id)
        let found = reader.refusals + reader.unknownFieldRefusals
        guard let checked, found.isEmpty else { return .failure(Refusals(found)) }
        return .success(checked)
    }
}
