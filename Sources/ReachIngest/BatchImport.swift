import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres

extension Importer {
    /// What the batch path keeps from chunk to chunk of one pass (one transaction): the bulk
    /// path's session, and the owners of registrations found in the log.
    final class BatchState {
        let session = EventLog.BulkSession()
        var owners: [String: String?] = [:]
    }

    /// Thrown by a pass that did not ask the log about ids when a row was refused for what the
    /// log holds: the import starts again, asking.
    struct AskTheLogFirst: Error {}

    /// A chunk of rows read ahead of the one being appended, with each row's own checks done
    /// (taken by the pass that appends it, so that they move rather than being copied).
    struct Chunk: Sendable {
        var rows: [Row]
        var checked: Checked?
    }

    /// A batch chunk's rows after their own checks: those that passed, each with the event to
    /// append if it passes the log's checks too (its data as jsonb text, ready for the bulk
    /// path), and the refusals of the others by line, with the envelopes of those refused by
    /// their own checks (the log may hold them already: then they are answered as recorded).
    struct Checked: Sendable {
        var candidates: [Candidate] = []
        var events: [EventLog.PreparedEvent] = []
        var refusals: [Int: [Refusal]] = [:]
        var ownRefused: [(line: Int, envelope: Recorder.Envelope, refusals: Refusals)] = []
    }

    /// Reads the next chunk of rows and does the work each row needs alone: the checks that
    /// need nothing but the row, its data as jsonb text and its event id, on every core.
    func prepare(_ rows: [Row]) -> Chunk {
        let today = recorder.today
        var outcomes = rows.concurrentMap { row -> Result<(Candidate, EventLog.PreparedEvent), Refusals> in
            switch row.envelope {
            case .failure(let found): return .failure(found)
            case .success(let envelope):
                return envelope.type.checkFields(envelope.data, id: envelope.id, today: today).map { checked in
                    let data = JSONValue.object(envelope.data).jsonbBytes
                    let candidate = Candidate(
                        line: row.line, recordID: envelope.id, type: envelope.type, data: envelope.data,
                        dataText: String(decoding: data.bytes, as: UTF8.self), checked: checked)
                    let event = recorder.event(candidate, checked)
                    return (candidate, data.exact ? EventLog.PreparedEvent(jsonb: event) : EventLog.PreparedEvent(event))
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
                        if case .success(let envelope) = rows[index].envelope { checked.ownRefused.append((rows[index].line, envelope, found)) }
                    }
                }
                candidateCount = passed
            }
            eventCount = passed
        }
        return Chunk(rows: rows, checked: checked)
    }

    /// The batch path: every row was checked in this process (``prepare(_:mode:)``), the log is
    /// asked about ids, references and stream states in a few set-based queries
    /// (``LogFacts``), the rules between records are applied in file order
    /// (``CrossRecordRules``), and the rows that pass are appended through the bulk (COPY)
    /// path. The same rules as recording the rows one by one. Runs inside the import's transaction,
    /// whose `state` the import finishes before it commits.
    func runBatch(
        _ rows: [Row], checked: consuming Checked, askLog: Bool, state: BatchState,
        into summary: inout Summary, on connection: Connection
    ) throws {
        summary.read += rows.count
        var refusals = checked.refusals
        var candidates = checked.candidates
        var events = checked.events
        let ownRefused = checked.ownRefused.reversed().map { ($0.envelope, $0.refusals) }
        let refusedLines = checked.ownRefused.reversed().map(\.line)
        _ = consume checked

        // What the log holds about the rows (a registration never changes, so the owners found
        // are kept for later chunks), then the rules between records, in file order: the
        // decision recording them would take (``RecordWriter``).
        let facts = try LogFacts.load(
            for: candidates, alsoAsking: askLog ? ownRefused.map { ($0.0.id, $0.0.type, JSONValue.object($0.0.data).text) } : [],
            askIDs: askLog, knownOwners: state.owners, today: recorder.today, on: connection)
        state.owners = facts.owners
        let decision = recorder.decide(candidates, ownRefused: askLog ? ownRefused : [], facts: facts)
        var refusedByLog = false
        if askLog {
            for (line, outcome) in zip(refusedLines, decision.ownRefused) {
                switch outcome {
                case .refused(let found): refusals[line] = found
                default:
                    refusals[line] = nil
                    summary.alreadyPresent += 1
                }
            }
        } else if !ownRefused.isEmpty {
            // A row its own checks refuse today may have been recorded under earlier rules.
            refusedByLog = try !EventLog.presentIDs(ownRefused.map { EventLog.recordEventID($0.0.id) }, on: connection).isEmpty
        }
        var live: [Int] = []
        live.reserveCapacity(candidates.count)
        for index in decision.verdicts.indices {
            switch decision.verdicts[index] {
            case .append(let checked, _):
                live.append(index)
                // An amendment goes to the stream of the record it amends.
                if checked.streamID != candidates[index].checked.streamID {
                    events[index] = EventLog.PreparedEvent(recorder.event(candidates[index], checked))
                }
            case .alreadyPresent:
                summary.alreadyPresent += 1
            case .refused(let found, let byLog):
                refusals[candidates[index].line] = found
                refusedByLog = refusedByLog || byLog
            }
        }
        // A row refused for what the log holds may be one the log holds already (a
        // registration imported before): only a pass that asked the log about ids can tell.
        if !askLog && refusedByLog { throw AskTheLogFirst() }
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
