import ReachCalendar
import ReachEventLog

/// One record type of the catalogue. Each lives in a file of its own under `RecordTypes/`,
/// named after it (`activity_delivered` is `RecordTypes/ActivityDelivered.swift`), holding
/// everything about it: its fields and their checks, the stream its records go to and what
/// they refer to, an example, its CSV layout, whether its records can be amended, and how
/// data of its older schema versions is brought up to date. Adding a type is one such file,
/// named once in ``all`` (and, for its figures, a projection's SQL).
public struct RecordType: Sendable {
    /// The `type` of the record on the wire, such as `activity_delivered`.
    public let name: String
    /// The version of the data's schema this program writes.
    public let schemaVersion: Int32
    /// One synthetic example of its data, consistent with the other types' examples and with
    /// the demo data set (they refer to the authority `northvale`, school `900001`, pilot
    /// `northvale-pilot`...), so that after `reach demo` a template's example row imports as
    /// it is. `reach template` prints it, and the CSV layout is derived from it.
    public let example: String
    /// How its records are laid out as CSV rows.
    public let csv: CSVRows
    /// Whether its records can be corrected or withdrawn.
    public let isAmendable: Bool
    /// Whether only Reach itself writes its records (the audit of exports): no one records
    /// them, through any front; they are in ``all`` (the log holds them) but not in
    /// ``recordable``.
    public let isWrittenBySystem: Bool
    /// Brings data of an older schema version up: `upcasts[n]` reads version n and writes n + 1.
    /// Pure functions; the log itself is never rewritten.
    let upcasts: [Int32: @Sendable (JSONObject) -> JSONObject]
    /// Reads and checks the data; returns `nil` when `reader` collected refusals.
    let check: @Sendable (_ reader: inout FieldReader, _ recordID: String) -> CheckedRecord?

    /// How a type's records become CSV rows.
    public enum CSVRows: Sendable {
        /// One column per field of the example, and of `alsoColumns` (fields the example leaves
        /// out, or gives only some of, that still get columns; they replace the example's own).
        case rows(alsoColumns: JSONObject = [:])
        /// Its records do not fit one row (they hold other records, or lists of objects).
        case unavailable
    }

    init(
        _ name: String, version: Int32 = 1, example: String, csv: CSVRows = .rows(), amendable: Bool = true, system: Bool = false,
        upcasts: [Int32: @Sendable (JSONObject) -> JSONObject] = [:],
        check: @escaping @Sendable (_ reader: inout FieldReader, _ recordID: String) -> CheckedRecord?
    ) {
        self.name = name
        self.schemaVersion = version
        self.example = example
        self.csv = csv
        self.isAmendable = amendable
        self.isWrittenBySystem = system
        self.upcasts = upcasts
        self.check = check
    }

    /// The record types Reach knows, by name.
    public static let all: [String: RecordType] = Dictionary(
        uniqueKeysWithValues: [
            localAuthorityRegistered, schoolRegistered, partnerRegistered, pilotRegistered,
            engagementStageReached, activityDelivered, locationRegistered, peerGroupRegistered,
            contextReferralReceived, thresholdDecided, surveyWaveRecorded, eventCorrected, eventWithdrawn,
            schoolAssessmentCompleted, beyondReferralsSelfAssessmentCompleted, safetyPlanAgreed,
            actionCompleted, actionRescheduled, actionCancelled, outcomeShared, contextReviewed,
            interventionStarted, interventionEnded, locationConcernClosed, schoolStatisticsReported,
            pilotTargetChanged, summaryExported, disclosurePolicySet,
        ].map { ($0.name, $0) })

    /// The record types people and scripts record (every type but those only Reach writes).
    public static let recordable: [String: RecordType] = all.filter { !$0.value.isWrittenBySystem }

    /// The names of ``recordable``, sorted, for a list of choices.
    public static var recordableNames: String { recordable.keys.sorted().joined(separator: ", ") }

    /// The refusal of a type name that is not one of ``recordable``: unknown, or written by
    /// Reach alone.
    public static func unknown(_ name: String) -> Refusal {
        if let type = all[name], type.isWrittenBySystem {
            let when = name == disclosurePolicySet.name ? "when the programme sets an authority's disclosure policy" : "when a summary is exported"
            return Refusal("type", "\(name) records are written by Reach itself \(when); no one records them")
        }
        return Refusal("type", "'\(name)' is not a record type; choose one of \(recordableNames)")
    }

    /// Runs the checks of the data alone, which need no database.
    public func checkData(_ reader: inout FieldReader, _ recordID: String) -> CheckedRecord? {
        check(&reader, recordID)
    }

    /// The record's own checks (its fields, their words and ranges), without asking the log.
    public func checkFields(_ data: JSONObject, id: String, today: CalendarDate, path: String = "") -> Result<CheckedRecord, Refusals> {
        var reader = FieldReader(data, path: path, today: today)
        let checked = check(&reader, id)
        let found = reader.refusals + reader.unknownFieldRefusals
        guard let checked, found.isEmpty else { return .failure(Refusals(found)) }
        return .success(checked)
    }

    /// Data written at schema `version`, as the current version reads it; nil for a version
    /// this program does not know.
    public func upcast(_ data: JSONObject, from version: Int32) -> JSONObject? {
        guard version >= 1, version <= schemaVersion else { return nil }
        var data = data
        for step in version..<schemaVersion {
            if let upcast = upcasts[step] { data = upcast(data) }
        }
        return data
    }

    /// An event's data as the current version of its type reads it.
    public static func currentData(of event: RecordedEvent) throws -> JSONObject {
        guard case .object(let fields) = try JSONValue.parse(event.data),
            let data = all[event.type]?.upcast(fields, from: event.schemaVersion) ?? (event.schemaVersion == 1 ? fields : nil)
        else {
            throw Refusals([
                Refusal(
                    "schema_version",
                    "event at position \(event.position) is \(event.type) version \(event.schemaVersion), which this program cannot read")
            ])
        }
        return data
    }
}
