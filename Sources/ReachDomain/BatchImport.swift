import Foundation
import ReachEventLog
import ReachPostgres

extension Importer {
    /// Whether every row can go through the batch path: rows whose checks need no more than
    /// the log as it was before the file, the file's own earlier rows and set-based queries.
    /// Corrections, withdrawals and safety-plan actions go row by row.
    public static func fitsBatch(_ rows: [Row]) -> Bool {
        rows.allSatisfy { row in
            guard case .success(let envelope) = row.envelope else { return true }
            return !["event_corrected", "event_withdrawn", "action_completed", "action_rescheduled", "action_cancelled"].contains(envelope.type.name)
        }
    }

    /// The batch path: every row is checked in this process, the log is asked about ids,
    /// references and stream states in a few set-based queries, and the rows that pass are
    /// appended through the bulk (COPY) path in one transaction. Same rules and outcomes as
    /// recording the rows one by one, in file order. Runs inside the import's transaction.
    func runBatch(_ rows: [Row], into summary: inout Summary, on connection: Connection) throws {
        struct Candidate: Sendable {
            var row: Row
            var envelope: Recorder.Envelope
            var checked: CheckedRecord
            var data: String
            var eventID = UUID()
        }
        summary.read += rows.count
        var refusals: [Int: [Refusal]] = [:]
        var candidates: [Candidate] = []
        candidates.reserveCapacity(rows.count)

        // 1. Each row's own data: the checks need nothing but the row, so they run on every core.
        let today = recorder.today
        let outcomes = rows.concurrentMap { row -> Result<Candidate, Refusals> in
            switch row.envelope {
            case .failure(let found): return .failure(found)
            case .success(let envelope):
                return envelope.type.checkFields(envelope.data, id: envelope.id, today: today).map { checked in
                    Candidate(row: row, envelope: envelope, checked: checked, data: JSONValue.object(envelope.data).jsonbText)
                }
            }
        }
        for (row, outcome) in zip(rows, outcomes) {
            switch outcome {
            case .success(let candidate): candidates.append(candidate)
            case .failure(let found): refusals[row.line] = found.all
            }
        }

        // 2. Event ids, and what the log already holds under them.
        var alreadyPresent = Set<Int>()
        var seenIDs: [String: (line: Int, data: String, type: String)] = [:]
        for start in stride(from: 0, to: candidates.count, by: 50_000) {
            let slice = start..<min(start + 50_000, candidates.count)
            for index in slice { candidates[index].eventID = EventLog.recordEventID(candidates[index].envelope.id) }
            // Ids first (usually none is in the log), then the content of those that are.
            let present = try connection.query("""
                SELECT i.n FROM unnest($1::uuid[]) WITH ORDINALITY AS i(id, n) JOIN reach.events e ON e.event_id = i.id
                """, [PostgresArray(candidates[slice].map(\.eventID))]
            ).mapRows { try $0.decode(0, as: Int.self) }
            let existing = present.isEmpty ? [] : try connection.query("""
                SELECT i.n, e.event_type = i.t AND e.data = i.d
                FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int8[]) AS i(id, t, d, n)
                JOIN reach.events e ON e.event_id = i.id
                """, [PostgresArray(present.map { candidates[slice.lowerBound + $0 - 1].eventID }),
                      PostgresArray(present.map { candidates[slice.lowerBound + $0 - 1].envelope.type.name }),
                      PostgresArray(present.map { PostgresJSONB(candidates[slice.lowerBound + $0 - 1].data) }),
                      PostgresArray(present.map { Int64($0) })]
            ).mapRows { (try $0.decode(0, as: Int.self), try $0.decode(1, as: Bool.self)) }
            for (n, same) in existing {
                let candidate = candidates[slice.lowerBound + n - 1]
                if same { alreadyPresent.insert(candidate.row.line) } else {
                    refusals[candidate.row.line] = [Refusal("id", "'\(candidate.envelope.id)' was already used for a different record; give this record an id of its own")]
                }
            }
        }
        // The same id twice in the file: a repeat is already present, other data is refused.
        for candidate in candidates where refusals[candidate.row.line] == nil {
            if let first = seenIDs[candidate.envelope.id] {
                if first.data == candidate.data && first.type == candidate.envelope.type.name {
                    alreadyPresent.insert(candidate.row.line)
                } else {
                    refusals[candidate.row.line] = [Refusal("id", "'\(candidate.envelope.id)' is used on line \(first.line) for a different record")]
                }
            } else {
                seenIDs[candidate.envelope.id] = (candidate.row.line, candidate.data, candidate.envelope.type.name)
            }
        }
        // The rows still in the running, refreshed after each step that can refuse some.
        var live = candidates.filter { refusals[$0.row.line] == nil && !alreadyPresent.contains($0.row.line) }

        // 3. Registrations: new to the log, and once in the file.
        let registrations = live.filter { if case .register = $0.checked.rule { true } else { false } }
        let registered = Set(try connection.query("SELECT stream_id FROM reach.streams WHERE stream_id = ANY($1) AND version > 0",
                                                  [PostgresArray(registrations.map(\.checked.streamID))]).mapRows { try $0.decode(0, as: String.self) })
        var fileOwners: [String: String?] = [:]
        for candidate in registrations {
            guard case .register(let what, let field) = candidate.checked.rule else { continue }
            if registered.contains(candidate.checked.streamID) || fileOwners[candidate.checked.streamID] != nil {
                refusals[candidate.row.line] = [StreamRule.alreadyRegistered(what, field: field)]
            } else {
                fileOwners[candidate.checked.streamID] = .some(candidate.checked.authorityID)
            }
        }
        live.removeAll { refusals[$0.row.line] != nil }

        // 4. References: in the log, or registered earlier in the file.
        let referenced = Set(live.flatMap { $0.checked.references.map(\.streamID) }).subtracting(fileOwners.keys)
        var owners: [String: String?] = fileOwners
        for (stream, owner) in try connection.query(
            "SELECT stream_id, data ->> 'la_id' FROM reach.events WHERE stream_id = ANY($1) AND version = 1",
            [PostgresArray(Array(referenced))]
        ).mapRows({ (try $0.decode(0, as: String.self), try $0.decodeIfPresent(1, as: String.self)) }) {
            owners[stream] = .some(owner)
        }
        for candidate in live {
            let found = candidate.checked.references.compactMap { $0.refusal(owners: owners) }
            if !found.isEmpty { refusals[candidate.row.line] = found }
        }
        live.removeAll { refusals[$0.row.line] != nil }

        // 5. Engagement stages move forward, from each stream's last stage, in file order.
        let stageRows = live.filter { if case .engagementStage = $0.checked.rule { true } else { false } }
        var current: [String: EngagementStage] = [:]
        for (stream, word) in try connection.query(StreamRule.engagementHeadSQL, [PostgresArray(Array(Set(stageRows.map(\.checked.streamID))))])
            .mapRows({ (try $0.decode(0, as: String.self), try $0.decodeIfPresent(2, as: String.self)) }) {
            current[stream] = word.flatMap(EngagementStage.init(rawValue:))
        }
        for candidate in stageRows {
            guard case .engagementStage(let stage) = candidate.checked.rule else { continue }
            let now = current[candidate.checked.streamID]
            if stage.mayFollow(now) {
                current[candidate.checked.streamID] = stage
            } else {
                refusals[candidate.row.line] = [StreamRule.stageGoesBack(from: now!, to: stage)]
            }
        }

        live.removeAll { refusals[$0.row.line] != nil }
        summary.alreadyPresent += alreadyPresent.count
        for row in rows { if let found = refusals[row.line] { summary.refuse(row, found) } }

        // 6. Append what passed, through the bulk path, in one transaction.
        let events = live.map { candidate in
            NewEvent(id: candidate.eventID, streamID: candidate.checked.streamID, type: candidate.envelope.type.name,
                     schemaVersion: candidate.envelope.type.schemaVersion, data: candidate.data,
                     metadata: EventMetadata(actor: recorder.actor, correlationID: candidate.envelope.id, source: recorder.source),
                     occurredOn: candidate.checked.occurredOn, authorityID: candidate.checked.authorityID)
        }
        // The rows that pass are appended even when others were refused: later chunks may
        // refer to them. The import's transaction decides at the end whether anything is kept.
        let appended = try EventLog.appendBulk(events, on: connection)
        summary.appended += appended.appended
        summary.alreadyPresent += appended.alreadyPresent
    }
}

extension Array where Element: Sendable {
    /// `map` on every core, for work that needs nothing but the element: the array is split
    /// into one contiguous part per core, and the results keep the elements' order.
    func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        let workers = Swift.min(ProcessInfo.processInfo.activeProcessorCount, Swift.max(1, count / 1_000))
        guard workers > 1 else { return map(transform) }
        let results = ConcurrentResults<T>(count: count)
        withoutActuallyEscaping(transform) { transform in
            let parts = UncheckedSendable(value: (self, transform))
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let (elements, transform) = parts.value
                let part = elements.count * worker / workers..<elements.count * (worker + 1) / workers
                for index in part { results.store(transform(elements[index]), at: index) }
            }
        }
        return results.take()
    }
}

/// A value handed to worker threads that only read it.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
}

/// Results written by worker threads, each to slots no other thread writes.
private final class ConcurrentResults<T>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<T>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
    }

    func store(_ value: T, at index: Int) { (slots + index).initialize(to: value) }

    /// The results, once every slot is stored.
    func take() -> [T] {
        let values = Array(UnsafeBufferPointer(start: slots, count: count))
        slots.deinitialize(count: count)
        return values
    }

    deinit { slots.deallocate() }
}
