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

    /// What the batch path keeps from chunk to chunk of one pass (one transaction): the bulk
    /// path's session, and the owners of registrations found in the log.
    final class BatchState {
        let session = EventLog.BulkSession()
        var owners: [String: String?] = [:]
    }

    /// Thrown by a pass that did not ask the log about ids when a row was refused for what the
    /// log holds: the import starts again, asking.
    struct AskTheLogFirst: Error {}

    /// A row of a batch chunk whose own checks passed: what the batch path needs of it (its
    /// event is beside it, in ``Checked/events``).
    struct Candidate: Sendable {
        var line: Int
        var recordID: String
        var checked: CheckedRecord
    }

    /// A chunk of rows read ahead of the one being appended, with each row's own checks done
    /// when the chunk goes through the batch path (nil when it goes row by row).
    struct Chunk: Sendable {
        var rows: [Row]
        var checked: Checked?
    }

    /// A batch chunk's rows after their own checks: those that passed, each with the event to
    /// append if it passes the log's checks too (its data as jsonb text, ready for the bulk
    /// path), and the refusals of the others by line.
    struct Checked: Sendable {
        var candidates: [Candidate] = []
        var events: [EventLog.PreparedEvent] = []
        var refusals: [Int: [Refusal]] = [:]
    }

    /// Reads the next chunk of rows and does the work each row needs alone: the checks that
    /// need nothing but the row, its data as jsonb text and its event id, on every core.
    func prepare(_ rows: [Row], mode: Mode) -> Chunk {
        guard mode == .automatic, Self.fitsBatch(rows) else { return Chunk(rows: rows, checked: nil) }
        let today = recorder.today
        var outcomes = rows.concurrentMap { row -> Result<(Candidate, EventLog.PreparedEvent), Refusals> in
            switch row.envelope {
            case .failure(let found): return .failure(found)
            case .success(let envelope):
                return envelope.type.checkFields(envelope.data, id: envelope.id, today: today).flatMap { checked in
                    recorder.permits(envelope.type, checked).map { .failure(Refusals([$0])) } ?? .success(checked)
                }.map { checked in
                    let data = JSONValue.object(envelope.data).jsonbBytes
                    let event = NewEvent(
                        id: EventLog.recordEventID(envelope.id), streamID: checked.streamID, type: envelope.type.name,
                        schemaVersion: envelope.type.schemaVersion, data: String(decoding: data.bytes, as: UTF8.self),
                        metadata: EventMetadata(actor: recorder.actor, correlationID: envelope.id, source: recorder.source),
                        occurredOn: checked.occurredOn, authorityID: checked.authorityID)
                    return (Candidate(line: row.line, recordID: envelope.id, checked: checked),
                            data.exact ? EventLog.PreparedEvent(jsonb: event) : EventLog.PreparedEvent(event))
                }
            }
        }
        // Taken from the end and put straight in their places, so that each row's values move
        // rather than being copied (a copy counts a reference to every string in it).
        var checked = Checked()
        let passed = outcomes.indices.count { if case .success = outcomes[$0] { true } else { false } }
        checked.events = Array(unsafeUninitializedCapacity: passed) { events, eventCount in
            checked.candidates = Array(unsafeUninitializedCapacity: passed) { candidates, candidateCount in
                var place = passed
                var index = rows.count
                while let outcome = outcomes.popLast() {
                    index -= 1
                    switch consume outcome {
                    case .success(let (candidate, event)):
                        place -= 1
                        (candidates.baseAddress! + place).initialize(to: candidate)
                        (events.baseAddress! + place).initialize(to: event)
                    case .failure(let found):
                        checked.refusals[rows[index].line] = found.all
                    }
                }
                candidateCount = passed
            }
            eventCount = passed
        }
        return Chunk(rows: rows, checked: checked)
    }

    /// The batch path: every row was checked in this process (``prepare(_:mode:)``), the log is
    /// asked about ids, references and stream states in a few set-based queries, and the rows
    /// that pass are appended through the bulk (COPY) path. Same rules and outcomes as
    /// recording the rows one by one, in file order. Runs inside the import's transaction,
    /// whose `state` the import finishes before it commits.
    func runBatch(_ rows: [Row], checked: consuming Checked, askLog: Bool, state: BatchState,
                  into summary: inout Summary, on connection: Connection) throws {
        summary.read += rows.count
        var refusals = checked.refusals
        var candidates = checked.candidates
        var events = checked.events
        _ = consume checked

        // 1. What the log already holds under the rows' event ids (unless this pass leaves
        // that to the log's unique index: see ``run(_:skipInvalid:mode:on:progress:)``).
        var alreadyPresent = Set<Int>()
        for start in stride(from: 0, to: askLog ? candidates.count : 0, by: 50_000) {
            let slice = start..<min(start + 50_000, candidates.count)
            // Ids first (usually none is in the log), then the content of those that are.
            let present = try EventLog.presentIDs(events[slice].map(\.event.id), on: connection).map { slice.lowerBound + $0 }
            let existing = try EventLog.sameContent(present.map { (events[$0].event.id, events[$0].event.type, events[$0].event.data) }, on: connection)
            for (index, same) in zip(present, existing) {
                if same { alreadyPresent.insert(candidates[index].line) } else {
                    refusals[candidates[index].line] = [Refusal("id", "'\(candidates[index].recordID)' was already used for a different record; give this record an id of its own")]
                }
            }
        }
        // The same id twice in the file: a repeat is already present, other data is refused.
        // (By event id: one per record id, and quicker to hash than the text.)
        var seenIDs: [UUID: Int] = [:]
        seenIDs.reserveCapacity(candidates.count)
        for index in candidates.indices where refusals.isEmpty || refusals[candidates[index].line] == nil {
            if let first = seenIDs[events[index].event.id] {
                if events[first].event.data == events[index].event.data && events[first].event.type == events[index].event.type {
                    alreadyPresent.insert(candidates[index].line)
                } else {
                    refusals[candidates[index].line] = [Refusal("id", "'\(candidates[index].recordID)' is used on line \(candidates[first].line) for a different record")]
                }
            } else {
                seenIDs[events[index].event.id] = index
            }
        }
        let refusedBeforeLog = refusals.count
        // The rows still in the running (as indices into `candidates`), refreshed after each
        // step that can refuse some.
        var live = refusals.isEmpty && alreadyPresent.isEmpty ? Array(candidates.indices)
            : candidates.indices.filter { refusals[candidates[$0].line] == nil && !alreadyPresent.contains(candidates[$0].line) }
        func dropRefused() {
            if !refusals.isEmpty { live.removeAll { refusals[candidates[$0].line] != nil } }
        }

        // 2. Registrations: new to the log, and once in the file.
        let registrations = live.filter { if case .register = candidates[$0].checked.rule { true } else { false } }
        let registered = try EventLog.existingStreams(registrations.map { candidates[$0].checked.streamID }, on: connection)
        var fileOwners: [String: String?] = [:]
        for index in registrations {
            let checked = candidates[index].checked
            guard case .register(let what, let field) = checked.rule else { continue }
            if registered.contains(checked.streamID) || fileOwners[checked.streamID] != nil {
                refusals[candidates[index].line] = [StreamRule.alreadyRegistered(what, field: field)]
            } else {
                fileOwners[checked.streamID] = .some(checked.authorityID)
            }
        }
        dropRefused()

        // 3. References: in the log, or registered earlier in the file. Rows share a few
        // pilots, schools and authorities: each reference is judged once per chunk.
        var distinct = Set<Reference>()
        for index in live { distinct.formUnion(candidates[index].checked.references) }
        var referenced = Set(distinct.map(\.streamID))
        referenced.subtract(fileOwners.keys)
        // A registration is never changed, so its owner, once found, is kept for later chunks.
        referenced.subtract(state.owners.keys)
        var owners: [String: String?] = fileOwners.merging(state.owners) { mine, _ in mine }
        for (stream, owner) in try Reference.owners(of: Array(referenced), on: connection) {
            owners[stream] = .some(owner)
            state.owners[stream] = .some(owner)
        }
        var verdicts: [Reference: Refusal] = [:]
        for reference in distinct { verdicts[reference] = reference.refusal(owners: owners) }
        if !verdicts.isEmpty {
            for index in live {
                let found = candidates[index].checked.references.compactMap { verdicts[$0] }
                if !found.isEmpty { refusals[candidates[index].line] = found }
            }
        }
        dropRefused()

        // 4. Engagement stages move forward, from each stream's last stage, in file order.
        let stageRows = live.filter { if case .engagementStage = candidates[$0].checked.rule { true } else { false } }
        var current: [String: EngagementStage] = [:]
        for (stream, head) in stageRows.isEmpty ? [:] : try StreamRule.engagementHeads(
            Array(Set(stageRows.map { candidates[$0].checked.streamID })), on: connection) {
            current[stream] = head.stage
        }
        for index in stageRows {
            let checked = candidates[index].checked
            guard case .engagementStage(let stage) = checked.rule else { continue }
            let now = current[checked.streamID]
            if stage.mayFollow(now) {
                current[checked.streamID] = stage
            } else {
                refusals[candidates[index].line] = [StreamRule.stageGoesBack(from: now!, to: stage)]
            }
        }

        dropRefused()
        // A row refused by the log's state may be one the log holds already (a registration
        // imported before): only a pass that asked the log about ids can tell.
        if !askLog && refusals.count > refusedBeforeLog { throw AskTheLogFirst() }
        summary.alreadyPresent += alreadyPresent.count
        if !refusals.isEmpty {
            for index in rows.indices { if let found = refusals[rows[index].line] { summary.refuse(rows[index], found) } }
        }

        // 5. Append what passed, through the bulk path, in one transaction.
        // Usually every row passes: the events are then handed on as they are, not copied.
        if live.count != events.count { events = live.map { events[$0] } }
        candidates = []
        // The rows that pass are appended even when others were refused: later chunks may
        // refer to them. The import's transaction decides at the end whether anything is kept.
        let appended = try EventLog.appendBulk(prepared: events, idsChecked: true, session: state.session, on: connection)
        summary.appended += appended.appended
        summary.alreadyPresent += appended.alreadyPresent
    }
}
