import Foundation
import ReachCalendar
import ReachEventLog

/// Reads a record's fields one by one, collecting a refusal for every field that is missing,
/// of the wrong kind, or breaks a rule, and noticing fields nobody asked for (usually typos).
public struct FieldReader {
    /// The earliest date the programme accepts.
    public static let earliestDate = CalendarDate(year: 2017, month: 1, day: 1)
    /// The longest free text (labels and notes).
    public static let maximumTextLength = 500

    public let fields: JSONObject
    /// Where the fields are in the record (such as `attendance.pupils`), in two parts joined
    /// only for a refusal: a reader is made for every object of every row of an import.
    private let parentPath: String
    private let key: String
    var path: String { parentPath.isEmpty ? key : key.isEmpty ? parentPath : parentPath + "." + key }
    /// Today, for "not in the future".
    public let today: CalendarDate
    /// Which of `fields` a rule has read, by place: the first 64 as bits (records hold a few
    /// fields, and a reader is made for every object of every row), any more in a list.
    private var read: UInt64 = 0
    private var readBeyond: [Bool]
    /// What was wrong so far.
    public internal(set) var refusals: [Refusal] = []
    /// When set, every rule that reads a field also describes it there (see ``SchemaDescriber``).
    var describer: SchemaDescriber?

    public init(_ fields: JSONObject, path: String = "", today: CalendarDate) {
        self.init(fields, parentPath: path, key: "", today: today)
    }

    private init(_ fields: JSONObject, parentPath: String, key: String, today: CalendarDate, describer: SchemaDescriber? = nil) {
        self.describer = describer
        self.fields = fields
        self.readBeyond = fields.count > 64 ? Array(repeating: false, count: fields.count - 64) : []
        self.parentPath = parentPath
        self.key = key
        self.today = today
    }

    func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// Describes the field `key` to the describer, if any.
    private func describe(_ key: String, _ schema: @autoclosure () -> JSONObject, required: Bool) {
        describer?.field(name(key), schema(), required: required)
    }

    /// Records a refusal about `key`.
    public mutating func refuse(_ key: String, _ reason: String) {
        refusals.append(Refusal(name(key), reason))
    }

    private mutating func value(_ key: String, required: Bool) -> JSONValue? {
        let index = fields.index(forKey: key)
        if let index {
            if index < 64 { read |= 1 << UInt64(index) } else { readBeyond[index - 64] = true }
        }
        guard let index, case let value = fields.value(at: index), value != .null else {
            if required { refuse(key, "is required") }
            return nil
        }
        return value
    }

    /// Short text: an identifier or a label, trimmed, from 1 to `maxLength` characters.
    public mutating func text(_ key: String, required: Bool = true, maxLength: Int = FieldReader.maximumTextLength) -> String? {
        describe(key, ["type": "string", "minLength": 1, "maxLength": .number(Double(maxLength))], required: required)
        return plainText(key, required: required, maxLength: maxLength)
    }

    private mutating func plainText(_ key: String, required: Bool, maxLength: Int) -> String? {
        guard let value = value(key, required: required) else { return nil }
        guard case .string(let raw) = value else {
            refuse(key, "must be text, not \(value.kindName)")
            return nil
        }
        let text = Self.trimmed(raw)
        if text.isEmpty {
            refuse(key, "must not be empty")
            return nil
        }
        if text.utf8.count > maxLength, text.count > maxLength {
            refuse(key, "is \(text.count) characters long; keep it to \(maxLength) at most")
            return nil
        }
        if Self.hasControlCharacters(text) {
            refuse(key, "must not contain control characters such as line breaks or tabs")
            return nil
        }
        if let forbidden = TextRules.forbiddenCharacter(in: text) {
            refuse(key, TextRules.describe(forbidden))
            return nil
        }
        return text
    }

    /// `text` without spaces, tabs and line breaks at either end.
    public static func trimmed(_ text: String) -> String {
        let bytes = text.utf8
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let first = bytes.first, let last = bytes.last, isSpace(first) || isSpace(last) else { return text }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `text` holds a control character (C0, DEL or C1), checked on its UTF-8 bytes.
    static func hasControlCharacters(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return true }
            if previous == 0xC2 && (0x80...0x9F).contains(byte) { return true }
            previous = byte
        }
        return false
    }

    /// An identifier: ASCII letters, digits, `-`, `_` and `.`, up to 60 characters (the one
    /// rule for ids, ``TextRules/isIdentifier(_:maxLength:)``).
    public mutating func identifier(_ key: String, required: Bool = true) -> String? {
        describe(key, ["type": "string", "pattern": .string(TextRules.identifierPattern), "maxLength": 60], required: required)
        guard let text = plainText(key, required: required, maxLength: 60) else { return nil }
        guard TextRules.isIdentifier(text, maxLength: 60) else {
            refuse(key, "'\(text)' may hold only ASCII letters, digits, -, _ and . (no spaces)")
            return nil
        }
        return text
    }

    /// One word of a vocabulary.
    public mutating func word<V: Vocabulary>(_ key: String, _ type: V.Type, required: Bool = true) -> V? {
        describe(
            key, ["type": "string", "enum": .array(V.allCases.map { .string($0.rawValue) }), "description": .string("a \(V.listName)")],
            required: required)
        guard let text = plainText(key, required: required, maxLength: 100) else { return nil }
        guard let word = V(rawValue: text) else {
            refuse(key, "'\(text)' is not a known \(V.listName); choose one of \(V.choices)")
            return nil
        }
        return word
    }

    /// A count: a whole number from 0 up (or from `minimum`, or up to `maximum`).
    public mutating func count(_ key: String, required: Bool = true, minimum: Int = 0, maximum: Int = 10_000_000) -> Int? {
        describe(key, ["type": "integer", "minimum": .number(Double(minimum)), "maximum": .number(Double(maximum))], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .number(let number) = value else {
            refuse(key, "must be a whole number, not \(value.kindName)")
            return nil
        }
        guard abs(number) < 1e12, let whole = Int(exactly: number) else {
            refuse(key, "must be a whole number, not \(number)")
            return nil
        }
        guard whole >= minimum else {
            refuse(key, minimum == 0 ? "must be 0 or more, not \(whole)" : "must be at least \(minimum), not \(whole)")
            return nil
        }
        guard whole <= maximum else {
            refuse(key, "must be at most \(maximum), not \(whole)")
            return nil
        }
        return whole
    }

    /// A calendar date as `YYYY-MM-DD`: a real date, not in the future, not before 2017-01-01.
    public mutating func date(_ key: String, required: Bool = true, allowFuture: Bool = false) -> CalendarDate? {
        describe(
            key,
            [
                "type": "string", "format": "date",
                "description": .string("YYYY-MM-DD, from \(Self.earliestDate)\(allowFuture ? "" : ", not in the future")"),
            ], required: required)
        guard let text = plainText(key, required: required, maxLength: 10) else { return nil }
        guard let date = CalendarDate(iso: text) else {
            refuse(key, "'\(text)' is not a real date written as YYYY-MM-DD")
            return nil
        }
        guard allowFuture || date <= today else {
            refuse(key, "\(date) is in the future; record things once they have happened")
            return nil
        }
        guard date >= Self.earliestDate else {
            refuse(key, "\(date) is before \(Self.earliestDate), earlier than the programme records")
            return nil
        }
        return date
    }

    /// A number (not necessarily whole) within a range.
    public mutating func number(_ key: String, in range: ClosedRange<Double>, required: Bool = true) -> Double? {
        describe(key, ["type": "number", "minimum": .number(range.lowerBound), "maximum": .number(range.upperBound)], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .number(let number) = value, range.contains(number) else {
            refuse(key, "must be a number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }

    /// true or false.
    public mutating func flag(_ key: String, required: Bool = false) -> Bool? {
        describe(key, ["type": "boolean"], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .bool(let flag) = value else {
            refuse(key, "must be true or false, not \(value.kindName)")
            return nil
        }
        return flag
    }

    /// A list of whole numbers within a range, without repeats.
    public mutating func numbers(_ key: String, in range: ClosedRange<Int>, required: Bool = true) -> [Int]? {
        describe(
            key,
            [
                "type": "array", "minItems": 1, "uniqueItems": true,
                "items": .object(["type": "integer", "minimum": .number(Double(range.lowerBound)), "maximum": .number(Double(range.upperBound))]),
            ], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .array(let items) = value, !items.isEmpty else {
            refuse(key, "must be a list of numbers from \(range.lowerBound) to \(range.upperBound), such as [\(range.lowerBound)]")
            return nil
        }
        var out: [Int] = []
        for item in items {
            // `Int(exactly:)` is nil for fractions, for infinities and for numbers beyond `Int`
            // (such as 1e19), which `Int(_:)` would trap on.
            guard case .number(let n) = item, let whole = Int(exactly: n), range.contains(whole), !out.contains(whole) else {
                refuse(key, "must list different numbers from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            out.append(whole)
        }
        return out
    }

    /// A non-empty list of vocabulary words, without repeats.
    public mutating func words<V: Vocabulary>(_ key: String, _ type: V.Type, required: Bool = true) -> [V]? {
        describe(
            key,
            [
                "type": "array", "minItems": 1, "uniqueItems": true,
                "items": .object(["type": "string", "enum": .array(V.allCases.map { .string($0.rawValue) })]),
            ], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .array(let items) = value, !items.isEmpty else {
            refuse(key, "must be a list of one or more of \(V.choices)")
            return nil
        }
        var out: [V] = []
        for item in items {
            guard case .string(let text) = item, let word = V(rawValue: text) else {
                refuse(key, "holds \(item.text), which is not a known \(V.listName); choose from \(V.choices)")
                return nil
            }
            guard !out.contains(word) else {
                refuse(key, "names \(text) twice")
                return nil
            }
            out.append(word)
        }
        return out
    }

    /// An object taken whole (a correction's replacement data, checked by its own type).
    public mutating func rawObject(_ key: String) -> JSONObject? {
        describe(key, ["type": "object"], required: true)
        guard let value = value(key, required: true) else { return nil }
        guard case .object(let fields) = value else {
            refuse(key, "must be an object, not \(value.kindName)")
            return nil
        }
        return fields
    }

    /// A list of objects, each read with a reader of its own (`key.0`, `key.1`...).
    public mutating func objects(_ key: String, required: Bool = false) -> [FieldReader]? {
        describe(key, ["type": "array", "items": .object(["type": "object"])], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .array(let items) = value else {
            refuse(key, "must be a list of objects")
            return nil
        }
        var out: [FieldReader] = []
        for (index, item) in items.enumerated() {
            guard case .object(let fields) = item else {
                refuse("\(key).\(index)", "must be an object, not \(item.kindName)")
                return nil
            }
            out.append(FieldReader(fields, parentPath: name("\(key).\(index)"), key: "", today: today, describer: describer))
        }
        return out
    }

    /// A list of identifiers, without repeats.
    public mutating func identifiers(_ key: String, required: Bool = false) -> [String]? {
        describe(
            key,
            [
                "type": "array", "uniqueItems": true,
                "items": .object(["type": "string", "pattern": .string(TextRules.identifierPattern), "maxLength": 60]),
            ], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .array(let items) = value else {
            refuse(key, "must be a list of ids, such as [\"id-1\"]")
            return nil
        }
        var out: [String] = []
        for item in items {
            guard case .string(let id) = item, TextRules.isIdentifier(id, maxLength: 60), !out.contains(id) else {
                refuse(key, "must list different ids, each of at most 60 ASCII letters, digits, -, _ and .")
                return nil
            }
            out.append(id)
        }
        return out
    }

    /// A nested object, read with a reader of its own; call ``finish(_:)`` with it afterwards.
    public mutating func object(_ key: String, required: Bool = true) -> FieldReader? {
        describe(key, ["type": "object"], required: required)
        guard let value = value(key, required: required) else { return nil }
        guard case .object(let fields) = value else {
            refuse(key, "must be an object, not \(value.kindName)")
            return nil
        }
        return FieldReader(fields, parentPath: path, key: key, today: today, describer: describer)
    }

    /// Takes a nested reader's refusals (and its unknown fields) into this one.
    public mutating func finish(_ nested: FieldReader) {
        refusals += nested.refusals
        refusals += nested.unknownFieldRefusals
    }

    /// Whether a rule read the field at `index` of `fields`.
    private func wasRead(_ index: Int) -> Bool {
        index < 64 ? read & (1 << UInt64(index)) != 0 : readBeyond[index - 64]
    }

    /// Whether rules read every field.
    private var allRead: Bool {
        let bits = min(fields.count, 64)
        return read == (bits == 64 ? .max : (1 << UInt64(bits)) - 1) && !readBeyond.contains(false)
    }

    /// Fields present in the record that no rule read: refused, as they are usually typos.
    public var unknownFieldRefusals: [Refusal] {
        guard !allRead else { return [] }
        return fields.fields.indices.filter { !wasRead($0) }.map { fields.fields[$0].key }.sorted().map {
            Refusal(name($0), "is not a field of this record; check its spelling")
        }
    }
}
