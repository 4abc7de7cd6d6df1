import Foundation
import Logging
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ReachProjections
import ServiceLifecycle

extension ReachApplication {
    // MARK: The read side

    /// Each projection's checkpoint, lag, state (running only while a runner holds its lock)
    /// and last error.
    public func projectionStatus(as identity: Identity) async throws -> [ProjectionEngine.Status] {
        try Access.checkMayOperate(.projectionsStatus, for: identity)
        let logger = logger
        return try await database.withConnection(.owner) { connection in
            let engine = ProjectionEngine(logger: logger)
            try engine.install(on: connection)
            return try engine.status(on: connection)
        }
    }

    /// Rebuilds projections into fresh tables while the current ones keep answering, then
    /// swaps them in; `onRebuilt` is told of each with its seconds.
    public func rebuildProjections(
        _ projections: [Projection], workers: Int, as identity: Identity,
        onRebuilt: @escaping @Sendable (Projection, Double) -> Void = { _, _ in }
    ) async throws {
        try Access.checkMayOperate(.projectionsRebuild, for: identity)
        let engine = ProjectionEngine(logger: logger)
        try await database.withConnection(.owner) { connection in try engine.install(on: connection) }
        try await engine.rebuild(projections, workers: workers, configuration: target.owner, onDone: onRebuilt)
    }

    /// The projection runner as a service: it catches every projection up and follows the log
    /// until the service group is told to stop (SIGINT or SIGTERM), then finishes the batch in
    /// flight and gives its locks back.
    public func projectionRunner(as identity: Identity, onProgress: @escaping @Sendable (String, ProjectionEngine.Progress) -> Void = { _, _ in })
        throws -> ProjectionRunnerService
    {
        try Access.checkMayOperate(.projectionsRun, for: identity)
        let (database, disclosure, logger) = (database, disclosure, logger)
        return ProjectionRunnerService(
            runner: ProjectionRunner(engine: ProjectionEngine(logger: logger), configuration: database.target.owner, logger: logger),
            onProgress: onProgress,
            publish: {
                // Every authority, one at a time (the oldest publication first, so that one
                // recorded to without pause does not keep the others waiting), each left to
                // another process that is publishing it; the connections to compute on are
                // opened only when something is to be published.
                var readers: [Connection]?
                defer { readers.map(database.give) }
                return try !Self.publishStale(
                    all: false, every: true, limit: 1, skipBusy: true, database,
                    readers: {
                        if readers == nil { readers = try Self.figureReaders(database, refresh: false, disclosure: disclosure).0 }
                        return readers!
                    }, disclosure: disclosure
                ).isEmpty
            })
    }

    /// Whether the service can answer: the database answers as the application's login and
    /// every migration this build knows is applied. Returns the log's last position; throws
    /// ``RequestError`` naming what is missing.
    public func readiness() async throws -> (lastPosition: Int64, projectionLag: Int64) {
        let logger = logger
        // A connection of its own, which waits for an answer no longer than the check may.
        return try await database.withConnection(.unpooled(target.owner.answering(within: readinessTimeout))) { connection in
            let applied = Set(try Migrator.applied(on: connection))
            let pending = try Schema.migrator(logger: logger).migrations.map(\.name).filter { !applied.contains($0) }
            guard pending.isEmpty else { throw RequestError("migrations not applied: \(pending.joined(separator: ", "))") }
            let last = try EventLog.lastPosition(on: connection)
            let slowest = try ProjectionEngine.commonCheckpoint(on: connection)
            return (last, max(0, last - slowest))
        }
    }

    // MARK: The log

    /// One stream's events in version order, after `afterVersion`.
    public func readStream(_ streamID: String, afterVersion: Int64, limit: Int, as identity: Identity) async throws -> [RecordedEvent] {
        try Access.checkMayOperate(.eventsRead, for: identity)
        return try await database.withConnection(.application) { connection in
            try EventLog.readStream(streamID, afterVersion: afterVersion, limit: limit, on: connection)
        }
    }

    /// The whole log from after `position`, in position order, to its settled end: `consume`
    /// gets batches, and may throw to stop early.
    public func readLog(after position: Int64, limit: Int, as identity: Identity, _ consume: @escaping @Sendable ([RecordedEvent]) throws -> Void)
        async throws
    {
        try Access.checkMayOperate(.eventsRead, for: identity)
        try await database.withConnection(.application) { connection, cancellation in
            var reader = LogReader(after: position)
            var remaining = limit
            while remaining > 0 && !cancellation.isCancelled {
                let events = try reader.next(limit: min(5000, remaining), on: connection)
                if events.isEmpty { break }
                try consume(events)
                remaining -= events.count
            }
        }
    }

    /// Follows the whole log from after `position`, handing every committed event to `consume`
    /// exactly once, in position order, until the task is cancelled or `consume` throws.
    public func followLog(after position: Int64, as identity: Identity, _ consume: ([RecordedEvent]) async throws -> Void) async throws {
        try Access.checkMayOperate(.eventsRead, for: identity)
        let client = PostgresClient(configuration: target.application, maximumConnections: 1, logger: logger)
        let store = EventStore(client: client, logger: logger)
        do {
            try await store.follow(after: position, consume)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    /// Appends one raw event (for operators; records go through ``record(_:source:as:)``).
    public func appendEvent(_ event: NewEvent, expecting version: ExpectedVersion, as identity: Identity) async throws -> AppendResult {
        try Access.checkMayOperate(.eventsAppend, for: identity)
        return try await database.withConnection(.application) { connection in
            try EventLog.append([event], expecting: [event.streamID: version], on: connection)[0]
        }
    }

    /// Recomputes every stream's hash chain and reports the first broken event, if any.
    public func verifyLog(as identity: Identity) async throws -> VerifyReport {
        try await verifyLog(seal: nil, as: identity)
    }

    /// Verifies the log and, with a seal (its file's text), that everything the seal covers is
    /// still there as it was; `publicKey` (hex), when given, must be the key that signed it.
    public func verifyLog(seal: String?, publicKey: String? = nil, as identity: Identity) async throws -> VerifyReport {
        try Access.checkMayOperate(.eventsVerify, for: identity)
        let parsed = try seal.map(Seal.init(fileText:))
        return try await database.withConnection(.application) { connection in
            if let parsed { return try EventLog.verify(against: parsed, publicKey: publicKey, on: connection) }
            return try EventLog.verify(on: connection)
        }
    }

    /// Seals the log up to its settled position (every event's position and hash, by blocks,
    /// and every stream's head; waiting up to `maxWait` for appends in flight), signed with the Ed25519 key in
    /// the file at `keyPath` (made, readable by its owner only, when there is none). Keep the
    /// key and the seals away from the database's server. Returns the seal and whether the key
    /// was made now.
    public func sealLog(keyPath: String, maxWait: Duration = .seconds(300), as identity: Identity) async throws -> (seal: Seal, newKey: Bool) {
        try Access.checkMayOperate(.eventsSeal, for: identity)
        return try await database.withConnection(.application) { connection in
            var newKey = false
            let key: [UInt8]
            if FileManager.default.fileExists(atPath: keyPath) {
                let text = try String(contentsOfFile: keyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard let bytes = Hex.decode(text.utf8), bytes.count == 32 else {
                    throw RequestError("\(keyPath) is not a key made when sealing the log (64 hex digits)")
                }
                key = bytes
            } else {
                key = try Ed25519.newPrivateKey()
                try PrivateFile.write(Hex.encode(key) + "\n", to: keyPath)
                newKey = true
            }
            return (try EventLog.seal(privateKey: key, maxWait: maxWait, on: connection), newKey)
        }
    }

    /// Loads the synthetic demo data set (deterministic per seed); `progress` is told how many
    /// events are done. A database with other data is refused.
    public func loadDemo(seed: UInt64, events: Int, as identity: Identity, progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws
        -> DemoLoader.Summary
    {
        try Access.checkMayOperate(.loadDemo, for: identity)
        let summary = try await database.withConnection(.application) { connection in
            let loader = DemoLoader(generator: DemoGenerator(seed: seed, events: events))
            try loader.checkTarget(on: connection)
            return try loader.load(on: connection, progress: progress)
        }
        await publishAfterWriting()
        return summary
    }
}

/// The projection runner as a `Service` of swift-service-lifecycle: `run()` returns after a
/// graceful shutdown (SIGTERM, SIGINT) once the batch in flight is done. The runner's loop
/// blocks on libpq, so it runs in a task whose executor is a thread of its own, and the
/// shutdown reaches it through its stop flag; the publisher waits between rounds with
/// `Task.sleep`, and is cancelled when the runner returns.
public struct ProjectionRunnerService: Service {
    let runner: ProjectionRunner
    let onProgress: @Sendable (String, ProjectionEngine.Progress) -> Void
    /// Publishes one authority's summaries that the log has moved past (see
    /// ``ReachApplication/publishSummaries(all:every:among:as:)``), saying whether there was one; called
    /// again at once while there are, and every ``publishInterval`` when there are none.
    let publish: (@Sendable () throws -> Bool)?
    public var publishInterval: Duration = .milliseconds(500)

    public init(
        runner: ProjectionRunner, onProgress: @escaping @Sendable (String, ProjectionEngine.Progress) -> Void = { _, _ in },
        publish: (@Sendable () throws -> Bool)? = nil
    ) {
        self.runner = runner
        self.onProgress = onProgress
        self.publish = publish
    }

    public func run() async throws {
        let (runner, onProgress, publish, interval) = (runner, onProgress, publish, publishInterval)
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await onThreadOfItsOwn(name: "reach.projections", async: { try await runner.run(onProgress: onProgress) })
                }
                if let publish {
                    group.addTask {
                        while !Task.isCancelled && !runner.isStopped {
                            do {
                                if try await blocking({ try publish() }) { continue }
                            } catch {
                                runner.logger.warning(
                                    "could not publish the authorities' summaries; trying again", metadata: ["error": "\(error)"])
                            }
                            try? await Task.sleep(for: interval)
                        }
                    }
                }
                // The runner returning (stopped) ends the publisher too.
                try await group.next()
                runner.stop()
                group.cancelAll()
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            runner.stop()
        }
    }
}
