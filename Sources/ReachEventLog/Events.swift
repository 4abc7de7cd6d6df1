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

    /// The metadata as a JSON object.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
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
        id: UUID = UUID(), streamID: String, type: String, schemaVersion: Int32 = 1, data: String,
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
        try container.encode(eventID.uuidString.lowercased(), forKey: .eventID)
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

    /// The event as one line of JSON (for JSON Lines output).
    public var jsonLine: String {
        func quoted(_ s: String?) -> String { s.map(JSONText.quote) ?? "null" }
        return "{\"position\":\(position),\"event_id\":\(JSONText.quote(eventID.uuidString.lowercased())),"
            + "\"stream_id\":\(JSONText.quote(streamID)),\"version\":\(version),\"type\":\(JSONText.quote(type)),"
            + "\"schema_version\":\(schemaVersion),\"occurred_on\":\(quoted(occurredOn?.description)),"
            + "\"recorded_at\":\(JSONText.quote(recordedAt)),\"authority_id\":\(quoted(authorityID)),"
            + "\"data\":\(data),\"metadata\":\(metadata),\"hash\":\(JSONText.quote(hash))}"
    }
}

/// Small JSON helpers that need no encoder.
public enum JSONText {
    /// A JSON string literal for `text`.
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20: out += String(format: "\\u%04x", s.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
