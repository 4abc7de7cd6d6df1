import Foundation
import ReachPostgres

/// Who recorded an event and why: stored as the event's `metadata`.
public struct EventMetadata: Sendable, Hashable, Codable {
    /// The person or system that recorded the event (never a young person).
    public var actor: String?
    /// Groups the events of one request or import.
    public var correlationID: String?
    /// The event or command that caused this one.
    public var causationID: String?
    /// Where the event came from: `cli`, `import:<file>`, `api`...
    public var source: String?

    public init(actor: String? = nil, correlationID: String? = nil, causationID: String? = nil, source: String? = nil) {
        self.actor = actor
        self.correlationID = correlationID
        self.causationID = causationID
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case actor
        case correlationID = "correlation_id"
        case causationID = "causation_id"
        case source
    }

    /// The metadata as a JSON object (absent values left out), as jsonb prints it.
    public var json: String { String(decoding: jsonbBytes, as: UTF8.self) }

    /// The metadata as jsonb prints it: keys shorter first, then by bytes, with `", "` and
    /// `": "` between items. The bulk path stores and hashes these bytes as they are.
    public var jsonbBytes: [UInt8] {
        var out: [UInt8] = []
        // The keys, quotes and separators take 80 bytes at most.
        let values = (actor?.utf8.count ?? 0) + (source?.utf8.count ?? 0) + (causationID?.utf8.count ?? 0) + (correlationID?.utf8.count ?? 0)
        out.reserveCapacity(80 + values)
        out.append(UInt8(ascii: "{"))
        func member(_ key: StaticString, _ value: String?) {
            guard let value else { return }
            if out.count > 1 { out.append(contentsOf: ", ".utf8) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            out.append(contentsOf: "\": ".utf8)
            JSONText.appendQuoted(value, to: &out)
        }
        member("actor", actor)
        member("source", source)
        member("causation_id", causationID)
        member("correlation_id", correlationID)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// An event to append.
public struct NewEvent: Sendable, Hashable {
    /// Unique id; re-sending an event with the same id is a no-op.
    public var id: UUID
    /// The stream the event belongs to, such as `school-LA01-0001`.
    public var streamID: String
    /// The event type, such as `activity_delivered`.
    public var type: String
    /// The version of the type's schema this event's data follows.
    public var schemaVersion: Int32
    /// The event's data as a JSON document.
    public var data: String
    /// Who recorded it and why.
    public var metadata: EventMetadata
    /// The date the fact happened.
    public var occurredOn: PostgresDate?
    /// The local authority it belongs to; `nil` for programme-wide events.
    public var authorityID: String?

    public init(
        id: UUID = .timeOrdered(), streamID: String, type: String, schemaVersion: Int32 = 1, data: String,
        metadata: EventMetadata = EventMetadata(), occurredOn: PostgresDate? = nil, authorityID: String? = nil
    ) {
        self.id = id
        self.streamID = streamID
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
        self.metadata = metadata
        self.occurredOn = occurredOn
        self.authorityID = authorityID
    }
}

/// What a stream must look like for an append to go ahead.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's last event must have exactly this version.
    case exactly(Int64)

    /// Parses `any`, `none` (or `no-stream`), or a whole number.
    public init?(_ text: String) {
        switch text {
        case "any": self = .any
        case "none", "no-stream", "0": self = .noStream
        default:
            guard let n = Int64(text), n >= 0 else { return nil }
            self = n == 0 ? .noStream : .exactly(n)
        }
    }

    var sqlValue: Int64? {
        switch self {
        case .any: return nil
        case .noStream: return 0
        case .exactly(let n): return n
        }
    }

    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "none"
        case .exactly(let n): return String(n)
        }
    }
}

/// Where an appended event landed.
public struct AppendResult: Sendable, Hashable, Codable {
    public var eventID: UUID
    public var streamID: String
    public var version: Int64
    public var position: Int64
    /// `true` when the event was already in the log and nothing was appended.
    public var duplicate: Bool

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", streamID = "stream_id", version, position, duplicate
    }

    public init(eventID: UUID, streamID: String, version: Int64, position: Int64, duplicate: Bool) {
        self.eventID = eventID
        self.streamID = streamID
        self.version = version
        self.position = position
        self.duplicate = duplicate
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(eventID.lowercasedString, forKey: .eventID)
        try container.encode(streamID, forKey: .streamID)
        try container.encode(version, forKey: .version)
        try container.encode(position, forKey: .position)
        try container.encode(duplicate, forKey: .duplicate)
    }
}

/// An event as stored in the log.
public struct RecordedEvent: Sendable, Hashable {
    public var position: Int64
    public var eventID: UUID
    public var streamID: String
    public var version: Int64
    public var type: String
    public var schemaVersion: Int32
    /// The data as JSON text (PostgreSQL's `jsonb` rendering).
    public var data: String
    /// The metadata as JSON text.
    public var metadata: String
    public var occurredOn: PostgresDate?
    /// When it was recorded, as ISO 8601 in UTC.
    public var recordedAt: String
    public var authorityID: String?
    /// The chain hash, in hex.
    public var hash: String

    public init(
        position: Int64, eventID: UUID, streamID: String, version: Int64, type: String, schemaVersion: Int32,
        data: String, metadata: String, occurredOn: PostgresDate?, recordedAt: String, authorityID: String?, hash: String
    ) {
        self.position = position
        self.eventID = eventID
        self.streamID = streamID
        self.version = version
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
        self.metadata = metadata
        self.occurredOn = occurredOn
        self.recordedAt = recordedAt
        self.authorityID = authorityID
        self.hash = hash
    }

    /// The event as one line of JSON (for JSON Lines output).
    public var jsonLine: String {
        var out = [UInt8]()
        out.reserveCapacity(data.utf8.count + metadata.utf8.count + 400)
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        func quoted(_ text: String?) {
            guard let text else { return raw("null") }
            JSONText.appendQuoted(text, to: &out)
        }
        raw("{\"position\":"); raw(String(position))
        raw(",\"event_id\":"); quoted(eventID.lowercasedString)
        raw(",\"stream_id\":"); quoted(streamID)
        raw(",\"version\":"); raw(String(version))
        raw(",\"type\":"); quoted(type)
        raw(",\"schema_version\":"); raw(String(schemaVersion))
        raw(",\"occurred_on\":"); quoted(occurredOn?.description)
        raw(",\"recorded_at\":"); quoted(recordedAt)
        raw(",\"authority_id\":"); quoted(authorityID)
        raw(",\"data\":"); raw(data)
        raw(",\"metadata\":"); raw(metadata)
        raw(",\"hash\":"); quoted(hash)
        raw("}")
        return String(decoding: out, as: UTF8.self)
    }
}

extension UUID {
    /// A new time-ordered id (UUID version 7: 48 bits of Unix milliseconds, then random bits).
    ///
    /// Ids made one after another sort near each other, so the log's unique index on event ids
    /// grows at its right edge instead of at random pages, which keeps large appends fast.
    public static func timeOrdered(now: Date = Date()) -> UUID {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var random = SystemRandomNumberGenerator()
        let tail = random.next() as UInt64
        let middle = random.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - i))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: middle & 0x0f)        // version 7
        bytes[7] = UInt8(truncatingIfNeeded: middle >> 8)
        bytes[8] = 0x80 | UInt8(truncatingIfNeeded: (middle >> 16) & 0x3f) // RFC 9562 variant
        for i in 9..<16 { bytes[i] = UInt8(truncatingIfNeeded: tail >> (8 * (i - 9))) }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

/// Small JSON helpers that need no encoder.
public enum JSONText {
    /// Why a JSON string literal could not be read.
    public struct StringFailure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads the JSON string literal whose opening quote is at `index`: its content, unescaped,
    /// as UTF-8 (`\u0000` included). `index` ends after the closing quote, or where reading
    /// failed.
    public static func readString(_ bytes: UnsafeBufferPointer<UInt8>, at index: inout Int) throws -> [UInt8] {
        func failure(_ what: String) -> StringFailure { StringFailure(description: what) }
        func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure("unterminated escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                index += 1
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: throw failure("invalid escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        index += 1  // the opening quote
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
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { throw failure("lone surrogate") }
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

    /// A JSON string literal for `text`.
    public static func quote(_ text: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count + 2)
        appendQuoted(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a JSON string literal, escaping quotes, backslashes and control
    /// characters byte by byte (UTF-8 above ASCII passes through unchanged).
    public static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most text needs no escaping: copy it whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: text.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
