import Foundation
import ReachPostgres

/// The event log's operations on one connection, for callers that manage their own connection
/// or transaction. ``EventStore`` offers the same from async code with a pool.
public enum EventLog {
    static let appendSQL = """
        SELECT event_id, stream_id, version, "position", duplicate
        FROM reach.append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """

    /// Appends `events` (to one or several streams) all or nothing, in one round trip, through
    /// `reach.append_events` (one event: `reach.append_event`), the SQL that places events in the
    /// log (the bulk path, ``appendBulk(_:chunkSize:idsChecked:on:)``, applies the same rule in
    /// this process).
    ///
    /// `expecting` maps stream ids to the version each must be at; streams not named are not
    /// checked. Events already in the log (by id, with the same content) are not appended again
    /// and come back with ``AppendResult/duplicate`` set and their original positions.
    public static func append(_ events: [NewEvent], expecting: [String: ExpectedVersion] = [:], on connection: Connection) throws -> [AppendResult] {
        guard !events.isEmpty else { return [] }
        if events.count == 1 { return [try appendOne(events[0], expecting: expecting[events[0].streamID] ?? .any, on: connection)] }
        return try appendMany(events, expecting: expecting, on: connection)
    }

    /// Several events (or one that needs the general path), through `reach.append_events`.
    static func appendMany(_ events: [NewEvent], expecting: [String: ExpectedVersion], on connection: Connection) throws -> [AppendResult] {
        let expectations = expecting.filter { $0.value != .any }.sorted { $0.key < $1.key }
        let parameters: [any PostgresEncodable] = [
            PostgresArray(events.map(\.id)),
            PostgresArray(events.map(\.streamID)),
            PostgresArray(events.map(\.type)),
            PostgresArray(events.map(\.schemaVersion)),
            PostgresArray(events.map { PostgresJSONB($0.data) }),
            PostgresArray(events.map { PostgresJSONB($0.metadata.json) }),
            PostgresArray(events.map(\.occurredOn)),
            PostgresArray(events.map(\.authorityID)),
            PostgresArray(expectations.map(\.key)),
            PostgresArray(expectations.map { $0.value.sqlValue }),
        ]
        do {
            let result = try connection.query(appendSQL, parameters, prepared: true)
            let rows = try result.mapRows { row in
                AppendResult(
                    eventID: try row.decode(0, as: UUID.self), streamID: try row.decode(1, as: String.self),
                    version: try row.decode(2, as: Int64.self), position: try row.decode(3, as: Int64.self),
                    duplicate: try row.decode(4, as: Bool.self)
                )
            }
            // The function answers in no particular order; give the results in the events' order.
            let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.eventID, $0) })
            return try events.map { event in
                guard let result = byID[event.id] else {
                    throw EventLogError(code: .invalidRequest, message: "the log did not answer for event \(event.id.lowercasedString)")
                }
                return result
            }
        } catch {
            throw EventLogError.translate(error)
        }
    }

    static let appendOneSQL = """
        SELECT event_id, stream_id, version, "position", duplicate
        FROM reach.append_event($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """

    /// One event, through `reach.append_event` (single values, one statement in the common case).
    static func appendOne(_ event: NewEvent, expecting: ExpectedVersion, on connection: Connection) throws -> AppendResult {
        do {
            let result = try connection.query(
                appendOneSQL,
                [
                    event.id, event.streamID, event.type, event.schemaVersion, PostgresJSONB(event.data),
                    PostgresJSONB(event.metadata.json), event.occurredOn, event.authorityID, expecting.sqlValue,
                ], prepared: true)
            guard result.rowCount == 1 else {
                throw EventLogError(code: .invalidRequest, message: "the log did not answer for event \(event.id.lowercasedString)")
            }
            return AppendResult(
                eventID: event.id, streamID: try result.decode(row: 0, column: 1), version: try result.decode(row: 0, column: 2),
                position: try result.decode(row: 0, column: 3), duplicate: try result.decode(row: 0, column: 4))
        } catch let error as PostgresError
            where error.sqlState == PostgresError.SQLState.uniqueViolation
            && error.constraint == "events_event_id_key" && !connection.isInTransaction
        {
            // Another session appended the same event at the same moment: the single statement
            // checked for it before waiting for the stream's head. The batch path checks again,
            // and answers with the event already there.
            return try appendMany([event], expecting: [event.streamID: expecting], on: connection)[0]
        } catch {
            throw EventLogError.translate(error)
        }
    }

    static let columns = """
        "position", event_id, stream_id, version, event_type, schema_version, data, metadata, occurred_on,
        recorded_at AT TIME ZONE 'UTC', authority_id, hash
        """

    static func decodeEvents(_ result: borrowing QueryResult) throws -> [RecordedEvent] {
        try result.mapRows { row in
            RecordedEvent(
                position: try row.decode(0), eventID: try row.decode(1), streamID: try row.decode(2),
                version: try row.decode(3), type: try row.decode(4), schemaVersion: try row.decode(5),
                data: try row.decode(6), metadata: try row.decode(7), occurredOn: try row.decodeIfPresent(8),
                recordedAt: try row.decode(9, as: UTCTimestamp.self).iso8601, authorityID: try row.decodeIfPresent(10),
                hash: try row.decode(11, as: PostgresBytes.self).hex
            )
        }
    }

    /// Reads one stream in version order, from the version after `afterVersion`.
    public static func readStream(_ streamID: String, afterVersion: Int64 = 0, limit: Int = 1000, on connection: Connection) throws -> [RecordedEvent]
    {
        let result = try connection.query(
            "SELECT \(columns) FROM reach.events WHERE stream_id = $1 AND version > $2 ORDER BY version LIMIT $3",
            [streamID, afterVersion, limit], prepared: true)
        return try decodeEvents(result)
    }

    /// The events after position `after` up to `upTo`, in position order, at most `limit`.
    /// Read only up to a settled position (``LogHorizon``), or an event committed late may be
    /// missed.
    public static func read(after: Int64, upTo: Int64, limit: Int, on connection: Connection) throws -> [RecordedEvent] {
        let result = try connection.query(
            "SELECT \(columns) FROM reach.events WHERE \"position\" > $1 AND \"position\" <= $2 ORDER BY \"position\" LIMIT $3",
            [after, upTo, limit], prepared: true)
        return try decodeEvents(result)
    }

    /// How many events the log holds, and its last position (nil when empty).
    public static func size(on connection: Connection) throws -> (events: Int, lastPosition: Int64?) {
        let result = try connection.query("SELECT count(*), max(\"position\") FROM reach.events")
        return (try result.decode(row: 0, column: 0), try result.decodeIfPresent(row: 0, column: 1))
    }

    /// The stream's current version (0 if it has no events).
    public static func streamVersion(_ streamID: String, on connection: Connection) throws -> Int64 {
        let result = try connection.query("SELECT coalesce(max(version), 0) FROM reach.events WHERE stream_id = $1", [streamID], prepared: true)
        return try result.decode(row: 0, column: 0)
    }
}

/// The one rule for how far the whole log may be read: its *settled* position.
///
/// Positions are drawn before commit, so concurrent appends commit out of order: position 11
/// can be visible while position 10's transaction is still open. A horizon is the last position
/// drawn at some moment (`reach.log_horizon`); it is settled once every transaction of this
/// database that was running at that moment has ended (`reach.horizon_settled`). Below a
/// settled position no new event can appear. ``LogReader`` and the projection engine both read
/// up to it and no further. Use it on a connection that is not inside a transaction.
public struct LogHorizon: Sendable {
    /// A horizon taken but not yet settled: its last position and the reader's transaction id.
    private var pending: (position: Int64, xid: String)?

    public init() {}

    /// The settled position, or nil when a transaction still running holds the horizon back
    /// longer than `maxWaitMilliseconds` (the horizon taken is kept for the next call).
    public mutating func settled(maxWaitMilliseconds: Int32 = 200, on connection: Connection) throws -> Int64? {
        guard !connection.isInTransaction else {
            throw EventLogError(
                code: .invalidRequest, message: "read the log outside a transaction: an open transaction holds the reader's horizon back")
        }
        if pending == nil {
            let horizon = try connection.query("SELECT last_position, reader_xid::text FROM reach.log_horizon()", prepared: true)
            pending = (try horizon.decode(row: 0, column: 0), try horizon.decode(row: 0, column: 1))
        }
        let settledNow = try connection.query(
            "SELECT reach.horizon_settled($1::text::xid8, $2)", [pending!.xid, maxWaitMilliseconds], prepared: true)
        guard try settledNow.decode(Bool.self, row: 0, column: 0) else { return nil }
        defer { pending = nil }
        return pending!.position
    }

    /// The settled position now, waiting up to `maxWaitMilliseconds`; nil if it is held back.
    public static func settledPosition(maxWaitMilliseconds: Int32 = 1_000, on connection: Connection) throws -> Int64? {
        var horizon = LogHorizon()
        return try horizon.settled(maxWaitMilliseconds: maxWaitMilliseconds, on: connection)
    }
}

/// Reads the whole log in position order, in batches, never missing an event whose transaction
/// commits after a later-numbered one is already visible: it reads only up to the settled
/// position (``LogHorizon``), so its checkpoint is simply the last position it read. Use it on
/// a connection that is not inside a transaction.
public struct LogReader: Sendable {
    /// The last position read; the next batch starts after it.
    public private(set) var checkpoint: Int64
    /// The settled position last learned from the server.
    public private(set) var settled: Int64 = 0
    private var horizon = LogHorizon()

    public init(after checkpoint: Int64 = 0) {
        self.checkpoint = checkpoint
    }

    /// Reads the next batch, or an empty one when the reader has caught up (or when a
    /// transaction still running holds the horizon back longer than `maxWaitMilliseconds`).
    public mutating func next(limit: Int = 5_000, maxWaitMilliseconds: Int32 = 200, on connection: Connection) throws -> [RecordedEvent] {
        if settled <= checkpoint {
            guard let position = try horizon.settled(maxWaitMilliseconds: maxWaitMilliseconds, on: connection) else { return [] }
            settled = max(settled, position)
            if settled <= checkpoint { return [] }
        }
        let events = try EventLog.read(after: checkpoint, upTo: settled, limit: limit, on: connection)
        // A short batch means everything up to the settled position has been read (the rest are
        // gaps left by rolled-back transactions).
        checkpoint = events.count < limit ? settled : events.last!.position
        return events
    }
}

/// A `timestamp` (without zone, already in UTC) in the server's ISO text form,
/// `2024-10-03 09:15:00.123456`, turned into ISO 8601 (`2024-10-03T09:15:00.123456Z`).
struct UTCTimestamp: PostgresDecodable {
    var iso8601: String
    init(postgresText text: UnsafeBufferPointer<UInt8>) throws {
        guard text.count >= 19, text[10] == UInt8(ascii: " ") else {
            throw PostgresError(code: .decoding, message: "expected a timestamp in ISO form (is DateStyle ISO?)")
        }
        var bytes = Array(text)
        bytes[10] = UInt8(ascii: "T")
        bytes.append(UInt8(ascii: "Z"))
        iso8601 = String(decoding: bytes, as: UTF8.self)
    }
}
