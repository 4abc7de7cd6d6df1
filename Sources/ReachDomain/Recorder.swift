import Foundation
import ReachEventLog
import ReachPostgres

/// What became of one record.
public enum RecordOutcome: Sendable, Hashable {
    /// Appended to the log at this position.
    case accepted(position: Int64)
    /// The same record was already in the log; nothing was appended.
    case alreadyRecorded(position: Int64)
    /// Refused, with every reason found.
    case refused([Refusal])
}

/// Checks records and appends the ones that pass: the domain's command handler.
///
/// A record is a JSON document `{"type": "activity_delivered", "id": "<sender's id>", "data": {...}}`.
/// The checks run in this order: the envelope; whether the record is already in the log (by its
/// id, so a re-send is harmless); its data (every field, vocabulary, counts, dates, text length,
/// unknown fields); what it refers to (exists, and belongs to the authority the record names);
/// and the state of its stream (a registration is new, engagement stages move forward). Two
/// people recording the same school's stage at once cannot both win: the second is refused.
public struct Recorder: Sendable {
    /// Who is recording (stored as the events' actor).
    public var actor: String
    /// Where the records come from (`cli`, `import:<file>`...).
    public var source: String
    /// Today, for "not in the future".
    public var today: PostgresDate
    /// What the one recording may record, and whose records it may know of (for example,
    /// staff record for, and see, the authorities they are assigned to). Given by the
    /// application layer's access rules; asked of every record on every path.
    public var rule: RecordingRule

    public init(actor: String, source: String, today: PostgresDate = .today, rule: RecordingRule = .unrestricted) {
        self.actor = actor
        self.source = source
        self.today = today
        self.rule = rule
    }

    /// Checks one record (JSON text) and appends it if it passes.
    public func record(_ text: String, on connection: Connection) throws -> (id: String?, outcome: RecordOutcome) {
        let envelope: Envelope
        switch Envelope.parse(text) {
        case .failure(let refusals): return (nil, .refused(refusals.all))
        case .success(let parsed): envelope = parsed
        }
        return (envelope.id, try record(envelope, on: connection))
    }

    /// A record's envelope: its type, its sender's id, its data and, optionally, the schema
    /// version the data follows (older versions are brought up to date before any check).
    public struct Envelope: Sendable {
        public var type: RecordType
        public var id: String
        public var data: JSONObject

        /// Parses and checks the envelope (not the data).
        public static func parse(_ text: String) -> Result<Envelope, Refusals> {
            guard let value = try? JSONValue.parse(text) else {
                return .failure(Refusals([Refusal("record", "is not valid JSON")]))
            }
            return parse(value)
        }

        /// Checks an envelope already parsed (not its data).
        public static func parse(_ value: JSONValue) -> Result<Envelope, Refusals> {
            guard case .object(let fields) = value else {
                return .failure(Refusals([Refusal("record", "must be a JSON object with type, id and data")]))
            }
            var refusals: [Refusal] = []
            for key in fields.keys.sorted() where !["type", "id", "data", "schema_version"].contains(key) {
                refusals.append(Refusal(key, "is not part of a record; a record has type, id, data and optionally schema_version"))
            }
            var type: RecordType?
            if case .string(let name)? = fields["type"] {
                type = RecordType.recordable[name]
                if type == nil { refusals.append(RecordType.unknown(name)) }
            } else {
                refusals.append(Refusal("type", "is required: the kind of record, such as activity_delivered"))
            }
            var id: String?
            if case .string(let text)? = fields["id"], let checked = recordID(text) {
                id = checked
            } else {
                refusals.append(idRefusal)
            }
            var data: JSONObject?
            if case .object(let object)? = fields["data"] {
                data = object
            } else {
                refusals.append(Refusal("data", "is required: an object with the record's fields"))
            }
            var version = type?.schemaVersion ?? 1
            if let value = fields["schema_version"] {
                if case .number(let number) = value, number == number.rounded(), number >= 1, number <= Double(version) {
                    version = Int32(number)
                } else {
                    refusals.append(Refusal("schema_version", "must be a version of this record type from 1 to \(version)"))
                }
            }
            guard refusals.isEmpty, let type, let id, let data,
                let current = type.upcast(data, from: version)
            else { return .failure(Refusals(refusals)) }
            return .success(Envelope(type: type, id: id, data: TextRules.composed(current)))
        }

        /// The envelope of a row of a CSV file of one record type, at its current version:
        /// what ``parse(_:)-(JSONValue)`` answers for `{"type": type, "id": id, "data": data}`.
        package static func csvRow(type: RecordType, id: String, data: JSONObject) -> Result<Envelope, Refusals> {
            guard let id = recordID(id) else { return .failure(Refusals([idRefusal])) }
            return .success(Envelope(type: type, id: id, data: TextRules.composed(data)))
        }

        /// The one rule for a new record's id, wherever it comes from (JSON, a CSV cell):
        /// surrounding spaces are not part of it, so `" act-1"` and `act-1` are one record; what
        /// is left is 1 to 100 ASCII letters, digits, `-`, `_` and `.` (the rule for every id,
        /// ``TextRules/isIdentifier(_:maxLength:)``). Nil when the text is not a valid id.
        public static func recordID(_ text: String) -> String? {
            let id = FieldReader.trimmed(text)
            return TextRules.isIdentifier(id, maxLength: 100) ? id : nil
        }

        /// The id of a record already in the log, as someone names it (to look it up): trimmed,
        /// 1 to 100 characters with no control characters. Ids recorded before the rule of
        /// ``recordID(_:)`` may hold other characters, and can still be named.
        public static func existingRecordID(_ text: String) -> String? {
            let id = FieldReader.trimmed(text)
            guard !id.isEmpty, id.count <= 100, !FieldReader.hasControlCharacters(id) else { return nil }
            return id
        }

        static let idRefusal = Refusal(
            "id",
            "is required: an id of your choosing for this record, 1 to 100 ASCII letters, digits, -, _ or . (no spaces), so that sending it again changes nothing"
        )
    }

    /// The refusal of a record already in the log that belongs to an authority the recorder may
    /// not see: what the same record sent anew gets (refused for its authority), or, for an
    /// amendment, what one naming a record that does not exist gets.
    private func hidden(_ envelope: Envelope, authority: String?) -> Refusal {
        if [RecordType.eventCorrected.name, RecordType.eventWithdrawn.name].contains(envelope.type.name),
            case .string(let target)? = envelope.data["record_id"]
        {
            return CrossRecordRules.noRecord(Envelope.existingRecordID(target) ?? target)
        }
        let checked = CheckedRecord(streamID: "", authorityID: authority, occurredOn: nil, references: [], rule: .none)
        return rule.permits(envelope.type, checked) ?? CrossRecordRules.noRecord(envelope.id)
    }

    /// Checks one parsed record and appends it if it passes: its own checks, then the rules
    /// between records (``CrossRecordRules``) as for a batch of one, then the append, which
    /// checks the stream's version again (someone else may record at the same moment).
    public func record(_ envelope: Envelope, on connection: Connection) throws -> RecordOutcome {
        // A record already in the log is answered first, whatever today's checks say of it:
        // sending it again changes nothing.
        let eventID = EventLog.recordEventID(envelope.id)
        if try !EventLog.presentIDs([eventID], on: connection).isEmpty {
            let found = try EventLog.sameContent([(eventID, envelope.type.name, JSONValue.object(envelope.data).text)], on: connection)[0]
            guard found.same else {
                return .refused([CrossRecordRules.idUsedElsewhere(envelope.id)])
            }
            // Another authority's record is answered as the same record sent anew would be.
            if let stored = try EventLog.event(at: found.position, on: connection), !rule.sees(stored.authorityID) {
                return .refused([hidden(envelope, authority: stored.authorityID)])
            }
            return .alreadyRecorded(position: found.position)
        }
        let candidate: Candidate
        switch envelope.type.checkFields(envelope.data, id: envelope.id, today: today) {
        case .failure(let refusals): return .refused(refusals.all)
        case .success(let checked):
            candidate = Candidate(
                line: 1, recordID: envelope.id, type: envelope.type, data: envelope.data,
                dataText: JSONValue.object(envelope.data).text, checked: checked)
        }
        let facts = try LogFacts.load(for: [candidate], askIDs: false, today: today, on: connection)
        let checked: CheckedRecord
        let expected: ExpectedVersion
        switch CrossRecordRules.judge([candidate], facts: facts, today: today, rule: rule)[0] {
        case .alreadyPresent(let position): return .alreadyRecorded(position: position ?? 0)
        case .refused(let refusals, _): return .refused(refusals)
        case .append(let accepted, let expecting): (checked, expected) = (accepted, expecting)
        }
        do {
            let result = try EventLog.append([event(candidate, checked)], expecting: [checked.streamID: expected], on: connection)[0]
            return result.duplicate ? .alreadyRecorded(position: result.position) : .accepted(position: result.position)
        } catch let error as EventLogError where error.code == .wrongExpectedVersion {
            let field: String
            switch checked.rule {
            case .register(_, let name): field = name
            case .engagementStage: field = "stage"
            case .none, .amends: field = "record"
            }
            return .refused([
                Refusal(field, "someone else recorded this at the same moment; look at what is recorded now and send it again if it still applies")
            ])
        }
    }
}

extension Recorder {
    /// Checks records together and appends those that pass in one statement, on a connection
    /// whose transaction the caller holds: the records' own checks, then the rules between
    /// records for all of them at once (as the lines of a file are: a few queries in all), then
    /// one append. Each outcome is the one ``record(_:on:)-(Envelope,_)`` would give if they were
    /// sent one after another. Throws when the log moved under a stream meanwhile (the caller
    /// rolls back and records them one by one).
    public func recordAll(_ envelopes: [(line: Int, envelope: Envelope)], on connection: Connection) throws -> [RecordOutcome] {
        var outcomes = [RecordOutcome?](repeating: nil, count: envelopes.count)
        var candidates: [Candidate] = []
        var places: [Int] = []
        for (index, item) in envelopes.enumerated() {
            switch item.envelope.type.checkFields(item.envelope.data, id: item.envelope.id, today: today) {
            case .failure(let refusals): outcomes[index] = .refused(refusals.all)
            case .success(let checked):
                candidates.append(
                    Candidate(
                        line: item.line, recordID: item.envelope.id, type: item.envelope.type, data: item.envelope.data,
                        dataText: JSONValue.object(item.envelope.data).text, checked: checked))
                places.append(index)
            }
        }
        guard !candidates.isEmpty else { return outcomes.map { $0! } }
        let facts = try LogFacts.load(for: candidates, askIDs: true, today: today, on: connection)
        let verdicts = CrossRecordRules.judge(candidates, facts: facts, today: today, rule: rule)
        var events: [NewEvent] = []
        var appending: [Int] = []
        var expecting: [String: ExpectedVersion] = [:]
        var earlier: [(place: Int, eventID: UUID)] = []
        var positions: [UUID: Int64] = [:]
        for (number, verdict) in verdicts.enumerated() {
            let place = places[number]
            switch verdict {
            case .refused(let refusals, _): outcomes[place] = .refused(refusals)
            case .alreadyPresent(let position?):
                outcomes[place] = .alreadyRecorded(position: position)
                positions[candidates[number].eventID] = position
            case .alreadyPresent(nil): earlier.append((place, candidates[number].eventID))
            case .append(let checked, let expected):
                events.append(event(candidates[number], checked))
                appending.append(place)
                if expecting[checked.streamID] == nil { expecting[checked.streamID] = expected }
            }
        }
        if !events.isEmpty {
            let results = try EventLog.append(events, expecting: expecting, on: connection)
            for (place, result) in zip(appending, results) {
                outcomes[place] = result.duplicate ? .alreadyRecorded(position: result.position) : .accepted(position: result.position)
                positions[result.eventID] = result.position
            }
        }
        for (place, eventID) in earlier { outcomes[place] = .alreadyRecorded(position: positions[eventID] ?? 0) }
        return outcomes.map { $0! }
    }

    /// The event of an accepted candidate, as `checked` places it.
    package func event(_ candidate: Candidate, _ checked: CheckedRecord) -> NewEvent {
        NewEvent(
            id: candidate.eventID, streamID: checked.streamID, type: candidate.type.name, schemaVersion: candidate.type.schemaVersion,
            data: candidate.dataText, metadata: EventMetadata(actor: actor, correlationID: candidate.recordID, source: source),
            occurredOn: checked.occurredOn, authorityID: checked.authorityID)
    }
}
