import ReachPostgres

/// Something a record points at, which must exist (and belong to the authority the record names).
public enum Reference: Sendable, Hashable {
    case authority(String, field: String)
    case school(String, field: String, authority: String)
    case pilot(String, field: String, authority: String)
    case partner(String, field: String)

    /// The stream that registered it.
    public var streamID: String {
        switch self {
        case .authority(let id, _): return Streams.authority(id)
        case .school(let id, _, _): return Streams.school(id)
        case .pilot(let id, _, _): return Streams.pilot(id)
        case .partner(let id, _): return Streams.partner(id)
        }
    }
}

/// How a record's stream must look for it to be appended.
public enum StreamRule: Sendable, Hashable {
    /// A registration: the stream must not exist yet.
    case register(what: String, field: String)
    /// An engagement stage: stages move forward (see ``EngagementStage/mayFollow(_:)``).
    case engagementStage(EngagementStage)
    /// No rule (each record has a stream of its own).
    case none
}

/// A record whose data passed every check that needs nothing but the record itself.
public struct CheckedRecord: Sendable, Hashable {
    public var streamID: String
    public var authorityID: String?
    public var occurredOn: PostgresDate?
    public var references: [Reference]
    public var rule: StreamRule
}

/// The stream of each thing the programme records.
public enum Streams {
    public static func authority(_ id: String) -> String { "authority:\(id)" }
    public static func school(_ id: String) -> String { "school:\(id)" }
    public static func pilot(_ id: String) -> String { "pilot:\(id)" }
    public static func partner(_ id: String) -> String { "partner:\(id)" }
    public static func engagement(pilot: String, school: String) -> String { "engagement:\(pilot):\(school)" }
    public static func activity(_ id: String) -> String { "activity:\(id)" }
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
        engagementStageReached, activityDelivered,
    ].map { ($0.name, $0) })

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
        return CheckedRecord(streamID: Streams.authority(id), authorityID: id, occurredOn: joined, references: [],
                             rule: .register(what: "local authority \(id)", field: "la_id"))
    }

    public static let schoolRegistered = RecordType(name: "school_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("school_id")
        let authority = reader.identifier("la_id")
        _ = reader.text("name")
        _ = reader.word("phase", SchoolPhase.self)
        _ = reader.count("pupils_on_roll", required: false, maximum: 10_000)
        guard let id, let authority, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Streams.school(id), authorityID: authority, occurredOn: nil,
                             references: [.authority(authority, field: "la_id")],
                             rule: .register(what: "school \(id)", field: "school_id"))
    }

    public static let partnerRegistered = RecordType(name: "partner_registered", schemaVersion: 1) { reader, _ in
        let id = reader.identifier("partner_id")
        _ = reader.text("name")
        _ = reader.word("kind", PartnerKind.self)
        guard let id, reader.refusals.isEmpty else { return nil }
        return CheckedRecord(streamID: Streams.partner(id), authorityID: nil, occurredOn: nil, references: [],
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
        return CheckedRecord(streamID: Streams.pilot(id), authorityID: authority, occurredOn: start,
                             references: [.authority(authority, field: "la_id")],
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
            references: [.pilot(pilot, field: "pilot_id", authority: authority), .school(school, field: "school_id", authority: authority)],
            rule: .engagementStage(stage))
    }

    public static let activityDelivered = RecordType(name: "activity_delivered", schemaVersion: 1) { reader, recordID in
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
        var references: [Reference] = [.pilot(pilot, field: "pilot_id", authority: authority)]
        if let school { references.append(.school(school, field: "school_id", authority: authority)) }
        references += partners.map { .partner($0, field: "delivered_by.partners") }
        return CheckedRecord(streamID: Streams.activity(recordID), authorityID: authority, occurredOn: date,
                             references: references, rule: .none)
    }
}
