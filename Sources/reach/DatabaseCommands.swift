import ArgumentParser
import Foundation
import ReachApp

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
            let applied = try await Lifecycle.migrate(url: database.url, dataDirectory: database.localDataDirectory, logger: makeLogger())
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
            let target = try await Lifecycle.target(url: nil, dataDirectory: database.localDataDirectory, logger: makeLogger())
            struct Output: Encodable { var data_dir: String; var running: Bool; var connection: String }
            emit(try jsonLine(Output(data_dir: database.localDataDirectory, running: true, connection: target.application.description)))
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop reach's own cluster.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await Lifecycle.stop(dataDirectory: database.localDataDirectory)
            struct Output: Encodable { var data_dir: String; var running: Bool }
            emit(try jsonLine(Output(data_dir: database.localDataDirectory, running: false)))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say where the database is, whether it runs, and what the log holds.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            emit(try jsonLine(try await Lifecycle.status(url: database.url, dataDirectory: database.localDataDirectory, logger: makeLogger())))
        }
    }
}
