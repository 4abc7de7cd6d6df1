import CLibPQ
import Foundation
import ReachCalendar

/// A parameter ready to hand to libpq: its bytes, its format and its type.
public struct PostgresBind: Sendable {
    /// The value's bytes, or `nil` for SQL `NULL`.
    public var bytes: [UInt8]?
    /// `0` for text, `1` for binary.
    public var format: Int32
    /// The parameter's type OID, or `0` to let the server infer it.
    public var oid: Oid

    public init(bytes: [UInt8]?, format: Int32 = 0, oid: Oid = 0) {
        self.bytes = bytes
        self.format = format
        self.oid = oid
    }

    public static let null = PostgresBind(bytes: nil)

    static func text(_ string: String, oid: Oid = 0) -> PostgresBind {
        PostgresBind(bytes: Array(string.utf8), format: 0, oid: oid)
    }
}

/// Type OIDs used by this package.
public enum PostgresOID {
    public static let bool: Oid = 16
    public static let bytea: Oid = 17
    public static let int8: Oid = 20
    public static let int4: Oid = 23
    public static let text: Oid = 25
    public static let float8: Oid = 701
    public static let date: Oid = 1082
    public static let timestamptz: Oid = 1184
    public static let uuid: Oid = 2950
    public static let jsonb: Oid = 3802
    public static let textArray: Oid = 1009
    public static let int4Array: Oid = 1007
    public static let int8Array: Oid = 1016
    public static let uuidArray: Oid = 2951
    public static let dateArray: Oid = 1182
    public static let jsonbArray: Oid = 3807
}

/// A Swift value that can be sent as a query parameter.
///
/// Every query in Reach is parameterised: values never become part of the SQL text.
public protocol PostgresEncodable: Sendable {
    /// The value as libpq wants it.
    var postgresBind: PostgresBind { get }
}

/// A Swift value that can be read from a column in text format.
public protocol PostgresDecodable {
    /// Decodes the value from the server's text representation.
    init(postgresText text: UnsafeBufferPointer<UInt8>) throws
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind { .text(self, oid: PostgresOID.text) }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) {
        self = String(decoding: text, as: UTF8.self)
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    /// Sent in binary: eight big-endian bytes, no formatting or parsing on either side.
    public var postgresBind: PostgresBind {
        withUnsafeBytes(of: self.bigEndian) { PostgresBind(bytes: Array($0), format: 1, oid: PostgresOID.int8) }
    }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        var value: Int64 = 0
        var negative = false
        var index = text.startIndex
        if index < text.endIndex, text[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < text.endIndex else { throw PostgresError.decoding(Int64.self, text) }
        while index < text.endIndex {
            let digit = text[index] &- UInt8(ascii: "0")
            guard digit < 10 else { throw PostgresError.decoding(Int64.self, text) }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(Int64(digit)) : times.addingReportingOverflow(Int64(digit))
            guard !o1, !o2 else { throw PostgresError.decoding(Int64.self, text) }
            value = sum
            index += 1
        }
        self = value
    }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind { Int64(self).postgresBind }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        self = Int(try Int64(postgresText: text))
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind {
        withUnsafeBytes(of: self.bigEndian) { PostgresBind(bytes: Array($0), format: 1, oid: PostgresOID.int4) }
    }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        let wide = try Int64(postgresText: text)
        guard let value = Int32(exactly: wide) else { throw PostgresError.decoding(Int32.self, text) }
        self = value
    }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind { .text(self ? "t" : "f", oid: PostgresOID.bool) }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        guard text.count == 1, text[0] == UInt8(ascii: "t") || text[0] == UInt8(ascii: "f") else {
            throw PostgresError.decoding(Bool.self, text)
        }
        self = text[0] == UInt8(ascii: "t")
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind { .text(String(self), oid: PostgresOID.float8) }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        guard let value = Double(String(decoding: text, as: UTF8.self)) else { throw PostgresError.decoding(Double.self, text) }
        self = value
    }
}

/// Hexadecimal, the one codec: lower-case digits out, either case in.
public enum Hex {
    /// The lower-case hex digit of a value from 0 to 15.
    @inlinable
    public static func digit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// The value of a hex digit, or nil for any other byte.
    @inlinable
    public static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The bytes written by `digits` (two digits a byte), or nil when they are not hex.
    public static func decode(_ digits: some Collection<UInt8>) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(digits.count / 2)
        var high: UInt8?
        for digit in digits {
            guard let nibble = value(digit) else { return nil }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return out
    }

    /// `bytes` in lower-case hex.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.appendHex(bytes)
        return String(decoding: out, as: UTF8.self)
    }
}

extension UUID {
    /// The canonical lower-case text form, written without Foundation's formatter.
    public var lowercasedString: String {
        String(unsafeUninitializedCapacity: 36) { write(into: $0) }
    }

    /// Appends the canonical lower-case text form to `bytes`.
    public func appendLowercased(to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 36))
        bytes.withUnsafeMutableBufferPointer { _ = write(into: UnsafeMutableBufferPointer(rebasing: $0[start...])) }
    }

    private func write(into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        withUnsafeBytes(of: uuid) { raw in
            var at = 0
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    out[at] = UInt8(ascii: "-")
                    at += 1
                }
                out[at] = Hex.digit(byte >> 4)
                out[at + 1] = Hex.digit(byte & 0x0f)
                at += 2
            }
            return at
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends `bytes` in lower-case hex, two digits a byte.
    public mutating func appendHex(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            append(Hex.digit(byte >> 4))
            append(Hex.digit(byte & 0x0F))
        }
    }

    /// Appends `value` in decimal, as `String(value)` writes it, without making a string.
    public mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var width = 1
        var scale: UInt64 = 10
        while width < 20 && magnitude >= scale {
            width += 1
            scale = scale &* 10
        }
        var index = count + width - 1
        append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        repeat {
            self[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            index -= 1
        } while magnitude > 0
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind { .text(lowercasedString, oid: PostgresOID.uuid) }
    /// Parses the server's fixed `8-4-4-4-12` hex form directly (much faster than going
    /// through a `String`).
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        guard text.count == 36 else { throw PostgresError.decoding(UUID.self, text) }
        var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
        )
        try withUnsafeMutableBytes(of: &bytes) { out in
            var offset = 0
            for index in 0..<16 {
                if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                    guard text[offset] == UInt8(ascii: "-") else { throw PostgresError.decoding(UUID.self, text) }
                    offset += 1
                }
                guard let high = Hex.value(text[offset]), let low = Hex.value(text[offset + 1]) else {
                    throw PostgresError.decoding(UUID.self, text)
                }
                out[index] = high << 4 | low
                offset += 2
            }
        }
        self = UUID(uuid: bytes)
    }
}

/// Raw bytes, sent and stored as `bytea`.
public struct PostgresBytes: Hashable, Sendable, PostgresEncodable, PostgresDecodable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var postgresBind: PostgresBind { PostgresBind(bytes: bytes, format: 1, oid: PostgresOID.bytea) }
    /// Decodes the `\x` hex text form.
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), let bytes = Hex.decode(text.dropFirst(2)) else {
            throw PostgresError.decoding(PostgresBytes.self, text)
        }
        self.bytes = bytes
    }
    /// Lower-case hex.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// A JSON document, sent as `jsonb` and read back as text.
public struct PostgresJSONB: Hashable, Sendable, PostgresEncodable, PostgresDecodable {
    /// The JSON text.
    public var text: String
    public init(_ text: String) { self.text = text }
    public var postgresBind: PostgresBind { .text(text, oid: PostgresOID.jsonb) }
    public init(postgresText text: UnsafeBufferPointer<UInt8>) { self.text = String(decoding: text, as: UTF8.self) }
}

/// A calendar date travels as `date`, in the server's ISO form (`YYYY-MM-DD`).
extension CalendarDate: PostgresEncodable, PostgresDecodable {
    public var postgresBind: PostgresBind { .text(description, oid: PostgresOID.date) }
    /// Parses the server's ISO form directly from its bytes.
    public init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        guard let date = CalendarDate(isoBytes: text) else { throw PostgresError.decoding(CalendarDate.self, text) }
        self = date
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresBind: PostgresBind {
        switch self {
        case .none: return .null
        case .some(let value): return value.postgresBind
        }
    }
}

/// A one-dimensional array parameter, sent in the text array format (`{"a","b",NULL}`),
/// so a whole batch travels in one parameter.
public struct PostgresArray<Element: PostgresArrayElement>: Sendable, PostgresEncodable {
    public var elements: [Element?]
    public init(_ elements: [Element?]) { self.elements = elements }
    public init(_ elements: [Element]) { self.elements = elements.map { Optional($0) } }

    public var postgresBind: PostgresBind {
        var out = [UInt8]()
        out.reserveCapacity(elements.count * 16 + 2)
        out.append(UInt8(ascii: "{"))
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            guard let element else {
                out.append(contentsOf: Array("NULL".utf8))
                continue
            }
            out.append(UInt8(ascii: "\""))
            for byte in element.postgresArrayText.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return PostgresBind(bytes: out, format: 0, oid: Element.postgresArrayOID)
    }
}

/// A type that can be an element of a ``PostgresArray``.
public protocol PostgresArrayElement: Sendable {
    static var postgresArrayOID: Oid { get }
    var postgresArrayText: String { get }
}

extension String: PostgresArrayElement {
    public static var postgresArrayOID: Oid { PostgresOID.textArray }
    public var postgresArrayText: String { self }
}
extension Int64: PostgresArrayElement {
    public static var postgresArrayOID: Oid { PostgresOID.int8Array }
    public var postgresArrayText: String { String(self) }
}
extension Int32: PostgresArrayElement {
    public static var postgresArrayOID: Oid { PostgresOID.int4Array }
    public var postgresArrayText: String { String(self) }
}
extension UUID: PostgresArrayElement {
    public static var postgresArrayOID: Oid { PostgresOID.uuidArray }
    public var postgresArrayText: String { lowercasedString }
}
extension CalendarDate: PostgresArrayElement {
    public static var postgresArrayOID: Oid { PostgresOID.dateArray }
    public var postgresArrayText: String { description }
}
extension PostgresJSONB: PostgresArrayElement {
    public static var postgresArrayOID: Oid { PostgresOID.jsonbArray }
    public var postgresArrayText: String { text }
}

extension PostgresError {
    static func decoding<T>(_ type: T.Type, _ text: UnsafeBufferPointer<UInt8>, file: String = #fileID, line: Int = #line) -> PostgresError {
        // The value itself is not included: it may be personal data.
        PostgresError(code: .decoding, message: "cannot decode a \(text.count)-byte value as \(T.self)", file: file, line: line)
    }
}
