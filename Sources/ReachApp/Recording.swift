import Foundation
import ReachDomain
import ReachEventLog
import ReachIngest
import ReachPostgres

/// What became of one record sent to ``ReachApplication/record(_:source:as:)``: the line it
/// was on, its id, and `accepted` (with its position), `already_recorded` or `refused` (with
/// every field at fault and the rule it broke).
public struct RecordResult: Sendable, Encodable {
    public var line: Int
    public var id: String?
    public var status: String
    public var position: Int64?
    public var refusals: [Refusal]?

    public init(line: Int, id: String?, outcome: RecordOutcome) {
        self.line = line
        self.id = id
        switch outcome {
        case .accepted(let position):
            status = "accepted"
            self.position = position
        case .alreadyRecorded(let position):
            status = "already_recorded"
            self.position = position
        case .refused(let refusals):
            status = "refused"
            self.refusals = refusals
        }
    }

    /// Whether the record was refused.
    public var isRefused: Bool { status == "refused" }
}

/// What an import did, and what it needs to write its rejects file.
public struct ImportOutcome: Sendable {
    public var summary: Importer.Summary
    /// The file's CSV header, for a rejects file in the same columns (nil for JSON Lines).
    public var csvHeader: [String]?

    /// The refused rows, each with its reason, as a file that imports as it is once fixed.
    public var rejects: String { Importer.rejects(csvHeader: csvHeader, summary: summary) }
}

extension ReachApplication {
    // MARK: Recording

    /// Checks records and appends the ones that pass: one JSON document, or JSON Lines with one
    /// record per line. Each gets a result, in order; sending a record again changes nothing.
    public func record(_ text: String, source: String, as identity: Identity) async throws -> [RecordResult] {
        try Access.checkMayRecord(identity)
        let documents = Self.split(text)
        guard !documents.isEmpty else { throw RequestError("no records found") }
        return try await record(documents.map { ($0.line, Recorder.Envelope.parse($0.text)) }, source: source, as: identity)
    }

    /// Checks one record a front built as a value (the web app's forms) and appends it if it
    /// passes: the same path as ``record(_:source:as:)-(String,_,_)``, without JSON text.
    public func record(_ record: JSONValue, source: String, as identity: Identity) async throws -> RecordResult {
        try Access.checkMayRecord(identity)
        return try await self.record([(1, Recorder.Envelope.parse(record))], source: source, as: identity)[0]
    }

    /// Records parsed envelopes: through the record batcher when the service runs one (the
    /// records of requests arriving together checked and appended in one batch), or each in
    /// turn on a connection of the request's; both through ``RecordWriter``.
    func record(
        _ documents: [(line: Int, envelope: Result<Recorder.Envelope, Refusals>)], source: String, as identity: Identity
    ) async throws -> [RecordResult] {
        if let batcher = recordBatcher,
            let results = try await batcher.submit(documents, source: source, as: identity)
        {
            if results.contains(where: { $0.status == "accepted" }) { await publishAfterWriting() }
            return results
        }
        let writer = RecordWriter(recorder: Recorder(actor: identity.name, source: source, rule: Access.recordingRule(for: identity)))
        let results = try await database.withConnection(.request(identity, reading: false)) { connection, cancellation in
            var results: [RecordResult] = []
            for (line, parsed) in documents {
                if cancellation.isCancelled { throw CancellationError() }
                switch parsed {
                case .failure(let refusals): results.append(RecordResult(line: line, id: nil, outcome: .refused(refusals.all)))
                case .success(let envelope):
                    results.append(RecordResult(line: line, id: envelope.id, outcome: try writer.record([(line, envelope)], on: connection)[0]))
                }
            }
            return results
        }
        if results.contains(where: { $0.status == "accepted" }) { await publishAfterWriting() }
        return results
    }

    /// One JSON document (possibly over several lines), or JSON Lines; each with its line number.
    public static func split(_ text: String) -> [(line: Int, text: String)] {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [] }
        if (try? JSONValue.parse(trimmed)) != nil { return [(1, trimmed)] }
        return Importer.jsonLines(text)
    }

    // MARK: Importing

    /// Imports a file (JSON Lines, or CSV of one record type named by `type` or the file's
    /// name) in one transaction, all or nothing unless `skipInvalid`. `progress` is told how
    /// many rows are done; cancelling the calling task rolls the import back. A file that
    /// cannot be read, or whose header is wrong, throws ``Refusals``.
    public func importFile(
        path: String, type: String?, skipInvalid: Bool, as identity: Identity,
        progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws -> ImportOutcome {
        try Access.checkMayRecord(identity)
        let recorder = Recorder(
            actor: identity.name, source: "import:\((path as NSString).lastPathComponent)",
            rule: Access.recordingRule(for: identity))
        // The import's connection blocks: its task runs on a thread of its own, and reads ahead
        // on the cooperative pool (see Importer.run).
        let outcome = try await database.withDedicatedConnection(.request(identity, reading: false), name: "reach.import") { connection in
            let source = try Importer.open(path: path, type: type)
            let csvHeader = source.csvHeader
            let summary = try await Importer(recorder: recorder).run(source: source, skipInvalid: skipInvalid, on: connection) { done in
                try Task.checkCancellation()
                progress(done)
            }
            return ImportOutcome(summary: summary, csvHeader: csvHeader)
        }
        if outcome.summary.committed && outcome.summary.appended > 0 { await publishAfterWriting() }
        return outcome
    }
}
