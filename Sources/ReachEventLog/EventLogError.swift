import ReachPostgres

/// A refusal from the event log, in words a person can act on.
public struct EventLogError: Error, Sendable, CustomStringConvertible {
    /// What kind of refusal.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let base: String
        /// The stream was not at the expected version.
        public static let wrongExpectedVersion = Code(base: "wrong_expected_version")
        /// An event id already in the log was sent with different content.
        public static let idempotencyConflict = Code(base: "idempotency_conflict")
        /// Something tried to change or remove an event.
        public static let appendOnly = Code(base: "append_only")
        /// The request itself was malformed (bad JSON, bad arguments).
        public static let invalidRequest = Code(base: "invalid_request")
        /// A migration problem (edited file, unknown migration).
        public static let migration = Code(base: "migration")
        public var description: String { base }
    }

    public var code: Code
    public var message: String
    /// For ``Code/wrongExpectedVersion``: the stream's version when the append was refused.
    public var currentVersion: Int64?
    /// The database error underneath, if any.
    public var underlying: PostgresError?

    public init(code: Code, message: String, currentVersion: Int64? = nil, underlying: PostgresError? = nil) {
        self.code = code
        self.message = message
        self.currentVersion = currentVersion
        self.underlying = underlying
    }

    public var description: String { message }

    /// Translates the log's own SQLSTATEs (`RX001`...) into event-log errors; passes others through.
    static func translate(_ error: any Error) -> any Error {
        guard let pg = error as? PostgresError, let state = pg.sqlState else { return error }
        switch state {
        case "RX001":
            let current = pg.detail.flatMap { detail in
                detail.split(separator: "=").last.flatMap { Int64($0) }
            }
            return EventLogError(code: .wrongExpectedVersion, message: pg.message, currentVersion: current, underlying: pg)
        case "RX002":
            return EventLogError(code: .idempotencyConflict, message: pg.message, underlying: pg)
        case "RX003":
            return EventLogError(code: .appendOnly, message: pg.message, underlying: pg)
        case "22P02", "22023":
            return EventLogError(code: .invalidRequest, message: pg.message, underlying: pg)
        default:
            return error
        }
    }
}
