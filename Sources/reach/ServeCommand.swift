import ArgumentParser
import Foundation
import Hummingbird
import ReachApp
import ReachServer
import ServiceLifecycle

/// `reach serve`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Reach's HTTP service (and the projection runner, unless --no-runner).",
        discussion: """
            Listens on 127.0.0.1:8080 unless told otherwise ($REACH_HTTP_HOST, $REACH_HTTP_PORT), on \
            Reach's own cluster when no database is configured. Routes: GET /health/live, \
            GET /health/ready, and under /api/v1 (Authorization: Bearer TOKEN, from reach tokens \
            create): GET metrics, POST records, GET authorities/{la}/summary, GET projections. \
            SIGINT or SIGTERM stop it cleanly.
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The address to listen on (default: $REACH_HTTP_HOST, else 127.0.0.1).")
    var host: String?
    @Option(help: "The port to listen on (default: $REACH_HTTP_PORT, else 8080).")
    var port: Int?
    @Flag(help: "Do not run the projection runner in this process (another runs it).")
    var noRunner = false

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port is 0 to 65535, not \(port)") }
        if let text = ProcessInfo.processInfo.environment["REACH_HTTP_PORT"], port == nil, Int(text).map({ (0...65535).contains($0) }) != true {
            throw ValidationError("REACH_HTTP_PORT must be a port number, not '\(text)'")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let host = host ?? environment["REACH_HTTP_HOST"] ?? "127.0.0.1"
        let port = port ?? environment["REACH_HTTP_PORT"].flatMap(Int.init) ?? 8080
        var app = try await database.application()
        // Requests do not wait for publishing: the projection runner publishes.
        app.publishesAfterWriting = false
        var services: [any Service] = []
        if !noRunner {
            services.append(try app.projectionRunner(as: try await app.identify(actor: actorName(nil))))
        }
        let server = Application(
            // (Behind a proxy that speaks TLS, REACH_HTTP_SECURE_COOKIES=true marks cookies Secure.)
            router: ReachServer.router(app, secureCookies: environment["REACH_HTTP_SECURE_COOKIES"] == "true"),
            configuration: .init(address: .hostname(host, port: port), serverName: "reach"),
            onServerRunning: { channel in
                FileHandle.standardError.write(Data("reach serve: listening on http://\(host):\(channel.localAddress?.port ?? port)\n".utf8))
            },
            logger: app.logger)
        services.append(server)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger))
        try await group.run()
    }
}
