import Foundation
import ReachCalendar
import ReachPostgres

/// What the layers above need to know from the log, as functions: the log owns its tables
/// (`reach.events`, `reach.streams`), and the domain and the projections ask here rather than
/// query them. Each is one set-based query, for one record or a whole chunk of an import.
extension EventLog {
    /// For each of `recordIDs` under which an event is recorded (its event id derived by
    /// `reach.record_event_id`): that event, and whether its stream also holds an event of
    /// `type` whose data names the record under `field` (such as a withdrawal of it).
    public static func recordedEvents(recordIDs: [String], namedBy type: String, inField field: String, on connection: Connection)
        throws -> [String: (event: RecordedEvent, named: Bool)]
    {
        guard !recordIDs.isEmpty else { return [:] }
        let result = try connection.query(
            """
            SELECT \(columns), i.record_id,
                   EXISTS (SELECT FROM reach.events w WHERE w.stream_id = e.stream_id AND w.event_type = $2 AND w.data ->> $3 = i.record_id)
            FROM unnest($1::text[]) AS i(record_id),
                 LATERAL (SELECT * FROM reach.events e WHERE e.event_id = reach.record_event_id(i.record_id)) e
            """, [PostgresArray(recordIDs), type, field], prepared: true)
        let events = try decodeEvents(result)
        var found: [String: (event: RecordedEvent, named: Bool)] = [:]
        for row in events.indices {
            found[try result.decode(row: row, column: 12)] = (events[row], try result.decode(row: row, column: 13))
        }
        return found
    }

    /// For each of `streams` that exists, a field of its first event's data (`data ->> field`),
    /// such as the authority a registration belongs to.
    public static func firstEventField(_ field: String, of streams: [String], on connection: Connection) throws -> [String: String?] {
        guard !streams.isEmpty else { return [:] }
        let rows = try connection.query(
            "SELECT stream_id, data ->> $2 FROM reach.events WHERE stream_id = ANY($1) AND version = 1",
            [PostgresArray(streams), field], prepared: true
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decodeIfPresent(1, as: String.self)) }
        return Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    /// The data of the first event of each of `streams` that has events, as JSON text.
    public static func firstEventData(of streams: [String], on connection: Connection) throws -> [String: String] {
        guard !streams.isEmpty else { return [:] }
        let rows = try connection.query(
            "SELECT stream_id, data::text FROM reach.events WHERE stream_id = ANY($1) AND version = 1",
            [PostgresArray(streams)], prepared: true
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
        return Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    /// Per stream that exists: its version, and `data ->> field` of its latest event of `type`
    /// (events of other types in the stream count for the version only).
    public static func streamHeads(_ streams: [String], latest field: String, ofType type: String, on connection: Connection)
        throws -> [String: (version: Int64, latest: String?)]
    {
        guard !streams.isEmpty else { return [:] }
        let rows = try connection.query(
            """
            SELECT stream_id, max(version), (array_agg(data ->> $2 ORDER BY version DESC) FILTER (WHERE event_type = $3))[1]
            FROM reach.events WHERE stream_id = ANY($1) GROUP BY stream_id
            """, [PostgresArray(streams), field, type], prepared: true
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int64.self), try $0.decodeIfPresent(2, as: String.self)) }
        return Dictionary(rows.map { ($0.0, (version: $0.1, latest: $0.2)) }, uniquingKeysWith: { first, _ in first })
    }

    /// Which of `streams` have events.
    public static func existingStreams(_ streams: [String], on connection: Connection) throws -> Set<String> {
        guard !streams.isEmpty else { return [] }
        return Set(
            try connection.query(
                "SELECT stream_id FROM reach.streams WHERE stream_id = ANY($1) AND version > 0",
                [PostgresArray(streams)], prepared: true
            ).mapRows { try $0.decode(0, as: String.self) })
    }

    /// The places (0-based) in `ids` of the event ids the log holds. One index probe per id,
    /// whatever the planner thinks of the log's size: a join would be hashed over the whole log
    /// once the log outgrows its statistics.
    public static func presentIDs(_ ids: [UUID], on connection: Connection) throws -> [Int] {
        guard !ids.isEmpty else { return [] }
        return try connection.query(
            """
            SELECT i.n - 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS i(id, n),
                LATERAL (SELECT FROM reach.events e WHERE e.event_id = i.id LIMIT 1) AS found
            """, [PostgresArray(ids)]
        ).mapRows { try $0.decode(0, as: Int.self) }
    }

    /// For events already in the log (by id): where each is, whether it holds the same type
    /// and data as given, and the authority it belongs to, in the order given.
    public static func sameContent(_ events: [(id: UUID, type: String, data: String)], on connection: Connection) throws -> [(
        position: Int64, same: Bool, authorityID: String?
    )] {
        guard !events.isEmpty else { return [] }
        let found = try connection.query(
            """
            SELECT i.n, e."position", e.event_type = i.t AND e.data = i.d, e.authority_id
            FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS i(id, t, d, n),
                LATERAL (SELECT "position", event_type, data, authority_id FROM reach.events e WHERE e.event_id = i.id LIMIT 1) AS e
            """, [PostgresArray(events.map(\.id)), PostgresArray(events.map(\.type)), PostgresArray(events.map { PostgresJSONB($0.data) })]
        ).mapRows {
            (
                try $0.decode(0, as: Int.self), try $0.decode(1, as: Int64.self), try $0.decode(2, as: Bool.self),
                try $0.decodeIfPresent(3, as: String.self)
            )
        }
        var answer = [(position: Int64, same: Bool, authorityID: String?)](repeating: (0, false, nil), count: events.count)
        for (n, position, same, authority) in found { answer[n - 1] = (position, same, authority) }
        return answer
    }

    /// Whether the log holds no events at all, and whether it holds events from `source`
    /// (their metadata's `source`).
    public static func holdsEvents(fromSource source: String, on connection: Connection) throws -> (any: Bool, fromSource: Bool) {
        let result = try connection.query(
            """
            SELECT EXISTS (SELECT FROM reach.events), EXISTS (SELECT FROM reach.events WHERE metadata ->> 'source' = $1)
            """, [source])
        return (try result.decode(row: 0, column: 0), try result.decode(row: 0, column: 1))
    }

    /// The event at a position, if any.
    public static func event(at position: Int64, on connection: Connection) throws -> RecordedEvent? {
        try decodeEvents(connection.query("SELECT \(columns) FROM reach.events WHERE \"position\" = $1", [position], prepared: true)).first
    }

    /// The benchmark's baseline for reading the log: the rows after position `after`, at most
    /// `limit`, by a plain keyset `SELECT` of every column, each value read as text and nothing
    /// decoded into events (no horizon either). How many rows, and the last position; nil when
    /// none is left.
    public static func readPlain(after: Int64, limit: Int, on connection: Connection) throws -> (rows: Int, last: Int64)? {
        let result = try connection.query(
            """
            SELECT "position", event_id, stream_id, version, event_type, schema_version, data, metadata, occurred_on,
                   recorded_at, authority_id, hash
            FROM reach.events WHERE "position" > $1 ORDER BY "position" LIMIT $2
            """, [after, limit], prepared: true)
        guard result.rowCount > 0 else { return nil }
        for row in 0..<result.rowCount {
            for column in 1..<12 { _ = try result.decodeIfPresent(String.self, row: row, column: column) }
        }
        return (result.rowCount, try result.decode(row: result.rowCount - 1, column: 0))
    }

    /// The log's last position (0 when empty), from its index: no count of the whole log.
    public static func lastPosition(on connection: Connection) throws -> Int64 {
        try connection.query("SELECT coalesce(max(\"position\"), 0) FROM reach.events", prepared: true).decode(row: 0, column: 0)
    }

    /// The first day anything in the log about an authority happened on, or nil.
    public static func firstOccurredOn(authority: String, on connection: Connection) throws -> CalendarDate? {
        try connection.query("SELECT reach.first_occurred_on($1)", [authority])
            .decodeIfPresent(CalendarDate.self, row: 0, column: 0)
    }

    /// Of `authorities`, those with an event placed after the position given for it and at or
    /// before `upTo` (an authority not given counts from the start), other than events of the
    /// types `ignoring`.
    public static func authoritiesWithEvents(
        after positions: [String: Int64], among authorities: [String], upTo: Int64, ignoring: [String] = [],
        on connection: Connection
    ) throws -> Set<String> {
        guard !authorities.isEmpty else { return [] }
        return Set(
            try connection.query(
                """
                SELECT a.la FROM unnest($1::text[], $2::int8[]) AS a(la, after),
                -- (One walk along the log's positions from each authority's own, stopping at the
                -- first event about it: never a scan of the whole log, whatever the plan.)
                LATERAL (SELECT FROM reach.events e
                         WHERE e."position" > a.after AND e."position" <= $3 AND e.authority_id = a.la
                           AND e.event_type <> ALL ($4::text[])
                         ORDER BY e."position" LIMIT 1) AS found
                """, [PostgresArray(authorities), PostgresArray(authorities.map { positions[$0] ?? 0 }), upTo, PostgresArray(ignoring)]
            ).mapRows { try $0.decode(0, as: String.self) })
    }

    /// Refreshes the planner's statistics of the log (after a bulk load).
    public static func analyze(on connection: Connection) throws {
        try connection.executeScript("VACUUM (ANALYZE) reach.events")
    }

    /// How ``datesTouched(authority:after:upTo:rules:on:)`` reads events: those of
    /// `pointTypes` touch their own date; those of `amendmentTypes` in streams of
    /// `amendedStreamKinds` (the part of the stream id before its first colon) every date the
    /// record they name has had (its own, and the `date` of each amendment's data); those of
    /// `unchangingTypes` nothing; those of `everythingTypes` every date; any other every date
    /// from the earliest of its stream (every date when one there has none).
    public struct DateRules: Sendable {
        public var pointTypes: [String]
        public var amendmentTypes: [String]
        public var amendedStreamKinds: [String]
        public var unchangingTypes: [String]
        public var everythingTypes: [String]

        public init(
            pointTypes: [String], amendmentTypes: [String], amendedStreamKinds: [String], unchangingTypes: [String], everythingTypes: [String]
        ) {
            (self.pointTypes, self.amendmentTypes, self.amendedStreamKinds) = (pointTypes, amendmentTypes, amendedStreamKinds)
            (self.unchangingTypes, self.everythingTypes) = (unchangingTypes, everythingTypes)
        }
    }

    /// What the events about `authority` after `position` (up to `upTo`) touch, read by `rules`:
    /// how many touch every date (`undated`), the earliest date from which later ones are
    /// touched, the single dates touched, and the earliest date any of them happened on.
    public static func datesTouched(authority: String, after position: Int64, upTo: Int64, rules: DateRules, on connection: Connection) throws
        -> (undated: Int, from: CalendarDate?, points: [CalendarDate], earliest: CalendarDate?)
    {
        let found = try connection.query(
            """
            WITH new AS (
                SELECT e.stream_id, e.event_type, e.occurred_on, e.data,
                       CASE WHEN e.event_type = ANY ($4::text[]) THEN 'points'
                            WHEN e.event_type = ANY ($5::text[]) AND split_part(e.stream_id, ':', 1) = ANY ($6::text[]) THEN 'points'
                            WHEN e.event_type = ANY ($7::text[]) THEN 'none'
                            WHEN e.event_type = ANY ($8::text[]) THEN 'all'
                            ELSE 'stream' END AS kind
                FROM reach.events e
                WHERE e.authority_id = $1 AND e."position" > $2 AND e."position" <= $3
            ), dated AS (
                SELECT n.occurred_on, n.kind,
                    CASE WHEN n.kind <> 'points' THEN NULL
                         WHEN n.event_type = ANY ($4::text[]) THEN CASE WHEN n.occurred_on IS NOT NULL THEN ARRAY[n.occurred_on] END
                         ELSE (SELECT array_agg(DISTINCT v.d) FROM reach.events o,
                                   LATERAL (VALUES (o.occurred_on),
                                                   (CASE WHEN o.data->'data'->>'date' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                                                         THEN (o.data->'data'->>'date')::date END)) AS v(d)
                               WHERE o.stream_id = n.stream_id AND v.d IS NOT NULL
                                 AND (o.metadata->>'correlation_id' = n.data->>'record_id' OR o.data->>'record_id' = n.data->>'record_id'))
                    END AS points,
                    CASE WHEN n.kind = 'stream' THEN
                        (SELECT CASE WHEN bool_and(o.occurred_on IS NOT NULL) THEN min(o.occurred_on) END
                         FROM reach.events o WHERE o.stream_id = n.stream_id)
                    END AS from_on
                FROM new n
            )
            SELECT count(*)::int,
                   count(*) FILTER (WHERE kind = 'all' OR (kind = 'points' AND points IS NULL) OR (kind = 'stream' AND from_on IS NULL))::int,
                   min(from_on),
                   (SELECT string_agg(DISTINCT p::text, ',') FROM dated d, unnest(d.points) AS p),
                   min(occurred_on)
            FROM dated
            """,
            [
                authority, position, upTo, PostgresArray(rules.pointTypes), PostgresArray(rules.amendmentTypes),
                PostgresArray(rules.amendedStreamKinds), PostgresArray(rules.unchangingTypes), PostgresArray(rules.everythingTypes),
            ])
        let points = (try found.decodeIfPresent(String.self, row: 0, column: 3) ?? "").split(separator: ",").compactMap {
            CalendarDate(iso: String($0))
        }
        return (
            try found.decode(row: 0, column: 1), try found.decodeIfPresent(CalendarDate.self, row: 0, column: 2), points,
            try found.decodeIfPresent(CalendarDate.self, row: 0, column: 4)
        )
    }

    /// The ids of the streams named `prefix`-something that hold events, without the prefix, sorted.
    public static func streamNames(prefix: String, on connection: Connection) throws -> [String] {
        try connection.query(
            "SELECT substr(stream_id, length($1) + 1) FROM reach.streams WHERE starts_with(stream_id, $1) AND version > 0 ORDER BY 1", [prefix]
        ).mapRows { try $0.decode(0, as: String.self) }
    }
}
