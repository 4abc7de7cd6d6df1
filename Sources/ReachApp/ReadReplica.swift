import Foundation
import Logging
import ReachEventLog
import ReachPostgres
import Synchronization

/// Reads sent to a read replica (`REACH_READ_DATABASE_URL`, ``DatabaseTarget/reader``): a hot
/// standby of the primary, kept by PostgreSQL's own streaming replication, whose projections
/// and published summaries are the primary's, replayed.
///
/// - Researchers' reads (figures, the research views) go to the replica. They never record,
///   so there is nothing of their own they must see at once.
/// - Leads' reads go to the primary: the first read of each publication of their authority's
///   figures is kept as a release (`publication.release`), which a standby cannot write.
/// - Staff's and admins' reads in a service (``ReachApplication/servesRequests``) go to the
///   primary: what they have just recorded shows in their next figures, with no wait.
/// - Where figures are first brought up to date (the command line, a service without its own
///   runner), reads go to the replica once it has replayed as far as the primary had written
///   after the catch-up (up to ``ReachApplication/replayWait``); a replica further behind is
///   passed over for the primary.
/// - A replica that cannot be reached, or does not answer in time, is passed over for the
///   primary for ``ReplicaHealth/restPeriod``, and the log says so.
///
/// Writes (records, imports, exports' records, publishing) always go to the primary.
extension ReachApplication {
    /// How long figures brought up to date wait for the replica to replay the catch-up.
    static let replayWait: Duration = .seconds(10)

    /// Where `identity`'s reads go (nil: the application's own, such as publishing: the primary).
    static func readSource(_ target: DatabaseTarget, for identity: Identity?, service: Bool) -> ConnectionConfiguration {
        guard let reader = target.reader, let identity else { return target.application }
        if service && (identity.role == .staff || identity.role == .admin) { return target.application }
        // A lead's reads release what they read (publication.release), which a standby cannot note.
        if identity.role == .laViewer { return target.application }
        if ReplicaHealth.shared.isResting(reader) { return target.application }
        return reader
    }

    /// Notes that reading on `connections` failed with `error`: when they are the replica's and
    /// it is unavailable, the replica rests. The error is for the caller to throw.
    static func noteReadFailure(_ error: any Error, on connections: [Connection], _ target: DatabaseTarget, logger: Logger) {
        guard let reader = target.reader, let error = error as? PostgresError, error.meansUnavailable,
            connections.contains(where: { $0.configuration.connectionString == reader.connectionString })
        else { return }
        ReplicaHealth.shared.failed(reader, error, logger: logger)
    }

    /// Whether the server behind `connection` has replayed the primary's WAL up to `position`
    /// (an LSN, from `pg_current_wal_lsn()`), waiting up to `limit` for it. A server that is not
    /// a standby (a primary, or a standby since promoted) has everything it will get.
    static func hasReplayed(_ position: String, on connection: Connection, within limit: Duration) throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            let replayed: Bool = try connection.query(
                "SELECT NOT pg_is_in_recovery() OR coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", [position]
            ).decode(row: 0, column: 0)
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
        /// `ok`; or `resting` (it failed a moment ago, and reads go to the primary for now),
        /// `unreachable`, `not a standby`.
        public var state: String
        /// Seconds since the last transaction it replayed was committed on the primary, while
        /// the primary writes (0 when it has replayed everything it received); null when unknown.
        public var replay_lag_seconds: Double?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(state, forKey: .state)
            try container.encode(replay_lag_seconds, forKey: .replay_lag_seconds)
        }

        enum CodingKeys: String, CodingKey { case state, replay_lag_seconds }
    }

    /// The read replica's state, if one is configured, found within a second.
    public func readReplicaState() async -> ReadReplicaState? {
        guard let reader = target.reader else { return nil }
        if ReplicaHealth.shared.isResting(reader) { return ReadReplicaState(state: "resting") }
        // A connection of its own, which waits at most a second or two.
        let quick = reader.overriding(["connect_timeout": "2"]).answering(within: .seconds(1))
        return
            (try? await database.withConnection(.unpooled(quick)) { connection in
                do {
                    let found = try connection.query(
                        """
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

/// Replicas that failed a moment ago, which reads pass over for the primary until they have
/// rested, so that each request does not wait on a replica that is down or hung.
final class ReplicaHealth: Sendable {
    static let shared = ReplicaHealth()
    /// How long a replica that failed is passed over.
    static let restPeriod: Duration = .seconds(15)

    private let failedAt = Mutex<[String: ContinuousClock.Instant]>([:])

    func isResting(_ replica: ConnectionConfiguration) -> Bool {
        failedAt.withLock { failedAt in failedAt[replica.connectionString].map { ContinuousClock.now < $0 + Self.restPeriod } ?? false }
    }

    func failed(_ replica: ConnectionConfiguration, _ error: PostgresError, logger: Logger) {
        let first = failedAt.withLock { failedAt in
            let resting = failedAt[replica.connectionString].map { ContinuousClock.now < $0 + Self.restPeriod } ?? false
            failedAt[replica.connectionString] = .now
            return !resting
        }
        if first {
            logger.warning(
                "the read replica cannot be reached or did not answer; reading from the primary for a while", metadata: ["error": "\(error)"])
        }
    }
}
