import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine

struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database: migrate it, or start, stop and inspect reach's own cluster.",
        subcommands: [Migrate.self, Start.self, Stop.self, Status.self, Backup.self, Restore.self]
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
            struct Output: Encodable {
                var data_dir: String
                var running: Bool
                var connection: String
            }
            emit(try jsonLine(Output(data_dir: database.localDataDirectory, running: true, connection: target.application.description)))
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop reach's own cluster.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await Lifecycle.stop(dataDirectory: database.localDataDirectory)
            struct Output: Encodable {
                var data_dir: String
                var running: Bool
            }
            emit(try jsonLine(Output(data_dir: database.localDataDirectory, running: false)))
        }
    }

    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a logical backup of the whole database to FILE (pg_dump's custom format), while appends go on.",
            discussion: """
                The log, the projections and their checkpoints, accounts and jobs, from one snapshot. \
                The file is readable by its owner only; keep it as you keep the database. \
                Restore it with reach db restore FILE.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The file to write (replaced only once the backup is whole).")
        var file: String

        func run() async throws {
            emit(
                try jsonLine(
                    try await Lifecycle.backup(to: file, url: database.url, dataDirectory: database.localDataDirectory, logger: makeLogger())))
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup made by reach db backup into an empty database, then verify the log.",
            discussion: """
                Into reach's own cluster (REACH_DATA_DIR, made if needed) or the configured server's \
                database, which must hold no Reach data. Reach's roles are made first; migrations newer \
                than the backup are applied after. Projections come back with their checkpoints, and \
                their runner carries on from there (reach projections run). Exits 1 if the log does not verify.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The backup to restore.")
        var file: String

        func run() async throws {
            let report = try await Lifecycle.restore(from: file, url: database.url, dataDirectory: database.localDataDirectory, logger: makeLogger())
            emit(try jsonLine(report))
            if !report.verified { throw ExitCode(1) }
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
