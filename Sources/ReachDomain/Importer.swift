import CSV
import Foundation
import ReachPostgres

/// Imports a file of records (JSON Lines, or CSV of one record type) all or nothing.
///
/// Every row is checked first, in file order, inside one transaction, so a row may refer to
/// something registered earlier in the same file. If any row is refused, the transaction is
/// rolled back and nothing is appended; every refused row is reported with its line number.
/// With `skipInvalid`, the rows that pass are kept and the refused ones are reported (and can
/// be written to a rejects file to fix and import again). Importing the same file twice appends
/// nothing the second time: every record carries its sender's id.
public struct Importer: Sendable {
    /// One row of the file, ready to record, or refused before it could be read.
    public struct Row: Sendable {
        public var line: Int
        /// The record's id, where the row has one.
        public var id: String?
        public var envelope: Result<Recorder.Envelope, Refusals>
        /// The row as it stands in the file, for a rejects file.
        public var original: [String]
    }

    /// A parsed file: its rows, and for CSV the header (for a rejects file).
    public struct File: Sendable {
        public var rows: [Row]
        public var csvHeader: [String]?
    }

    /// What an import did.
    public struct Summary: Sendable {
        public var read = 0
        public var appended = 0
        public var alreadyPresent = 0
        public var refused: [(line: Int, id: String?, refusals: [Refusal])] = []
        /// Whether the appended rows were kept (false when a refusal rolled everything back).
        public var committed = false

        public init() {}
    }

    public var recorder: Recorder
    public init(recorder: Recorder) { self.recorder = recorder }

    /// Reads a file: CSV when `type` is given or the name ends in `.csv`, else JSON Lines.
    public static func read(path: String, type: String?) throws -> File {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Refusals([Refusal("file", "cannot read \(path): no such file, or no permission to read it")])
        }
        let text = String(decoding: data, as: UTF8.self)
        if path.lowercased().hasSuffix(".csv") || type != nil {
            let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            guard let type = type ?? RecordType.all.keys.sorted(by: { $0.count > $1.count }).first(where: { name.hasPrefix($0) }) else {
                throw Refusals([Refusal("type", "cannot tell the record type of \(path): name the file after it (such as activity_delivered.csv) or give --type")])
            }
            return try readCSV(text, type: type)
        }
        return readJSONLines(text)
    }

    /// Reads JSON Lines: one record per line; blank lines are skipped; a `rejected_because`
    /// key (written by a rejects file) is ignored.
    public static func readJSONLines(_ text: String) -> File {
        var rows: [Row] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !content.isEmpty else { continue }
            guard case .object(var fields)? = try? JSONValue.parse(content) else {
                rows.append(Row(line: index + 1, id: nil, envelope: .failure(Refusals([Refusal("record", "is not a JSON object")])), original: [content]))
                continue
            }
            fields.removeValue(forKey: CSVLayout.reasonColumn)
            let envelope = Recorder.Envelope.parse(JSONValue.object(fields))
            var id: String?
            if case .string(let text)? = fields["id"] { id = text }
            rows.append(Row(line: index + 1, id: id, envelope: envelope, original: [content]))
        }
        return File(rows: rows, csvHeader: nil)
    }

    /// Reads CSV with a header row, all rows of one record type.
    public static func readCSV(_ text: String, type: String) throws -> File {
        let layout: CSVLayout
        switch CSVLayout.of(type) {
        case .failure(let refusal): throw Refusals([refusal])
        case .success(let found): layout = found
        }
        let reader: CSVReader
        do {
            reader = try CSVReader(string: text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, hasHeaderRow: true, trimFields: false)
        } catch {
            throw Refusals([Refusal("file", "is not readable CSV: \(error)")])
        }
        guard let header = reader.headerRow else { throw Refusals([Refusal("file", "is empty: a CSV file needs a header row")]) }
        let matched: (id: Int, columns: [CSVLayout.Column?])
        switch layout.match(header: header) {
        case .failure(let refusals): throw refusals
        case .success(let found): matched = found
        }
        var rows: [Row] = []
        var line = 1
        while let cells = reader.next() {
            line += 1
            if cells.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            let id = matched.id < cells.count ? cells[matched.id].trimmingCharacters(in: .whitespaces) : ""
            let document = JSONValue.object([
                "type": .string(type), "id": id.isEmpty ? .null : .string(id),
                "data": .object(layout.data(of: cells, columns: matched.columns)),
            ])
            rows.append(Row(line: line, id: id.isEmpty ? nil : id, envelope: Recorder.Envelope.parse(document), original: cells))
        }
        if let error = reader.error { throw Refusals([Refusal("file", "stops being readable CSV after line \(line): \(error)")]) }
        return File(rows: rows, csvHeader: header)
    }

    /// Checks and records every row in one transaction; keeps them only if none was refused,
    /// unless `skipInvalid`. `progress` is told how many rows are done.
    /// How rows are checked and appended.
    public enum Mode: Sendable {
        /// In batches where the file allows (see ``Importer/fitsBatch(_:)``), else row by row.
        case automatic
        /// Each row recorded in turn; needed for corrections, withdrawals and plan actions.
        case rowByRow
    }

    public func run(_ file: File, skipInvalid: Bool, mode: Mode = .automatic, on connection: Connection, progress: (Int) -> Void = { _ in }) throws -> Summary {
        if mode == .automatic && Self.fitsBatch(file) { return try runBatch(file, skipInvalid: skipInvalid, on: connection, progress: progress) }
        return try runRowByRow(file, skipInvalid: skipInvalid, on: connection, progress: progress)
    }

    /// The row-by-row path: each row recorded in turn, inside one transaction.
    func runRowByRow(_ file: File, skipInvalid: Bool, on connection: Connection, progress: (Int) -> Void) throws -> Summary {
        var summary = Summary()
        try connection.executeScript("BEGIN")
        do {
            for (index, row) in file.rows.enumerated() {
                summary.read += 1
                switch row.envelope {
                case .failure(let refusals):
                    summary.refused.append((row.line, row.id, refusals.all))
                case .success(let envelope):
                    try connection.executeScript("SAVEPOINT reach_row")
                    let outcome: RecordOutcome
                    do {
                        outcome = try recorder.record(envelope, on: connection)
                        try connection.executeScript("RELEASE SAVEPOINT reach_row")
                    } catch {
                        try connection.executeScript("ROLLBACK TO SAVEPOINT reach_row")
                        throw error
                    }
                    switch outcome {
                    case .accepted: summary.appended += 1
                    case .alreadyRecorded: summary.alreadyPresent += 1
                    case .refused(let refusals): summary.refused.append((row.line, row.id, refusals))
                    }
                }
                if index % 100 == 99 { progress(index + 1) }
            }
            progress(file.rows.count)
            if summary.refused.isEmpty || skipInvalid {
                try connection.executeScript("COMMIT")
                summary.committed = true
            } else {
                try connection.executeScript("ROLLBACK")
            }
        } catch {
            if connection.isInTransaction { try? connection.executeScript("ROLLBACK") }
            throw error
        }
        return summary
    }

    /// The refused rows in the file's own format, each with the reasons it was refused, so a
    /// person can fix them and import the rejects file as it is.
    public static func rejects(of file: File, summary: Summary) -> String {
        let reasons = Dictionary(summary.refused.map { ($0.line, $0.refusals.map(\.description).joined(separator: "; ")) }, uniquingKeysWith: { a, _ in a })
        let refusedRows = file.rows.filter { reasons[$0.line] != nil }
        if let header = file.csvHeader {
            let writer = try! CSVWriter(stream: .toMemory())
            let keep = header.enumerated().filter { $0.element.trimmingCharacters(in: .whitespaces) != CSVLayout.reasonColumn }.map(\.offset)
            try! writer.write(row: keep.map { header[$0] } + [CSVLayout.reasonColumn])
            for row in refusedRows {
                try! writer.write(row: keep.map { $0 < row.original.count ? row.original[$0] : "" } + [reasons[row.line]!])
            }
            writer.stream.close()
            return String(decoding: writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as! Data, as: UTF8.self) + "\n"
        }
        return refusedRows.map { row -> String in
            guard case .object(var fields)? = try? JSONValue.parse(row.original[0]) else { return row.original[0] }
            fields[CSVLayout.reasonColumn] = .string(reasons[row.line]!)
            return JSONValue.object(fields).text
        }.joined(separator: "\n") + "\n"
    }
}
