import Foundation
import Logging
import ReachEventLog
import ReachPostgres
import Synchronization

/// Runs projections: installs their tables, applies the log to them in batches, follows the
/// live log, stops a projection on an event it cannot apply, and rebuilds.
///
/// Guarantees:
/// - A batch of events and the projection's checkpoint are written in one transaction, which
///   first locks the projection's row of `projections.state` and checks the checkpoint it
///   started from, so a crash never counts an event twice or skips one.
/// - The engine reads only up to the log's *settled* position (see `reach.log_horizon`), so an
///   event committed late with an earlier position is never skipped.
/// - One runner per projection across every process: a runner holds the projection's
///   session-level advisory lock while it runs; if it dies, its lock goes with its connection
///   and another runner takes over.
/// - Corrections and withdrawals: every projection table has an `event_id` column; an amended
///   event's rows are deleted and, for a correction, made again from the corrected data.
///
/// The engine works on connections it is given (as the owner of the projection schemas).
public struct ProjectionEngine: Sendable {
    public let projections: [Projection]
    /// The most log positions one transaction covers.
    public var batchSize: Int64
    let logger: Logger
    /// Tests only: called inside each batch's transaction before the checkpoint is written,
    /// with the batch's last position; throwing stands for a crash before commit.
    var faultBeforeCommit: (@Sendable (Int64) throws -> Void)?

    /// The first key of the projections' advisory locks ("REAC").
    static let lockClass: Int32 = 0x5245_4143

    public init(projections: [Projection] = Projection.all, batchSize: Int64 = 50_000, logger: Logger = Logger(label: "reach.projections")) {
        self.projections = projections
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    // MARK: Installing

    /// The views of the `scoped` schema for a projection's research views, where missing: each
    /// research view limited to the rows of the request's authorities
    /// (`reach.request_authorities()`, set by the service for a staff member's request; no rows
    /// outside one). Views without an authority column are limited through their pilot; the
    /// programme-wide list of partner organisations is shown whole.
    func createScopedViews(_ projections: [Projection], on connection: Connection) throws {
        let missing = try connection.query(
            "SELECT v FROM unnest($1::text[]) v WHERE to_regclass('scoped.' || quote_ident(v)) IS NULL",
            [PostgresArray(projections.flatMap(\.views))]
        ).mapRows { try $0.decode(0, as: String.self) }
        for view in missing {
            let columns = Set(
                try connection.query(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'research' AND table_name = $1", [view]
                ).mapRows { try $0.decode(0, as: String.self) })
            let filter: String
            if columns.contains("la_id") {
                filter = "WHERE la_id = ANY (reach.request_authorities())"
            } else if columns.contains("pilot_id") {
                filter = "WHERE pilot_id IN (SELECT p.pilot_id FROM research.pilots p WHERE p.la_id = ANY (reach.request_authorities()))"
            } else {
                filter = ""
            }
            let name = try connection.quoteIdentifier(view)
            try connection.executeScript("CREATE VIEW scoped.\(name) WITH (security_barrier) AS SELECT * FROM research.\(name) \(filter)")
        }
    }

    /// Creates each projection that has no tables yet (schema, tables, research views, state row)
    /// and rebuilds each whose definition has changed since its tables were made.
    public func install(on connection: Connection) throws {
        // Nearly always everything is in place: one query says so, without the installers' lock
        // (every figures request asks, and taking the lock made them wait for one another).
        let check = try connection.query(
            """
            SELECT (SELECT coalesce(jsonb_object_agg(name, definition), '{}'::jsonb) FROM projections.state)::text,
                   (SELECT count(*) FROM unnest($1::text[]) v WHERE to_regclass('scoped.' || quote_ident(v)) IS NULL),
                   obj_description('research'::regnamespace, 'pg_namespace') IS NOT DISTINCT FROM $2
            """, [PostgresArray(projections.flatMap(\.views)), ResearchColumns.schemaComment], prepared: true)
        if try check.decode(Int64.self, row: 0, column: 1) == 0, try check.decode(Bool.self, row: 0, column: 2),
            case .object(let installed) = try JSONValue.parse(try check.decode(String.self, row: 0, column: 0)),
            projections.allSatisfy({ installed[$0.name] == .string(EventLog.sha256Hex($0.definition)) })
        {
            return
        }
        var changed: [Projection] = []
        var current: [Projection] = []
        try connection.withTransaction { connection in
            // One installer at a time, across processes.
            _ = try connection.query("SELECT pg_advisory_xact_lock($1, 0)", [Self.lockClass])
            for projection in projections {
                let definition = EventLog.sha256Hex(projection.definition)
                let found = try connection.query("SELECT definition FROM projections.state WHERE name = $1", [projection.name])
                if found.rowCount == 0 {
                    try connection.executeScript("DROP SCHEMA IF EXISTS \(try connection.quoteIdentifier(projection.schema)) CASCADE")
                    try create(projection, schema: projection.schema, on: connection)
                    try connection.executeScript(projection.sql(projection.viewsSQL, schema: try connection.quoteIdentifier(projection.schema)))
                    try createScopedViews([projection], on: connection)
                    _ = try connection.execute("INSERT INTO projections.state (name, definition) VALUES ($1, $2)", [projection.name, definition])
                    logger.info("installed projection", metadata: ["projection.name": "\(projection.name)"])
                } else if try found.decode(String.self, row: 0, column: 0) != definition {
                    changed.append(projection)
                } else {
                    current.append(projection)
                }
            }
            try createScopedViews(current, on: connection) // those of a log migrated since
            try ResearchColumns.apply(on: connection)
        }
        for projection in changed {
            logger.notice("projection definition changed; rebuilding", metadata: ["projection.name": "\(projection.name)"])
            try rebuild(projection, on: connection)
        }
    }

    private func create(_ projection: Projection, schema: String, on connection: Connection) throws {
        let quoted = try connection.quoteIdentifier(schema)
        try connection.executeScript("CREATE SCHEMA \(quoted)")
        try connection.executeScript(projection.sql(projection.tablesSQL, schema: quoted))
    }

    // MARK: Locks

    /// Takes the projection's runner lock if no other session holds it.
    public func tryLock(_ projection: Projection, on connection: Connection) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock($1, hashtext($2))", [Self.lockClass, projection.name], prepared: true)
            .decode(Bool.self, row: 0, column: 0)
    }

    /// Gives the projection's runner lock back.
    public func unlock(_ projection: Projection, on connection: Connection) throws {
        _ = try connection.query("SELECT pg_advisory_unlock($1, hashtext($2))", [Self.lockClass, projection.name], prepared: true)
    }

    // MARK: Applying

    /// What catching up did.
    public struct Progress: Sendable {
        /// Events of the projection's types (and amendments) applied.
        public var events = 0
        /// The checkpoint reached.
        public var checkpoint: Int64 = 0
        /// Set when the projection stopped on an event it could not apply.
        public var failure: Failure?
    }

    /// Where and why a projection stopped.
    public struct Failure: Sendable, CustomStringConvertible {
        public var position: Int64
        public var eventID: UUID
        public var error: String
        public var description: String { "event \(eventID) at position \(position): \(error)" }
    }

    /// Applies the log after the projection's checkpoint, up to `horizon` (a settled position),
    /// in batches. The caller holds the projection's runner lock. `shouldStop` is asked between
    /// batches. On an event it cannot apply, it applies everything before it, records the
    /// failure in `projections.state` and returns it; it never skips an event.
    public func catchUp(_ projection: Projection, to horizon: Int64, on connection: Connection, shouldStop: () -> Bool = { false }) throws -> Progress
    {
        var progress = Progress()
        progress.checkpoint = try checkpoint(of: projection, on: connection)
        // A projection starting from nothing on a long log is built the bulk way (see
        // rebuild); if that fails on an event, the batches below find and record which.
        if progress.checkpoint == 0 && horizon > 4 * batchSize && faultBeforeCommit == nil {
            do {
                try rebuild(projection, on: connection)
                progress.checkpoint = try checkpoint(of: projection, on: connection)
            } catch let error as PostgresError where error.code == .server {
                logger.warning(
                    "bulk build failed; applying in batches to find the event",
                    metadata: ["projection.name": "\(projection.name)", "error": "\(error)"])
            }
        }
        while progress.checkpoint < horizon && !shouldStop() {
            let upTo = min(horizon, progress.checkpoint + batchSize)
            do {
                progress.events += try applyCommitted(projection, after: progress.checkpoint, upTo: upTo, on: connection)
                progress.checkpoint = upTo
            } catch let error as PostgresError where error.code == .server {
                connection.abandonTransaction()
                let failure = try locateFailure(projection, after: progress.checkpoint, upTo: upTo, on: connection)
                if let failure {
                    // Apply everything before the failing event, then stop there.
                    if failure.position - 1 > progress.checkpoint {
                        progress.events += try applyCommitted(projection, after: progress.checkpoint, upTo: failure.position - 1, on: connection)
                        progress.checkpoint = failure.position - 1
                    }
                    _ = try connection.execute(
                        """
                        UPDATE projections.state SET state = 'failed', failed_position = $2, failed_event_id = $3,
                               failed_error = $4, failed_at = now()
                        WHERE name = $1
                        """, [projection.name, failure.position, failure.eventID, failure.error])
                    logger.error(
                        "projection stopped on an event it cannot apply",
                        metadata: [
                            "projection.name": "\(projection.name)", "event.position": "\(failure.position)",
                            "event.id": "\(failure.eventID)", "error": "\(failure.error)",
                        ])
                    progress.failure = failure
                    return progress
                }
                throw error
            }
        }
        return progress
    }

    /// The projection's checkpoint.
    public func checkpoint(of projection: Projection, on connection: Connection) throws -> Int64 {
        let found = try connection.query("SELECT checkpoint FROM projections.state WHERE name = $1", [projection.name], prepared: true)
        guard found.rowCount == 1 else {
            throw PostgresError(
                code: .client, message: "projection \(projection.name) is not installed; migrate the database and run the projection runner")
        }
        return try found.decode(row: 0, column: 0)
    }

    /// One batch and the checkpoint, in one transaction. Returns the events applied.
    private func applyCommitted(_ projection: Projection, after: Int64, upTo: Int64, on connection: Connection) throws -> Int {
        try connection.withTransaction { connection in
            let current = try connection.query(
                "SELECT checkpoint FROM projections.state WHERE name = $1 FOR UPDATE", [projection.name], prepared: true)
            let checkpoint: Int64 = try current.decode(row: 0, column: 0)
            guard checkpoint == after else {
                throw PostgresError(
                    code: .client, message: "projection \(projection.name) is at \(checkpoint), not \(after): another runner is applying it")
            }
            let applied = try apply(projection, schema: try connection.quoteIdentifier(projection.schema), after: after, upTo: upTo, on: connection)
            try faultBeforeCommit?(upTo)
            // Those waiting for the projections to catch up (``waitUntilCaughtUp``) are told at commit.
            _ = try connection.execute(
                """
                WITH moved AS (
                    UPDATE projections.state
                    SET checkpoint = $2, events_applied = events_applied + $3, last_applied_at = now(),
                        state = CASE WHEN state = 'failed' THEN 'idle' ELSE state END, failed_position = NULL, failed_event_id = NULL, failed_error = NULL, failed_at = NULL
                    WHERE name = $1
                    RETURNING name)
                SELECT pg_notify('\(Self.checkpointChannel)', name) FROM moved
                """, [projection.name, upTo, applied], prepared: true)
            return applied
        }
    }

    static let amendmentTypes = ["event_corrected", "event_withdrawn"]

    /// The channel a projection's new checkpoint is announced on (its name as the payload).
    public static let checkpointChannel = "reach_projections"

    /// Applies the events in (after, upTo] to the tables in `schema`, inside the caller's
    /// transaction: new rows first, then corrections and withdrawals of the projection's events
    /// (the last amendment of an event in the batch wins; validation refuses amending a
    /// withdrawn event). Returns how many events it applied.
    func apply(_ projection: Projection, schema: String, after: Int64, upTo: Int64, on connection: Connection) throws -> Int {
        let types = PostgresArray(projection.eventTypes)
        let counts = try connection.query(
            """
            SELECT count(*) FILTER (WHERE event_type = ANY($3)), count(*) FILTER (WHERE event_type = ANY($4))
            FROM reach.log_range($1, $2)
            """, [after, upTo, types, PostgresArray(Self.amendmentTypes)], prepared: true)
        let fresh: Int = try counts.decode(row: 0, column: 0)
        let amendments: Int = try counts.decode(row: 0, column: 1)
        if fresh > 0 {
            let source = """
                WITH src AS (SELECT event_id, "position", event_type, schema_version, data, occurred_on, authority_id
                             FROM reach.log_range($1, $2, $3))
                """
            for statement in projection.applySQL {
                _ = try connection.execute(source + "\n" + projection.sql(statement, schema: schema), [after, upTo, types])
            }
        }
        guard amendments > 0 else { return fresh }
        _ = try connection.execute(
            """
            CREATE TEMP TABLE reach_amended ON COMMIT DROP AS
            SELECT DISTINCT ON (t.event_id) t.event_id, t."position", t.event_type, t.schema_version,
                   CASE WHEN c.event_type = 'event_corrected' THEN c.data -> 'data' END AS data, t.occurred_on, t.authority_id
            FROM reach.log_range($1, $2, $4) c JOIN reach.log_range(0, 9223372036854775807, $3) t
                 ON t.event_id = reach.record_event_id(c.data ->> 'record_id')
            ORDER BY t.event_id, c."position" DESC
            """, [after, upTo, types, PostgresArray(Self.amendmentTypes)])
        let amended = try connection.query("SELECT count(*) FROM reach_amended").decode(Int.self, row: 0, column: 0)
        if amended > 0 {
            for table in projection.tables {
                _ = try connection.execute(
                    "DELETE FROM \(schema).\(try connection.quoteIdentifier(table)) WHERE event_id IN (SELECT event_id FROM reach_amended)")
            }
            let source = "WITH src AS (SELECT * FROM reach_amended WHERE data IS NOT NULL)"
            for statement in projection.applySQL {
                _ = try connection.execute(source + "\n" + projection.sql(statement, schema: schema))
            }
        }
        try connection.executeScript("DROP TABLE reach_amended")
        return fresh + amended
    }

    /// Finds the first event in (after, upTo] that the projection cannot apply, by applying ever
    /// shorter ranges in transactions that are rolled back.
    private func locateFailure(_ projection: Projection, after: Int64, upTo: Int64, on connection: Connection) throws -> Failure? {
        let positions = try connection.query(
            """
            SELECT "position" FROM reach.log_range($1, $2, $3::text[] || $4::text[]) ORDER BY "position"
            """, [after, upTo, PostgresArray(projection.eventTypes), PostgresArray(Self.amendmentTypes)]
        ).mapRows { try $0.decode(0, as: Int64.self) }
        let schema = try connection.quoteIdentifier(projection.schema)
        func fails(upTo end: Int64) throws -> String? {
            try connection.withTrialTransaction { connection in
                do {
                    _ = try apply(projection, schema: schema, after: after, upTo: end, on: connection)
                    return nil
                } catch let error as PostgresError where error.code == .server {
                    return error.message
                }
            }
        }
        // The smallest prefix of the batch that fails ends with the failing event.
        var low = 0
        var high = positions.count - 1
        guard high >= 0, var message = try fails(upTo: positions[high]) else { return nil }
        while low < high {
            let middle = (low + high) / 2
            if let failed = try fails(upTo: positions[middle]) {
                high = middle
                message = failed
            } else {
                low = middle + 1
            }
        }
        guard let event = try EventLog.event(at: positions[low], on: connection) else { return nil }
        return Failure(position: positions[low], eventID: event.eventID, error: message)
    }

    // MARK: Rebuilding

    /// Rebuilds a projection from the start of the log into fresh tables while the current ones
    /// keep answering queries, then swaps them in, in one transaction, with the research views.
    /// Runs beside a live runner: the swap takes the projection's state row lock, so it waits
    /// for a batch in flight, and catches the new tables up to the live checkpoint first.
    public func rebuild(_ projection: Projection, upTo givenHorizon: Int64? = nil, on connection: Connection) throws {
        let next = try connection.quoteIdentifier(projection.nextSchema)
        let live = try connection.quoteIdentifier(projection.schema)
        try connection.executeScript("DROP SCHEMA IF EXISTS \(next) CASCADE")
        try connection.withTransaction { try create(projection, schema: projection.nextSchema, on: $0) }
        var built: Int64 = 0
        do {
            guard let horizon = try givenHorizon ?? LogHorizon.settledPosition(maxWaitMilliseconds: 5_000, on: connection) else {
                throw PostgresError(code: .client, message: "a long-running transaction holds the log's horizon back; try again when it ends")
            }
            try bulkLoad(projection, schema: projection.nextSchema, upTo: horizon, on: connection)
            built = horizon
            let definition = EventLog.sha256Hex(projection.definition)
            try connection.withTransaction { connection in
                let state = try connection.query("SELECT checkpoint FROM projections.state WHERE name = $1 FOR UPDATE", [projection.name])
                let liveCheckpoint: Int64 = state.rowCount == 1 ? try state.decode(row: 0, column: 0) : 0
                while built < liveCheckpoint {
                    let upTo = min(liveCheckpoint, built + batchSize)
                    _ = try apply(projection, schema: next, after: built, upTo: upTo, on: connection)
                    built = upTo
                }
                // Lock the views before the tables, in the order queries lock them, so a query
                // running during the swap waits for it rather than deadlocking with it.
                var views: [String] = []
                for schema in ["scoped", "research"] {
                    views += try connection.query(
                        "SELECT v FROM unnest($1::text[]) v WHERE to_regclass($2 || '.' || quote_ident(v)) IS NOT NULL",
                        [PostgresArray(projection.views), schema]
                    ).mapRows { "\(schema)." + (try connection.quoteIdentifier(try $0.decode(0, as: String.self))) }
                }
                let tables = try projection.tables.map { "\(live)." + (try connection.quoteIdentifier($0)) }
                let existing = try connection.query("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", [projection.schema]).decode(
                    Bool.self, row: 0, column: 0)
                if existing {
                    if !views.isEmpty { try connection.executeScript("LOCK TABLE \(views.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE") }
                    try connection.executeScript("LOCK TABLE \(tables.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE")
                }
                try connection.executeScript(
                    """
                    DROP SCHEMA IF EXISTS \(live) CASCADE;
                    ALTER SCHEMA \(next) RENAME TO \(live);
                    """)
                try connection.executeScript(projection.sql(projection.viewsSQL, schema: live))
                try createScopedViews([projection], on: connection)
                try ResearchColumns.apply(on: connection, views: projection.views)
                _ = try connection.execute(
                    """
                    INSERT INTO projections.state AS s (name, checkpoint, definition, state, rebuilt_at) VALUES ($1, $2, $3, 'idle', now())
                    ON CONFLICT (name) DO UPDATE SET checkpoint = excluded.checkpoint, definition = excluded.definition,
                        rebuilt_at = now(), state = CASE WHEN s.state = 'failed' THEN 'idle' ELSE s.state END,
                        failed_position = NULL, failed_event_id = NULL, failed_error = NULL, failed_at = NULL
                    """, [projection.name, built, definition])
            }
        } catch {
            connection.abandonTransaction()
            try? connection.executeScript("DROP SCHEMA IF EXISTS \(next) CASCADE")
            throw error
        }
        logger.info("rebuilt projection", metadata: ["projection.name": "\(projection.name)", "event.position": "\(built)"])
    }

    /// Fills empty tables with the log up to `horizon` the fast way: indexes and keys dropped
    /// while loading and made again at the end, and each event taken with its last amendment up
    /// to the horizon already applied (its latest correction's data, or left out if withdrawn),
    /// which gives the same rows as applying the log batch by batch.
    func bulkLoad(_ projection: Projection, schema: String, upTo horizon: Int64, on connection: Connection) throws {
        try connection.executeScript("SET maintenance_work_mem = '256MB'; SET work_mem = '64MB'")
        defer { try? connection.executeScript("RESET maintenance_work_mem; RESET work_mem") }
        let constraints = try connection.query(
            """
            SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)),
                   format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = $1 AND c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY($2) ORDER BY c.conname
            """, [schema, PostgresArray(projection.tables.map { "\(schema).\($0)" })]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
        let indexes = try connection.query(
            """
            SELECT i.indexdef, format('DROP INDEX %I.%I', i.schemaname, i.indexname)
            FROM pg_indexes i
            WHERE i.schemaname = $1 AND i.tablename = ANY($2)
              AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)
            ORDER BY i.indexname
            """, [schema, PostgresArray(projection.tables)]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decode(1, as: String.self)) }
        for (_, drop) in constraints + indexes { try connection.executeScript(drop) }
        let tables = try projection.tables.map { "\(try connection.quoteIdentifier(schema)).\(try connection.quoteIdentifier($0))" }
        if !projection.rollupsSQL.isEmpty {
            for table in tables { try connection.executeScript("ALTER TABLE \(table) DISABLE TRIGGER USER") }
        }

        // Short transactions, so that followers of the log are held back by one batch at most.
        try connection.executeScript("DROP TABLE IF EXISTS pg_temp.reach_final_amendment")
        _ = try connection.execute(
            """
            CREATE TEMP TABLE reach_final_amendment AS
            SELECT DISTINCT ON (target) target, event_type, data
            FROM (SELECT reach.record_event_id(c.data ->> 'record_id') AS target, c.event_type, c.data -> 'data' AS data, c."position"
                  FROM reach.log_range(0, $2, $1) c) amendments
            ORDER BY target, "position" DESC
            """, [PostgresArray(Self.amendmentTypes), horizon])
        defer { try? connection.executeScript("DROP TABLE IF EXISTS pg_temp.reach_final_amendment") }
        try connection.executeScript("CREATE UNIQUE INDEX ON reach_final_amendment (target); ANALYZE reach_final_amendment")
        let quoted = try connection.quoteIdentifier(schema)
        let types = PostgresArray(projection.eventTypes)
        var after: Int64 = 0
        let step = max(batchSize, 250_000)
        while after < horizon {
            let upTo = min(horizon, after + step)
            let source = """
                WITH src AS (SELECT e.event_id, e."position", e.event_type, e.schema_version,
                                    CASE WHEN a.target IS NULL THEN e.data ELSE a.data END AS data, e.occurred_on, e.authority_id
                             FROM reach.log_range($1, $2, $3) e LEFT JOIN reach_final_amendment a ON a.target = e.event_id
                             WHERE a.target IS NULL OR a.event_type = 'event_corrected')
                """
            try connection.withTransaction { connection in
                for statement in projection.applySQL {
                    _ = try connection.execute(source + "\n" + projection.sql(statement, schema: quoted), [after, upTo, types])
                }
            }
            after = upTo
        }
        for (add, _) in constraints { try connection.executeScript(add) }
        for (create, _) in indexes { try connection.executeScript(create) }
        if !projection.rollupsSQL.isEmpty {
            try connection.withTransaction {
                try $0.executeScript(projection.sql(projection.rollupsSQL, schema: try connection.quoteIdentifier(schema)))
            }
            for table in tables { try connection.executeScript("ALTER TABLE \(table) ENABLE TRIGGER USER") }
        }
        // Fresh statistics for every table of the schema (roll-ups included), for good plans at once.
        for table in try connection.query("SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", [schema]).mapRows({
            try $0.decode(0, as: String.self)
        }) {
            try connection.executeScript("ANALYZE \(try connection.quoteIdentifier(schema)).\(try connection.quoteIdentifier(table))")
        }
    }

    /// Rebuilds several projections at once, `workers` at a time, each worker a child task
    /// with a connection and a thread of its own (the largest projection first), so a
    /// machine's cores share the work. The first failure stops the others after the
    /// projection each is building.
    public func rebuild(
        _ projections: [Projection], workers: Int, configuration: ConnectionConfiguration,
        onDone: @escaping @Sendable (Projection, Double) -> Void = { _, _ in }
    ) async throws {
        let pending = Pending(projections.sorted { ($0 == .activities ? 0 : 1, $0.name) < ($1 == .activities ? 0 : 1, $1.name) })
        let logger = logger
        // One horizon for all: each worker's long build must not hold the others' back.
        let horizon = try await blocking { () throws -> Int64 in
            let connection = try Connection(configuration: configuration, logger: logger)
            guard let settled = try LogHorizon.settledPosition(maxWaitMilliseconds: 5_000, on: connection) else {
                throw PostgresError(code: .client, message: "a long-running transaction holds the log's horizon back; try again when it ends")
            }
            return settled
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<max(1, min(workers, projections.count)) {
                    group.addTask {
                        try await blocking { cancellation in
                            let connection = try Connection(configuration: configuration, logger: logger)
                            while !cancellation.isCancelled, let projection = pending.next() {
                                let start = ContinuousClock.now
                                try self.rebuild(projection, upTo: horizon, on: connection)
                                let elapsed = ContinuousClock.now - start
                                onDone(projection, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PostgresError(code: .client, message: "a rebuild failed: \(error)")
        }
        // Cancelled workers stop between projections, leaving the rest unbuilt.
        try Task.checkCancellation()
    }

    /// The projections no worker has taken yet.
    private final class Pending: Sendable {
        private let items: Mutex<[Projection]>
        init(_ items: [Projection]) { self.items = Mutex(items) }
        func next() -> Projection? { items.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
    }

    // MARK: Status

    /// A projection's state, as `reach projections status` shows it.
    public struct Status: Sendable, Codable {
        public var name: String
        public var state: String
        public var checkpoint: Int64
        /// Events in the log after the checkpoint (of any type; at most 1,000,000 counted).
        public var lagEvents: Int64
        /// How long ago the oldest event after the checkpoint was recorded (0 when caught up).
        public var lagSeconds: Double
        public var eventsApplied: Int64
        public var lastAppliedAt: String?
        /// Whether a runner holds the projection's lock now.
        public var runnerActive: Bool
        public var failedPosition: Int64?
        public var failedEventID: String?
        public var failedError: String?
        public var rebuiltAt: String?

        enum CodingKeys: String, CodingKey {
            case name, state, checkpoint
            case lagEvents = "lag_events"
            case lagSeconds = "lag_seconds"
            case eventsApplied = "events_applied"
            case lastAppliedAt = "last_applied_at"
            case runnerActive = "runner_active"
            case failedPosition = "failed_position"
            case failedEventID = "failed_event_id"
            case failedError = "failed_error"
            case rebuiltAt = "rebuilt_at"
        }
    }

    /// How far every projection has come: the lowest checkpoint among them (0 before any),
    /// which the figures reflect.
    public static func commonCheckpoint(on connection: Connection) throws -> Int64 {
        try connection.query("SELECT coalesce(min(checkpoint), 0) FROM projections.state").decode(row: 0, column: 0)
    }

    /// The state of every projection.
    public func status(on connection: Connection) throws -> [Status] {
        try connection.query(
            """
            SELECT s.name,
                   -- Running means a runner holds the lock now: a runner killed with -9 leaves
                   -- no stale state behind, since its lock went with its connection.
                   CASE WHEN s.state = 'failed' THEN 'failed' WHEN l.held THEN 'running' ELSE 'idle' END,
                   s.checkpoint,
                   lag.events, lag.seconds,
                   s.events_applied, to_char(s.last_applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   l.held,
                   s.failed_position, s.failed_event_id::text, s.failed_error,
                   to_char(s.rebuilt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM projections.state s
            CROSS JOIN LATERAL reach.log_lag(s.checkpoint) lag
            CROSS JOIN LATERAL (SELECT EXISTS (
                SELECT FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.classid::bigint = ($1::bigint & 4294967295) AND l.objid::bigint = (hashtext(s.name)::bigint & 4294967295)
                   AND l.objsubid = 2) AS held) l
            WHERE s.name = ANY($2) ORDER BY array_position($2, s.name)
            """, [Int64(Self.lockClass), PostgresArray(projections.map(\.name))]
        ).mapRows { row in
            Status(
                name: try row.decode(0), state: try row.decode(1), checkpoint: try row.decode(2), lagEvents: try row.decode(3),
                lagSeconds: try row.decode(4), eventsApplied: try row.decode(5), lastAppliedAt: try row.decodeIfPresent(6),
                runnerActive: try row.decode(7), failedPosition: try row.decodeIfPresent(8), failedEventID: try row.decodeIfPresent(9),
                failedError: try row.decodeIfPresent(10), rebuiltAt: try row.decodeIfPresent(11))
        }
    }
}
