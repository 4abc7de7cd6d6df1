import Foundation
import ReachDomain

/// CSV records (RFC 4180) read from UTF-8 bytes, a block at a time: cells separated by commas,
/// records by LF or CRLF; a cell in double quotes may hold commas, line breaks and doubled
/// quotes. A byte-order mark at the start is skipped.
///
/// Imports read files of a million rows; this reader works on bytes, where the CSV package's
/// reader (still used to write CSV) decodes one Unicode scalar at a time and costs several times
/// more per row.
final class CSVRecords {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// The place of the cell at fault in its record (from 0), when one is.
        var cell: Int?
    }

    /// The longest cell read, in bytes: far beyond any field's (text is at most 500
    /// characters), so that a quote never closed, or a file that is not CSV, is refused rather
    /// than read whole into memory.
    static let maximumCell = 64 * 1024
    /// The most cells a record may have (far beyond any record type's columns), so that a line
    /// of commas is refused rather than made into millions of cells.
    static let maximumCells = 1_000

    private let file: UnsafeMutablePointer<FILE>?
    private var block: [UInt8]
    private var index = 0
    private var exhausted: Bool
    /// Records read so far (the header included).
    private(set) var records = 0
    private static let blockSize = 1 << 20

    /// Reads the file at `path`, or answers nil when it cannot be opened.
    init?(path: String) {
        guard let file = fopen(path, "rb") else { return nil }
        self.file = file
        block = []
        exhausted = false
        skipByteOrderMark()
    }

    /// Reads bytes already in memory.
    init(bytes: [UInt8]) {
        file = nil
        block = bytes
        exhausted = true
        skipByteOrderMark()
    }

    deinit {
        if let file { fclose(file) }
    }

    private func skipByteOrderMark() {
        while block.count - index < 3 && refill() {}
        if block.count - index >= 3, block[index] == 0xEF, block[index + 1] == 0xBB, block[index + 2] == 0xBF { index += 3 }
    }

    /// Keeps the bytes not yet read and appends the next block of the file; false at its end.
    private func refill() -> Bool {
        guard !exhausted, let file else { return false }
        if index > 0 {
            block.removeSubrange(0..<index)
            index = 0
        }
        let start = block.count
        block.append(contentsOf: repeatElement(0, count: Self.blockSize))
        let read = block.withUnsafeMutableBufferPointer { fread($0.baseAddress! + start, 1, Self.blockSize, file) }
        block.removeSubrange((start + read)...)
        if read == 0 { exhausted = true }
        return read > 0
    }

    /// The number of cells of the last record, to make room for the next one's.
    private var width = 0

    /// The next record's cells, or nil at the end of the input.
    func next() throws -> [String]? {
        let quote = UInt8(ascii: "\"")
        let comma = UInt8(ascii: ",")
        let lf: UInt8 = 0x0A
        let cr: UInt8 = 0x0D
        var cells: [String] = []
        cells.reserveCapacity(width)
        var cell: [UInt8] = []
        var quoted = false
        var started = false
        var atCellStart = true
        func text(_ bytes: UnsafeBufferPointer<UInt8>) throws -> String {
            // ASCII needs no validating (and validating looks up generic metadata on every call).
            guard let text = bytes.allSatisfy({ $0 < 0x80 }) ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
            else {
                throw Failure(description: "the text is not UTF-8 (save the file as CSV UTF-8)", cell: cells.count)
            }
            return text
        }
        func finish() throws {
            guard cells.count < Self.maximumCells else { throw tooMany() }
            cells.append(try cell.withUnsafeBufferPointer { try text($0) })
            cell.removeAll(keepingCapacity: true)
            atCellStart = true
        }
        func tooMany() -> Failure {
            Failure(description: "the line has more than \(Self.maximumCells) cells: no record type has so many columns; check the file is CSV")
        }
        func tooLong() -> Failure {
            Failure(
                description:
                    "the cell is longer than \(Self.maximumCell / 1024) KiB\(quoted ? " (does a quote that opens it never close?)" : ""): no field is so long; check the file is CSV",
                cell: cells.count)
        }
        func endRecord() -> [String] {
            records += 1
            width = cells.count
            return cells
        }
        while true {
            if atCellStart {
                // Most cells are plain (no quotes) and end in the block read: each is found and
                // made in one step.
                let found = try block.withUnsafeBufferPointer { bytes -> UInt8? in
                    guard index < bytes.count, bytes[index] != quote else { return nil }
                    var end = index
                    while end < bytes.count, bytes[end] != comma, bytes[end] != lf, bytes[end] != cr { end += 1 }
                    guard end - index <= Self.maximumCell else { throw tooLong() }
                    guard end < bytes.count else { return nil }
                    guard cells.count < Self.maximumCells else { throw tooMany() }
                    cells.append(try text(UnsafeBufferPointer(rebasing: bytes[index..<end])))
                    index = end + 1
                    return bytes[end]
                }
                if let found {
                    started = true
                    switch found {
                    case comma: continue
                    case cr:
                        if index == block.count { _ = refill() }
                        if index < block.count, block[index] == lf { index += 1 }
                        return endRecord()
                    default: return endRecord()
                    }
                }
            }
            if index == block.count && !refill() {
                if quoted { throw Failure(description: "a cell opens a quote that is never closed", cell: cells.count) }
                guard started else { return nil }
                try finish()
                return endRecord()
            }
            let byte = block[index]
            index += 1
            started = true
            atCellStart = false
            if cell.count >= Self.maximumCell { throw tooLong() }
            if quoted {
                guard byte == quote else {
                    cell.append(byte)
                    continue
                }
                // A doubled quote is a quote; a single one closes the cell.
                if index == block.count { _ = refill() }
                if index < block.count, block[index] == quote {
                    cell.append(quote)
                    index += 1
                } else {
                    quoted = false
                }
                continue
            }
            switch byte {
            case comma:
                try finish()
            case lf:
                try finish()
                return endRecord()
            case cr:
                if index == block.count { _ = refill() }
                if index < block.count, block[index] == lf { index += 1 }
                try finish()
                return endRecord()
            case quote where cell.isEmpty:
                quoted = true
            default:
                cell.append(byte)
            }
        }
    }
}
