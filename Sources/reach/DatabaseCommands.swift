import ArgumentParser
import Foundation
import ReachEventLog
import ReachPostgres

struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database: migrate it, or start, stop and inspect reach's own cluster.",
        subcommands: [Migrate.self, Start.self, Stop.self, Status.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply the pending migrations, in order. Re-running is a no-op.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = makeLogger()
            let applied: [String]
            if let url = database.url {
                let connection = try Connection(configuration: DatabaseTarget.url(url).owner, logger: logger)
                applied = try Migrator(logger: logger).migrate(on: connection)
            } else {
                applied = try DatabaseTarget.local(dataDirectory: database.localDataDirectory, logger: logger).applied
            }
            struct Output: Encodable { var applied: [String] }
            emit(try jsonLine(Output(applied: applied)))
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start reach's own cluster (creating and migrating it if needed).")
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if database.url != nil {
                throw ValidationError("a database URL is configured; reach only starts its own cluster when none is")
            }
        }

        func run() async throws {
            let logger = makeLogger()
            let (target, _) = try DatabaseTarget.local(dataDirectory: database.localDataDirectory, logger: logger)
            struct Output: Encodable { var data_dir: String; var running: Bool; var connection: String }
            emit(try jsonLine(Output(data_dir: database.localDataDirectory, running: true, connection: target.application.description)))
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop reach's own cluster.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let cluster = try LocalCluster(dataDirectory: database.localDataDirectory)
            try cluster.stop()
            struct Output: Encodable { var data_dir: String; var running: Bool }
            emit(try jsonLine(Output(data_dir: database.localDataDirectory, running: false)))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say where the database is, whether it runs, and what the log holds.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = makeLogger()
            struct Output: Encodable {
                var database: String
                var data_dir: String?
                var running: Bool
                var migrations: [String]
                var events: Int?
                var last_position: Int64?
            }
            var output = Output(database: "", data_dir: nil, running: false, migrations: [], events: nil, last_position: nil)
            let configuration: ConnectionConfiguration
            if let url = database.url {
                configuration = DatabaseTarget.url(url).owner
                output.database = configuration.description
            } else {
                let cluster = try LocalCluster(dataDirectory: database.localDataDirectory)
                output.data_dir = cluster.dataDirectory
                configuration = cluster.configuration(database: DatabaseTarget.localDatabase)
                output.database = configuration.description
                guard try cluster.isRunning() else {
                    emit(try jsonLine(output))
                    return
                }
            }
            let connection = try Connection(configuration: configuration, logger: logger)
            output.running = true
            output.migrations = try Migrator.applied(on: connection)
            if output.migrations.contains(where: { $0.hasPrefix("0001") }) {
                let result = try connection.query("SELECT count(*), max(\"position\") FROM reach.events")
                output.events = try result.decode(row: 0, column: 0)
                output.last_position = try result.decodeIfPresent(row: 0, column: 1)
            }
            emit(try jsonLine(output))
        }
    }
}
