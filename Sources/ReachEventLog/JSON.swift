import Foundation
import ReachPostgres

// JSON in one place: one reader (`JSONReader`, RFC 8259, which tells a handler what it reads),
// one writer (`JSONWriter`, a handler that writes), and the tree records are checked in
// (`JSONValue`). The writer has two styles: compact, and `jsonb`, the text PostgreSQL's jsonb
// prints, over which the log's hash chain is computed.

/// What ``JSONReader`` finds, told as it reads.
public protocol JSONHandler {
    mutating func scalar(_ value: JSONScalar, in input: UnsafeBufferPointer<UInt8>) throws
    mutating func beginArray() throws
    mutating func endArray() throws
    mutating func beginObject() throws
    mutating func key(_ key: JSONString, in input: UnsafeBufferPointer<UInt8>) throws
    mutating func endObject() throws
}

/// A string as read: a range of the input when it holds no escape (nothing to copy), else its
/// content unescaped, as UTF-8.
public enum JSONString {
    case plain(Range<Int>)
    case unescaped([UInt8])

    /// The content as UTF-8 bytes.
    public func withBytes<R>(in input: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch self {
        case .plain(let range): return try body(UnsafeBufferPointer(rebasing: input[range]))
        case .unescaped(let bytes): return try bytes.withUnsafeBufferPointer(body)
        }
    }

    public func string(in input: UnsafeBufferPointer<UInt8>) -> String {
        withBytes(in: input) { String(decoding: $0, as: UTF8.self) }
    }
}

/// A value that is not a container. A number is its token, as written (a valid JSON number).
public enum JSONScalar {
    case null
    case bool(Bool)
    case number(Range<Int>)
    case string(JSONString)
}

/// Reads one JSON document (RFC 8259) from UTF-8 bytes and tells a handler what it finds, in
/// order. Nothing but the document and whitespace may be in the input.
public struct JSONReader {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    let maxDepth: Int

    /// Reads `text` into `handler`. Errors the handler throws pass through.
    public static func read<Handler: JSONHandler>(_ text: UnsafeBufferPointer<UInt8>, into handler: inout Handler, maxDepth: Int = 100) throws {
        var reader = JSONReader(bytes: text, maxDepth: maxDepth)
        try reader.value(depth: 0, into: &handler)
        reader.skipWhitespace()
        guard reader.index == text.count else { throw reader.failure("unexpected text after the document") }
    }

    func failure(_ what: String) -> Failure { Failure(description: "invalid JSON at byte \(index): \(what)") }

    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    mutating func value<Handler: JSONHandler>(depth: Int, into handler: inout Handler) throws {
        guard depth < maxDepth else { throw failure("nested too deeply") }
        skipWhitespace()
        guard index < bytes.count else { throw failure("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            try handler.beginObject()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return try handler.endObject()
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a key") }
                try handler.key(try string(), in: bytes)
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                index += 1
                try value(depth: depth + 1, into: &handler)
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return try handler.endObject()
                }
                throw failure("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            index += 1
            try handler.beginArray()
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return try handler.endArray()
            }
            while true {
                try value(depth: depth + 1, into: &handler)
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return try handler.endArray()
                }
                throw failure("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): try handler.scalar(.string(try string()), in: bytes)
        case UInt8(ascii: "t"):
            try literal("true")
            try handler.scalar(.bool(true), in: bytes)
        case UInt8(ascii: "f"):
            try literal("false")
            try handler.scalar(.bool(false), in: bytes)
        case UInt8(ascii: "n"):
            try literal("null")
            try handler.scalar(.null, in: bytes)
        default: try handler.scalar(.number(try number()), in: bytes)
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unknown word") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw failure("unknown word") }
        index += count
    }

    /// A number token: `-`, digits without a leading zero, a fraction, an exponent.
    mutating func number() throws -> Range<Int> {
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
        return start..<index
    }

    /// The string whose opening quote is at `index`.
    mutating func string() throws -> JSONString {
        // Most strings hold no escape: their content is a range of the input.
        var end = index + 1
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") {
                defer { index = end + 1 }
                return .plain(index + 1..<end)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            end += 1
        }
        return .unescaped(try unescaped())
    }

    /// The content of the string at `index`, unescaped (`\u0000` included).
    mutating func unescaped() throws -> [UInt8] {
        func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure("unterminated escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = Hex.value(bytes[index]) else { throw failure("invalid escape") }
                index += 1
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        index += 1 // the opening quote
        var out: [UInt8] = []
        while true {
            guard index < bytes.count else { throw failure("unterminated string") }
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw failure("unterminated string") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw failure("lone surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("lone surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid character escape") }
                    out.append(contentsOf: String(Character(unicode)).utf8)
                default: throw failure("invalid escape")
                }
            case 0x00..<0x20:
                throw failure("control character in a string")
            default:
                out.append(byte)
            }
        }
    }
}

/// Writes JSON text from what it is told (it is a ``JSONHandler``: reading a document into a
/// writer rewrites it). Compact, with keys as given or sorted; or as PostgreSQL's jsonb prints
/// documents: keys shorter first then by bytes, the last of duplicate keys kept, `", "` and
/// `": "` between items, strings escaped as `escape_json` does, numbers as `numeric` prints them.
public struct JSONWriter: JSONHandler {
    public enum Style: Sendable {
        /// No spaces; object keys as given, or sorted by their bytes.
        case compact(sortedKeys: Bool)
        /// As jsonb prints.
        case jsonb
    }

    public let style: Style
    public private(set) var out: [UInt8] = []
    /// Whether the text is certainly what jsonb prints (in the jsonb style): false once a
    /// number had an exponent (jsonb prints its digits) or a string held `\u0000` (which jsonb
    /// refuses).
    public private(set) var exact = true

    /// Per open container (innermost last): where its text starts in `out`, and for an object
    /// the members so far (each its key's bytes and its text's range in `out`), so that they
    /// can be put in order at its end.
    private var open: [(start: Int, items: Int, object: Bool)] = []
    /// Each member's key (a range of `keys`) and its text (a range of `out`).
    private var members: [(key: Range<Int>, text: Range<Int>)] = []
    /// The keys of the members in `members`, then the next member's key (from `nextKey`):
    /// one buffer, so that keys cost no allocation each.
    private var keys: [UInt8] = []
    private var nextKey: Int?

    public init(_ style: Style, capacity: Int = 256) {
        self.style = style
        out.reserveCapacity(capacity)
    }

    public var text: String { String(decoding: out, as: UTF8.self) }

    private var jsonb: Bool { if case .jsonb = style { true } else { false } }

    /// Before a value: the separator after the previous item, and for an object member its key.
    private mutating func item() {
        guard let last = open.indices.last else { return }
        if open[last].items > 0 {
            out.append(UInt8(ascii: ","))
            if jsonb { out.append(UInt8(ascii: " ")) }
        }
        open[last].items += 1
        if open[last].object, let start = nextKey {
            members.append((start..<keys.count, out.count..<out.count))
            Self.quote(keys[start...], into: &out)
            out.append(UInt8(ascii: ":"))
            if jsonb { out.append(UInt8(ascii: " ")) }
            nextKey = nil
        }
    }

    /// After a value: where an object member's text ends.
    private mutating func itemDone() {
        guard let last = open.last, last.object else { return }
        members[members.count - 1].text = members[members.count - 1].text.lowerBound..<out.count
    }

    public mutating func scalar(_ value: JSONScalar, in input: UnsafeBufferPointer<UInt8>) {
        item()
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let range): number(UnsafeBufferPointer(rebasing: input[range]))
        case .string(let text): text.withBytes(in: input) { string(bytes: $0) }
        }
        itemDone()
    }

    public mutating func key(_ key: JSONString, in input: UnsafeBufferPointer<UInt8>) {
        nextKey = keys.count
        key.withBytes(in: input) { keys.append(contentsOf: $0) }
    }

    /// A string value.
    public mutating func string(_ text: String) {
        item()
        var text = text
        text.withUTF8 { string(bytes: $0) }
        itemDone()
    }

    /// A number value, from its token.
    public mutating func number(token: String) {
        item()
        var token = token
        token.withUTF8 { number($0) }
        itemDone()
    }

    /// A JSON document already written (its text is copied as it is).
    public mutating func raw(_ json: String) {
        item()
        out.append(contentsOf: json.utf8)
        itemDone()
    }

    /// The next object member's key.
    public mutating func key(_ key: String) {
        nextKey = keys.count
        keys.append(contentsOf: key.utf8)
    }

    private mutating func string(bytes: UnsafeBufferPointer<UInt8>) {
        if jsonb && bytes.contains(0) { exact = false }
        Self.quote(bytes, into: &out)
    }

    private mutating func number(_ token: UnsafeBufferPointer<UInt8>) {
        guard jsonb else { return out.append(contentsOf: token) }
        if token.contains(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) { exact = false }
        // numeric prints zero without a sign.
        if token.first == UInt8(ascii: "-"), !token.contains(where: { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }) {
            out.append(contentsOf: token.dropFirst())
        } else {
            out.append(contentsOf: token)
        }
    }

    public mutating func beginArray() {
        item()
        open.append((out.count, 0, false))
        out.append(UInt8(ascii: "["))
    }

    public mutating func endArray() {
        open.removeLast()
        out.append(UInt8(ascii: "]"))
        itemDone()
    }

    public mutating func beginObject() {
        item()
        open.append((out.count, 0, true))
        out.append(UInt8(ascii: "{"))
    }

    public mutating func endObject() {
        let object = open.removeLast()
        let count = object.items
        let first = members.count - count
        // Put the members in order (they usually are already).
        if count > 1, case let range = first..<members.count,
            zip(range, range.dropFirst()).contains(where: { !precedes(members[$0].key, members[$1].key) })
        {
            if case .compact(sortedKeys: false) = style {} else { reorder(first: first, from: object.start) }
        }
        if first < members.count { keys.removeSubrange(members[first].key.lowerBound...) }
        members.removeSubrange(first...)
        out.append(UInt8(ascii: "}"))
        itemDone()
    }

    /// Rewrites the members of the object opened at `start` in order; of duplicate keys the
    /// last is kept.
    private mutating func reorder(first: Int, from start: Int) {
        let order = (first..<members.count).sorted { a, b in
            precedes(members[a].key, members[b].key) || (!precedes(members[b].key, members[a].key) && a < b)
        }
        var sorted: [UInt8] = [UInt8(ascii: "{")]
        sorted.reserveCapacity(out.count - start)
        var written = 0
        for (place, member) in order.enumerated() {
            if place + 1 < order.count, !precedes(members[member].key, members[order[place + 1]].key) { continue }
            if written > 0 {
                sorted.append(UInt8(ascii: ","))
                if jsonb { sorted.append(UInt8(ascii: " ")) }
            }
            sorted.append(contentsOf: out[members[member].text])
            written += 1
        }
        out.removeSubrange(start...)
        out.append(contentsOf: sorted)
    }

    /// Whether key `a` comes before key `b`: in jsonb's order (shorter first, then by bytes),
    /// or by bytes.
    private func precedes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        if jsonb && a.count != b.count { return a.count < b.count }
        return keys.withUnsafeBufferPointer { keys in
            let common = min(a.count, b.count)
            guard common > 0 else { return a.count < b.count }
            let order = memcmp(keys.baseAddress! + a.lowerBound, keys.baseAddress! + b.lowerBound, common)
            return order != 0 ? order < 0 : a.count < b.count
        }
    }

    /// `text` as a JSON string literal, escaped as PostgreSQL's `escape_json` does: quotes,
    /// backslashes and control characters (UTF-8 above ASCII passes through unchanged).
    public static func quote(_ text: some Collection<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most text needs no escaping: copy it whole.
        guard text.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            out.append(contentsOf: text)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""):
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"):
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"):
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "r"))
            case 0x08:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "b"))
            case 0x0C:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "f"))
            case UInt8(ascii: "\t"):
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(Hex.digit(byte >> 4))
                out.append(Hex.digit(byte & 0x0f))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `text` as a JSON string literal.
    public static func quote(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        quote(text.utf8, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// The text PostgreSQL's `jsonb` gives back for a JSON document (see ``JSONWriter/Style/jsonb``).
///
/// The log's hash chain is computed over that text. Sending a document already in this form
/// lets the bulk path compute the chain in this process: the server stores it and prints it
/// back byte for byte. ``canonical(_:)`` answers `nil` for anything whose printed form is not
/// certain (an exponent in a number, `\u0000`) or that is not JSON; the caller then leaves the
/// hashing to the server.
public enum JSONBText {
    public static func canonical(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { bytes in
            var writer = JSONWriter(.jsonb, capacity: bytes.count + bytes.count / 8)
            guard (try? JSONReader.read(bytes, into: &writer, maxDepth: 64)) != nil, writer.exact else { return nil }
            return writer.out
        }
    }
}

/// A JSON value, kept as parsed so records can be checked field by field before anything is
/// decoded into types.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Parses one JSON document (RFC 8259).
    public static func parse(_ text: some StringProtocol) throws -> JSONValue {
        var text = String(text)
        return try text.withUTF8 { bytes in
            var builder = Builder()
            try JSONReader.read(bytes, into: &builder)
            return builder.result ?? .null
        }
    }

    /// Builds the tree from what the reader tells.
    struct Builder: JSONHandler {
        var result: JSONValue?
        /// The open containers, innermost last, each with the key its next member takes.
        var open: [(value: JSONValue, key: String?)] = []

        mutating func add(_ value: JSONValue) {
            guard !open.isEmpty else {
                result = value
                return
            }
            let last = open.count - 1
            switch open[last].value {
            case .array(var items):
                open[last].value = .null // let go of the array so that it is not copied
                items.append(value)
                open[last].value = .array(items)
            case .object(var object):
                open[last].value = .null
                object[open[last].key ?? ""] = value
                open[last].value = .object(object)
            default: break
            }
        }

        mutating func scalar(_ value: JSONScalar, in input: UnsafeBufferPointer<UInt8>) throws {
            switch value {
            case .null: add(.null)
            case .bool(let flag): add(.bool(flag))
            case .string(let string): add(.string(string.string(in: input)))
            case .number(let range):
                guard let number = Double(String(decoding: UnsafeBufferPointer(rebasing: input[range]), as: UTF8.self)), number.isFinite else {
                    throw JSONReader.Failure(description: "invalid JSON at byte \(range.lowerBound): not a number")
                }
                add(.number(number))
            }
        }
        mutating func key(_ key: JSONString, in input: UnsafeBufferPointer<UInt8>) { open[open.count - 1].key = key.string(in: input) }
        mutating func beginArray() { open.append((.array([]), nil)) }
        mutating func beginObject() { open.append((.object(JSONObject()), nil)) }
        mutating func endArray() { add(open.removeLast().value) }
        mutating func endObject() { add(open.removeLast().value) }
    }

    /// Tells `writer` the value.
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .null: writer.scalar(.null, in: UnsafeBufferPointer(start: nil, count: 0))
        case .bool(let flag): writer.scalar(.bool(flag), in: UnsafeBufferPointer(start: nil, count: 0))
        // Whole numbers without a fraction, others in Swift's shortest form.
        case .number(let value): writer.number(token: value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)")
        case .string(let text): writer.string(text)
        case .array(let items):
            writer.beginArray()
            for item in items { item.write(to: &writer) }
            writer.endArray()
        case .object(let object):
            writer.beginObject()
            for field in object.fields {
                writer.key(field.key)
                field.value.write(to: &writer)
            }
            writer.endObject()
        }
    }

    /// The value as compact JSON with sorted keys (whole numbers without a fraction).
    public var text: String {
        var writer = JSONWriter(.compact(sortedKeys: true))
        write(to: &writer)
        return writer.text
    }

    /// The document as PostgreSQL's jsonb prints it, which the log's bulk path stores and
    /// hashes as it is.
    public var jsonbText: String { String(decoding: jsonbBytes.bytes, as: UTF8.self) }

    /// The document as jsonb prints it, and whether that is certain: it is unless a number
    /// had to be written with an exponent (`1e-07`), which jsonb prints in full.
    public var jsonbBytes: (bytes: [UInt8], exact: Bool) {
        var writer = JSONWriter(.jsonb)
        write(to: &writer)
        return (writer.out, writer.exact)
    }

    /// A short name of the value's kind, for messages.
    public var kindName: String {
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
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One field: its key and value.
    public struct Field: Sendable, Hashable {
        public var key: String
        public var value: JSONValue

        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
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
    package init(ordered fields: [Field]) {
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
    package static func precedes(_ a: String, _ b: String) -> Bool {
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
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: Encodable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if let whole = Int(exactly: value) { try container.encode(whole) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let values): try container.encode(values)
        case .object(let object): try container.encode(object)
        }
    }
}

extension JSONObject: Encodable {
    private struct FieldKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: FieldKey.self)
        for field in fields { try container.encode(field.value, forKey: FieldKey(stringValue: field.key)) }
    }
}
