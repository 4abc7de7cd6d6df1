import ReachPostgres

/// The outcome of recomputing every stream's hash chain.
public struct VerifyReport: Sendable, Hashable, Codable {
    /// Events checked.
    public var events: Int
    /// Streams checked.
    public var streams: Int
    /// The first broken event by position, if any chain is broken.
    public var firstBroken: BrokenEvent?

    /// An event whose stored hash does not match its content and its predecessor.
    public struct BrokenEvent: Sendable, Hashable, Codable {
        public var position: Int64
        public var streamID: String
        public var version: Int64
        public var reason: String

        enum CodingKeys: String, CodingKey {
            case position
            case streamID = "stream_id"
            case version, reason
        }
    }

    /// Whether every chain holds.
    public var ok: Bool { firstBroken == nil }

    enum CodingKeys: String, CodingKey {
        case events, streams
        case firstBroken = "first_broken"
        case ok
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(events, forKey: .events)
        try container.encode(streams, forKey: .streams)
        try container.encode(firstBroken, forKey: .firstBroken)
    }

    public init(events: Int, streams: Int, firstBroken: BrokenEvent?) {
        self.events = events
        self.streams = streams
        self.firstBroken = firstBroken
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        events = try container.decode(Int.self, forKey: .events)
        streams = try container.decode(Int.self, forKey: .streams)
        firstBroken = try container.decodeIfPresent(BrokenEvent.self, forKey: .firstBroken)
    }
}

extension EventLog {
    /// Recomputes every stream's hash chain in the database, in one pass, and checks what the
    /// chains do not cover: positions are positive (the primary key makes them unique),
    /// versions run from 1 without gaps, no event is recorded before the event before it in
    /// its stream, and every stream's head (`reach.streams`) is its last event, version, hash
    /// and time (a moved head would make the next honest append look broken, or fail). Reports the first broken event by position, else the first broken head by
    /// stream, or that everything holds.
    public static func verify(on connection: Connection) throws -> VerifyReport {
        let result = try connection.query(
            """
            WITH checked AS (
                SELECT "position", stream_id, version, hash, recorded_at,
                       lag(version) OVER w AS previous_version, lag(recorded_at) OVER w AS previous_recorded_at,
                       last_value(version) OVER (PARTITION BY stream_id ORDER BY version
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_version,
                       sha256(coalesce(lag(hash) OVER w, '\\x'::bytea) || reach.event_digest_input(
                           event_id, stream_id, version, event_type, schema_version, data, metadata,
                           occurred_on, authority_id, recorded_at)) AS expected
                FROM reach.events
                WINDOW w AS (PARTITION BY stream_id ORDER BY version)
            ), totals AS (
                SELECT count(*) AS events, count(DISTINCT stream_id) AS streams FROM reach.events
            ), broken AS (
                SELECT "position", stream_id, version,
                       CASE WHEN "position" <= 0 THEN format('position %s is not a position the log draws', "position")
                            WHEN version <> coalesce(previous_version, 0) + 1
                            THEN format('version %s follows version %s', version, coalesce(previous_version, 0))
                            WHEN recorded_at < previous_recorded_at
                            THEN format('it is recorded at %s, before the event before it in its stream (%s)', recorded_at, previous_recorded_at)
                            ELSE 'its hash does not match its content and the previous event''s hash' END AS reason
                FROM checked
                WHERE hash <> expected OR version <> coalesce(previous_version, 0) + 1 OR "position" <= 0
                   OR recorded_at < previous_recorded_at
                ORDER BY "position" LIMIT 1
            ), lasts AS (
                SELECT stream_id, version, hash, recorded_at, "position" FROM checked WHERE version = last_version
            ), heads AS (
                SELECT coalesce(l."position", 0) AS "position", coalesce(h.stream_id, l.stream_id) AS stream_id,
                       coalesce(l.version, 0) AS version,
                       CASE WHEN h.stream_id IS NULL THEN 'the stream has no head in reach.streams'
                            WHEN l.stream_id IS NULL THEN format('its head is at version %s, but the stream has no events', h.version)
                            WHEN h.version <> l.version THEN format('its head is at version %s, but its last event is version %s', h.version, l.version)
                            WHEN h.last_hash <> l.hash THEN 'its head''s hash is not its last event''s hash'
                            ELSE 'its head''s time is not its last event''s recorded_at' END AS reason
                FROM (SELECT * FROM reach.streams WHERE version > 0) h
                FULL JOIN lasts l ON l.stream_id = h.stream_id
                WHERE h.stream_id IS NULL OR l.stream_id IS NULL OR h.version <> l.version OR h.last_hash <> l.hash
                   OR h.last_recorded_at IS DISTINCT FROM l.recorded_at
                ORDER BY 2 LIMIT 1
            )
            SELECT t.events, t.streams, b."position", b.stream_id, b.version, b.reason
            FROM totals t LEFT JOIN (SELECT * FROM broken UNION ALL SELECT * FROM heads WHERE NOT EXISTS (SELECT FROM broken)) b ON true
            """)
        var broken: VerifyReport.BrokenEvent? = try result.decodeIfPresent(String.self, row: 0, column: 3).map { stream in
            VerifyReport.BrokenEvent(
                position: try result.decode(row: 0, column: 2), streamID: stream,
                version: try result.decode(row: 0, column: 4), reason: try result.decode(row: 0, column: 5))
        }
        if broken == nil { broken = try misplacedAmendment(on: connection) }
        return VerifyReport(events: try result.decode(row: 0, column: 0), streams: try result.decode(row: 0, column: 1), firstBroken: broken)
    }

    /// The first amendment that is not where its record is, or does not keep its record's
    /// authority: one the log refuses now (migration 0025), appended before it did.
    static func misplacedAmendment(on connection: Connection) throws -> VerifyReport.BrokenEvent? {
        let found = try connection.query(
            """
            SELECT a."position", a.stream_id, a.version,
                   CASE WHEN o.event_id IS NULL THEN format('the amendment names record %s, which is not in the log', a.data ->> 'record_id')
                        WHEN o.stream_id <> a.stream_id THEN format('the amendment of record %s is not in its record''s stream (%s)', a.data ->> 'record_id', o.stream_id)
                        ELSE format('the amendment of record %s, of authority %s, is recorded for or names authority %s: a correction must keep its record''s authority; correct or withdraw it',
                                    a.data ->> 'record_id', coalesce(o.authority_id, 'none'),
                                    coalesce(CASE WHEN a.authority_id IS DISTINCT FROM o.authority_id THEN a.authority_id ELSE a.data -> 'data' ->> 'la_id' END, 'none')) END
            FROM reach.events a
            LEFT JOIN reach.events o ON o.event_id = reach.record_event_id(a.data ->> 'record_id')
            WHERE a.event_type IN ('event_corrected', 'event_withdrawn')
              AND (o.event_id IS NULL OR o.stream_id <> a.stream_id OR o.authority_id IS DISTINCT FROM a.authority_id
                   OR (a.event_type = 'event_corrected' AND (a.data -> 'data' ->> 'la_id') IS DISTINCT FROM o.authority_id))
            ORDER BY a."position" LIMIT 1
            """)
        guard found.rowCount > 0 else { return nil }
        return VerifyReport.BrokenEvent(
            position: try found.decode(row: 0, column: 0), streamID: try found.decode(row: 0, column: 1),
            version: try found.decode(row: 0, column: 2), reason: try found.decode(row: 0, column: 3))
    }
}
