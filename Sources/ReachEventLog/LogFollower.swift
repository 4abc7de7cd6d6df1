import Logging
import ReachPostgres

/// The one way to follow the live log: a connection that listens for the append functions'
/// `NOTIFY` (``EventStore/channel``), a round of work each time the log may have moved, a look
/// anyway every poll interval in case a notification was missed, and, when the database goes
/// away, new connections after a back-off that doubles up to five seconds.
///
/// ``EventStore/follow(after:batchSize:pollInterval:_:)`` (events handed to a consumer) and the
/// projection runner (projections kept up to date) each follow the log through it.
///
/// It blocks on libpq between rounds: run it in a task whose executor is a thread of its own
/// (``onThreadOfItsOwn(name:async:)``), never on the cooperative pool.
public struct LogFollower: Sendable {
    /// The login to listen with.
    public let configuration: ConnectionConfiguration
    /// How long to wait for a notification before looking at the log anyway.
    public let pollInterval: Duration
    let logger: Logger

    public init(configuration: ConnectionConfiguration, pollInterval: Duration, logger: Logger) {
        self.configuration = configuration
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Runs rounds until the task is cancelled or `shouldStop` says so. Each round is given the
    /// listening connection and returns how long to wait for a notification at most before the
    /// next (nil: the poll interval). A connection found gone (``PostgresError/meansUnavailable``)
    /// calls `lost`, so that the round's own connections are dropped too, and the rounds go on
    /// on a new listener after the back-off; any other error ends the following.
    public func follow(
        shouldStop: () -> Bool = { false }, lost: () -> Void = {}, setUp: (Connection) throws -> Void = { _ in },
        round: (_ listener: Connection) async throws -> Duration?
    ) async throws {
        var listener: Connection?
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled && !shouldStop() {
            do {
                if listener == nil {
                    let connection = try Connection(configuration: configuration, logger: logger)
                    try connection.listen(EventStore.channel)
                    try setUp(connection)
                    listener = connection
                }
                guard let listener else { continue }
                let wait = try await round(listener)
                backoff = .milliseconds(100)
                if Task.isCancelled || shouldStop() { break }
                _ = try listener.waitForNotifications(timeout: wait ?? pollInterval)
            } catch let error as PostgresError where error.meansUnavailable {
                logger.warning("lost the database connection while following the log; reconnecting", metadata: ["error": "\(error)"])
                listener = nil
                lost()
                do { try await Task.sleep(for: backoff) } catch { break }
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
