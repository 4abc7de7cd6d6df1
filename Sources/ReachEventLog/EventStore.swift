import Logging
import ReachPostgres

/// The event log for async code: a pool of connections, each on its own thread.
///
/// ```swift
/// let store = EventStore(client: PostgresClient(configuration: configuration))
/// let results = try await store.append(
///     [NewEvent(streamID: "school-LA01-0001", type: "school_registered", data: #"{"name":"Example"}"#)],
///     expecting: ["school-LA01-0001": .noStream])
/// try await store.follow(after: 0) { events in for event in events { print(event.jsonLine) } }
/// ```
public struct EventStore: Sendable {
    /// The pool the store uses.
    public let client: PostgresClient
    private let logger: Logger

    /// The channel appends notify on.
    public static let channel = "reach_events"

    public init(client: PostgresClient, logger: Logger = Logger(label: "reach.eventlog")) {
        self.client = client
        self.logger = logger
    }

    /// See ``EventLog/append(_:expecting:on:)``.
    public func append(_ events: [NewEvent], expecting: [String: ExpectedVersion] = [:]) async throws -> [AppendResult] {
        try await client.withConnection { try EventLog.append(events, expecting: expecting, on: $0) }
    }

    /// Appends one event to its stream, checking the stream's version.
    public func append(_ event: NewEvent, expecting version: ExpectedVersion) async throws -> AppendResult {
        try await append([event], expecting: [event.streamID: version])[0]
    }

    /// See ``EventLog/appendBulk(_:chunkSize:on:)``; runs in one transaction, all or nothing.
    public func appendBulk(_ events: [NewEvent]) async throws -> EventLog.BulkSummary {
        try await client.withTransaction { try EventLog.appendBulk(events, on: $0) }
    }

    /// See ``EventLog/readStream(_:afterVersion:limit:on:)``.
    public func readStream(_ streamID: String, afterVersion: Int64 = 0, limit: Int = 1000) async throws -> [RecordedEvent] {
        try await client.withConnection { try EventLog.readStream(streamID, afterVersion: afterVersion, limit: limit, on: $0) }
    }

    /// Reads the next batch of the whole log after `reader`'s checkpoint, advancing it.
    public func read(_ reader: inout LogReader, limit: Int = 5_000) async throws -> [RecordedEvent] {
        let start = reader
        let (events, advanced) = try await client.withConnection { connection in
            var copy = start
            let events = try copy.next(limit: limit, on: connection)
            return (events, copy)
        }
        reader = advanced
        return events
    }

    /// See ``EventLog/verify(on:)``.
    public func verify() async throws -> VerifyReport {
        try await client.withConnection { try EventLog.verify(on: $0) }
    }

    /// Follows the whole log from after `position`: hands every committed event to `consume`
    /// exactly once, in position order, in batches, until the task is cancelled or `consume`
    /// throws.
    ///
    /// It catches up by reading in batches, then waits on a dedicated connection that listens
    /// for the append function's `NOTIFY`, polling every `pollInterval` as well in case a
    /// notification is missed. If a connection is lost it reconnects (with back-off) and resumes
    /// from the last event it handed over. Returns the last position handed over.
    @discardableResult
    public func follow(
        after position: Int64, batchSize: Int = 5_000, pollInterval: Duration = .milliseconds(500),
        _ consume: ([RecordedEvent]) async throws -> Void
    ) async throws -> Int64 {
        // The follower's own jobs run on a thread of its own: a cooperative pool busy with
        // other work (two threads on two cores) cannot stall it.
        try await onThreadOfItsOwn(
            name: "reach.follower",
            async: {
                try await followOnThisTask(after: position, batchSize: batchSize, pollInterval: pollInterval, consume)
            })
    }

    private func followOnThisTask(
        after position: Int64, batchSize: Int, pollInterval: Duration, _ consume: ([RecordedEvent]) async throws -> Void
    ) async throws -> Int64 {
        var reader = LogReader(after: position)
        var reading: Connection?
        let follower = LogFollower(configuration: client.configuration, pollInterval: pollInterval, logger: logger)
        do {
            try await follower.follow(
                lost: { reading = nil },
                round: { _ in
                    let connection = try reading ?? Connection(configuration: client.configuration, logger: logger)
                    reading = connection
                    // Catch up, handing each batch over before the reader moves past it.
                    var delivered = false
                    while !Task.isCancelled {
                        var next = reader
                        let events = try next.next(limit: batchSize, maxWaitMilliseconds: 50, on: connection)
                        if !events.isEmpty {
                            try await consume(events)
                            delivered = true
                        }
                        reader = next
                        if events.count < batchSize { break }
                    }
                    // Appenders notify at most every 20 ms per session, so after events arrived
                    // look again soon regardless.
                    return delivered ? min(pollInterval, .milliseconds(50)) : nil
                })
        } catch {
            // Cancelled: what was handed over stands.
            if !Task.isCancelled { throw error }
        }
        return reader.checkpoint
    }
}
