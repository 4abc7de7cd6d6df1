import ArgumentParser
import Foundation
import Logging
import ReachApp
import ReachEventLog
import ReachPostgres

/// Options every command that touches the database shares.
public struct DatabaseOptions: ParsableArguments, Sendable {
    public init() {}

    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL or connection string (default: $REACH_DATABASE_URL, else reach's own cluster).",
            valueName: "url"))
    public var databaseURL: String?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Data directory of reach's own cluster (default: $REACH_DATA_DIR, else a per-user folder).",
            valueName: "path"))
    public var dataDirectory: String?

    @Option(
        name: .customLong("read-database-url"),
        help: ArgumentHelp(
            "A read replica's URL or connection string, for reads that need not see the asker's own writes at once (default: $REACH_READ_DATABASE_URL, else none).",
            valueName: "url"))
    public var readDatabaseURL: String?

    public var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The URL in force, if any: the option, else `REACH_DATABASE_URL`.
    public var url: String? {
        databaseURL ?? environment["REACH_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The read replica's URL in force, if any: the option, else `REACH_READ_DATABASE_URL`.
    public var readURL: String? {
        readDatabaseURL ?? environment["REACH_READ_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public var localDataDirectory: String {
        dataDirectory ?? LocalCluster.defaultDataDirectory(environment: environment)
    }

    /// Resolves the database, starting and migrating reach's own cluster when no URL is given.
    public func target(logger: Logger) async throws -> DatabaseTarget {
        try await Lifecycle.target(url: url, readURL: readURL, dataDirectory: localDataDirectory, logger: logger)
    }

    /// The application on the database in force, with the disclosure thresholds of the
    /// environment.
    /// The application, as `settings` say it runs (the command line's, unless told).
    public func application(_ settings: ReachApplication.Settings = .commandLine) async throws -> ReachApplication {
        let logger = makeLogger()
        return ReachApplication(
            target: try await target(logger: logger),
            disclosure: try DisclosureSettings(environment: environment), logger: logger, settings: settings)
    }
}

/// Who is recording or exporting: the option, else `$REACH_ACTOR`, else the login name.
public func actorName(_ option: String?) -> String {
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

public func makeLogger() -> Logger {
    loggingBootstrap
    return Logger(label: "reach")
}

/// Encodes a value as one line of JSON with sorted keys.
public func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Writes to standard output without buffering surprises when followed by a pipe.
public func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A refusal found while a command runs (after its arguments parsed), printed as `Error: ...`
/// without a usage line.
public struct CommandError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The login name of the person running the tool, for an event's `actor`.
public func loginName() -> String {
    guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "unknown" }
    return String(cString: name)
}

/// `text` padded with spaces to `width` characters, on the left when `right`, for tables.
public func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}
