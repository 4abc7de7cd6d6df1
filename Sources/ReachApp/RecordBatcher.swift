import Foundation
import Logging
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres
import ServiceLifecycle
import Synchronization

/// Records sent to a service at the same moment, checked and appended together: a service of
/// the service group takes every request waiting, checks each account's records as the lines
/// of one file are checked (``RecordWriter/record(_:on:)-([(line:Int,envelope:Recorder.Envelope)],_)``) and appends them in one transaction,
/// then answers each request with its own results. A record is answered only once its
/// transaction has committed. Anything unexpected rolls the batch back, and each request then
/// records alone (``ReachApplication/record(_:source:as:)`` without the batcher), so a batch
/// never changes an outcome, only the number of round trips and commits behind it; so does a
/// request made while the batcher is not running (before it starts, or after it stopped). A
/// database that cannot be reached, or does not answer in time, fails the batch and every
/// request waiting behind it.
///
/// Requests wait in a queue; each one sent wakes the service through an `AsyncStream`, and the
/// service takes everything waiting at once. It stops on the service group's graceful
/// shutdown (the stream ends) or when its task is cancelled.
public final class RecordBatcher: Service, Sendable {
    struct Request: Sendable {
        var identity: Identity
        var source: String
        var documents: [(line: Int, envelope: Result<Recorder.Envelope, Refusals>)]
        var answer: @Sendable (Result<[RecordResult]?, any Error>) -> Void
    }

    private struct State {
        var waiting: [Request] = []
        var running = false
    }

    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// Where batches are appended: the application's login, on a connection of the batcher's
    /// own (each account's request settings are set on it per batch).
    let database: DatabaseClient
    let logger: Logger
    /// The most records one batch takes.
    public let maximumRecords: Int

    public init(database: DatabaseClient, logger: Logger, maximumRecords: Int = 500) {
        self.database = database
        self.logger = logger
        self.maximumRecords = max(1, maximumRecords)
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a request's records; nil comes back when the request should record alone (the
    /// batch failed, or the batcher is not running).
    func submit(_ documents: [(line: Int, envelope: Result<Recorder.Envelope, Refusals>)], source: String, as identity: Identity) async throws
        -> [RecordResult]?
    {
        try await withCheckedThrowingContinuation { continuation in
            let request = Request(identity: identity, source: source, documents: documents) { continuation.resume(with: $0) }
            let queued = state.withLock { state in
                guard state.running else { return false }
                state.waiting.append(request)
                return true
            }
            if queued { wake.yield() } else { continuation.resume(returning: nil) }
        }
    }

    /// Records the requests waiting, batch after batch, until the graceful shutdown or
    /// cancellation; requests still waiting then record alone. Its connection blocks, so its
    /// task runs on a thread of its own.
    public func run() async throws {
        state.withLock { $0.running = true }
        defer {
            let left = state.withLock { state in
                state.running = false
                defer { state.waiting = [] }
                return state.waiting
            }
            for request in left { request.answer(.success(nil)) }
        }
        let wake = wake
        try await withGracefulShutdownHandler {
            try await onThreadOfItsOwn(
                name: "reach.records",
                async: {
                    var connection: Connection?
                    for await _ in wakeups {
                        while let batch = takeBatch() { connection = record(batch, on: connection) }
                    }
                })
        } onGracefulShutdown: {
            wake.finish()
        }
    }

    /// The requests waiting, up to ``maximumRecords`` records (at least one request).
    private func takeBatch() -> [Request]? {
        state.withLock { state in
            var batch: [Request] = []
            var records = 0
            while let next = state.waiting.first, batch.isEmpty || records + next.documents.count <= maximumRecords {
                batch.append(state.waiting.removeFirst())
                records += next.documents.count
            }
            return batch.isEmpty ? nil : batch
        }
    }

    /// Records one batch on the batcher's connection (a new one when there is none or it
    /// broke), answers its requests, and returns the connection to keep.
    private func record(_ batch: [Request], on kept: Connection?) -> Connection? {
        var connection = kept
        do {
            var reused = true
            if connection == nil || connection?.isHealthy == false {
                connection = try database.dedicated(.application)
                reused = false
            }
            let results: [[RecordResult]]
            do {
                results = try Self.record(batch, on: connection!)
            } catch let error as PostgresError where reused && error.code == .connection {
                // The connection kept from before was found gone (the server restarted, or
                // failed over, since): once more on a new one. Records are kept by their ids,
                // so a batch that did commit before the loss is not recorded twice.
                connection = try database.dedicated(.application)
                results = try Self.record(batch, on: connection!)
            }
            for (request, answer) in zip(batch, results) { request.answer(.success(answer)) }
        } catch let error as PostgresError where error.code == .connection || error.code == .noAnswer {
            // The database cannot be reached, or did not answer in time: neither this batch nor
            // the requests waiting behind it can record now. Each is told at once (a service
            // answers 503, and a record sent again with its id is recorded once), rather than
            // each waiting its turn for the same answer.
            let behind = state.withLock { state in
                defer { state.waiting = [] }
                return state.waiting
            }
            for request in batch + behind { request.answer(.failure(error)) }
            return nil
        } catch {
            connection?.abandonTransaction()
            if connection?.isHealthy == false { connection = nil }
            logger.debug("a batch of records went back to recording one request at a time", metadata: ["error.type": "\(type(of: error))"])
            for request in batch { request.answer(.success(nil)) }
        }
        return connection
    }

    /// One batch, in one transaction: each account's records checked together and appended in
    /// one statement, under that account's request settings (which the log's checks read).
    static func record(_ batch: [Request], on connection: Connection) throws -> [[RecordResult]] {
        var results = batch.map { request in [RecordResult?](repeating: nil, count: request.documents.count) }
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (index, request) in batch.enumerated() {
            let key = [
                request.identity.name, request.identity.role.rawValue, request.identity.authorities.sorted().joined(separator: ","), request.source,
            ]
            .joined(separator: "\u{1F}")
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(index)
        }
        try connection.withTransaction { connection in
            for key in order {
                let members = groups[key]!
                let identity = batch[members[0]].identity
                _ = try connection.query(
                    """
                    SELECT set_config('reach.actor', $1, true), set_config('reach.request_role', $2, true), set_config('reach.authorities', $3, true)
                    """, [identity.name, identity.role.rawValue, identity.authorities.sorted().joined(separator: ",")])
                let recorder = Recorder(actor: identity.name, source: batch[members[0]].source, rule: Access.recordingRule(for: identity))
                var envelopes: [(line: Int, envelope: Recorder.Envelope)] = []
                var places: [(request: Int, document: Int, id: String)] = []
                for request in members {
                    for (number, document) in batch[request].documents.enumerated() {
                        switch document.envelope {
                        case .failure(let refusals):
                            results[request][number] = RecordResult(line: document.line, id: nil, outcome: .refused(refusals.all))
                        case .success(let envelope):
                            envelopes.append((document.line, envelope))
                            places.append((request, number, envelope.id))
                        }
                    }
                }
                let outcomes = try RecordWriter(recorder: recorder).record(envelopes, on: connection)
                for (place, outcome) in zip(places, outcomes) {
                    results[place.request][place.document] = RecordResult(
                        line: batch[place.request].documents[place.document].line, id: place.id, outcome: outcome)
                }
            }
        }
        return results.map { $0.map { $0! } }
    }
}
