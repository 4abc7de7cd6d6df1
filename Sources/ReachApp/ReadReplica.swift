import Foundation
import Logging
import ReachEventLog
import ReachPostgres

/// Reads sent to a read replica (`REACH_READ_DATABASE_URL`, ``DatabaseTarget/reader``): a hot
/// standby of the primary, kept by PostgreSQL's own streaming replication, whose projections
/// and published summaries are the primary's, replayed.
///
/// - Researchers' and local authorities' reads (figures, published summaries, the research
///   views) go to the replica. They never record, so there is nothing of their own they must
///   see at once.
/// - Staff's and admins' reads in a service go to the primary: what they have just recorded
///   shows in their next figures, with no wait for the replica.
/// - Where figures are first brought up to date (the command line), everyone's go to the
///   replica once it has replayed as far as the primary had written after the catch-up (up to
///   ``replayWait``); a replica further behind than that is passed over for the primary.
/// - A replica that cannot be reached is passed over for the primary, and the log says so.
///
/// Writes (records, imports, exports' records, publishing) always go to the primary.
extension ReachApplication {
    /// How long figures brought up to date wait for the replica to replay the catch-up.
    static let replayWait: Duration = .seconds(10)

    /// Where `identity`'s reads go (nil: the application's own, such as publishing: the primary).
    static func readSource(_ target: DatabaseTarget, for identity: Identity?, refreshing: Bool) -> ConnectionConfiguration {
        guard let reader = target.reader, let identity else { return target.application }
        if !refreshing && (identity.role == .staff || identity.role == .admin) { return target.application }
        return reader
    }

    /// A connection to read on from `source`, as `identity` reads (``connect(_:as:reading:logger:pool:)``;
    /// unscoped when nil). When `source` is the replica and it cannot be reached, the primary's.
    static func openReading(_ source: ConnectionConfiguration, _ target: DatabaseTarget, as identity: Identity?,
                            logger: Logger, pool: ConnectionPool?) throws -> Connection {
        func open(_ configuration: ConnectionConfiguration) throws -> Connection {
            try identity.map { try connect(configuration, as: $0, reading: true, logger: logger, pool: pool) }
                ?? Self.open(configuration, pool: pool, logger: logger)
        }
        guard source != target.application else { return try open(source) }
        do {
            return try open(source)
        } catch let error as PostgresError where error.code == .connection || error.code == .noAnswer {
            logger.warning("the read replica cannot be reached; reading from the primary", metadata: ["error": "\(error)"])
            return try open(target.application)
        }
    }

    /// Whether the server behind `connection` has replayed the primary's WAL up to `position`
    /// (an LSN, from `pg_current_wal_lsn()`), waiting up to `limit` for it. A server that is not
    /// a standby (a primary, or a standby since promoted) has everything it will get.
    static func hasReplayed(_ position: String, on connection: Connection, within limit: Duration) throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            let replayed: Bool = try connection.query(
                "SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", [position]).decode(row: 0, column: 0)
            if replayed { return true }
            if ContinuousClock.now >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// The primary's current WAL position, for ``hasReplayed(_:on:within:)``.
    static func primaryPosition(on connection: Connection) throws -> String {
        try connection.query("SELECT pg_current_wal_lsn()::text").decode(row: 0, column: 0)
    }

    /// What the service reads from: the primary alone, or a replica too, with how far it is
    /// behind (for `/health/ready`). The replica's state is reported, never a reason to be
    /// unready: reads pass over a replica that cannot be reached for the primary.
    public struct ReadReplicaState: Sendable, Encodable {
        /// `ok`, or what is wrong (`unreachable`, `not a standby`).
        public var state: String
        /// Seconds since the last transaction it replayed was committed on the primary, while
        /// the primary writes (0 when it has replayed everything it received).
        public var replay_lag_seconds: Double?
    }

    /// The read replica's state, if one is configured.
    public func readReplicaState() async -> ReadReplicaState? {
        guard let reader = target.reader else { return nil }
        let (logger, timeout) = (logger, readinessTimeout)
        return (try? await onThreadOfItsOwn(name: "reach.ready") {
            do {
                let connection = try Connection(configuration: reader.answering(within: timeout), logger: logger)
                let found = try connection.query("""
                    SELECT pg_is_in_recovery(),
                           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                                ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
                    """)
                guard try found.decode(Bool.self, row: 0, column: 0) else { return ReadReplicaState(state: "not a standby") }
                return ReadReplicaState(state: "ok", replay_lag_seconds: try found.decodeIfPresent(Double.self, row: 0, column: 1))
            } catch {
                return ReadReplicaState(state: "unreachable")
            }
        }) ?? ReadReplicaState(state: "unreachable")
    }
}
