import ArgumentParser
import Foundation
import Logging
import ReachApp
import ReachEventLog
import ReachPostgres

@main
struct Reach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reach",
        abstract: "Reach: what the Contextual Safeguarding programme's pilots did, and what it reached.",
        discussion: """
            Configuration comes from REACH_* environment variables; options override them. \
            With no database configured, reach starts (or reuses) its own PostgreSQL cluster in \
            REACH_DATA_DIR and migrates it.
            """,
        subcommands: [Record.self, Import.self, Template.self, Demo.self, Metrics.self, Export.self, Serve.self, Projections.self, Users.self, Tokens.self, Database.self, Events.self, Bench.self]
    )
}

/// Options every command that touches the database shares.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "PostgreSQL URL or connection string (default: $REACH_DATABASE_URL, else reach's own cluster).",
        valueName: "url"))
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp(
        "Data directory of reach's own cluster (default: $REACH_DATA_DIR, else a per-user folder).",
        valueName: "path"))
    var dataDirectory: String?

    @Option(name: .customLong("read-database-url"), help: ArgumentHelp(
        "A read replica's URL or connection string, for reads that need not see the asker's own writes at once (default: $REACH_READ_DATABASE_URL, else none).",
        valueName: "url"))
    var readDatabaseURL: String?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The URL in force, if any: the option, else `REACH_DATABASE_URL`.
    var url: String? {
        databaseURL ?? environment["REACH_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The read replica's URL in force, if any: the option, else `REACH_READ_DATABASE_URL`.
    var readURL: String? {
        readDatabaseURL ?? environment["REACH_READ_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    var localDataDirectory: String {
        dataDirectory ?? LocalCluster.defaultDataDirectory(environment: environment)
    }

    /// Resolves the database, starting and migrating reach's own cluster when no URL is given.
    func target(logger: Logger) async throws -> DatabaseTarget {
        try await Lifecycle.target(url: url, readURL: readURL, dataDirectory: localDataDirectory, logger: logger)
    }

    /// The application on the database in force, with the disclosure thresholds of the
    /// environment.
    /// The application, as `settings` say it runs (the command line's, unless told).
    func application(_ settings: ReachApplication.Settings = .commandLine) async throws -> ReachApplication {
        let logger = makeLogger()
        return ReachApplication(target: try await target(logger: logger),
                                disclosure: try DisclosureSettings(environment: environment), logger: logger, settings: settings)
    }
}

/// Who is recording or exporting: the option, else `$REACH_ACTOR`, else the login name.
func actorName(_ option: String?) -> String {
    let environment = ProcessInfo.processInfo.environment
    return option ?? environment["REACH_ACTOR"] ?? environment["USER"] ?? loginName()
}

/// Logs go to standard error at REACH_LOG_LEVEL (default `warning`), as text or, with
/// REACH_LOG_FORMAT=json, as JSON Lines. swift-log allows one bootstrap per process, so it
/// happens once, on first use.
private let loggingBootstrap: Void = {
    let environment = ProcessInfo.processInfo.environment
    let level = environment["REACH_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    let json = environment["REACH_LOG_FORMAT"] == "json"
    LoggingSystem.bootstrap { label in
        if json {
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}()

func makeLogger() -> Logger {
    loggingBootstrap
    return Logger(label: "reach")
}

/// Encodes a value as one line of JSON with sorted keys.
func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Writes to standard output without buffering surprises when followed by a pipe.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A refusal found while a command runs (after its arguments parsed), printed as `Error: ...`
/// without a usage line.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
