import Foundation
import ReachCalendar
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
        var writer = JSONWriter(
            .jsonb,
            capacity: 80 + (actor?.utf8.count ?? 0) + (source?.utf8.count ?? 0)
                + (causationID?.utf8.count ?? 0) + (correlationID?.utf8.count ?? 0))
        writer.beginObject()
        for (key, value) in [("actor", actor), ("source", source), ("causation_id", causationID), ("correlation_id", correlationID)] {
            guard let value else { continue }
            writer.key(key)
            writer.string(value)
        }
        writer.endObject()
        return writer.out
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
    public var occurredOn: CalendarDate?
    /// The local authority it belongs to; `nil` for programme-wide events.
    public var authorityID: String?

    public init(
        id: UUID = .timeOrdered(), streamID: String, type: String, schemaVersion: Int32 = 1, data: String,
        metadata: EventMetadata = EventMetadata(), occurredOn: CalendarDate? = nil, authorityID: String? = nil
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
        case eventID = "event_id"
        case streamID = "stream_id"
        case version, position, duplicate
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
    public var occurredOn: CalendarDate?
    /// When it was recorded, as ISO 8601 in UTC.
    public var recordedAt: String
    public var authorityID: String?
    /// The chain hash, in hex.
    public var hash: String

    public init(
        position: Int64, eventID: UUID, streamID: String, version: Int64, type: String, schemaVersion: Int32,
        data: String, metadata: String, occurredOn: CalendarDate?, recordedAt: String, authorityID: String?, hash: String
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
        var writer = JSONWriter(.compact(sortedKeys: false), capacity: data.utf8.count + metadata.utf8.count + 400)
        func field(_ key: String, _ value: String?) {
            writer.key(key)
            if let value { writer.string(value) } else { writer.scalar(.null, in: UnsafeBufferPointer(start: nil, count: 0)) }
        }
        writer.beginObject()
        writer.key("position")
        writer.number(token: String(position))
        field("event_id", eventID.lowercasedString)
        field("stream_id", streamID)
        writer.key("version")
        writer.number(token: String(version))
        field("type", type)
        writer.key("schema_version")
        writer.number(token: String(schemaVersion))
        field("occurred_on", occurredOn?.description)
        field("recorded_at", recordedAt)
        field("authority_id", authorityID)
        writer.key("data")
        writer.raw(data)
        writer.key("metadata")
        writer.raw(metadata)
        field("hash", hash)
        writer.endObject()
        return writer.text
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
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: middle & 0x0f) // version 7
        bytes[7] = UInt8(truncatingIfNeeded: middle >> 8)
        bytes[8] = 0x80 | UInt8(truncatingIfNeeded: (middle >> 16) & 0x3f) // RFC 9562 variant
        for i in 9..<16 { bytes[i] = UInt8(truncatingIfNeeded: tail >> (8 * (i - 9))) }
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
