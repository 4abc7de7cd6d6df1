import Foundation

/// The text PostgreSQL's `jsonb` gives back for a JSON document: keys of each object in
/// jsonb's order (shorter first, then by bytes) with the last of duplicate keys kept, `", "` and
/// `": "` between items, strings escaped as `escape_json` does, numbers as `numeric` prints them.
///
/// The log's hash chain is computed over that text. Sending a document already in this form
/// lets the bulk path compute the chain in this process: the server stores it and prints it back
/// byte for byte. ``canonical(_:)`` answers `nil` for anything whose printed form it does not
/// know for certain (an exponent in a number, an escape in a key, `\u0000`, a lone surrogate,
/// invalid JSON); the caller then leaves the hashing to the server.
public enum JSONBText {
    public static func canonical(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { bytes in
            var writer = Writer(bytes: bytes)
            writer.out.reserveCapacity(bytes.count + bytes.count / 8)
            guard writer.value(depth: 0) else { return nil }
            writer.skipWhitespace()
            guard writer.index == bytes.count else { return nil }
            return writer.out
        }
    }

    struct Writer {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var out: [UInt8] = []

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
        }

        mutating func value(depth: Int) -> Bool {
            guard depth < 64 else { return false }
            skipWhitespace()
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""):
                if let plain = plainString() {
                    out.append(UInt8(ascii: "\""))
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain]))
                    out.append(UInt8(ascii: "\""))
                    return true
                }
                guard let string = string() else { return false }
                Self.escape(string, into: &out)
                return true
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            out.append(contentsOf: UnsafeBufferPointer(start: word.utf8Start, count: count))
            index += count
            return true
        }

        /// A number as `numeric` prints it: the token itself, except that zero has no sign.
        /// Exponents are left to the server.
        mutating func number() -> Bool {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digitsStart = index
            guard index < bytes.count, isDigit(bytes[index]) else { return false }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count, isDigit(bytes[index]) { return false }
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { return false }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") { return false }
            let token = UnsafeBufferPointer(rebasing: bytes[start..<index])
            let isZero = !bytes[digitsStart..<index].contains { $0 != UInt8(ascii: "0") && $0 != UInt8(ascii: ".") }
            if isZero && token.first == UInt8(ascii: "-") {
                out.append(contentsOf: token.dropFirst())
            } else {
                out.append(contentsOf: token)
            }
            return true
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        mutating func array(depth: Int) -> Bool {
            index += 1
            out.append(UInt8(ascii: "["))
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                out.append(UInt8(ascii: "]"))
                return true
            }
            var first = true
            while true {
                if !first { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                first = false
                guard value(depth: depth + 1) else { return false }
                skipWhitespace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { return false }
                index += 1
                out.append(UInt8(ascii: "]"))
                return true
            }
        }

        /// Members of the objects being written (innermost last): the key's bytes in the input
        /// and the member's text in `out`. Shared by all objects, so writing allocates little.
        var members: [(key: Range<Int>, text: Range<Int>)] = []

        mutating func object(depth: Int) -> Bool {
            index += 1
            out.append(UInt8(ascii: "{"))
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                out.append(UInt8(ascii: "}"))
                return true
            }
            let base = members.count
            let start = out.count
            var ordered = true
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = plainString() else { return false }
                if members.count > base, !precedes(members[members.count - 1].key, key) { ordered = false }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                if members.count > base { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
                let memberStart = out.count
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[key]))
                out.append(UInt8(ascii: "\"")); out.append(UInt8(ascii: ":")); out.append(UInt8(ascii: " "))
                guard value(depth: depth + 1) else { return false }
                members.append((key, memberStart..<out.count))
                skipWhitespace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { return false }
                index += 1
                break
            }
            if !ordered {
                // jsonb's order: shorter keys first, then by bytes; of duplicate keys the last is kept.
                let order = (base..<members.count).sorted { a, b in
                    precedes(members[a].key, members[b].key) || (!precedes(members[b].key, members[a].key) && a < b)
                }
                var sorted: [UInt8] = []
                sorted.reserveCapacity(out.count - start)
                for (position, member) in order.enumerated() {
                    if position + 1 < order.count, !precedes(members[member].key, members[order[position + 1]].key) { continue }
                    if !sorted.isEmpty { sorted.append(UInt8(ascii: ",")); sorted.append(UInt8(ascii: " ")) }
                    sorted.append(contentsOf: out[members[member].text])
                }
                out.removeSubrange(start...)
                out.append(contentsOf: sorted)
            }
            members.removeSubrange(base...)
            out.append(UInt8(ascii: "}"))
            return true
        }

        /// Whether key `a` comes before key `b` in jsonb's order.
        func precedes(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
            if a.count != b.count { return a.count < b.count }
            return memcmp(bytes.baseAddress! + a.lowerBound, bytes.baseAddress! + b.lowerBound, a.count) < 0
        }

        /// A string without escapes or control characters (`index` at its opening quote): the
        /// range of its content, or `nil`, leaving `index` where it was.
        mutating func plainString() -> Range<Int>? {
            var end = index + 1
            while end < bytes.count {
                let byte = bytes[end]
                if byte == UInt8(ascii: "\"") {
                    let content = (index + 1)..<end
                    index = end + 1
                    return content
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
                end += 1
            }
            return nil
        }

        /// A string's content, unescaped, as UTF-8; `index` at its opening quote. jsonb refuses
        /// `\u0000`, so the server must word that error.
        mutating func string() -> [UInt8]? {
            guard let content = try? JSONText.readString(bytes, at: &index), !content.contains(0) else { return nil }
            return content
        }

        /// A string as PostgreSQL's `escape_json` writes it.
        static func escape(_ string: [UInt8], into out: inout [UInt8]) {
            out.append(UInt8(ascii: "\""))
            for byte in string {
                switch byte {
                case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
                case ..<0x20:
                    let digits = Array("0123456789abcdef".utf8)
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 0xF)])
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
    }
}
