import CSV
import Foundation
import ReachDomain
import ReachEventLog
import ReachPostgres

/// Imports a file of records (JSON Lines, or CSV of one record type) all or nothing.
///
/// The file is read as a stream, in chunks of rows, inside one transaction: each chunk is
/// checked (against the log, which by then holds the file's earlier chunks, so a row may refer
/// to something registered earlier in the same file) and its rows that pass are appended. At
/// the end the transaction commits only if no row was refused; otherwise it rolls back and
/// nothing is appended, and every refused row is reported with its line number. With
/// `skipInvalid`, the rows that pass are kept and the refused ones are reported (and can be
/// written to a rejects file to fix and import again). Memory depends on the chunk size and
/// the refused rows, not on the size of the file. Importing the same file twice appends
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

    /// Where rows come from: a file read as a stream, or rows in memory.
    public protocol RowSource {
        /// The header of a CSV file (for a rejects file); nil for JSON Lines.
        var csvHeader: [String]? { get }
        /// The next row, or nil at the end.
        mutating func next() throws -> Row?
        /// The next `count` rows, fewer only at the end of the file.
        mutating func next(upTo count: Int) throws -> [Row]
        /// The same rows again from the first, or nil when they cannot be read twice.
        func reopened() throws -> sending Self?
    }

    /// A file read whole into memory (small files and tests).
    public struct File: Sendable, RowSource {
        public var rows: [Row]
        public var csvHeader: [String]?
        var cursor = 0

        public init(rows: [Row], csvHeader: [String]?) {
            self.rows = rows
            self.csvHeader = csvHeader
        }

        public mutating func next() throws -> Row? {
            guard cursor < rows.count else { return nil }
            defer { cursor += 1 }
            return rows[cursor]
        }

        public func reopened() throws -> sending File? { File(rows: rows, csvHeader: csvHeader) }
    }

    /// A refused row: where it is, why, and the row as it stands (for a rejects file).
    public struct RefusedRow: Sendable {
        public var line: Int
        public var id: String?
        public var refusals: [Refusal]
        public var original: [String]
    }

    /// What an import did.
    public struct Summary: Sendable {
        public var read = 0
        public var appended = 0
        public var alreadyPresent = 0
        public var refused: [RefusedRow] = []
        /// Whether the appended rows were kept (false when a refusal rolled everything back).
        public var committed = false
        /// 2 when the file was read again, asking the log about every id (see ``Importer/run(_:skipInvalid:on:progress:)``).
        public var passes = 1

        public init() {}

        mutating func refuse(_ row: Row, _ refusals: [Refusal]) {
            refused.append(RefusedRow(line: row.line, id: row.id, refusals: refusals, original: row.original))
        }
    }

    public var recorder: Recorder
    /// Rows checked and appended together; memory grows with it, not with the file.
    public var chunkSize: Int

    public init(recorder: Recorder, chunkSize: Int = 20_000) {
        self.recorder = recorder
        self.chunkSize = max(1, chunkSize)
    }

    /// Opens a file as a stream of rows: CSV when `type` is given or the name ends in `.csv`,
    /// else JSON Lines.
    public static func open(path: String, type: String?) throws -> any RowSource {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Refusals([Refusal("file", "cannot read \(path): no such file, or no permission to read it")])
        }
        if path.lowercased().hasSuffix(".csv") || type != nil {
            let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            guard let type = type ?? RecordType.recordable.keys.sorted(by: { $0.count > $1.count }).first(where: { name.hasPrefix($0) }) else {
                throw Refusals([
                    Refusal("type", "cannot tell the record type of \(path): name the file after it (such as activity_delivered.csv) or give --type")
                ])
            }
            guard let records = CSVRecords(path: path) else {
                throw Refusals([Refusal("file", "cannot read \(path): no such file, or no permission to read it")])
            }
            return try CSVRows(records: records, type: type, path: path)
        }
        guard let lines = LineReader(path: path) else {
            throw Refusals([Refusal("file", "cannot read \(path): no such file, or no permission to read it")])
        }
        return JSONLinesRows(lines: lines, path: path)
    }

    /// Reads a whole file into memory (see ``open(path:type:)``).
    public static func read(path: String, type: String?) throws -> File {
        var source = try open(path: path, type: type)
        var rows: [Row] = []
        while let row = try source.next() { rows.append(row) }
        return File(rows: rows, csvHeader: source.csvHeader)
    }

    /// Reads JSON Lines: one record per line; blank lines are skipped; a `rejected_because`
    /// key (written by a rejects file) is ignored.
    public static func readJSONLines(_ text: String) -> File {
        File(rows: jsonLines(text).compactMap { jsonLineRow($0.text, line: $0.line) }, csvHeader: nil)
    }

    /// The lines of JSON Lines text that are not blank, trimmed, each with its line number.
    public static func jsonLines(_ text: String) -> [(line: Int, text: String)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
            let content = line.trimmingCharacters(in: .whitespacesAndNewlines)
            return content.isEmpty ? nil : (index + 1, content)
        }
    }

    /// One line of JSON Lines as a row, or nil for a blank line.
    static func jsonLineRow(_ line: some StringProtocol, line number: Int) -> Row? {
        let content = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !content.isEmpty else { return nil }
        guard case .object(var fields)? = try? JSONValue.parse(content) else {
            return Row(line: number, id: nil, envelope: .failure(Refusals([Refusal("record", "is not a JSON object")])), original: [content])
        }
        fields.removeValue(forKey: CSVLayout.reasonColumn)
        var id: String?
        if case .string(let text)? = fields["id"] { id = Recorder.Envelope.existingRecordID(text) ?? text }
        return Row(line: number, id: id, envelope: Recorder.Envelope.parse(JSONValue.object(fields)), original: [content])
    }

    /// Reads CSV with a header row, all rows of one record type.
    public static func readCSV(_ text: String, type: String) throws -> File {
        var source = try CSVRows(records: CSVRecords(bytes: Array(text.utf8)), type: type)
        var rows: [Row] = []
        while let row = try source.next() { rows.append(row) }
        return File(rows: rows, csvHeader: source.csvHeader)
    }

    /// The rows of a CSV file of one record type, as they are read.
    struct CSVRows: RowSource {
        let records: CSVRecords
        let type: RecordType
        /// The place of the id column, and how the other columns fill a record's data.
        let idColumn: Int
        let filler: CSVLayout.Filler
        let csvHeader: [String]?
        /// The file read, when it can be read again.
        let path: String?
        var line = 1

        init(records: CSVRecords, type: String, path: String? = nil) throws {
            self.path = path
            let layout: CSVLayout
            switch CSVLayout.of(type) {
            case .failure(let refusal): throw Refusals([refusal])
            case .success(let found): layout = found
            }
            guard let recordType = RecordType.recordable[type] else { throw Refusals([RecordType.unknown(type)]) }
            let header: [String]?
            do { header = try records.next() } catch { throw Refusals([Refusal("file", "is not readable CSV: its header (line 1): \(error)")]) }
            guard let header, header != [""] else { throw Refusals([Refusal("file", "is empty: a CSV file needs a header row")]) }
            switch layout.match(header: header) {
            case .failure(let refusals): throw refusals
            case .success(let found): (idColumn, filler) = (found.id, CSVLayout.Filler(columns: found.columns))
            }
            self.records = records
            self.type = recordType
            self.csvHeader = header
        }

        mutating func next() throws -> Row? {
            try nextCells().map { Self.row($0, type: type, filler: filler, idColumn: idColumn) }
        }

        func reopened() throws -> sending CSVRows? {
            guard let path, let records = CSVRecords(path: path) else { return nil }
            return try CSVRows(records: records, type: type.name, path: path)
        }

        /// Reads the cells of `count` rows in turn, then makes them into rows on every core.
        mutating func next(upTo count: Int) throws -> [Row] {
            var read: [(line: Int, cells: [String])] = []
            read.reserveCapacity(count)
            while read.count < count, let cells = try nextCells() { read.append(cells) }
            let (type, filler, idColumn) = (type, filler, idColumn)
            return read.concurrentMap { Self.row($0, type: type, filler: filler, idColumn: idColumn) }
        }

        /// The next row that is not blank, as cells, with its line number.
        private mutating func nextCells() throws -> (line: Int, cells: [String])? {
            while true {
                let read: [String]?
                do {
                    read = try records.next()
                } catch let failure as CSVRecords.Failure {
                    // Named by the line (row) and the column it is in.
                    let column = failure.cell.map { $0 < (csvHeader?.count ?? 0) ? csvHeader![$0] : "column \($0 + 1)" }
                    throw Refusals([Refusal(column ?? "file", "on line \(line + 1): \(failure.description)")])
                } catch {
                    throw Refusals([Refusal("file", "stops being readable CSV after line \(line): \(error)")])
                }
                guard let cells = read else { return nil }
                line += 1
                if cells.allSatisfy({ $0.utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 } }) { continue }
                return (line, cells)
            }
        }

        private static func row(_ read: (line: Int, cells: [String]), type: RecordType, filler: CSVLayout.Filler, idColumn: Int) -> Row {
            // A cell a rejects file neutralised (so that a spreadsheet does not take it for a
            // formula) reads as it was.
            let cells = read.cells.contains(where: CSVLayout.isNeutralised) ? read.cells.map(CSVLayout.unneutralised) : read.cells
            let cell = idColumn < cells.count ? cells[idColumn] : ""
            // A CSV file holds one record type, known to exist, at its current version.
            let envelope = Recorder.Envelope.csvRow(type: type, id: cell, data: filler.data(of: cells))
            let id = Recorder.Envelope.existingRecordID(cell)
            return Row(line: read.line, id: id, envelope: envelope, original: cells)
        }
    }

    /// The rows of a JSON Lines file, as they are read.
    struct JSONLinesRows: RowSource {
        var lines: LineReader
        let path: String
        var csvHeader: [String]? { nil }

        func reopened() throws -> sending JSONLinesRows? {
            LineReader(path: path).map { JSONLinesRows(lines: $0, path: path) }
        }

        mutating func next() throws -> Row? {
            while let (number, text) = try lines.next() {
                if let row = Importer.jsonLineRow(text, line: number) { return row }
            }
            return nil
        }
    }

    /// Checks and records every row in one transaction; keeps them only if none was refused,
    /// unless `skipInvalid`. `progress` is told how many rows are done.
    public func run(
        _ file: File, skipInvalid: Bool, on connection: Connection,
        progress: (Int) throws -> Void = { _ in }
    ) async throws -> Summary {
        try await run(source: file, skipInvalid: skipInvalid, on: connection, progress: progress)
    }

    /// Checks and records the rows of `source`, chunk by chunk, in one transaction.
    ///
    /// The next chunk is read, and its rows checked on their own, by a child task on a thread of
    /// its own while the current one is checked against the log and appended on the import's
    /// own thread (the connection blocks, so neither runs on the cooperative pool).
    ///
    /// A file that can be read twice is first imported as if its records were new to the log:
    /// the log's unique index on event ids, which every append passes through anyway, is the
    /// check. If a record may be there already (an id the index finds, or a row refused for
    /// what the log holds), that pass is rolled back and the file read again, asking the log
    /// about every id first. The outcome is the same either way.
    public func run<Source: RowSource>(
        source: sending Source, skipInvalid: Bool, on connection: Connection,
        progress: (Int) throws -> Void = { _ in }
    ) async throws -> Summary {
        if let second = try source.reopened() {
            do {
                return try await pass(source, skipInvalid: skipInvalid, askLog: false, on: connection, progress: progress)
            } catch  where Self.isRecordedAlready(error) {
                var summary = try await pass(second, skipInvalid: skipInvalid, askLog: true, on: connection, progress: progress)
                summary.passes = 2
                return summary
            }
        }
        return try await pass(source, skipInvalid: skipInvalid, askLog: true, on: connection, progress: progress)
    }

    /// Whether a pass that did not ask the log about ids failed because a record may be in
    /// the log already.
    static func isRecordedAlready(_ error: any Error) -> Bool {
        switch error {
        case is AskTheLogFirst: return true
        case let error as EventLogError: return error.code == .idempotencyConflict
        case let error as PostgresError:
            return (error.sqlState == "23505" && error.constraint == "events_event_id_key") || error.sqlState == "RX002"
        default: return false
        }
    }

    /// One pass over the rows; `askLog` says whether each chunk's ids are looked up in the log
    /// before it is appended.
    func pass<Source: RowSource>(
        _ source: sending Source, skipInvalid: Bool, askLog: Bool, on connection: Connection,
        progress: (Int) throws -> Void
    ) async throws -> Summary {
        // The pass blocks on its connection: it runs on a thread of its own whoever calls it,
        // never on the cooperative pool, which its read-ahead must not wait behind.
        let reader = ChunkReader(source, size: chunkSize) { [self] rows in prepare(rows) }
        return try await onThreadOfItsOwn(
            name: "reach.import",
            async: {
                try await passOnThisThread(reader, skipInvalid: skipInvalid, askLog: askLog, on: connection, progress: progress)
            })
    }

    private func passOnThisThread<Source: RowSource>(
        _ reader: ChunkReader<Source>, skipInvalid: Bool, askLog: Bool, on connection: Connection,
        progress: (Int) throws -> Void
    ) async throws -> Summary {
        let state = BatchState()
        // Kept only when nothing was refused, or when refused rows are to be skipped.
        return try await connection.withTransaction(keepingIf: \.committed) { connection in
            var summary = Summary()
            var next = try await reader.next()
            while var chunk = next {
                // The chunk after this one, read and checked meanwhile by a child task on a thread
                // of its own (this task's thread blocks on the connection, and a busy cooperative
                // pool must not hold the read-ahead back).
                let more = chunk.rows.count == chunkSize
                async let following = onThreadOfItsOwn(
                    name: "reach.import.read",
                    async: {
                        more ? try await reader.next() : nil
                    })
                try runBatch(chunk.rows, checked: chunk.checked.take()!, askLog: askLog, state: state, into: &summary, on: connection)
                try progress(summary.read)
                next = try await following
            }
            if summary.refused.isEmpty || skipInvalid {
                try state.session.finish(on: connection)
                summary.committed = true
            }
            return summary
        }
    }

    /// The refused rows in the file's own format, each with the reasons it was refused, so a
    /// person can fix them and import the rejects file as it is.
    public static func rejects(of file: File, summary: Summary) -> String {
        rejects(csvHeader: file.csvHeader, summary: summary)
    }

    /// The refused rows of an import, in the format of its file (CSV with this header, or JSON Lines).
    public static func rejects(csvHeader: [String]?, summary: Summary) -> String {
        func reason(_ row: RefusedRow) -> String { row.refusals.map(\.description).joined(separator: "; ") }
        if let header = csvHeader {
            let writer = try! CSVWriter(stream: .toMemory())
            let keep = header.enumerated().filter { $0.element.trimmingCharacters(in: .whitespaces) != CSVLayout.reasonColumn }.map(\.offset)
            // Every cell a spreadsheet would take for a formula is neutralised (OWASP's advice
            // on CSV injection): the rejects file is opened in one to be fixed, and its cells are
            // what someone typed. An import reads them back as they were.
            try! writer.write(row: (keep.map { header[$0] } + [CSVLayout.reasonColumn]).map(CSVLayout.neutralised))
            for row in summary.refused {
                try! writer.write(row: (keep.map { $0 < row.original.count ? row.original[$0] : "" } + [reason(row)]).map(CSVLayout.neutralised))
            }
            writer.stream.close()
            return String(decoding: writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as! Data, as: UTF8.self) + "\n"
        }
        return summary.refused.map { row -> String in
            guard let original = row.original.first, case .object(var fields)? = try? JSONValue.parse(original) else {
                return row.original.first ?? ""
            }
            fields[CSVLayout.reasonColumn] = .string(reason(row))
            return JSONValue.object(fields).text
        }.joined(separator: "\n") + "\n"
    }
}

extension Importer.RowSource {
    public mutating func next(upTo count: Int) throws -> [Importer.Row] {
        var rows: [Importer.Row] = []
        while rows.count < count, let row = try next() { rows.append(row) }
        return rows
    }
}

/// Reads a source's rows a chunk at a time and does the work each row needs alone
/// (``Importer/prepare(_:)``), for one import pass: an actor, so that the source (a file
/// being read) belongs to it alone while the pass reads ahead from another task.
actor ChunkReader<Source: Importer.RowSource> {
    private var source: Source
    private let size: Int
    private let prepare: @Sendable ([Importer.Row]) -> Importer.Chunk

    init(_ source: sending Source, size: Int, prepare: @escaping @Sendable ([Importer.Row]) -> Importer.Chunk) {
        self.source = source
        self.size = size
        self.prepare = prepare
    }

    /// The next chunk, nil at the end.
    func next() throws -> Importer.Chunk? {
        try Task.checkCancellation()
        let rows = try source.next(upTo: size)
        return rows.isEmpty ? nil : prepare(rows)
    }
}

/// Reads a file line by line, with line numbers, holding one buffer of it at a time.
struct LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private var number = 0

    init?(path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        self.handle = handle
    }

    /// The longest line read, in bytes: beyond any record's (a request's body is at most 2 MiB).
    static let maximumLine = 2 * 1024 * 1024

    private func tooLong() -> Refusals {
        Refusals([
            Refusal(
                "file",
                "line \(number + 1) is longer than \(Self.maximumLine / 1024 / 1024) MiB: no record is so long; check the file is JSON Lines, one record per line"
            )
        ])
    }

    /// The next line (without its newline) and its number, or nil at the end of the file.
    mutating func next() throws -> (Int, String)? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                guard newline - start <= Self.maximumLine else { throw tooLong() }
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                number += 1
                return (number, line)
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                guard buffer.count - start <= Self.maximumLine else { throw tooLong() }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                number += 1
                return (number, line)
            }
            // No line break in what is left: it is one line so far.
            if buffer.count - start > Self.maximumLine { throw tooLong() }
            buffer.removeFirst(start)
            start = 0
            let more = try handle.read(upToCount: 1 << 20) ?? Data()
            if more.isEmpty { atEnd = true } else { buffer.append(contentsOf: more) }
        }
    }
}
