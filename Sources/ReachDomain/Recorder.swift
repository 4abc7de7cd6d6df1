import Foundation
import ReachCalendar
import ReachEventLog

/// What became of one record.
public enum RecordOutcome: Sendable, Hashable {
    /// Appended to the log at this position.
    case accepted(position: Int64)
    /// The same record was already in the log; nothing was appended.
    case alreadyRecorded(position: Int64)
    /// Refused, with every reason found.
    case refused([Refusal])
}

/// Decides what becomes of records: the domain's command handler, without the database.
///
/// A record is a JSON document `{"type": "activity_delivered", "id": "<sender's id>", "data": {...}}`.
/// The checks run in this order: the envelope; whether the record is already in the log (by its
/// id, so a re-send is harmless); its data (every field, vocabulary, counts, dates, text length,
/// unknown fields); what it refers to (exists, and belongs to the authority the record names);
/// and the state of its stream (a registration is new, engagement stages move forward). Two
/// people recording the same school's stage at once cannot both win: the second is refused.
///
/// The recorder reads nothing and writes nothing: it checks each record on its own
/// (``check(_:line:)``), and, given what the log holds about them (``LogFacts``), decides what
/// becomes of each (``decide(_:ownRefused:facts:)``) and which events to append
/// (``event(_:_:)``). The write path that asks the log and appends (`RecordWriter`, in
/// ReachIngest) is the one way records reach the log, for one record, a request's batch or a file.
public struct Recorder: Sendable {
    /// Who is recording (stored as the events' actor).
    public var actor: String
    /// Where the records come from (`cli`, `import:<file>`...).
    public var source: String
    /// Today, for "not in the future".
    public var today: CalendarDate
    /// What the one recording may record, and whose records it may know of (for example,
    /// staff record for, and see, the authorities they are assigned to). Given by the
    /// application layer's access rules; asked of every record on every path.
    public var rule: RecordingRule

    public init(actor: String, source: String, today: CalendarDate = .today, rule: RecordingRule = .unrestricted) {
        self.actor = actor
        self.source = source
        self.today = today
        self.rule = rule
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
}

extension Recorder {
    /// A record's own checks, which need nothing but the record: its candidate for the rules
    /// between records, or every reason it was refused.
    public func check(_ envelope: Envelope, line: Int) -> Result<Candidate, Refusals> {
        envelope.type.checkFields(envelope.data, id: envelope.id, today: today).map { checked in
            Candidate(
                line: line, recordID: envelope.id, type: envelope.type, data: envelope.data,
                dataText: JSONValue.object(envelope.data).text, checked: checked)
        }
    }

    /// What becomes of a batch of records, given what the log holds about them.
    public struct Decision: Sendable {
        /// One verdict for each candidate, in order.
        public var verdicts: [Verdict]
        /// One outcome for each record its own checks refused, in order: refused, unless the
        /// log holds it already (a record is answered as recorded whatever today's checks say).
        public var ownRefused: [RecordOutcome]
    }

    /// Decides a batch: records refused by their own checks (`ownRefused`, with their
    /// envelopes) and candidates, judged in order by the rules between records
    /// (``CrossRecordRules``) against `facts`. A record the log holds already is answered before
    /// any check: as recorded, or refused when its id holds a different record or it belongs to
    /// an authority the recorder may not see.
    public func decide(_ candidates: [Candidate], ownRefused: [(envelope: Envelope, refusals: Refusals)], facts: LogFacts) -> Decision {
        let answers = ownRefused.map { item -> RecordOutcome in
            let eventID = EventLog.recordEventID(item.envelope.id)
            guard let present = facts.present[eventID] else { return .refused(item.refusals.all) }
            let verdict = CrossRecordRules.answerPresent(
                recordID: item.envelope.id, type: item.envelope.type, amends: Self.amendedRecord(item.envelope), present: present, rule: rule)
            switch verdict {
            case .refused(let refusals, _): return .refused(refusals)
            default: return .alreadyRecorded(position: present.position)
            }
        }
        return Decision(verdicts: CrossRecordRules.judge(candidates, facts: facts, today: today, rule: rule), ownRefused: answers)
    }

    /// The record an amendment names (nil for a record of another type).
    static func amendedRecord(_ envelope: Envelope) -> String? {
        guard [RecordType.eventCorrected.name, RecordType.eventWithdrawn.name].contains(envelope.type.name),
            case .string(let target)? = envelope.data["record_id"]
        else { return nil }
        return Envelope.existingRecordID(target) ?? target
    }

    /// The refusal of a record whose stream someone else appended to between the checks and
    /// the append.
    public static func sameMoment(_ checked: CheckedRecord) -> Refusal {
        let field: String
        switch checked.rule {
        case .register(_, let name): field = name
        case .engagementStage: field = "stage"
        case .none, .amends: field = "record"
        }
        return Refusal(field, "someone else recorded this at the same moment; look at what is recorded now and send it again if it still applies")
    }

    /// The event of an accepted candidate, as `checked` places it.
    package func event(_ candidate: Candidate, _ checked: CheckedRecord) -> NewEvent {
        NewEvent(
            id: candidate.eventID, streamID: checked.streamID, type: candidate.type.name, schemaVersion: candidate.type.schemaVersion,
            data: candidate.dataText, metadata: EventMetadata(actor: actor, correlationID: candidate.recordID, source: source),
            occurredOn: checked.occurredOn, authorityID: checked.authorityID)
    }
}
