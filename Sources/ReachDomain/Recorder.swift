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
    /// Whether the one recording may record this (for example, only for the authorities they
    /// are assigned to): a refusal, or nil to let it through. Given by the application layer's
    /// access rules; asked of every record once its own checks pass, on every path.
    public var permits: @Sendable (RecordType, CheckedRecord) -> Refusal?

    public init(actor: String, source: String, today: PostgresDate = .today,
                permits: @escaping @Sendable (RecordType, CheckedRecord) -> Refusal? = { _, _ in nil }) {
        self.actor = actor
        self.source = source
        self.today = today
        self.permits = permits
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
                type = RecordType.all[name]
                if type == nil {
                    refusals.append(Refusal("type", "'\(name)' is not a record type; choose one of \(RecordType.all.keys.sorted().joined(separator: ", "))"))
                }
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
                  let current = Upcaster.upcast(type: type.name, version: version, data: data) else { return .failure(Refusals(refusals)) }
            return .success(Envelope(type: type, id: id, data: current))
        }

        /// The envelope of a row of a CSV file of one record type, at its current version:
        /// what ``parse(_:)-(JSONValue)`` answers for `{"type": type, "id": id, "data": data}`.
        static func csvRow(type: RecordType, id: String, data: JSONObject) -> Result<Envelope, Refusals> {
            guard let id = recordID(id) else { return .failure(Refusals([idRefusal])) }
            return .success(Envelope(type: type, id: id, data: data))
        }

        /// The one rule for a record's id, wherever it comes from (JSON, a CSV cell, the
        /// `record_id` a correction names): surrounding spaces are not part of it, so `" act-1"`
        /// and `act-1` are one record; what is left is 1 to 100 characters with no control
        /// characters. Nil when the text is not a valid id.
        public static func recordID(_ text: String) -> String? {
            let id = FieldReader.trimmed(text)
            guard !id.isEmpty, id.count <= 100, !FieldReader.hasControlCharacters(id) else { return nil }
            return id
        }

        static let idRefusal = Refusal("id", "is required: an id of your choosing for this record, up to 100 characters, so that sending it again changes nothing")
    }

    /// Checks one parsed record and appends it if it passes.
    public func record(_ envelope: Envelope, on connection: Connection) throws -> RecordOutcome {
        let dataText = JSONValue.object(envelope.data).text
        // The event id, and whether the record is already in the log, in one round trip.
        let (eventID, existing) = try EventLog.lookUpRecord(envelope.id, data: dataText, on: connection)
        if let (position, type, same) = existing {
            guard same && type == envelope.type.name else {
                return .refused([Refusal("id", "'\(envelope.id)' was already used for a different record; give this record an id of its own")])
            }
            return .alreadyRecorded(position: position)
        }

        var reader = FieldReader(envelope.data, today: today)
        let firstCheck = envelope.type.check(&reader, envelope.id)
        let refusals = reader.refusals + reader.unknownFieldRefusals
        guard var checked = firstCheck, refusals.isEmpty else { return .refused(refusals) }

        if case .amends(let targetRecordID, let withdraws, let correctedData) = checked.rule {
            switch try amendment(of: targetRecordID, withdraws: withdraws, correctedData: correctedData, on: connection) {
            case .failure(let refusals): return .refused(refusals.all)
            case .success(let target): checked = target
            }
        }
        if let refusal = permits(envelope.type, checked) { return .refused([refusal]) }

        let referenceRefusals = try resolve(checked.references, on: connection)
        guard referenceRefusals.isEmpty else { return .refused(referenceRefusals) }
        if let planAction = checked.planAction {
            let actions = try planActionIDs(of: checked.streamID, on: connection)
            guard actions.contains(planAction.actionID) else {
                return .refused([Refusal("action_id", "safety plan '\(planAction.planID)' has no action '\(planAction.actionID)'; its actions are \(actions.joined(separator: ", "))")])
            }
        }

        var expected = ExpectedVersion.any
        switch checked.rule {
        case .none, .amends:
            break
        case .register(let what, let field):
            if try EventLog.streamVersion(checked.streamID, on: connection) > 0 {
                return .refused([StreamRule.alreadyRegistered(what, field: field)])
            }
            expected = .noStream
        case .engagementStage(let stage):
            let head = try StreamRule.engagementHeads([checked.streamID], on: connection)[checked.streamID]
            let version = head?.version ?? 0
            let current = head?.stage
            guard stage.mayFollow(current) else { return .refused([StreamRule.stageGoesBack(from: current!, to: stage)]) }
            expected = version > 0 ? .exactly(version) : .noStream
        }

        let event = NewEvent(
            id: eventID, streamID: checked.streamID, type: envelope.type.name, schemaVersion: envelope.type.schemaVersion,
            data: dataText, metadata: EventMetadata(actor: actor, correlationID: envelope.id, source: source),
            occurredOn: checked.occurredOn, authorityID: checked.authorityID)
        do {
            let result = try EventLog.append([event], expecting: [checked.streamID: expected], on: connection)[0]
            return result.duplicate ? .alreadyRecorded(position: result.position) : .accepted(position: result.position)
        } catch let error as EventLogError where error.code == .wrongExpectedVersion {
            let field: String
            switch checked.rule {
            case .register(_, let name): field = name
            case .engagementStage: field = "stage"
            case .none, .amends: field = "record"
            }
            return .refused([Refusal(field, "someone else recorded this at the same moment; look at what is recorded now and send it again if it still applies")])
        }
    }

    /// Finds the record a correction or withdrawal names and checks that it may be amended; for
    /// a correction, checks the corrected data as the original record type would. Returns where
    /// the amendment goes: the original record's stream.
    func amendment(of recordID: String, withdraws: Bool, correctedData: JSONObject?, on connection: Connection) throws -> Result<CheckedRecord, Refusals> {
        guard let (found, withdrawn) = try EventLog.recordedEvent(
            recordID: recordID, namedBy: RecordType.eventWithdrawn.name, inField: "record_id", on: connection) else {
            return .failure(Refusals([Refusal("record_id", "no record with id '\(recordID)' has been recorded")]))
        }
        let (stream, typeName, authority, occurredOn) = (found.streamID, found.type, found.authorityID, found.occurredOn)
        guard let type = RecordType.all[typeName], type.isAmendable else {
            return .failure(Refusals([Refusal("record_id", "'\(recordID)' is a \(typeName.replacingOccurrences(of: "_", with: " ")); correct or withdraw the original record instead")]))
        }
        guard !withdrawn else {
            return .failure(Refusals([Refusal("record_id", "'\(recordID)' was withdrawn; a withdrawn record cannot be \(withdraws ? "withdrawn again" : "corrected")")]))
        }
        guard let correctedData else {
            return .success(CheckedRecord(streamID: stream, authorityID: authority, occurredOn: occurredOn, references: [],
                                          rule: .amends(recordID: recordID, withdraws: true, correctedData: nil)))
        }
        var reader = FieldReader(correctedData, path: "data", today: today)
        let corrected = type.check(&reader, recordID)
        let refusals = reader.refusals + reader.unknownFieldRefusals
        guard let corrected, refusals.isEmpty else { return .failure(Refusals(refusals)) }
        guard corrected.streamID == stream else {
            return .failure(Refusals([Refusal("data", "a correction cannot move '\(recordID)' to another \(stream.split(separator: ":").first ?? "record"); withdraw it and record it anew")]))
        }
        let referenceRefusals = try resolve(corrected.references.map { reference in
            var reference = reference
            reference.field = "data." + reference.field
            return reference
        }, on: connection)
        guard referenceRefusals.isEmpty else { return .failure(Refusals(referenceRefusals)) }
        return .success(CheckedRecord(streamID: stream, authorityID: corrected.authorityID ?? authority, occurredOn: corrected.occurredOn ?? occurredOn,
                                      references: [], rule: .amends(recordID: recordID, withdraws: false, correctedData: correctedData)))
    }

    /// Checks that every reference exists and belongs to the authority the record names.
    func resolve(_ references: [Reference], on connection: Connection) throws -> [Refusal] {
        guard !references.isEmpty else { return [] }
        let owners = try Reference.owners(of: references.map(\.streamID), on: connection)
        return references.compactMap { $0.refusal(owners: owners) }
    }

    /// The ids of the actions of the safety plan whose stream this is.
    func planActionIDs(of streamID: String, on connection: Connection) throws -> [String] {
        guard let text = try EventLog.firstEventData(of: streamID, on: connection),
              case .object(let plan) = try JSONValue.parse(text), case .array(let actions)? = plan["actions"] else { return [] }
        return actions.compactMap { action in
            guard case .object(let fields) = action, case .string(let id)? = fields["action_id"] else { return nil }
            return id
        }
    }
}

extension PostgresDate {
    /// Today's date in UTC.
    public static var today: PostgresDate {
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
        return PostgresDate(year: parts.year!, month: parts.month!, day: parts.day!)
    }
}
