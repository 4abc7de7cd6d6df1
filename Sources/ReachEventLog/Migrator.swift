import Foundation
import Logging
import ReachMigrations
import ReachPostgres

/// Applies numbered SQL files in name order: the event log's own (`Migrations/sql/`), and those
/// of the parts of Reach built on it that a caller adds (the read side's, in
/// `Projections/Migrations/`, for its schemas and roles). One numbering for all, so a database
/// is always set up in the same order.
///
/// Each file runs in its own transaction and is recorded in `reach_migrations` with its SHA-256
/// checksum. A session-level advisory lock makes concurrent runs safe: the second waits, then
/// finds nothing left to do. An applied file that was edited since is refused.
///
/// Migrations run while the service runs (see Deploy/README.md, "Upgrades"). A migration that
/// needs a lock a long query holds waits at most ``lockTimeout`` for it, then rolls back and
/// tries again a moment later (up to ``attempts`` times, about three and a half minutes with
/// the defaults; a deadlock with the service's own statements is tried again the same way):
/// while it waits, every statement that needs a conflicting lock (appends, for a lock on the
/// log's table) queues behind it, so the wait is kept short rather than lasting as long as the
/// long query.
public struct Migrator: Sendable {
    /// A migration: its file name and SQL.
    public struct Migration: Sendable, Hashable {
        public var name: String
        public var sql: String
        public init(name: String, sql: String) {
            self.name = name
            self.sql = sql
        }
    }

    /// The migrations to apply, in order.
    public let migrations: [Migration]
    private let logger: Logger
    /// How long a migration waits for a lock before giving way (`lock_timeout`).
    public var lockTimeout: Duration = .seconds(2)
    /// How many times a migration that gave way is tried.
    public var attempts = 60

    /// An arbitrary, fixed key for the migration lock ("reach" in ASCII).
    static let lockKey: Int64 = 0x7265_6163_68

    /// The event log's migrations bundled with this program, and `adding` (the migrations of
    /// the parts built on the log).
    public init(adding: [Migration] = [], logger: Logger = Logger(label: "reach.migrations")) throws {
        self.init(migrations: try MigrationFiles.all().map { Migration(name: $0.name, sql: $0.sql) } + adding, logger: logger)
    }

    /// The `.sql` files of a folder bundled with a target (`Bundle.module.url(forResource:
    /// withExtension:)`), in name order: how each part of Reach gives its migrations.
    public static func files(in folder: URL?) throws -> [Migration] {
        guard let folder else { throw CocoaError(.fileNoSuchFile) }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted().map { name in
            Migration(name: name, sql: try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
        }
    }

    /// A given list of migrations (tests use this to simulate edits).
    public init(migrations: [Migration], logger: Logger = Logger(label: "reach.migrations")) {
        self.migrations = migrations.sorted { $0.name < $1.name }
        self.logger = logger
    }

    /// Applies the pending migrations and returns the names of those applied (empty when the
    /// database was up to date).
    public func migrate(on connection: Connection) throws -> [String] {
        try connection.execute("SELECT pg_advisory_lock($1)", [Self.lockKey])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [Self.lockKey]) }
        try connection.executeScript(
            """
            SET client_min_messages = warning;
            CREATE TABLE IF NOT EXISTS public.reach_migrations (
                name        text PRIMARY KEY,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            );
            RESET client_min_messages;
            """)
        let applied = try connection.query("SELECT name, checksum FROM public.reach_migrations ORDER BY name")
            .mapRows { row in (try row.decode(0, as: String.self), try row.decode(1, as: String.self)) }
        let known = Dictionary(uniqueKeysWithValues: applied)
        let names = Set(migrations.map(\.name))
        if let unknown = applied.first(where: { !names.contains($0.0) }) {
            throw EventLogError(
                code: .migration,
                message: """
                    the database has migration \(unknown.0) applied, which this program does not know; \
                    use a newer reach, or a database made by this one
                    """)
        }
        var done: [String] = []
        for migration in migrations {
            let checksum = EventLog.sha256Hex(migration.sql)
            if let recorded = known[migration.name] {
                guard recorded == checksum else {
                    throw EventLogError(
                        code: .migration,
                        message: """
                            migration \(migration.name) was edited after it was applied (checksum \(checksum.prefix(12)) \
                            differs from the applied \(recorded.prefix(12))); restore the file and put the change in a new migration
                            """)
                }
                continue
            }
            let milliseconds = Int(lockTimeout.components.seconds * 1000 + lockTimeout.components.attoseconds / 1_000_000_000_000_000)
            for attempt in 1...max(1, attempts) {
                do {
                    try connection.withTransaction { connection in
                        try connection.executeScript("SET LOCAL lock_timeout = \(max(1, milliseconds))")
                        try connection.executeScript(migration.sql)
                        try connection.execute("INSERT INTO public.reach_migrations (name, checksum) VALUES ($1, $2)", [migration.name, checksum])
                    }
                    break
                } catch let error as PostgresError where error.sqlState == "55P03" || error.sqlState == "40P01" {
                    // lock_not_available: a long query holds a lock it needs (or a deadlock with
                    // the service's statements). Give way, and try again.
                    guard attempt < attempts else {
                        throw EventLogError(
                            code: .migration,
                            message: """
                                migration \(migration.name) waited for its locks \(attempts) times and gave way each time to queries \
                                holding them (\(error.message)); run reach db migrate again when they have ended
                                """)
                    }
                    logger.warning(
                        "a migration gave way to a query holding a lock it needs; trying again",
                        metadata: ["migration.name": "\(migration.name)", "attempt": "\(attempt)"])
                    Thread.sleep(forTimeInterval: min(2.0, 0.1 * Double(attempt)))
                }
            }
            logger.info("applied migration", metadata: ["migration.name": "\(migration.name)"])
            done.append(migration.name)
        }
        try Self.settleDatabase(on: connection)
        return done
    }

    /// Applies the settings of the database itself (`reach.settle_database`, migration 0025),
    /// which a copy of the database or a restore into a new one does not carry, when they are
    /// not in force: so they hold wherever the log is, after every run of the migrations.
    public static func settleDatabase(on connection: Connection) throws {
        let settled = try connection.query(
            """
            SELECT to_regprocedure('reach.settle_database()') IS NULL
                OR (NOT has_database_privilege('public', current_database(), 'TEMPORARY')
                    AND (current_setting('server_version_num')::int < 140000
                         OR EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                                    WHERE d.datname = current_database() AND s.setrole = 0
                                      AND 'client_connection_check_interval=2s' = ANY (s.setconfig))))
            """
        ).decode(Bool.self, row: 0, column: 0)
        if !settled { try connection.execute("SELECT reach.settle_database()") }
    }

    /// The names of the migrations already applied.
    public static func applied(on connection: Connection) throws -> [String] {
        let exists = try connection.query("SELECT to_regclass('public.reach_migrations') IS NOT NULL").decode(Bool.self, row: 0, column: 0)
        guard exists else { return [] }
        return try connection.query("SELECT name FROM public.reach_migrations ORDER BY name").mapRows { try $0.decode(0) }
    }
}
