/// What the one recording may record and see, as the application layer's access rules decide
/// it (`Access.recordingRule(for:)`): asked of every record on every path (one record, a batch
/// of a service's requests, an import).
///
/// - ``permits`` is asked of each record once its own checks pass: a refusal, or nil to let it
///   through (for example, staff record for the authorities they are assigned to).
/// - ``sees`` says whether records and registered things of an authority (nil: programme-wide
///   ones) are the recorder's to know of. A record or thing it may not see is answered exactly
///   as one that does not exist: an amendment naming another authority's record is told there
///   is no such record, a reference to another authority's school that it is not registered, so
///   that a refusal never tells a stranger which ids exist or whose they are.
public struct RecordingRule: Sendable {
    public var permits: @Sendable (RecordType, CheckedRecord) -> Refusal?
    public var sees: @Sendable (_ authority: String?) -> Bool

    public init(
        permits: @escaping @Sendable (RecordType, CheckedRecord) -> Refusal?,
        sees: @escaping @Sendable (_ authority: String?) -> Bool
    ) {
        self.permits = permits
        self.sees = sees
    }

    /// No limit: every record may be recorded, every authority's records are seen (admins, and
    /// the operator's own tools such as the demo loader).
    public static let unrestricted = RecordingRule(permits: { _, _ in nil }, sees: { _ in true })
}
