import ArgumentParser
import Foundation
import Logging
import ReachApp
import ReachBenchmarks
import ReachCommandLine
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
        subcommands: [
            Record.self, Import.self, Template.self, Demo.self, Metrics.self, Export.self, Policy.self, Serve.self, Projections.self, Users.self,
            Tokens.self,
            Database.self, Events.self, Bench.self,
        ]
    )
}
