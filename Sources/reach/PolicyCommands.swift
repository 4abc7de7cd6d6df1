import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine
import ReachProjections

/// `reach policy set|show`: the one disclosure policy each authority's figures leave under.
struct Policy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set or show the disclosure policy each authority's figures leave under.",
        discussion: """
            Each authority's figures leave the programme under one policy, dfe or nhs, set by the \
            programme (dfe until one is set): its lead reads them, its summaries are exported and \
            anyone asking for its figures under a policy gets them under that one alone, since the \
            same cells under both policies could be combined to give a child back. The change is \
            recorded in the log (disclosure_policy_set: who, when, why), and refused once the \
            authority's figures have left under the policy in force.
            """,
        subcommands: [Set.self, Show.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an authority's disclosure policy (admins).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The local authority (la_id).")
        var la: String
        @Option(help: "dfe or nhs.")
        var policy: DisclosurePolicy.Name
        @Option(help: "Why (recorded with the change).")
        var reason: String?
        @Option(help: "Who is setting it (default: $REACH_ACTOR, else the login name).")
        var actor: String?

        func validate() throws {
            if policy == DisclosurePolicy.Name.none { throw ValidationError("--policy is dfe or nhs: none is for researchers inside the programme") }
        }

        func run() async throws {
            let app = try await database.application()
            emit(
                try jsonLine(
                    try await app.setDisclosurePolicy(la: la, policy: policy, reason: reason, as: try await app.identify(actor: actorName(actor)))))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the policy each authority's figures leave under, one JSON line each.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this local authority (la_id).")
        var la: [String] = []

        func run() async throws {
            let app = try await database.application()
            let identity = try await app.identify(actor: actorName(nil))
            struct Line: Encodable {
                var la_id: String
                var policy: String
            }
            for (la, policy) in try await app.disclosurePolicies(la.isEmpty ? nil : la, as: identity) {
                emit(try jsonLine(Line(la_id: la, policy: policy.rawValue)))
            }
        }
    }
}
