import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres

/// Loads a demo data set through the bulk path, in transactions of `chunkSize` events.
public struct DemoLoader: Sendable {
    public var generator: DemoGenerator
    public var chunkSize: Int

    public init(generator: DemoGenerator, chunkSize: Int = 50_000) {
        self.generator = generator
        self.chunkSize = chunkSize
    }

    /// What was loaded.
    public struct Summary: Sendable {
        public var byType: [String: Int] = [:]
        public var appended = 0
        public var alreadyPresent = 0
        public var total: Int { appended + alreadyPresent }
    }

    /// The `source` the demo's events carry in their metadata.
    public var source: String { "demo:\(generator.seed)" }

    /// Refuses to mix the demo into a log that holds other events.
    public func checkTarget(on connection: Connection) throws {
        let (hasEvents, hasDemo) = try EventLog.holdsEvents(fromSource: source, on: connection)
        if hasEvents && !hasDemo {
            throw Refusals([
                Refusal(
                    "database",
                    "already holds events that are not this demo's (seed \(generator.seed)); load the demo into an empty database, for example with REACH_DATA_DIR set to a new folder"
                )
            ])
        }
    }

    /// Generates and appends the data set; `progress` is told how many events are done.
    public func load(on connection: Connection, progress: (Int) -> Void = { _ in }) throws -> Summary {
        var summary = Summary()
        var pending: [DemoRecord] = []
        pending.reserveCapacity(chunkSize)
        try connection.withChunkedTransactions { nextTransaction in
            func flush() throws {
                guard !pending.isEmpty else { return }
                let events = pending.map { record in
                    NewEvent(
                        id: EventLog.recordEventID(record.id), streamID: record.streamID, type: record.type,
                        schemaVersion: RecordType.all[record.type]?.schemaVersion ?? 1, data: record.data,
                        metadata: EventMetadata(actor: "demo", correlationID: record.id, source: source),
                        occurredOn: record.occurredOn, authorityID: record.authorityID)
                }
                // Each chunk is a transaction of its own, committed when the next chunk is ready
                // (or at the end): the server loads one chunk while this process makes the next.
                try nextTransaction()
                let result = try EventLog.appendBulk(events, on: connection)
                summary.appended += result.appended
                summary.alreadyPresent += result.alreadyPresent
                pending.removeAll(keepingCapacity: true)
                progress(summary.total)
            }
            try generator.generate { record in
                summary.byType[record.type, default: 0] += 1
                pending.append(record)
                if pending.count >= chunkSize { try flush() }
            }
            try flush()
        }
        return summary
    }
}
