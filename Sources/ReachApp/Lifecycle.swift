import Foundation
import Logging
import ReachEventLog
import ReachPostgres
import ReachProjections

/// The database's lifecycle: where it is, starting and stopping Reach's own cluster,
/// migrating, and what it holds. These come before anyone is identified (they set up what
/// identities are checked against), so they are for whoever runs the installation.
public enum Lifecycle {
    /// The database in force: the server `url` names, or else Reach's own cluster in
    /// `dataDirectory`, started (and created and migrated) if needed; with reads sent to the
    /// replica `readURL` names, if any (see ``ReachApplication/readSource(_:for:service:)``).
    public static func target(url: String?, readURL: String? = nil, dataDirectory: String, logger: Logger) async throws -> DatabaseTarget {
        if let url { return DatabaseTarget.url(url).reading(from: readURL) }
        return try await blocking {
            try DatabaseTarget.local(dataDirectory: dataDirectory, migrations: Schema.migrations(), logger: logger).0.reading(from: readURL)
        }
    }

    /// Applies the pending migrations; returns the names of those applied.
    public static func migrate(url: String?, dataDirectory: String, logger: Logger) async throws -> [String] {
        try await blocking {
            if let url {
                return try Schema.migrator(logger: logger).migrate(on: Connection(configuration: DatabaseTarget.url(url).owner, logger: logger))
            }
            return try DatabaseTarget.local(dataDirectory: dataDirectory, migrations: Schema.migrations(), logger: logger).applied
        }
    }

    /// Stops Reach's own cluster.
    public static func stop(dataDirectory: String) async throws {
        try await blocking { try LocalCluster(dataDirectory: dataDirectory).stop() }
    }

    /// Where the database is, whether it runs, its migrations and the size of its log.
    public struct Status: Sendable, Encodable {
        public var database: String
        public var data_dir: String?
        public var running: Bool
        public var migrations: [String]
        public var events: Int?
        public var last_position: Int64?
    }

    /// The database's status, without starting anything.
    public static func status(url: String?, dataDirectory: String, logger: Logger) async throws -> Status {
        try await blocking {
            var output = Status(database: "", data_dir: nil, running: false, migrations: [], events: nil, last_position: nil)
            let configuration: ConnectionConfiguration
            if let url {
                configuration = DatabaseTarget.url(url).owner
            } else {
                let cluster = try LocalCluster(dataDirectory: dataDirectory)
                output.data_dir = cluster.dataDirectory
                configuration = cluster.configuration(database: DatabaseTarget.localDatabase)
                guard try cluster.isRunning() else {
                    output.database = configuration.description
                    return output
                }
            }
            output.database = configuration.description
            let connection = try Connection(configuration: configuration, logger: logger)
            output.running = true
            output.migrations = try Migrator.applied(on: connection)
            if output.migrations.contains(where: { $0.hasPrefix("0001") }) {
                (output.events, output.last_position) = try EventLog.size(on: connection)
            }
            return output
        }
    }
}
