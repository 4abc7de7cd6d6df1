import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachPostgres

/// The one way records reach the log: check, ask the log, decide, append.
///
/// Recording one record, a request's batch of records, the record batcher's batch of requests
/// and each chunk of an import all go through here: the records' own checks
/// (``Recorder/check(_:line:)``), what the log holds about them in a few set-based queries
/// (``LogFacts/load(for:alsoAsking:askIDs:knownOwners:today:on:)``), the rules between records
/// for all of them at once (``Recorder/decide(_:ownRefused:facts:)``), then one append. An import
/// appends its chunks through the bulk (COPY) path instead of a statement
/// (``Importer/runBatch``); the decision is the same.
public struct RecordWriter: Sendable {
    public var recorder: Recorder

    public init(recorder: Recorder) {
        self.recorder = recorder
    }

    /// Checks one record (JSON text) and appends it if it passes.
    public func record(_ text: String, on connection: Connection) throws -> (id: String?, outcome: RecordOutcome) {
        switch Recorder.Envelope.parse(text) {
        case .failure(let refusals): return (nil, .refused(refusals.all))
        case .success(let envelope): return (envelope.id, try record([(1, envelope)], on: connection)[0])
        }
    }

    /// Checks records together and appends those that pass in one statement. Each outcome is
    /// the one recording them one after another would give.
    ///
    /// When someone else appended to one of the records' streams between the checks and the
    /// append, a single record outside a transaction is refused (look, then send it again);
    /// otherwise the append's error is thrown, and the caller, whose transaction it is, rolls
    /// back and records them one by one.
    public func record(_ envelopes: [(line: Int, envelope: Recorder.Envelope)], on connection: Connection) throws -> [RecordOutcome] {
        var candidates: [Candidate] = []
        var candidatePlaces: [Int] = []
        var ownRefused: [(envelope: Recorder.Envelope, refusals: Refusals)] = []
        var refusedPlaces: [Int] = []
        for (place, item) in envelopes.enumerated() {
            switch recorder.check(item.envelope, line: item.line) {
            case .success(let candidate):
                candidates.append(candidate)
                candidatePlaces.append(place)
            case .failure(let refusals):
                ownRefused.append((item.envelope, refusals))
                refusedPlaces.append(place)
            }
        }
        let facts = try LogFacts.load(
            for: candidates, alsoAsking: ownRefused.map { ($0.envelope.id, $0.envelope.type, JSONValue.object($0.envelope.data).text) },
            today: recorder.today, on: connection)
        let decision = recorder.decide(candidates, ownRefused: ownRefused, facts: facts)

        var outcomes = [RecordOutcome?](repeating: nil, count: envelopes.count)
        for (place, outcome) in zip(refusedPlaces, decision.ownRefused) { outcomes[place] = outcome }
        var events: [NewEvent] = []
        var appending: [(place: Int, checked: CheckedRecord)] = []
        var expecting: [String: ExpectedVersion] = [:]
        var repeats: [(place: Int, eventID: UUID)] = []
        var positions: [UUID: Int64] = [:]
        for (number, verdict) in decision.verdicts.enumerated() {
            let place = candidatePlaces[number]
            switch verdict {
            case .refused(let refusals, _): outcomes[place] = .refused(refusals)
            case .alreadyPresent(let position?):
                outcomes[place] = .alreadyRecorded(position: position)
                positions[candidates[number].eventID] = position
            case .alreadyPresent(nil): repeats.append((place, candidates[number].eventID))
            case .append(let checked, let expected):
                events.append(recorder.event(candidates[number], checked))
                appending.append((place, checked))
                if expecting[checked.streamID] == nil { expecting[checked.streamID] = expected }
            }
        }
        if !events.isEmpty {
            let results: [AppendResult]
            do {
                results = try EventLog.append(events, expecting: expecting, on: connection)
            } catch let error as EventLogError where error.code == .wrongExpectedVersion && envelopes.count == 1 && !connection.isInTransaction {
                return [.refused([Recorder.sameMoment(appending[0].checked)])]
            }
            for (item, result) in zip(appending, results) {
                outcomes[item.place] = result.duplicate ? .alreadyRecorded(position: result.position) : .accepted(position: result.position)
                positions[result.eventID] = result.position
            }
        }
        // A record repeated in the batch is the one before it.
        for (place, eventID) in repeats { outcomes[place] = .alreadyRecorded(position: positions[eventID] ?? 0) }
        return outcomes.map { $0! }
    }
}

extension LogFacts {
    /// What the log holds about `candidates`, and about the records its own checks refused
    /// (`alsoAsking`: their ids, types and data as JSON text), which are answered as recorded if
    /// the log holds them. Without `askIDs`, every id is taken to be new (an import's first
    /// pass, which the log's unique index on ids checks instead). `knownOwners` are owners found
    /// before (a registration never changes), which are not asked again.
    public static func load(
        for candidates: [Candidate], alsoAsking refused: [(recordID: String, type: RecordType, dataText: String)] = [], askIDs: Bool = true,
        knownOwners: [String: String?] = [:], today: CalendarDate, on connection: Connection
    ) throws -> LogFacts {
        var facts = LogFacts()
        facts.askedIDs = askIDs
        if askIDs {
            // Ids first (usually none is in the log), then the content of those that are.
            let refusedIDs = refused.map { EventLog.recordEventID($0.recordID) }
            let ids = candidates.map(\.eventID) + refusedIDs
            func asked(_ index: Int) -> (id: UUID, type: String, data: String) {
                index < candidates.count
                    ? (candidates[index].eventID, candidates[index].type.name, candidates[index].dataText)
                    : (refusedIDs[index - candidates.count], refused[index - candidates.count].type.name, refused[index - candidates.count].dataText)
            }
            for start in stride(from: 0, to: ids.count, by: 50_000) {
                let present = try EventLog.presentIDs(Array(ids[start..<min(start + 50_000, ids.count)]), on: connection).map { start + $0 }
                let found = try EventLog.sameContent(present.map(asked), on: connection)
                for (index, existing) in zip(present, found) {
                    facts.present[ids[index]] = PresentRecord(position: existing.position, same: existing.same, authorityID: existing.authorityID)
                }
            }
        }
        var registrations: [String] = []
        var stageStreams: Set<String> = []
        var amended: Set<String> = []
        for candidate in candidates {
            switch candidate.checked.rule {
            case .register: registrations.append(candidate.checked.streamID)
            case .engagementStage: stageStreams.insert(candidate.checked.streamID)
            case .amends(let target, _, _): amended.insert(target)
            case .none: break
            }
        }
        facts.recorded = try EventLog.recordedEvents(
            recordIDs: Array(amended), namedBy: RecordType.eventWithdrawn.name, inField: "record_id", on: connection
        )
        .mapValues { ($0.event, $0.named) }
        facts.registered = try EventLog.existingStreams(registrations, on: connection)
        facts.stages = try EventLog.streamHeads(Array(stageStreams), latest: "stage", ofType: RecordType.engagementStageReached.name, on: connection)
            .mapValues { ($0.version, $0.latest.flatMap(EngagementStage.init(rawValue:))) }

        // What is referred to: by the candidates, and by the data of the corrections among them
        // (of records in the log, or earlier among the candidates).
        var referenced = Set<String>()
        var plans = Set<String>()
        var typeOf: [String: String] = [:]
        for candidate in candidates where typeOf[candidate.recordID] == nil { typeOf[candidate.recordID] = candidate.type.name }
        for candidate in candidates {
            for reference in candidate.checked.references { referenced.insert(reference.streamID) }
            if let planAction = candidate.checked.planAction { plans.insert(Entity.plan.stream(planAction.planID)) }
            if case .amends(let target, false, let data?) = candidate.checked.rule,
                let type = (facts.recorded[target]?.event.type ?? typeOf[target]).flatMap({ RecordType.all[$0] }),
                case .success(let corrected) = type.checkFields(data, id: target, today: today, path: "data")
            {
                for reference in corrected.references { referenced.insert(reference.streamID) }
            }
        }
        facts.owners = knownOwners
        referenced.subtract(knownOwners.keys)
        for (stream, owner) in try EventLog.firstEventField("la_id", of: Array(referenced), on: connection) {
            facts.owners[stream] = .some(owner)
        }
        for (stream, text) in try EventLog.firstEventData(of: Array(plans), on: connection) {
            if case .object(let plan)? = try? JSONValue.parse(text) { facts.planActions[stream] = CrossRecordRules.actionIDs(of: plan) }
        }
        return facts
    }
}
