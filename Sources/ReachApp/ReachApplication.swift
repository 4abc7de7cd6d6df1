import Foundation
import Logging
import ReachEventLog
import ReachPostgres
import ReachProjections
import ServiceLifecycle

/// Reach's use cases, each one function that the command line, the HTTP service and the tests
/// all call: recording, importing, figures, exports, the read side, the log and the database.
///
/// Each takes the ``Identity`` asking and decides access through ``Access``; each returns
/// typed results and leaves printing to its caller. Blocking libpq work runs on the process's
/// bounded executor for blocking work (`blocking { ... }`), never on Swift's cooperative pool.
///
/// ```swift
/// let app = ReachApplication(target: try await Lifecycle.target(url: nil, dataDirectory: directory, logger: logger), logger: logger)
/// let me = try await app.identify(actor: "sam")
/// let results = try await app.record(#"{"type":"...","id":"...","data":{...}}"#, source: "cli", as: me)
/// ```
public struct ReachApplication: Sendable {
    /// Where the database is, and the logins to reach it with.
    public internal(set) var target: DatabaseTarget
    /// The disclosure policies' thresholds in force.
    public let disclosure: DisclosureSettings
    public var logger: Logger
    /// How it runs: the command line, or a service of requests (see ``Settings``).
    public let settings: Settings
    /// Whether recording, importing and loading the demo publish the authorities' summaries
    /// before they return (the command line). A service leaves it to its projection runner,
    /// which publishes every authority within moments of each change, rather than make each
    /// request wait.
    public var publishesAfterWriting: Bool { settings.publishesAfterWriting }
    /// Whether figures first bring the projections up to date (and publish what the log moved
    /// past), so that a record made a moment before shows (the command line). A service whose
    /// projection runner keeps them up to date answers from them as they are, rather than make
    /// every request wait for the log's in-flight appends to settle.
    public var refreshesFigures: Bool { !settings.runnerKeepsProjections }
    /// Figures computed a moment ago, given again for the same question (a service's; see
    /// ``FiguresCache``); nil: every question is computed.
    public let figuresCache: FiguresCache?
    /// Checks and appends the records of requests that arrive together in one transaction (a
    /// service's; see ``RecordBatcher``); nil: each request records on its own.
    public let recordBatcher: RecordBatcher?
    /// Runs the import jobs requests start (a service's; see ``ImportJobRunner``); nil: imports
    /// run in the foreground only (the command line).
    public let importJobs: ImportJobRunner?
    /// Tokens checked a moment ago (a service's; see ``TokenCache``); nil: every request's
    /// token is looked up.
    public let tokenCache: TokenCache?
    /// Connections kept for reuse between requests (a service's); nil: each use case opens its own.
    public let pool: ConnectionPool?
    /// The one way to a connection: for a login (the application's, the owner's, or one
    /// request's), for the length of a closure, on the executor for blocking work.
    public var database: DatabaseClient { DatabaseClient(target: target, pool: pool, logger: logger, publishing: publishing) }
    /// What publishing remembers between rounds (``PublicationCache``).
    let publishing = PublicationCache()
    /// How long the readiness check waits for the database (``readiness()``).
    public private(set) var readinessTimeout: Duration = .seconds(5)
    /// How password guessing is slowed (``SignInLimits``).
    public var signInLimits = SignInLimits()
    /// Whether this application answers requests (a service): staff's and admins' reads then
    /// go to the primary even when a read replica is configured, so that their own records
    /// show at once (see ``readSource(_:for:service:)``).
    public var servesRequests: Bool { settings.servesRequests }

    /// How an application runs: the one thing that differs between the command line, `reach
    /// serve` and the benchmarks and tests that stand in for them, each made by
    /// ``init(target:disclosure:logger:settings:)`` from it.
    public struct Settings: Sendable, Hashable {
        /// Whether it answers requests (a service) rather than running one command.
        public var servesRequests: Bool
        /// Whether a projection runner keeps the projections up to date (the service's own, or
        /// another's): figures are then read as they are; else each question first brings them
        /// up to date and publishes, as the command line does.
        public var runnerKeepsProjections: Bool
        /// Whether recording, importing and loading the demo publish summaries before returning.
        public var publishesAfterWriting: Bool
        /// How long the same question gets the same answer (0: always computed).
        public var figuresSeconds: Int
        /// The longest a request's statement runs, and waits for a database that does not
        /// answer (nil: unbounded, the command line).
        public var requestTimeoutSeconds: Int?
        /// How long a token checked a moment ago is not looked up again (0: always looked up).
        public var tokenSeconds: Int
        /// Connections kept idle for reuse (0: none kept).
        public var idleConnections: Int
        /// Whether the records of requests arriving together are checked and appended together.
        public var batchesRecords: Bool

        /// The command line: one command, which brings the projections up to date itself and
        /// publishes after writing.
        public static let commandLine = Settings(
            servesRequests: false, runnerKeepsProjections: false, publishesAfterWriting: true,
            figuresSeconds: 0, requestTimeoutSeconds: nil, tokenSeconds: 0, idleConnections: 0,
            batchesRecords: false)

        /// `reach serve`: requests do not publish (the projection runner does); `runner` says
        /// whether a runner keeps the projections (else each question brings them up to date,
        /// as `reach serve --no-runner` does); the rest as `REACH_HTTP_*` set them.
        public static func service(
            runner: Bool = true, figuresSeconds: Int = 5, requestTimeoutSeconds: Int? = 30,
            tokenSeconds: Int = 2, idleConnections: Int = 32
        ) -> Settings {
            Settings(
                servesRequests: true, runnerKeepsProjections: runner, publishesAfterWriting: false, figuresSeconds: figuresSeconds,
                requestTimeoutSeconds: requestTimeoutSeconds, tokenSeconds: tokenSeconds, idleConnections: idleConnections,
                batchesRecords: true)
        }
    }

    /// The one assembly of the application, for `reach serve`, every command, every benchmark
    /// and every test: what differs between them is only their ``Settings``.
    public init(target: DatabaseTarget, disclosure: DisclosureSettings = DisclosureSettings(), logger: Logger, settings: Settings = .commandLine) {
        var target = target
        if let seconds = settings.requestTimeoutSeconds { target = Self.limited(target, to: seconds) }
        self.target = target
        self.disclosure = disclosure
        self.logger = logger
        self.settings = settings
        figuresCache = settings.figuresSeconds > 0 ? FiguresCache(lifetime: .seconds(settings.figuresSeconds)) : nil
        let pool = settings.idleConnections > 0 ? ConnectionPool(maximumIdle: settings.idleConnections) : nil
        self.pool = pool
        recordBatcher =
            settings.batchesRecords ? RecordBatcher(database: DatabaseClient(target: target, pool: pool, logger: logger), logger: logger) : nil
        importJobs = settings.servesRequests ? ImportJobRunner() : nil
        tokenCache = settings.tokenSeconds > 0 ? TokenCache(lifetime: .seconds(settings.tokenSeconds)) : nil
        if let seconds = settings.requestTimeoutSeconds { readinessTimeout = .seconds(min(2, seconds)) }
    }

    /// The long-lived work a service runs beside its HTTP server, each a `Service` for its
    /// service group: the record batcher and the import jobs (none for the command line). Every
    /// service group that serves requests (`reach serve`, the benchmarks, the tests) runs them.
    public var services: [any Service] { [recordBatcher as (any Service)?, importJobs].compactMap { $0 } }

    /// Bounds every request's database work by `seconds`: the server cancels a statement past
    /// it (`statement_timeout`), and a server that does not answer at all (hung, stopped) is
    /// given up on a second later (``ConnectionConfiguration/answerTimeout``; a server that
    /// answers has cancelled the statement itself by then), so a request fails as unavailable
    /// rather than waiting for ever. The readiness check waits at most two seconds, or
    /// `seconds` if less. The owner's connections (the projection runner's, the migrations',
    /// and the catch-up a service without its own runner makes before figures) are left
    /// unbounded: they wait, and go on where they were once the server answers again.
    private static func limited(_ target: DatabaseTarget, to seconds: Int) -> DatabaseTarget {
        func limited(_ configuration: ConnectionConfiguration) -> ConnectionConfiguration {
            configuration.overriding(["options": "-c statement_timeout=\(seconds * 1000)"]).answering(within: .seconds(seconds + 1))
        }
        var target = target
        target.application = limited(target.application)
        target.reader = target.reader.map(limited)
        return target
    }

    /// The same application with other settings: a benchmark serves, as `reach serve` would,
    /// what it loaded from the command line (whose requests have no limit to carry over).
    public func with(_ settings: Settings) -> ReachApplication {
        var copy = ReachApplication(target: target, disclosure: disclosure, logger: logger, settings: settings)
        copy.signInLimits = signInLimits
        return copy
    }

    /// Who the configured database login is, as an identity: a local authority's login
    /// (`reach.authority_logins`) is that authority's `la_viewer`; the application's own login
    /// is the installation's `admin`, named `actor` in what it records.
    public func identify(actor: String) async throws -> Identity {
        let (authority, login) = try await database.withConnection(.application) { try Publication.loginAuthority(on: $0) }
        if let authority { return Identity(name: login, role: .laViewer, authorities: [authority]) }
        return Identity(name: actor, role: .admin)
    }
}

/// A request the application refuses for what it asks (not for who asks): an unknown
/// authority, a file that cannot be read. The description says what to do.
public struct RequestError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The thresholds of the disclosure policies (`REACH_DISCLOSURE_*`), kept as a policy's own
/// settings so that every named policy is made with them.
public struct DisclosureSettings: Sendable, Equatable {
    /// The thresholds (its name is set by ``policy(_:)``).
    public var thresholds = DisclosurePolicy(.none)

    public init() {}

    /// The settings from `REACH_DISCLOSURE_*` variables; a value that is not a whole number
    /// from 1 is refused, naming the variable.
    public init(environment: [String: String]) throws {
        let settings: [(String, WritableKeyPath<DisclosurePolicy, Int>)] = [
            ("REACH_DISCLOSURE_DFE_THRESHOLD", \.dfeThreshold), ("REACH_DISCLOSURE_DFE_TOTAL_ROUNDING", \.dfeTotalRounding),
            ("REACH_DISCLOSURE_NHS_THRESHOLD", \.nhsThreshold), ("REACH_DISCLOSURE_NHS_ROUNDING", \.nhsRounding),
            ("REACH_DISCLOSURE_MIN_SURVEY_BASE", \.minimumSurveyBase), ("REACH_DISCLOSURE_MIN_SURVEY_SCHOOLS", \.minimumSurveySchools),
        ]
        for (variable, keyPath) in settings {
            guard let text = environment[variable], !text.isEmpty else { continue }
            guard let value = Int(text), value >= 1 else { throw RequestError("\(variable) must be a whole number from 1, not '\(text)'") }
            thresholds[keyPath: keyPath] = value
        }
    }

    /// The named policy with these thresholds.
    public func policy(_ name: DisclosurePolicy.Name) -> DisclosurePolicy {
        var policy = thresholds
        policy.name = name
        return policy
    }
}
