import CSV
import Foundation
import ReachEventLog

/// How a record type is laid out as a CSV row: one column per field, nested fields flattened
/// (`attendance.pupils.ks3` is the column `pupils_ks3`), lists separated by semicolons. Derived
/// from the type's example and its CSV description (``RecordType/csv``), so the template and
/// the importer always agree.
public struct CSVLayout: Sendable {
    /// One column: its header and the path of the field it fills.
    public struct Column: Sendable, Hashable {
        public var header: String
        public var path: [String]
        public var kind: Kind
    }

    public enum Kind: Sendable, Hashable {
        case text, number, flag, textList, numberList
    }

    public let type: String
    public let columns: [Column]

    /// Object names left out of column headers, so that headers stay short and match what
    /// staff already use (`pupils_ks3`, `staff_teaching`, `feel_safe_in_school_agreeing`).
    static let silentParents: Set<String> = ["attendance", "measures", "domains", "ratings", "genders"]

    /// The CSV header of the column that is the record's id.
    public static let idColumn = "id"
    /// A column the importer ignores, written by `--rejects` with the reasons a row was refused.
    public static let reasonColumn = "rejected_because"

    /// A cell a spreadsheet would take for a formula (one starting with `=`, `+`, `-`, `@`, a
    /// tab or a carriage return), written with a `'` before it, as OWASP advises against CSV
    /// injection, so that it shows as text; any other cell as it is.
    public static func neutralised(_ cell: String) -> String {
        guard let first = cell.utf8.first, formulaStarts.contains(first) else { return cell }
        return "'" + cell
    }

    /// Whether a cell was written by ``neutralised(_:)``.
    public static func isNeutralised(_ cell: String) -> Bool {
        let bytes = cell.utf8
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "'") else { return false }
        return formulaStarts.contains(bytes[bytes.index(after: bytes.startIndex)])
    }

    /// A cell as it was before ``neutralised(_:)``.
    public static func unneutralised(_ cell: String) -> String {
        isNeutralised(cell) ? String(cell.dropFirst()) : cell
    }

    private static let formulaStarts: Set<UInt8> = [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D]

    /// A number cell as JSON: a finite decimal number, else the text itself, which the record
    /// type's checks then refuse with the field's name (`inf`, `nan`, `0x10` and `1e400` are
    /// text here).
    package static func number(_ cell: String) -> JSONValue {
        let decimal = cell.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
        }
        guard decimal, let value = Double(cell), value.isFinite else { return .string(cell) }
        return .number(value)
    }

    /// The layout of `type`, or a refusal saying why it has none (its records hold lists of
    /// objects, which one row cannot).
    public static func of(_ type: String) -> Result<CSVLayout, Refusal> {
        guard let recordType = RecordType.recordable[type] else { return .failure(RecordType.unknown(type)) }
        return of(recordType)
    }

    /// The layout of `type`: a column per field of its example and of the fields its CSV
    /// description adds; or a refusal saying why it has none.
    public static func of(_ recordType: RecordType) -> Result<CSVLayout, Refusal> {
        let type = recordType.name
        let unavailable = Refusal("type", "\(type) records hold lists of objects, which one CSV row cannot; use JSON Lines for them")
        guard case .rows(let alsoColumns) = recordType.csv, case .object(var fields)? = try? JSONValue.parse(recordType.example) else {
            return .failure(unavailable)
        }
        for (key, value) in alsoColumns { fields[key] = value }
        var columns: [Column] = []
        func walk(_ value: JSONValue, _ path: [String]) -> Bool {
            switch value {
            case .object(let object):
                for key in object.keys.sorted() where !walk(object[key]!, path + [key]) { return false }
                return true
            case .array(let items):
                if items.allSatisfy({ if case .number = $0 { true } else { false } }) {
                    columns.append(column(path, .numberList))
                    return true
                }
                if items.allSatisfy({ if case .string = $0 { true } else { false } }) {
                    columns.append(column(path, .textList))
                    return true
                }
                return false
            case .number:
                columns.append(column(path, .number))
                return true
            case .bool:
                columns.append(column(path, .flag))
                return true
            case .string, .null:
                columns.append(column(path, .text))
                return true
            }
        }
        func column(_ path: [String], _ kind: Kind) -> Column {
            let visible = path.enumerated().filter { index, part in !(index < path.count - 1 && silentParents.contains(part)) }.map(\.element)
            return Column(header: visible.joined(separator: "_"), path: path, kind: kind)
        }
        guard walk(.object(fields), []) else { return .failure(unavailable) }
        // Columns follow the example's order of fields (identifiers first, as people expect),
        // then the optional ones it leaves out.
        let exampleText = recordType.example
        func place(_ column: Column) -> Int {
            let first = column.path.first(where: { !silentParents.contains($0) }) ?? column.path[0]
            return exampleText.range(of: "\"\(column.path[0])\"").map { exampleText.distance(from: exampleText.startIndex, to: $0.lowerBound) }
                ?? exampleText.range(of: "\"\(first)\"").map { exampleText.distance(from: exampleText.startIndex, to: $0.lowerBound) }
                ?? Int.max
        }
        let ordered = columns.enumerated().sorted { a, b in
            let (pa, pb) = (place(a.element), place(b.element))
            return pa != pb ? pa < pb : a.offset < b.offset
        }.map(\.element)
        return .success(CSVLayout(type: type, columns: ordered))
    }

    /// The header row, starting with the id column.
    public var header: [String] { [Self.idColumn] + columns.map(\.header) }

    /// The example record as a row.
    public var exampleRow: [String] {
        guard let example = RecordType.all[type]?.example, case .object(let fields)? = try? JSONValue.parse(example) else { return [] }
        return row(id: "example-1", data: fields)
    }

    /// A record's data as a row of this layout (fields the layout has no column for are left out).
    public func row(id: String, data fields: JSONObject) -> [String] {
        [id]
            + columns.map { column in
                var value: JSONValue? = .object(fields)
                for key in column.path {
                    guard case .object(let object)? = value else {
                        value = nil
                        break
                    }
                    value = object[key]
                }
                switch value {
                case .string(let text)?: return text
                case .number(let number)?: return Int(exactly: number).map(String.init) ?? String(number)
                case .bool(let flag)?: return flag ? "true" : "false"
                case .array(let items)?:
                    return items.map { item -> String in
                        if case .string(let text) = item { return text }
                        if case .number(let number) = item { return Int(exactly: number).map(String.init) ?? String(number) }
                        return item.text
                    }.joined(separator: ";")
                default: return ""
                }
            }
    }

    /// The template: the header and the example row, as CSV text.
    public var template: String {
        let writer = try! CSVWriter(stream: .toMemory())
        try! writer.write(row: header)
        try! writer.write(row: exampleRow)
        writer.stream.close()
        return String(decoding: writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as! Data, as: UTF8.self) + "\n"
    }

    /// Checks a file's header: every column must be known. Returns the index of the id column
    /// and, for each other column, its place in the layout (`nil` for the ignored reasons column).
    public func match(header: [String]) -> Result<(id: Int, columns: [Column?]), Refusals> {
        var refusals: [Refusal] = []
        let known = Dictionary(columns.map { ($0.header, $0) }, uniquingKeysWith: { first, _ in first })
        var matched: [Column?] = []
        for name in header {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            if trimmed == Self.idColumn || trimmed == Self.reasonColumn {
                matched.append(nil)
                continue
            }
            guard let column = known[trimmed] else {
                refusals.append(Refusal(trimmed, "is not a column of \(type) files; the template of \(type) files shows the columns"))
                matched.append(nil)
                continue
            }
            matched.append(column)
        }
        guard let id = header.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == Self.idColumn }) else {
            refusals.append(
                Refusal(Self.idColumn, "column is missing: each row needs an id of your choosing, so that importing the file again changes nothing"))
            return .failure(Refusals(refusals))
        }
        guard refusals.isEmpty else { return .failure(Refusals(refusals)) }
        return .success((id, matched))
    }
}
