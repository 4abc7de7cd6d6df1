import ReachCalendar
import ReachEventLog

/// The kinds of thing records register and refer to, each with a stream of its own.
public enum Entity: String, Sendable, Hashable, CaseIterable {
    case authority, school, pilot, partner, location
    case peerGroup = "peer_group"
    case referral, plan, intervention

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

    /// What is wrong with this reference, given the owners of registered things (stream id to
    /// the authority it belongs to; absent when not registered). A thing of an authority the
    /// one recording may not see (`sees`) is answered as one that is not registered.
    public func refusal(owners: [String: String?], sees: (String?) -> Bool = { _ in true }) -> Refusal? {
        var what: String { "\(entity.name) '\(id)'" }
        guard let owner = owners[streamID], sees(owner) else { return Refusal(field, "\(what) is not registered; register it first") }
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

    /// The refusal of a stage that does not follow the current one.
    static func stageGoesBack(from current: EngagementStage, to stage: EngagementStage) -> Refusal {
        Refusal(
            "stage",
            "cannot go back from \(current.rawValue) to \(stage.rawValue): stages only move forward (record withdrawn first if the school stopped and is starting again)"
        )
    }
}

/// A record whose data passed every check that needs nothing but the record itself.
public struct CheckedRecord: Sendable, Hashable {
    public var streamID: String
    public var authorityID: String?
    public var occurredOn: CalendarDate?
    public var references: [Reference]
    public var rule: StreamRule
    /// For a safety-plan action's update: the plan and the action, which must be in the plan.
    public var planAction: PlanAction?

    public struct PlanAction: Sendable, Hashable {
        public var planID: String
        public var actionID: String
    }

    init(streamID: String, authorityID: String?, occurredOn: CalendarDate?, references: [Reference], rule: StreamRule, planAction: PlanAction? = nil)
    {
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
