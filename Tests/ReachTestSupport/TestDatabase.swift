import Foundation
import Logging
import ReachApp
import ReachEventLog
import ReachPostgres
import ReachProjections

/// A throwaway PostgreSQL cluster for the whole test process, started on first use and
/// stopped when the process exits; each test gets a database of its own in it, so tests run
/// in parallel without seeing each other's data.
public enum TestCluster {
    /// The role tests connect as when they act as the application (a member of `reach_app`).
    public static let applicationUser = "reach_tester"

    /// The shared cluster, started once (Swift initialises globals lazily and thread-safely).
    public static let shared: LocalCluster = {
        let directory = "/tmp/reach-test-\(getpid())"
        do {
            // Durability is irrelevant for throwaway data; skipping fsync keeps the suite quick.
            var cluster = try LocalCluster(
                dataDirectory: directory + "/data",
                settings: [
                    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
                ])
            cluster.peerLogins.append(applicationUser)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try cluster.start()
            atexit {
                let directory = "/tmp/reach-test-\(getpid())"
                if let cluster = try? LocalCluster(dataDirectory: directory + "/data") {
                    try? cluster.stop(mode: "immediate")
                }
                try? FileManager.default.removeItem(atPath: directory)
            }
            return cluster
        } catch {
            fatalError("the test cluster could not start: \(error)")
        }
    }()

    /// A database migrated once, that every migrated test database is copied from. Migrating
    /// once, rather than in each test, also keeps the migrations' cluster-wide role creation
    /// from racing itself across databases migrated at the same moment.
    public static let migratedTemplate: String = {
        let name = "reach_template"
        do {
            let cluster = shared
            let admin = try Connection(configuration: cluster.configuration(database: "postgres"))
            try admin.executeScript("CREATE DATABASE \(name)")
            do {
                let connection = try Connection(configuration: cluster.configuration(database: name))
                _ = try Schema.migrator().migrate(on: connection)
                try DatabaseTarget.ensureApplicationLogin(applicationUser, on: connection)
            }
            // No session may stay connected to a template while it is copied.
            try admin.executeScript("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
            return name
        } catch {
            fatalError("the test template database could not be made: \(error)")
        }
    }()
}

/// A database of one test's own.
public struct TestDatabase: Sendable {
    /// The database's name.
    public let name: String
    /// Connects as the superuser that owns everything.
    public let owner: ConnectionConfiguration
    /// Connects as a member of `reach_app`, as the application does.
    public let application: ConnectionConfiguration

    /// Creates a database: a copy of the migrated template, or, when `migrated` is false, an empty one.
    public static func create(migrated: Bool = true) throws -> TestDatabase {
        let cluster = TestCluster.shared
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try Connection(configuration: cluster.configuration(database: "postgres"))
        // The template is made first even for an empty database: the cluster's roles then exist
        // before any test migrates a database of its own.
        let template = TestCluster.migratedTemplate
        try admin.executeScript(migrated ? "CREATE DATABASE \(name) TEMPLATE \(template)" : "CREATE DATABASE \(name)")
        // A copy does not carry the settings of the database itself: applied as a migration does.
        if migrated { try Migrator.settleDatabase(on: Connection(configuration: cluster.configuration(database: name))) }
        return TestDatabase(
            name: name,
            owner: cluster.configuration(database: name),
            application: cluster.configuration(database: name, user: TestCluster.applicationUser))
    }

    /// A connection as the owner.
    public func ownerConnection() throws -> Connection { try Connection(configuration: owner) }
    /// A connection as the application role.
    public func applicationConnection() throws -> Connection { try Connection(configuration: application) }
}

/// A log handler that keeps messages, to check what a component logged.
public final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    // @unchecked: `messages` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: [String] = []
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init() {}

    public var messages: [String] { lock.withLock { stored } }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        lock.withLock { stored.append("\(event.level): \(event.message)") }
    }
}
