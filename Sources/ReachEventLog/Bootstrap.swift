import Foundation
import Logging
import ReachPostgres

/// Where Reach's database is and how to connect to it, as the tool resolves it from its
/// configuration: an explicit URL, or its own local cluster.
public struct DatabaseTarget: Sendable {
    /// The configuration the application connects with (as the `reach_app` role's login on the
    /// local cluster, or whatever the URL says).
    public var application: ConnectionConfiguration
    /// The configuration migrations run with (the owner).
    public var owner: ConnectionConfiguration
    /// The local cluster, when Reach runs its own.
    public var cluster: LocalCluster?
    /// A read replica (a hot standby of this database, `REACH_READ_DATABASE_URL`) that answers
    /// reads which need not see a write of the asker's own at once; nil: the primary answers all.
    public var reader: ConnectionConfiguration?

    /// The database the local cluster holds Reach's data in.
    public static let localDatabase = "reach"
    /// The login role the tool uses on the local cluster; a member of `reach_app`.
    public static let localApplicationUser = "reach"

    /// A copy that sends reads to the replica `url` names (nil: none). Connecting to it waits
    /// 2 s at most unless the URL says otherwise: reads pass over a replica that does not
    /// answer for the primary, and should find out soon.
    public func reading(from url: String?) -> DatabaseTarget {
        var copy = self
        copy.reader = url.map { url in
            ConnectionConfiguration(
                url,
                overrides: url.contains("connect_timeout") ? ["application_name": "reach"] : ["application_name": "reach", "connect_timeout": "2"])
        }
        return copy
    }

    /// An existing server named by a URL or connection string: used for everything.
    public static func url(_ url: String) -> DatabaseTarget {
        let configuration = ConnectionConfiguration(url, overrides: ["application_name": "reach"])
        return DatabaseTarget(application: configuration, owner: configuration, cluster: nil)
    }

    /// Server settings for Reach's own cluster, beyond PostgreSQL's defaults: room in memory
    /// for the log's indexes (a load of millions of events otherwise rereads them from disk), and
    /// fewer checkpoints during bulk loads. They apply when the cluster starts.
    public static let localSettings = ["shared_buffers": "512MB", "max_wal_size": "4GB"]

    /// Reach's own cluster in `dataDirectory`: started (and created) if needed, with the `reach`
    /// database, migrated, and a login role for the application.
    /// `migrations` adds the migrations of the parts built on the log (the read side's).
    public static func local(
        dataDirectory: String, settings: [String: String] = [:], migrations: [Migrator.Migration],
        logger: Logger
    ) throws -> (DatabaseTarget, applied: [String]) {
        let cluster = try LocalCluster(dataDirectory: dataDirectory, settings: localSettings.merging(settings) { $1 })
        try cluster.start()
        let target = DatabaseTarget(
            application: cluster.configuration(database: localDatabase, user: localApplicationUser).overriding(["application_name": "reach"]),
            owner: cluster.configuration(database: localDatabase),
            cluster: cluster)
        var admin = try Connection(configuration: cluster.configuration(database: "postgres"), logger: logger)
        if try admin.query("SELECT pg_is_in_recovery()").decode(Bool.self, row: 0, column: 0) {
            // A standby: it is read, never migrated (its primary is).
            if cluster.isStandby { return (target, []) }
            // Being recovered to a point in time (a restore by pgBackRest or from archived WAL):
            // it accepts connections while it replays, and takes writes once it is promoted.
            logger.warning("the cluster is recovering; waiting until it is promoted", metadata: ["data_dir": "\(dataDirectory)"])
            let deadline = ContinuousClock.now + .seconds(600)
            while try admin.query("SELECT pg_is_in_recovery()").decode(Bool.self, row: 0, column: 0) {
                guard ContinuousClock.now < deadline else {
                    throw EventLogError(code: .migration, message: "\(dataDirectory) is still recovering after 10 minutes; see its server.log")
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
            admin = try Connection(configuration: cluster.configuration(database: "postgres"), logger: logger)
        }
        let exists = try admin.query("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", [localDatabase]).decode(
            Bool.self, row: 0, column: 0)
        if !exists {
            do {
                try admin.executeScript("CREATE DATABASE \(try admin.quoteIdentifier(localDatabase))")
            } catch let error as PostgresError where error.sqlState == "42P04" {
                // Another process created it first.
            }
        }
        let owner = try Connection(configuration: cluster.configuration(database: localDatabase), logger: logger)
        let applied = try Migrator(adding: migrations, logger: logger).migrate(on: owner)
        try ensureApplicationLogin(localApplicationUser, on: owner)
        // The cluster's other databases are its superuser's: a researcher's or an authority's
        // login could otherwise read the server-wide statistics (pg_stat_database) there.
        try admin.executeScript("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC; REVOKE CONNECT ON DATABASE template1 FROM PUBLIC")
        return (target, applied)
    }

    /// Creates a login role that is a member of `reach_app`, unless it exists. Role names are
    /// cluster-wide, so a concurrent creator is tolerated.
    public static func ensureApplicationLogin(_ name: String, on connection: Connection) throws {
        let role = try connection.quoteIdentifier(name)
        let literal = "'" + name.replacingOccurrences(of: "'", with: "''") + "'"
        try connection.executeScript(
            """
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = \(literal)) THEN
                    CREATE ROLE \(role) LOGIN IN ROLE reach_app;
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END
            $$;
            """)
    }
}
