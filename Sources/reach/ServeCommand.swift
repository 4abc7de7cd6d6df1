import ArgumentParser
import Foundation
import Hummingbird
import ReachApp
import ReachCommandLine
import ReachPostgres
import ReachServer
import ServiceLifecycle

/// `reach serve`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Reach's HTTP service (and the projection runner, unless --no-runner).",
        discussion: """
            Listens on 127.0.0.1:8080 unless told otherwise ($REACH_HTTP_HOST, $REACH_HTTP_PORT), on \
            Reach's own cluster when no database is configured. Routes: GET /health/live, \
            GET /health/ready, GET /metrics (Prometheus), GET /api/openapi.yaml, and under /api/v1 \
            (Authorization: Bearer TOKEN, from reach tokens create, or a session from POST \
            /api/v1/session): metrics, records, imports, authorities/{la}/summary, catalogue, \
            templates, projections, events, users, tokens. SIGINT or SIGTERM stop it cleanly: it \
            stops accepting, finishes the requests in flight (up to --shutdown-seconds) and exits 0.

            Behind a proxy, $REACH_TRUSTED_PROXIES (addresses or networks, such as 127.0.0.1 or \
            10.0.0.0/8) names the proxies whose X-Forwarded-For gives the client's address, for the \
            limits on password guessing. \
            Limits: $REACH_HTTP_REQUEST_TIMEOUT_SECONDS (30) for each database statement of a \
            request (and a second more for a database that does not answer at all), \
            $REACH_HTTP_IDLE_TIMEOUT_SECONDS (75) for an idle connection, \
            $REACH_HTTP_MAX_UPLOAD_BYTES (536870912) for an import's upload, which is kept in \
            $REACH_UPLOAD_DIR (a directory under the system's temporary one) while it is imported. \
            Figures come from the projections as the runner keeps them, and the same question \
            within $REACH_HTTP_FIGURES_SECONDS (5; 0 for never) gets the same answer. With \
            $REACH_READ_DATABASE_URL, researchers' and local authorities' reads go to that replica \
            (staff's and admins' to the primary).
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The address to listen on (default: $REACH_HTTP_HOST, else 127.0.0.1).")
    var host: String?
    @Option(help: "The port to listen on (default: $REACH_HTTP_PORT, else 8080).")
    var port: Int?
    @Flag(help: "Do not run the projection runner in this process (another runs it).")
    var noRunner = false
    @Option(help: "How long requests in flight may take to finish on SIGTERM (default: $REACH_HTTP_SHUTDOWN_SECONDS, else 30).")
    var shutdownSeconds: Int?

    /// A whole number of at least 1 from the environment, or `fallback`; anything else is refused, naming the variable.
    static func setting(_ name: String, _ fallback: Int, minimum: Int = 1) throws -> Int {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return fallback }
        guard let value = Int(text), value >= minimum else { throw ValidationError("\(name) must be a whole number from \(minimum), not '\(text)'") }
        return value
    }

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port is 0 to 65535, not \(port)") }
        if let text = ProcessInfo.processInfo.environment["REACH_HTTP_PORT"], port == nil, Int(text).map({ (0...65535).contains($0) }) != true {
            throw ValidationError("REACH_HTTP_PORT must be a port number, not '\(text)'")
        }
        if let shutdownSeconds, shutdownSeconds < 1 { throw ValidationError("--shutdown-seconds is a whole number from 1, not \(shutdownSeconds)") }
        for name in [
            "REACH_HTTP_REQUEST_TIMEOUT_SECONDS", "REACH_HTTP_IDLE_TIMEOUT_SECONDS", "REACH_HTTP_MAX_UPLOAD_BYTES", "REACH_HTTP_SHUTDOWN_SECONDS",
        ] {
            _ = try Self.setting(name, 1)
        }
        _ = try Self.setting("REACH_HTTP_FIGURES_SECONDS", 5, minimum: 0)
        _ = try Self.trustedProxies()
    }

    /// The proxies whose `X-Forwarded-For` is believed (`REACH_TRUSTED_PROXIES`); none when unset.
    static func trustedProxies() throws -> TrustedProxies {
        do {
            return try TrustedProxies(ProcessInfo.processInfo.environment["REACH_TRUSTED_PROXIES"] ?? "")
        } catch let error as TrustedProxiesError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let host = host ?? environment["REACH_HTTP_HOST"] ?? "127.0.0.1"
        let port = port ?? environment["REACH_HTTP_PORT"].flatMap(Int.init) ?? 8080
        // As a service: requests do not wait for publishing (the projection runner publishes);
        // staff's and admins' reads go to the primary, even with a read replica; figures come
        // from the projections as the runner keeps them (unless --no-runner), the same question
        // within a few seconds given the same answer (0: always computed); no statement of a
        // request runs longer than the request timeout (a 503 says so).
        let app = try await database.application(
            .service(
                runner: !noRunner, figuresSeconds: try Self.setting("REACH_HTTP_FIGURES_SECONDS", 5, minimum: 0),
                requestTimeoutSeconds: try Self.setting("REACH_HTTP_REQUEST_TIMEOUT_SECONDS", 30)))
        let uploads =
            environment["REACH_UPLOAD_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("reach-uploads").path
        // The record batcher and the import jobs first, then the runner, then the server.
        var services: [any Service] = app.services
        if !noRunner {
            services.append(try app.projectionRunner(as: try await app.identify(actor: actorName(nil))))
        }
        let server = Application(
            // (Behind a proxy that speaks TLS, REACH_HTTP_SECURE_COOKIES=true marks cookies Secure.)
            router: ReachServer.router(
                app, secureCookies: environment["REACH_HTTP_SECURE_COOKIES"] == "true", uploads: uploads,
                maximumUpload: try Self.setting("REACH_HTTP_MAX_UPLOAD_BYTES", ReachServer.defaultMaximumUpload),
                // (Behind a proxy, REACH_TRUSTED_PROXIES names it, so that sign-in limits count each client.)
                trustedProxies: try Self.trustedProxies()),
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(try Self.setting("REACH_HTTP_IDLE_TIMEOUT_SECONDS", 75))))),
            configuration: .init(address: .hostname(host, port: port), serverName: "reach"),
            onServerRunning: { channel in
                FileHandle.standardError.write(Data("reach serve: listening on http://\(host):\(channel.localAddress?.port ?? port)\n".utf8))
            },
            logger: app.logger)
        services.append(server)
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger)
        configuration.maximumGracefulShutdownDuration = .seconds(try shutdownSeconds ?? Self.setting("REACH_HTTP_SHUTDOWN_SECONDS", 30))
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}
