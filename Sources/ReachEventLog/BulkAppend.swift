import COpenSSL
import Foundation
import ReachPostgres

extension EventLog {
    /// What a bulk append did.
    public struct BulkSummary: Sendable, Hashable, Codable {
        /// Events appended.
        public var appended: Int
        /// Events already in the log, skipped.
        public var alreadyPresent: Int
        /// The highest position appended, if any.
        public var lastPosition: Int64?

        mutating func add(_ other: BulkSummary) {
            appended += other.appended
            alreadyPresent += other.alreadyPresent
            if let last = other.lastPosition { lastPosition = max(lastPosition ?? 0, last) }
        }
    }

    /// The bulk path for imports and the demo: appends `events` in chunks, with the guarantees of
    /// ``append(_:expecting:on:)`` (versions without gaps, the hash chain, idempotency by id).
    /// Run it inside a transaction to make the whole load all or nothing; outside one, it opens
    /// its own.
    ///
    /// A chunk of new events whose documents are in a form this process can hash exactly (see
    /// ``JSONBText``) is written straight into the log with one `COPY`: its stream heads are
    /// locked, versions and hashes are computed here, positions are drawn from the log's
    /// sequence, by the rule of `reach.append_events` (migration 0010). Any other chunk (ids
    /// already in the log, a stream created by another session meanwhile, a number with an
    /// exponent) goes through `reach.append_staged`, which hands it to `reach.append_events`.
    ///
    /// `idsChecked` says that the caller has found, in this transaction, that no event's id is in
    /// the log; the check is then not made again.
    public static func appendBulk(_ events: some Sequence<NewEvent>, chunkSize: Int = 20_000, idsChecked: Bool = false, on connection: Connection)
        throws -> BulkSummary
    {
        var iterator = events.makeIterator()
        var chunk: [NewEvent] = []
        chunk.reserveCapacity(chunkSize)
        return try appendChunks(idsChecked: idsChecked, session: nil, on: connection) {
            chunk.removeAll(keepingCapacity: true)
            while chunk.count < chunkSize, let event = iterator.next() { chunk.append(event) }
            return chunk.isEmpty ? nil : chunk.concurrentMap { PreparedEvent($0) }
        }
    }

    /// ``appendBulk(_:chunkSize:idsChecked:on:)`` for events prepared ahead, such as on
    /// another thread while earlier events were appended.
    ///
    /// A caller that appends chunk after chunk in one transaction passes one `session` to
    /// every call, and calls ``BulkSession/finish(on:)`` before it commits (and before it
    /// appends to the log any other way): a chunk then needs no round trip to the server
    /// before its `COPY` once its streams are known.
    public static func appendBulk(
        prepared events: [PreparedEvent], chunkSize: Int = 20_000, idsChecked: Bool = false,
        session: BulkSession? = nil, on connection: Connection
    ) throws -> BulkSummary {
        var start = 0
        return try appendChunks(idsChecked: idsChecked, session: session, on: connection) {
            guard start < events.count else { return nil }
            defer { start += chunkSize }
            return Array(events[start..<min(start + chunkSize, events.count)])
        }
    }

    /// What the bulk path keeps between the chunks it appends in one transaction: the
    /// transaction's clock, the heads of the streams the transaction has locked (and moved),
    /// and positions drawn ahead for the next chunk. Positions drawn and not used leave a gap,
    /// as a rolled-back append does. A session belongs to one transaction: its positions were
    /// drawn after the transaction's id, which readers of the log rely on.
    public final class BulkSession {
        var epoch: String?
        var heads: [String: (version: Int64, hash: [UInt8])] = [:]
        /// Streams whose head moved since it was last written to `reach.streams`.
        var moved: Set<String> = []
        var positions: ArraySlice<Int64> = []

        public init() {}

        /// Writes the stream heads the session moved to `reach.streams`, and forgets the heads
        /// and the positions drawn ahead: a later chunk reads the heads again and draws
        /// positions after those of whatever is appended in between, so that positions keep
        /// the order of appends. Call before anything else appends to the log in the
        /// transaction, and before committing.
        public func finish(on connection: Connection) throws {
            defer {
                heads = [:]
                moved = []
                positions = []
            }
            guard !moved.isEmpty else { return }
            let streams = moved.sorted()
            try connection.execute(
                """
                UPDATE reach.streams s SET version = u.v, last_hash = decode(u.h, 'hex'), last_recorded_at = now()
                FROM unnest($1::text[], $2::int8[], $3::text[]) AS u(s, v, h) WHERE s.stream_id = u.s
                """,
                [
                    PostgresArray(streams), PostgresArray(streams.map { heads[$0]!.version }),
                    PostgresArray(streams.map { PostgresBytes(heads[$0]!.hash).hex }),
                ], prepared: true)
        }
    }

    /// Appends the chunks `next` gives until it gives nil, each straight into the log where it
    /// can, else through the server's path.
    private static func appendChunks(
        idsChecked: Bool, session given: BulkSession?, on connection: Connection,
        _ next: () throws -> [PreparedEvent]?
    ) throws -> BulkSummary {
        guard connection.isInTransaction else {
            return try connection.withTransaction { try appendChunks(idsChecked: idsChecked, session: given, on: $0, next) }
        }
        do {
            let session = given ?? BulkSession()
            // Chunks of thousands of events sort in memory rather than on disk.
            if session.epoch == nil { try connection.executeScript("SET LOCAL work_mem = '64MB'") }
            var summary = BulkSummary(appended: 0, alreadyPresent: 0, lastPosition: nil)
            var chunk = try next()
            while let current = chunk {
                chunk = try next()
                // The next chunk's positions are drawn with this one's: this call's next chunk,
                // or, for a caller's session, the caller's next call (taken to be as big). The
                // last chunk of a session of this call's own writes its heads before its COPY,
                // which then runs on while the caller goes on.
                if let direct = try appendDirect(
                    current, idsChecked: idsChecked, session: session,
                    drawAhead: chunk?.count ?? (given == nil ? 0 : current.count),
                    finishing: given == nil && chunk == nil, on: connection)
                {
                    summary.add(direct)
                } else {
                    try session.finish(on: connection)
                    summary.add(try appendStaged(current.map(\.event), on: connection))
                }
            }
            if given == nil { try session.finish(on: connection) }
            return summary
        } catch {
            throw EventLogError.translate(error)
        }
    }

    /// A new event ready for the bulk path: its data and metadata written as PostgreSQL's
    /// `jsonb` prints them (see ``JSONBText``), worked out on whichever thread makes it. Where
    /// they cannot be written for certain, its chunk goes through the server's path.
    public struct PreparedEvent: Sendable {
        public let event: NewEvent
        let documents: Documents?
        /// Whether `documents` is there (read without copying them).
        let hasDocuments: Bool

        struct Documents: Sendable {
            var data: String
            var metadata: [UInt8]
        }

        public init(_ event: NewEvent) {
            self.event = event
            if let data = JSONBText.canonical(event.data) {
                documents = Documents(data: String(decoding: data, as: UTF8.self), metadata: event.metadata.jsonbBytes)
            } else {
                documents = nil
            }
            hasDocuments = documents != nil
        }

        /// An event whose data the caller wrote exactly as jsonb prints it, so it is not read
        /// again. Data that differs from jsonb's text would break the stream's hash chain,
        /// which `reach events verify` reports.
        public init(jsonb event: NewEvent) {
            self.event = event
            documents = Documents(data: event.data, metadata: event.metadata.jsonbBytes)
            hasDocuments = true
        }
    }

    /// Appends one chunk of new events with one `COPY` into the log, or answers `nil` having
    /// changed nothing when the chunk needs the server's path.
    static func appendDirect(
        _ prepared: [PreparedEvent], idsChecked: Bool = false, session: BulkSession,
        drawAhead: Int, finishing: Bool, on connection: Connection
    ) throws -> BulkSummary? {
        // Events are read in place (by index, or through a buffer pointer where one is passed
        // on): `map`, `allSatisfy`, `for ... in` and passing an array's element copy each
        // event, counting a reference to every string in it.
        guard !prepared.indices.contains(where: { !prepared[$0].hasDocuments }) else { return nil }
        let ids = prepared.indices.map { prepared[$0].event.id }
        guard Set(ids).count == ids.count else { return nil } // the server's path words the error

        // The transaction's id comes before any position (readers rely on it), and its clock
        // is the events' recorded_at (the column's default, now()).
        if session.epoch == nil || !idsChecked {
            let clock = try connection.query(
                """
                SELECT pg_current_xact_id()::text, extract(epoch FROM now())::text,
                       NOT $2 AND EXISTS (SELECT FROM reach.events WHERE event_id = ANY($1::uuid[]))
                """, [PostgresArray(idsChecked ? [] : ids), idsChecked], prepared: true)
            guard try !clock.decode(Bool.self, row: 0, column: 2) else { return nil }
            session.epoch = try clock.decode(row: 0, column: 1)
        }
        let epoch = session.epoch!

        // The heads of the streams that already exist, locked in a fixed order; those the
        // transaction locked for an earlier chunk are known.
        var distinctStreams = Set<String>()
        for index in prepared.indices { distinctStreams.insert(prepared[index].event.streamID) }
        let streams = distinctStreams.sorted()
        var heads = session.heads
        let unknown = streams.filter { heads[$0] == nil }
        if !unknown.isEmpty {
            let existing = try connection.query(
                """
                SELECT stream_id, version, last_hash, last_recorded_at > now() FROM reach.streams
                WHERE stream_id = ANY($1) ORDER BY stream_id FOR UPDATE
                """, [PostgresArray(unknown)], prepared: true)
            // A stream whose last event is later than this transaction's clock (appended by a
            // transaction that started after this one) is the server's path's: it takes the
            // clock after the locks, so that no event is recorded before the one before it.
            for row in 0..<existing.rowCount where try existing.decodeIfPresent(Bool.self, row: row, column: 3) == true { return nil }
            for row in 0..<existing.rowCount {
                heads[try existing.decode(row: row, column: 0)] = (
                    try existing.decode(row: row, column: 1), try existing.decode(PostgresBytes.self, row: row, column: 2).bytes
                )
            }
        }
        let newStreams = unknown.filter { heads[$0] == nil }
        if session.positions.count < prepared.count {
            // Drawn by the log's function, which notes them for this transaction: the check on
            // appended events refuses a position the appending transaction did not draw.
            let drawn = try connection.query(
                "SELECT reach.draw_positions($1::int4)",
                [Int32(prepared.count - session.positions.count + drawAhead)], prepared: true
            ).mapRows { try $0.decode(0, as: Int64.self) }.sorted()
            session.positions = ArraySlice(Array(session.positions) + drawn)
        }
        let positions = Array(session.positions.prefix(prepared.count))
        session.positions = session.positions.dropFirst(prepared.count)

        // Versions and hashes, in chunk order.
        var rows: [(version: Int64, hash: [UInt8])] = []
        rows.reserveCapacity(prepared.count)
        var input: [UInt8] = []
        prepared.withUnsafeBufferPointer { prepared in
            for index in prepared.indices {
                let head = heads[prepared[index].event.streamID] ?? (0, [])
                let version = head.version + 1
                let hash = eventHash(previous: head.hash, prepared.baseAddress! + index, version: version, epoch: epoch, buffer: &input)
                heads[prepared[index].event.streamID] = (version, hash)
                rows.append((version, hash))
            }
        }

        // New heads first: if another session created one of these streams meanwhile, undo
        // ours (back to a savepoint: the application's role may not delete heads) and leave the
        // chunk to the server's path, which waits for that stream's lock.
        if !newStreams.isEmpty {
            let createdAll = try connection.withSavepoint(keepingIf: \.self) { connection in
                try connection.query(
                    """
                    INSERT INTO reach.streams (stream_id, version, last_hash, last_recorded_at)
                    SELECT s, v, decode(h, 'hex'), now() FROM unnest($1::text[], $2::int8[], $3::text[]) AS u(s, v, h) ORDER BY s
                    ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
                    RETURNING stream_id
                    """,
                    [
                        PostgresArray(newStreams), PostgresArray(newStreams.map { heads[$0]!.version }),
                        PostgresArray(newStreams.map { PostgresBytes(heads[$0]!.hash).hex }),
                    ], prepared: true
                ).rowCount == newStreams.count
            }
            if !createdAll { return nil }
        }
        // The heads of the streams that existed are written when the session finishes (those
        // created here were written with their heads), or now, when finishing.
        session.moved.formUnion(streams.filter { !newStreams.contains($0) })
        session.heads = heads
        if finishing { try session.finish(on: connection) }

        // Deferred: the rows go to the server from a thread of their own while this process
        // prepares what comes next; the connection's next call waits for them (and reports
        // their error, if any).
        let parts = ChunkRows(prepared: prepared, positions: positions, rows: rows)
        let text = concurrentParts(prepared.count) { range in
            let (positions, rows) = (parts.positions, parts.rows)
            var text = CopyText(capacity: range.count * 800)
            parts.prepared.withUnsafeBufferPointer { prepared in
                for index in range {
                    text.appendField(positions[index])
                    text.appendField(prepared[index].event.id)
                    text.appendField(prepared[index].event.streamID)
                    text.appendField(rows[index].version)
                    text.appendField(prepared[index].event.type)
                    text.appendField(Int64(prepared[index].event.schemaVersion))
                    text.appendField(prepared[index].documents!.data)
                    text.appendField(bytes: prepared[index].documents!.metadata)
                    text.appendField(prepared[index].event.occurredOn?.description)
                    text.appendField(prepared[index].event.authorityID)
                    text.appendField(bytea: rows[index].hash, last: true)
                }
            }
            return text
        }
        _ = try connection.copyIn(
            """
            COPY reach.events ("position", event_id, stream_id, version, event_type, schema_version,
                               data, metadata, occurred_on, authority_id, hash) FROM STDIN
            """, deferred: true
        ) { writer in
            for part in text { try writer.append(part) }
        }
        return BulkSummary(appended: prepared.count, alreadyPresent: 0, lastPosition: positions.last)
    }

    /// A chunk's events and what was worked out for them, read by the threads that write its rows.
    private struct ChunkRows: Sendable {
        var prepared: [PreparedEvent]
        var positions: [Int64]
        var rows: [(version: Int64, hash: [UInt8])]
    }

    /// `reach.event_hash`, byte for byte: SHA-256 of the previous hash of the stream and the
    /// event's digest input, `buffer` being scratch space kept between calls.
    static func eventHash(
        previous: [UInt8], _ prepared: UnsafePointer<PreparedEvent>, version: Int64, epoch: String,
        buffer input: inout [UInt8]
    ) -> [UInt8] {
        input.removeAll(keepingCapacity: true)
        input.append(contentsOf: previous)
        digestInput(prepared, version: version, epoch: epoch, into: &input)
        return sha256(input)
    }

    /// `reach.event_digest_input`, byte for byte: the fields joined by the unit separator.
    static func digestInput(_ prepared: UnsafePointer<PreparedEvent>, version: Int64, epoch: String, into input: inout [UInt8]) {
        // Read through the pointer: a copy of the event would count a reference to each string.
        let separator: UInt8 = 31
        prepared.pointee.event.id.appendLowercased(to: &input)
        input.append(separator)
        input.append(contentsOf: prepared.pointee.event.streamID.utf8)
        input.append(separator)
        input.appendDecimal(version)
        input.append(separator)
        input.append(contentsOf: prepared.pointee.event.type.utf8)
        input.append(separator)
        input.appendDecimal(Int64(prepared.pointee.event.schemaVersion))
        input.append(separator)
        if let date = prepared.pointee.event.occurredOn { input.appendDecimal(Int64(date.daysSince2000)) }
        input.append(separator)
        if let authority = prepared.pointee.event.authorityID { input.append(contentsOf: authority.utf8) }
        input.append(separator)
        input.append(contentsOf: epoch.utf8)
        input.append(separator)
        input.append(contentsOf: prepared.pointee.documents!.metadata)
        input.append(separator)
        input.append(contentsOf: prepared.pointee.documents!.data.utf8)
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { sha256($0) }
    }

    /// SHA-256 of `bytes`, through an implementation looked up once: OpenSSL 3's one-shot
    /// `SHA256` looks it up on every call, which costs more than hashing an event id.
    static func sha256(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Int(SHA256_DIGEST_LENGTH)) { output, count in
            var size: UInt32 = 0
            guard EVP_Digest(bytes.baseAddress, bytes.count, output.baseAddress, &size, sha256Method, nil) == 1 else {
                fatalError("SHA-256 failed in OpenSSL")
            }
            count = Int(size)
        }
    }

    /// SHA-256 of `text`'s UTF-8 bytes, in lower-case hex: the checksum of a migration file
    /// or of a projection's SQL.
    public static func sha256Hex(_ text: String) -> String {
        Hex.encode(sha256(Array(text.utf8)))
    }

    /// OpenSSL's SHA-256, looked up once (or, should the lookup fail, the one OpenSSL looks up
    /// on each use).
    private nonisolated(unsafe) static let sha256Method = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()

    /// The server's path for one chunk: `COPY` into the session's staging table, then
    /// `reach.append_staged`.
    static func appendStaged(_ chunk: [NewEvent], on connection: Connection) throws -> BulkSummary {
        try connection.executeScript(
            """
            CREATE TEMP TABLE IF NOT EXISTS reach_stage (
                ord bigint PRIMARY KEY, event_id uuid, stream_id text, event_type text, schema_version integer,
                data jsonb, metadata jsonb, occurred_on date, authority_id text);
            TRUNCATE reach_stage;
            """)
        try connection.copyIn("COPY reach_stage FROM STDIN") { writer in
            for (index, event) in chunk.enumerated() {
                try writer.appendField(String(index + 1))
                try writer.appendField(event.id.lowercasedString)
                try writer.appendField(event.streamID)
                try writer.appendField(event.type)
                try writer.appendField(String(event.schemaVersion))
                try writer.appendField(event.data)
                try writer.appendField(event.metadata.json)
                try writer.appendField(event.occurredOn?.description)
                try writer.appendField(event.authorityID, last: true)
            }
        }
        let result = try connection.query(
            "SELECT appended, already_present, last_position FROM reach.append_staged($1, $2)",
            [Int64(0), Int64(chunk.count)], prepared: true)
        try connection.executeScript("TRUNCATE reach_stage")
        return BulkSummary(
            appended: try result.decode(Int.self, row: 0, column: 0),
            alreadyPresent: try result.decode(Int.self, row: 0, column: 1),
            lastPosition: try result.decodeIfPresent(Int64.self, row: 0, column: 2))
    }
}

extension EventLog {
    /// The event id of a record, as `reach.record_event_id` derives it: a version 8 UUID made of
    /// the first 16 bytes of sha256('reach-record:' || id), with the version and variant bits set.
    public static func recordEventID(_ recordID: String) -> UUID {
        // On the stack: an import makes one for every row.
        let prefix: StaticString = "reach-record:"
        var id = recordID
        return id.withUTF8 { record in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: prefix.utf8CodeUnitCount + record.count + Int(SHA256_DIGEST_LENGTH)) { buffer in
                let inputCount = prefix.utf8CodeUnitCount + record.count
                _ = UnsafeMutableBufferPointer(rebasing: buffer[..<prefix.utf8CodeUnitCount])
                    .initialize(from: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
                _ = UnsafeMutableBufferPointer(rebasing: buffer[prefix.utf8CodeUnitCount..<inputCount]).initialize(from: record)
                let digest = buffer.baseAddress! + inputCount
                var size: UInt32 = 0
                guard EVP_Digest(buffer.baseAddress, inputCount, digest, &size, sha256Method, nil) == 1 else {
                    fatalError("SHA-256 failed in OpenSSL")
                }
                digest[6] = (digest[6] & 0x0F) | 0x80
                digest[8] = (digest[8] & 0x3F) | 0x80
                return UUID(
                    uuid: (
                        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
                        digest[8], digest[9], digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]
                    ))
            }
        }
    }
}
