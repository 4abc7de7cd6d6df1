import Foundation
import Logging
import ReachEventLog
import ReachPostgres
import ReachProjections

/// Logical backups of Reach's database (`reach db backup`, `reach db restore`): the whole
/// database, log, projections, checkpoints, accounts and jobs, as `pg_dump` writes it in
/// PostgreSQL's custom format, from one snapshot, while appends go on.
extension Lifecycle {
    /// What a backup wrote.
    public struct BackupReport: Sendable, Encodable {
        public var file: String
        public var bytes: Int
        public var seconds: Double
    }

    /// What a restore did: the log it brought back, verified, and the migrations applied since
    /// the backup was made (by a newer program).
    public struct RestoreReport: Sendable, Encodable {
        public var file: String
        public var database: String
        public var events: Int
        public var last_position: Int64?
        public var verified: Bool
        public var migrations_applied: [String]
        public var seconds: Double
    }

    /// PostgreSQL's client programs (`pg_dump`, `pg_restore`), beside its server programs.
    static func program(_ name: String) throws -> String {
        for directory in [LocalCluster.findBinaries(), "/usr/bin", "/usr/local/bin"].compactMap({ $0 })
        where FileManager.default.isExecutableFile(atPath: directory + "/" + name) {
            return directory + "/" + name
        }
        throw RequestError("\(name) was not found: install PostgreSQL's client programs (Debian's postgresql-client-15)")
    }

    /// Runs a PostgreSQL program on `configuration`'s database (its password, if any, in the
    /// environment), writing its standard output to `output` when given.
    static func run(_ program: String, _ arguments: [String], on configuration: ConnectionConfiguration?, output: FileHandle? = nil) throws {
        let (keywords, password) = configuration?.forProgram ?? ("", nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments + (configuration == nil ? [] : ["--dbname=" + keywords])
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = password
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = output ?? FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message.suffix(1200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw RequestError("\((program as NSString).lastPathComponent) failed: \(text)")
        }
    }

    /// Writes a logical dump of the whole database to `file` (made readable by its owner only),
    /// from one snapshot: what was committed when it began, while appends go on.
    public static func backup(to file: String, url: String?, dataDirectory: String, logger: Logger) async throws -> BackupReport {
        let target = try await target(url: url, dataDirectory: dataDirectory, logger: logger)
        let dump = try program("pg_dump")
        return try await blocking {
            let started = ContinuousClock.now
            let partial = file + ".partial"
            guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: partial)
            else {
                throw RequestError("'\(file)' cannot be written: check the folder exists and may be written to")
            }
            do {
                defer { try? handle.close() }
                // Positions drawn by transactions in flight are theirs alone (the check on appended
                // events); in another cluster the same transaction ids mean other transactions.
                try run(dump, ["--format=custom", "--compress=6", "--exclude-table-data=reach.position_draws"], on: target.owner, output: handle)
                try handle.synchronize()
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw error
            }
            // Only a whole dump takes the file's name.
            if FileManager.default.fileExists(atPath: file) { try FileManager.default.removeItem(atPath: file) }
            try FileManager.default.moveItem(atPath: partial, toPath: file)
            let bytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            let elapsed = ContinuousClock.now - started
            return BackupReport(file: file, bytes: bytes, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }

    /// Restores a backup into an empty database: Reach's own cluster in `dataDirectory` (made
    /// and started if needed), or the configured server's database. Reach's roles are made
    /// first (by migrating a scratch database, so they are exactly the migrations'), the dump is
    /// restored in one transaction, migrations newer than the backup are applied, and the log is
    /// verified. Projections come back with their tables and checkpoints; their runner carries
    /// on from there.
    public static func restore(from file: String, url: String?, dataDirectory: String, logger: Logger) async throws -> RestoreReport {
        guard FileManager.default.isReadableFile(atPath: file) else { throw RequestError("'\(file)' cannot be read") }
        let restore = try program("pg_restore")
        return try await blocking {
            let started = ContinuousClock.now
            // The dump is one pg_restore can read (its table of contents).
            try run(restore, ["--list", file], on: nil)
            let owner: ConnectionConfiguration
            let admin: ConnectionConfiguration
            var local = false
            if let url {
                owner = DatabaseTarget.url(url).owner
                admin = owner.overriding(["dbname": "postgres"])
            } else {
                let cluster = try LocalCluster(dataDirectory: dataDirectory, settings: DatabaseTarget.localSettings)
                try cluster.start()
                let connection = try Connection(configuration: cluster.configuration(database: "postgres"), logger: logger)
                if try connection.query("SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = $1)", [DatabaseTarget.localDatabase])
                    .decode(Bool.self, row: 0, column: 0)
                {
                    try connection.executeScript("CREATE DATABASE \(try connection.quoteIdentifier(DatabaseTarget.localDatabase))")
                }
                owner = cluster.configuration(database: DatabaseTarget.localDatabase)
                admin = cluster.configuration(database: "postgres")
                local = true
            }
            let target = try Connection(configuration: owner, logger: logger)
            guard
                try target.query("SELECT NOT EXISTS (SELECT FROM pg_namespace WHERE nspname IN ('reach', 'projections', 'research'))")
                    .decode(Bool.self, row: 0, column: 0)
            else {
                throw RequestError(
                    "the database already holds Reach's data: restore into an empty one (a new REACH_DATA_DIR, or a new database on the server)")
            }
            // Reach's roles, as the migrations make them (roles belong to the cluster, not to a dump).
            let scratch = "reach_restore_roles_\(getpid())"
            let server = try Connection(configuration: admin, logger: logger)
            try server.executeScript("CREATE DATABASE \(try server.quoteIdentifier(scratch))")
            do {
                _ = try Schema.migrator(logger: logger).migrate(
                    on: Connection(configuration: owner.overriding(["dbname": scratch]), logger: logger))
            } catch {
                try? server.executeScript("DROP DATABASE IF EXISTS \(try server.quoteIdentifier(scratch)) WITH (FORCE)")
                throw error
            }
            try server.executeScript("DROP DATABASE \(try server.quoteIdentifier(scratch)) WITH (FORCE)")
            try run(restore, ["--single-transaction", "--exit-on-error", file], on: owner)
            let applied = try Schema.migrator(logger: logger).migrate(on: target)
            if local { try DatabaseTarget.ensureApplicationLogin(DatabaseTarget.localApplicationUser, on: target) }
            let report = try EventLog.verify(on: target)
            let size = try EventLog.size(on: target)
            let elapsed = ContinuousClock.now - started
            return RestoreReport(
                file: file, database: owner.description, events: size.events, last_position: size.lastPosition,
                verified: report.ok, migrations_applied: applied,
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
}
