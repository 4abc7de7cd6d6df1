import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections

/// An authority's disclosure policy as set (``ReachApplication/setDisclosurePolicy(la:policy:reason:as:)``).
public struct PolicySetting: Sendable, Encodable {
    public var laID: String
    public var policy: String
    /// Whether this call changed it (false: it was already in force).
    public var changed: Bool
    /// Where the `disclosure_policy_set` record was appended, when it changed.
    public var recordedAtPosition: Int64?

    public init(laID: String, policy: String, changed: Bool, recordedAtPosition: Int64?) {
        (self.laID, self.policy, self.changed, self.recordedAtPosition) = (laID, policy, changed, recordedAtPosition)
    }

    enum CodingKeys: String, CodingKey {
        case laID = "la_id"
        case policy, changed
        case recordedAtPosition = "recorded_at_position"
    }
}

extension ReachApplication {
    /// Sets the one disclosure policy `la`'s figures leave under (an admin's decision for the
    /// programme), recorded in the log as `disclosure_policy_set` (who, when, why). Refused once
    /// the authority's figures have left under another policy: the two could be combined.
    public func setDisclosurePolicy(la: String, policy: DisclosurePolicy.Name, reason: String?, as identity: Identity) async throws
        -> PolicySetting
    {
        try Access.checkMayOperate(.setPolicy, for: identity)
        guard policy != .none else {
            throw RequestError("an authority's figures leave under dfe or nhs; none is for researchers inside the programme")
        }
        let position = try await database.withConnection(.request(identity, reading: false)) { connection in
            do {
                return try Publication.setPolicy(la: la, policy: policy, actor: identity.name, reason: reason, on: connection)
            } catch let error as PostgresError where error.sqlState == "55000" || error.sqlState == "22023" {
                throw RequestError(error.message)
            }
        }
        return PolicySetting(laID: la, policy: policy.rawValue, changed: position != nil, recordedAtPosition: position)
    }

    /// The policy each of `authorities` (nil: every registered authority) leaves under.
    public func disclosurePolicies(_ authorities: [String]?, as identity: Identity) async throws -> [(la: String, policy: DisclosurePolicy.Name)] {
        try Access.checkMayOperate(.projectionsStatus, for: identity)
        return try await database.withConnection(.application) { connection in
            try (authorities ?? Publication.registeredAuthorities(on: connection)).map { ($0, try Publication.policy(of: $0, on: connection)) }
        }
    }

    /// The policy `la`'s figures leave under, for anyone who may export its summary.
    public func disclosurePolicy(of la: String, as identity: Identity) async throws -> DisclosurePolicy.Name {
        try Access.checkMayExport(la: la, for: identity)
        return try await database.withConnection(.application) { try Publication.policy(of: la, on: $0) }
    }

    /// The policy a request for one authority's figures is answered under: the authority's
    /// (set by the programme, else `dfe`). Asking for the other one is refused, since figures
    /// of the same cells under both could be combined. `policy` is what was asked for (nil:
    /// the authority's); `none` is left as it is (researchers inside the programme).
    static func authorityPolicy(la: String, asked: DisclosurePolicy.Name?, inForce: DisclosurePolicy.Name?) throws -> DisclosurePolicy.Name? {
        guard let inForce else { return asked }
        if let asked, asked != inForce, asked != .none {
            throw RequestError(
                "\(la)'s figures leave under \(inForce.rawValue), the disclosure policy the programme set for it; ask for policy \(inForce.rawValue) (figures of the same cells under two policies could be combined to give a child back)"
            )
        }
        return asked ?? inForce
    }
}
