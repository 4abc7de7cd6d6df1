import Foundation
import Logging
import ReachEventLog
import ReachPostgres
import Synchronization

/// Keeps projections up to date with the live log: catches each up from its checkpoint, then
/// follows the log (woken by the log's notifications, and polling as well), until told to stop.
///
/// Each projection gets its own connection, which holds the projection's runner lock for as
/// long as the runner runs it; a projection whose lock another process holds is left to that
/// process, and taken over if that process goes away. A projection that stops on an event it
/// cannot apply stays stopped in this run (its failure is in `reach projections status`); a
/// new run tries it again, so a fixed projection resumes from where it stopped.
public final class ProjectionRunner: Sendable {
    let engine: ProjectionEngine
    let configuration: ConnectionConfiguration
    public let logger: Logger
    private let stopped = Atomic<Bool>(false)

    /// How long to wait for a notification before looking at the log anyway.
    public let pollInterval: Duration

    public init(engine: ProjectionEngine, configuration: ConnectionConfiguration, logger: Logger, pollInterval: Duration = .milliseconds(250)) {
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
        self.pollInterval = pollInterval
    }

    /// Asks `run` to return after the batch in flight.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    public var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Runs until ``stop()``, or until `shouldStop` says so; `onProgress` is told after each
    /// round that applied events.
    public func run(shouldStop: () -> Bool = { false }, onProgress: (String, ProjectionEngine.Progress) -> Void = { _, _ in }) throws {
        var connections: [String: Connection] = [:]
        var held = Set<String>()
        var failed = Set<String>()
        var listener: Connection?
        defer {
            for (name, connection) in connections where held.contains(name) {
                if let projection = Projection.named(name) { try? engine.unlock(projection, on: connection) }
            }
        }
        var backoff = Duration.milliseconds(200)
        while !isStopped && !shouldStop() {
            do {
                if listener == nil {
                    let connection = try Connection(configuration: configuration, logger: logger)
                    try connection.listen("reach_events")
                    listener = connection
                    try engine.install(on: connection)
                }
                guard let listener else { continue }
                guard let horizon = try LogHorizon.settledPosition(maxWaitMilliseconds: 200, on: listener) else { continue }
                for projection in engine.projections where !failed.contains(projection.name) && !isStopped && !shouldStop() {
                    if connections[projection.name] == nil {
                        connections[projection.name] = try Connection(configuration: configuration, logger: logger)
                    }
                    let connection = connections[projection.name]!
                    if !held.contains(projection.name) {
                        guard try engine.tryLock(projection, on: connection) else { continue }
                        held.insert(projection.name)
                        logger.info("running projection", metadata: ["projection.name": "\(projection.name)"])
                    }
                    let progress = try engine.catchUp(projection, to: horizon, on: connection, shouldStop: { self.isStopped || shouldStop() })
                    if progress.failure != nil { failed.insert(projection.name) }
                    if progress.events > 0 || progress.failure != nil { onProgress(projection.name, progress) }
                }
                backoff = .milliseconds(200)
                _ = try listener.waitForNotifications(timeout: pollInterval)
            } catch let error as PostgresError where error.meansUnavailable {
                // Start again with new connections; locks went with the old ones.
                logger.warning("lost the database connection; reconnecting", metadata: ["error": "\(error)"])
                connections.removeAll()
                held.removeAll()
                listener = nil
                Thread.sleep(forTimeInterval: Double(backoff.components.seconds) + Double(backoff.components.attoseconds) / 1e18)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}

extension ProjectionEngine {
    /// Brings every projection up to at least `position` (by default the log's settled
    /// position now): applies it here where no runner holds its lock, and otherwise waits for
    /// the runner, up to `timeout`. Returns the projections that are still behind or stopped.
    ///
    /// `reach metrics` calls it so that a figure reflects what was just recorded.
    public func waitUntilCaughtUp(to position: Int64? = nil, timeout: Duration = .seconds(10), on connection: Connection) throws -> [String] {
        try install(on: connection)
        guard let target = try position ?? LogHorizon.settledPosition(maxWaitMilliseconds: 2_000, on: connection) else {
            return projections.map(\.name)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var pending = projections
        var stopped: [String] = []
        while true {
            var stillBehind: [Projection] = []
            for projection in pending {
                if try tryLock(projection, on: connection) {
                    defer { try? unlock(projection, on: connection) }
                    let progress = try catchUp(projection, to: target, on: connection)
                    if progress.failure != nil {
                        stopped.append(projection.name)
                    } else if progress.checkpoint < target {
                        stillBehind.append(projection)
                    }
                } else if try checkpoint(of: projection, on: connection) < target {
                    stillBehind.append(projection)
                }
            }
            pending = stillBehind
            if pending.isEmpty || clock.now >= deadline { return stopped + pending.map(\.name) }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
