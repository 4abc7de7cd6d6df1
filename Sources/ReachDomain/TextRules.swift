import Foundation
import ReachEventLog

/// The rules for ids and text, the same everywhere, so that two values that look the same are
/// the same value:
///
/// - **An id** (a record's, a school's, an authority's...) is ASCII letters, digits, `-`, `_`
///   and `.` only: no spaces, no look-alike letters of other scripts, nothing invisible.
/// - **Text** is kept in Unicode's composed form (NFC: `é` is one character however it was
///   typed), and may not hold characters that are invisible or change the direction of what
///   follows (format characters such as U+202E RIGHT-TO-LEFT OVERRIDE, U+200B ZERO WIDTH SPACE
///   or a byte-order mark; private-use and unassigned characters), which make two labels look
///   alike or text read differently from what it holds.
public enum TextRules {
    /// Whether `text` is an id of 1 to `maxLength` ASCII letters, digits, `-`, `_` or `.`,
    /// with at least one letter or digit (so that `.` and `..` are not ids).
    public static func isIdentifier(_ text: some StringProtocol, maxLength: Int) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        var alphanumeric = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                alphanumeric = true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                continue
            default:
                return false
            }
        }
        return alphanumeric
    }

    /// The pattern of ``isIdentifier(_:maxLength:)``, for JSON Schema (its length is the
    /// schema's `maxLength`).
    public static let identifierPattern = "^[A-Za-z0-9._-]*[A-Za-z0-9][A-Za-z0-9._-]*$"

    /// The first character of `text` that text may not hold: a format character (invisible, or
    /// changing direction), a line or paragraph separator, a private-use or an unassigned one,
    /// or one of the characters that show as nothing though they are letters or marks (Hangul
    /// fillers, the combining grapheme joiner, variation selectors, the blank Braille pattern).
    /// Nil when there is none.
    public static func forbiddenCharacter(in text: String) -> Unicode.Scalar? {
        guard !text.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        return text.unicodeScalars.first { scalar in
            switch scalar.properties.generalCategory {
            case .format, .privateUse, .unassigned, .surrogate, .lineSeparator, .paragraphSeparator: return true
            default: return invisible.contains(where: { $0.contains(scalar.value) })
            }
        }
    }

    /// Characters that are letters or marks but show as nothing.
    private static let invisible: [ClosedRange<UInt32>] = [
        0x034F...0x034F, 0x115F...0x1160, 0x17B4...0x17B5, 0x180B...0x180F, 0x2800...0x2800, 0x3164...0x3164,
        0xFE00...0xFE0F, 0xFFA0...0xFFA0, 0xE0100...0xE01EF,
    ]

    /// What is wrong with a forbidden character, in words: its code point and name.
    public static func describe(_ scalar: Unicode.Scalar) -> String {
        let code = "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
        let name = scalar.properties.name.map { " " + $0 } ?? ""
        return "must not contain invisible or direction-changing characters (it holds \(code)\(name)); type the text again without it"
    }

    /// `text` in Unicode's composed form (NFC); ASCII, which is always composed, as it is.
    public static func composed(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
    }

    /// Every string of a record's data (values and keys) in composed form.
    public static func composed(_ object: JSONObject) -> JSONObject {
        composedIfChanged(object) ?? object
    }

    /// The object with its strings composed, or nil when it is composed already (most are:
    /// nothing is copied for them).
    private static func composedIfChanged(_ object: JSONObject) -> JSONObject? {
        var changed: JSONObject?
        for field in object.fields {
            // (Compared as bytes: Swift's == holds for text that differs only in composition.)
            let key = composed(field.key)
            let keyChanged = !key.utf8.elementsEqual(field.key.utf8)
            let value = composedIfChanged(field.value)
            guard keyChanged || value != nil else { continue }
            if changed == nil { changed = object }
            if keyChanged { changed!.removeValue(forKey: field.key) }
            changed![key] = value ?? field.value
        }
        return changed
    }

    private static func composedIfChanged(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .string(let text):
            let done = composed(text)
            return done.utf8.elementsEqual(text.utf8) ? nil : .string(done)
        case .object(let object):
            return composedIfChanged(object).map(JSONValue.object)
        case .array(let items):
            var out: [JSONValue]?
            for (index, item) in items.enumerated() {
                guard let done = composedIfChanged(item) else { continue }
                if out == nil { out = items }
                out![index] = done
            }
            return out.map(JSONValue.array)
        default:
            return nil
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
