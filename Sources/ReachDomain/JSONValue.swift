import Foundation
import ReachEventLog
import ReachPostgres

/// A JSON value, kept as parsed so records can be checked field by field before anything is
/// decoded into types.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode(JSONObject.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses one JSON document (RFC 8259), directly from its UTF-8 bytes.
    public static func parse(_ text: some StringProtocol) throws -> JSONValue {
        var parser = Parser(bytes: Array(text.utf8))
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.failure("unexpected text after the document") }
        return value
    }

    /// A small recursive-descent JSON parser: Foundation's decoder is several times slower on
    /// the many small documents an import reads.
    struct Parser {
        let bytes: [UInt8]
        var index = 0

        struct Failure: Error, CustomStringConvertible {
            var description: String
        }

        func failure(_ what: String) -> Failure { Failure(description: "invalid JSON at byte \(index): \(what)") }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < 100 else { throw failure("nested too deeply") }
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var object = JSONObject()
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                while true {
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a key") }
                    let key = try string()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                    index += 1
                    object[key] = try value(depth: depth + 1)
                    skipWhitespace()
                    guard index < bytes.count else { throw failure("unexpected end") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                    throw failure("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                index += 1
                var array: [JSONValue] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
                while true {
                    array.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard index < bytes.count else { throw failure("unexpected end") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
                    throw failure("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ word: String) throws {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
                throw failure("unknown word")
            }
            index += expected.count
        }

        mutating func number() throws -> Double {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            func digits() -> Int {
                let from = index
                while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
                return index - from
            }
            let whole = digits()
            guard whole > 0, !(whole > 1 && bytes[index - whole] == 0x30) else { throw failure("not a number") }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw failure("not a number") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw failure("not a number") }
            }
            guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else { throw failure("not a number") }
            return value
        }

        mutating func string() throws -> String {
            var at = index
            defer { index = at }
            do {
                let content = try bytes.withUnsafeBufferPointer { try JSONText.readString($0, at: &at) }
                return String(decoding: content, as: UTF8.self)
            } catch let failure as JSONText.StringFailure {
                throw Failure(description: "invalid JSON at byte \(at): \(failure)")
            }
        }
    }

    /// The value as compact JSON with sorted keys (whole numbers without a fraction).
    public var text: String {
        var out: [UInt8] = []
        write(to: &out, jsonb: false)
        return String(decoding: out, as: UTF8.self)
    }

    /// The document as PostgreSQL's jsonb prints it (keys shorter first, then by bytes; `", "`
    /// and `": "` between items), which the log's bulk path stores and hashes as it is.
    public var jsonbText: String { String(decoding: jsonbBytes.bytes, as: UTF8.self) }

    /// The document as jsonb prints it, and whether that is certain: it is unless a number
    /// had to be written with an exponent (`1e-07`), which jsonb prints in full.
    public var jsonbBytes: (bytes: [UInt8], exact: Bool) {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        let exact = write(to: &out, jsonb: true)
        return (out, exact)
    }

    /// Writes the value compact with keys sorted, or with `jsonb` as jsonb prints it. Answers
    /// false when a number was written with an exponent (jsonb would print its digits).
    @discardableResult
    func write(to out: inout [UInt8], jsonb: Bool) -> Bool {
        func separator() {
            out.append(UInt8(ascii: ","))
            if jsonb { out.append(UInt8(ascii: " ")) }
        }
        var exact = true
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let value):
            if value == value.rounded(), abs(value) < 1e15 { out.appendDecimal(Int64(value)) }
            else {
                let text = "\(value)"
                exact = !text.utf8.contains(UInt8(ascii: "e"))
                out.append(contentsOf: text.utf8)
            }
        case .string(let value): JSONText.appendQuoted(value, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { separator() }
                if !item.write(to: &out, jsonb: jsonb) { exact = false }
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            func member(_ index: Int, _ key: String, _ value: JSONValue) {
                if index > 0 { separator() }
                JSONText.appendQuoted(key, to: &out)
                out.append(UInt8(ascii: ":"))
                if jsonb { out.append(UInt8(ascii: " ")) }
                if !value.write(to: &out, jsonb: jsonb) { exact = false }
            }
            if jsonb {
                // The fields are kept in jsonb's order already.
                for (index, (key, value)) in fields.enumerated() { member(index, key, value) }
            } else {
                for (index, (key, value)) in fields.sorted(by: { $0.key < $1.key }).enumerated() { member(index, key, value) }
            }
            out.append(UInt8(ascii: "}"))
        }
        return exact
    }

    /// A short name of the value's kind, for messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "true or false"
        case .number: return "a number"
        case .string: return "text"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

/// The fields of a JSON object, each key once, kept in the order PostgreSQL's jsonb keeps
/// them: shorter keys first, then by bytes. Records hold a handful of fields, so looking a key
/// up along a short list costs less than hashing it, and the jsonb text needs no sorting.
public struct JSONObject: Sendable, Hashable, Codable, Sequence, ExpressibleByDictionaryLiteral {
    /// One field: its key and value.
    public struct Field: Sendable, Hashable {
        public var key: String
        public var value: JSONValue
    }

    /// The fields, in jsonb's order (one list: an import makes millions of objects).
    public private(set) var fields: [Field] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// The fields of `pairs`; a key given twice keeps its last value.
    public init(_ pairs: some Sequence<(String, JSONValue)>) {
        for (key, value) in pairs { self[key] = value }
    }

    public init(_ dictionary: [String: JSONValue]) {
        for (key, value) in dictionary { self[key] = value }
    }

    /// Fields whose keys are in jsonb's order already, each once.
    init(ordered fields: [Field]) {
        assert(zip(fields, fields.dropFirst()).allSatisfy { Self.precedes($0.key, $1.key) })
        self.fields = fields
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }
    /// The keys, in jsonb's order.
    public var keys: [String] { fields.map(\.key) }
    /// The value of the field at `index`, in jsonb's order.
    public func value(at index: Int) -> JSONValue { fields[index].value }

    /// Whether `a` comes before `b` in jsonb's order of keys.
    static func precedes(_ a: String, _ b: String) -> Bool {
        let (countA, countB) = (a.utf8.count, b.utf8.count)
        return countA != countB ? countA < countB : a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The place of `key` among the fields, if it is one.
    public func index(forKey key: String) -> Int? {
        let length = key.utf8.count
        for index in fields.indices where fields[index].key.utf8.count == length && fields[index].key == key { return index }
        return nil
    }

    public subscript(key: String) -> JSONValue? {
        get { index(forKey: key).map { fields[$0].value } }
        set {
            if let index = index(forKey: key) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
                return
            }
            guard let newValue else { return }
            // Fields usually arrive in order (jsonb's own text, the parser's own output).
            var place = fields.count
            while place > 0 && Self.precedes(key, fields[place - 1].key) { place -= 1 }
            fields.insert(Field(key: key, value: newValue), at: place)
        }
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let index = index(forKey: key) else { return nil }
        return fields.remove(at: index).value
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: JSONValue)> {
        fields.lazy.map { (key: $0.key, value: $0.value) }.makeIterator()
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode([String: JSONValue].self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0.value) }))
    }
}
