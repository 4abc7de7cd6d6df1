import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine
import ReachProjections
import ServiceLifecycle

/// `reach projections run|status|rebuild|publish`.
struct Projections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run, inspect and rebuild the projections behind every figure.",
        discussion: """
            Projections turn the log into the tables of the research schema. `reach metrics` brings \
            them up to date by itself; `reach projections run` keeps them up to date continuously \
            (several may run side by side: one takes each projection, another takes over if it stops).
            """,
        subcommands: [Run.self, Status.self, Rebuild.self, Publish.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Catch every projection up and follow the log until interrupted (SIGINT or SIGTERM stop it cleanly).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let app = try await database.application()
            let runner = try app.projectionRunner(as: try await app.identify(actor: actorName(nil))) { name, progress in
                struct Line: Encodable {
                    var projection: String
                    var applied: Int
                    var checkpoint: Int64
                    var stopped_on: String?
                }
                emit(
                    (try? jsonLine(
                        Line(
                            projection: name, applied: progress.events, checkpoint: progress.checkpoint,
                            stopped_on: progress.failure?.description))) ?? "")
            }
            FileHandle.standardError.write(Data("running projections; Ctrl-C to stop\n".utf8))
            let group = ServiceGroup(
                configuration: .init(
                    services: [runner], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger))
            try await group.run()
            FileHandle.standardError.write(Data("stopped\n".utf8))
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish every authority's summaries: for its logins and leads, and for figures under a policy.",
            discussion: """
                Brings the projections up to date, then builds each registered authority's summary for \
                every standard period under its policy (reach policy; as reach export summary makes it), \
                solved with every release of its figures that has left, and stores it in \
                publication.summaries, the only figures an authority's login can read. Only authorities \
                with something new since their last publication are published, each computing again only \
                the periods the new records can change, unless --all is given. The projection runner \
                (reach projections run, reach serve) does the same in the background.
                """)
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Publish every authority, changed or not, each computed whole.")
        var all = false

        func run() async throws {
            let app = try await database.application()
            let published = try await app.publishSummaries(all: all, every: true, as: try await app.identify(actor: actorName(nil)))
            struct Line: Encodable { var published: [String] }
            emit(try jsonLine(Line(published: published)))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each projection's checkpoint, lag, state and last error.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "table or json.")
        var format: OutputFormat = .table

        func run() async throws {
            let app = try await database.application()
            let rows = try await app.projectionStatus(as: try await app.identify(actor: actorName(nil)))
            if format == .json {
                for row in rows { emit(try jsonLine(row)) }
                return
            }
            let table =
                [["projection", "state", "checkpoint", "lag_events", "lag_seconds", "events_applied", "runner", "last_error"]]
                + rows.map { row in
                    [
                        row.name, row.state, String(row.checkpoint), String(row.lagEvents), String(format: "%.1f", row.lagSeconds),
                        String(row.eventsApplied), row.runnerActive ? "active" : "-",
                        row.failedPosition.map { "position \($0), event \(row.failedEventID ?? "?"): \(row.failedError ?? "")" } ?? "-",
                    ]
                }
            emit(TextTable.render(table))
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a projection into fresh tables while the current ones keep answering, then switch atomically.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: ArgumentHelp("The projection (or `all`).", valueName: "name"))
        var name: String
        @Option(help: "Projections rebuilt at once, each on its own connection (default: the number of cores).")
        var workers = ProcessInfo.processInfo.activeProcessorCount

        func validate() throws {
            if name != "all" && Projection.named(name) == nil {
                throw ValidationError("'\(name)' is not a projection; choose one of \(Projection.all.map(\.name).joined(separator: ", ")) or all")
            }
        }

        func run() async throws {
            let app = try await database.application()
            let chosen = name == "all" ? Projection.all : [Projection.named(name)!]
            struct Line: Encodable {
                var projection: String
                var rebuilt: Bool
                var seconds: Double
            }
            try await app.rebuildProjections(chosen, workers: workers, as: try await app.identify(actor: actorName(nil))) { projection, seconds in
                emit((try? jsonLine(Line(projection: projection.name, rebuilt: true, seconds: (seconds * 100).rounded() / 100))) ?? "")
            }
        }
    }
}

/// The formats of `reach projections status`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}
