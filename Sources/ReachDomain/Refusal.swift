/// Why a record was refused: the field and the rule it broke, in words a practitioner
/// understands.
///
/// ```
/// `pathway` school_assessment is not available at level universal_early_help; choose safety_summit or school_partnership_meeting
/// ```
public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible, Codable {
    /// The field, as a dotted path (`attendance.pupils.ks3`), or `record` for the record as a whole.
    public var field: String
    /// The rule, in plain words.
    public var reason: String

    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "`\(field)` \(reason)" }
}

/// Every refusal found in one record.
public struct Refusals: Error, Sendable, CustomStringConvertible {
    public var all: [Refusal]
    public init(_ all: [Refusal]) { self.all = all }
    public var description: String { all.map(\.description).joined(separator: "; ") }
}
