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

    /// Runs until ``stop()``, until `shouldStop` says so, or until its task is cancelled;
    /// `onProgress` is told after each round that applied events. It follows the log through a
    /// ``LogFollower`` and blocks on libpq: run it in a task whose executor is a thread of its
    /// own (``onThreadOfItsOwn(name:async:)``).
    public func run(shouldStop: () -> Bool = { false }, onProgress: (String, ProjectionEngine.Progress) -> Void = { _, _ in }) async throws {
        var connections: [String: Connection] = [:]
        var held = Set<String>()
        var failed = Set<String>()
        defer {
            for (name, connection) in connections where held.contains(name) {
                if let projection = Projection.named(name) { try? engine.unlock(projection, on: connection) }
            }
        }
        let follower = LogFollower(configuration: configuration, pollInterval: pollInterval, logger: logger)
        try await follower.follow(
            shouldStop: { isStopped || shouldStop() },
            // Start again with new connections; locks went with the old ones.
            lost: {
                connections.removeAll()
                held.removeAll()
            },
            setUp: { try engine.install(on: $0) },
            round: { listener in
                // Appends still in flight: look again at once.
                guard let horizon = try LogHorizon.settledPosition(maxWaitMilliseconds: 200, on: listener) else { return .zero }
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
                return nil
            })
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
        // Told of each checkpoint another runner commits, rather than asking again and again.
        try connection.listen(Self.checkpointChannel)
        defer { try? connection.unlisten(Self.checkpointChannel) }
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
            // Until another runner moves a checkpoint (or, should the lock's holder have gone,
            // a moment, to take the lock over), and never past the deadline.
            _ = try connection.waitForNotifications(timeout: min(.milliseconds(500), deadline - clock.now))
        }
    }
}
