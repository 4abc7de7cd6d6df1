import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine
import ReachDomain
import ReachProjections

extension Metric: ExpressibleByArgument {}
extension ScopeDimension: ExpressibleByArgument {}
extension DisclosurePolicy.Name: ExpressibleByArgument {}
extension TidyFormat: ExpressibleByArgument {}

/// Filters shared by `reach metrics` and `reach export summary`.
struct MetricFilters: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Academic year 2024/25, financial year FY2024/25, quarter 2024-Q3, month 2024-09, range 2024-09-01..2025-08-31 (not under a disclosure policy), or the strategy period 2024-2029.",
            valueName: "period"))
    var period: String = "2024-2029"
    @Option(help: "Only this local authority (la_id).")
    var la: String?
    @Option(help: "Only authorities in this region (london, north_west...).")
    var region: String?
    @Option(help: "Only this pilot (pilot_id).")
    var pilot: String?
    @Option(help: "Only pilots of this 2024-29 strategy project (planning_for_safety ... local).")
    var project: String?
    @Option(help: "Only pilots serving this strategic objective (1-4).")
    var objective: Int?
    @Option(name: .customLong("policy-goal"), help: "Only pilots serving this policy goal (1-7).")
    var policyGoal: Int?

    func validate() throws {
        if case .failure(let error) = Period.parse(period) { throw ValidationError(error.description) }
        if let objective, !(1...4).contains(objective) { throw ValidationError("--objective is 1 to 4, not \(objective)") }
        if let policyGoal, !(1...7).contains(policyGoal) { throw ValidationError("--policy-goal is 1 to 7, not \(policyGoal)") }
        if let region, Region(rawValue: region) == nil {
            throw ValidationError("--region '\(region)' is not a region; choose one of \(Region.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let project, StrategyProject(rawValue: project) == nil {
            throw ValidationError(
                "--project '\(project)' is not a strategy project; choose one of \(StrategyProject.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func query(metrics: [Metric], by: ScopeDimension?) throws -> MetricQuery {
        MetricQuery(
            period: try Period.parse(period).get(), la: la, region: region, pilot: pilot, project: project,
            objective: objective, policyGoal: policyGoal, by: by, metrics: metrics)
    }
}

/// `reach metrics`.
struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reach and impact figures: tidy, one observation per row.",
        discussion: """
            Columns: metric, period, scope (all, or the --by slice such as la:lewisham), dimension \
            and category (what the figure is broken down by; total for the headline), statistic, and \
            value (a number, or a GSS symbol: c confidential, z not applicable, : not available). \
            Figures are unsuppressed (--policy none) unless --policy or --publish says otherwise; \
            anything that leaves the programme must use --publish. The projections are brought up \
            to date first, so a record made just before shows in the figures.

            Metrics: \(Metric.allCases.map(\.rawValue).joined(separator: ", ")).
            """
    )
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var filters: MetricFilters
    @Option(name: .customLong("metric"), parsing: .singleValue, help: "A metric to compute (repeat for several; default: all).")
    var metrics: [Metric] = []
    @Option(help: ArgumentHelp("One row per value of: \(ScopeDimension.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "dimension"))
    var by: ScopeDimension?
    @Option(help: "table (for people), csv or json (for R, pandas and spreadsheets).")
    var format: TidyFormat = .table
    @Option(help: "Disclosure control: dfe, nhs or none (default none; dfe with --publish).")
    var policy: DisclosurePolicy.Name?
    @Flag(help: "The figures will leave the programme: apply disclosure control (dfe unless --policy says otherwise).")
    var publish = false

    func validate() throws {
        if publish && policy == DisclosurePolicy.Name.none {
            throw ValidationError("--publish needs a disclosure policy: dfe or nhs, not none")
        }
    }

    func run() async throws {
        let query = try filters.query(metrics: metrics.isEmpty ? Metric.allCases : metrics, by: by)
        let app = try await database.application()
        let figures = try await app.metrics(query, policy: policy, publish: publish, as: try await app.identify(actor: actorName(nil)))
        warnIfStale(figures.staleProjections)
        let text = try Tidy.render(figures.rows, format: format, policy: figures.policy)
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// Says on standard error that some figures may be out of date.
func warnIfStale(_ projections: [String]) {
    guard !projections.isEmpty else { return }
    FileHandle.standardError.write(
        Data(
            "warning: projections \(projections.joined(separator: ", ")) are behind the log or stopped (see reach projections status); their figures may be out of date\n"
                .utf8))
}

/// `reach export summary`.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export summaries that leave the programme, with disclosure control applied.",
        subcommands: [Summary.self]
    )

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A local authority's pilot summary for a period, with small numbers about children suppressed.",
            discussion: """
                Holds headline reach, pilot progress against target, sessions by kind and by month, \
                attendances by audience, staff trained by role, learner hours, partners, survey change, \
                context pathways and actions, and locations of concern. The disclosure policy is named \
                in every row, and the export is recorded in the log (summary_exported: who, what, when, \
                which policy).
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The local authority (la_id).")
        var la: String
        @Option(help: "The period (as for reach metrics).")
        var period: String
        @Option(help: "csv or json.")
        var format: TidyFormat = .csv
        @Option(help: "Where to write the file.")
        var out: String
        @Option(
            help: "The disclosure policy: the authority's (set with reach policy set; dfe until then), which is the only one its figures leave under."
        )
        var policy: DisclosurePolicy.Name?
        @Option(help: "Who is exporting (default: $REACH_ACTOR, else the login name).")
        var actor: String?

        func validate() throws {
            if format == .table { throw ValidationError("--format is csv or json for an export") }
            if policy == DisclosurePolicy.Name.none { throw ValidationError("an export leaves the programme: --policy is dfe or nhs, not none") }
            if case .failure(let error) = Period.parse(period) { throw ValidationError(error.description) }
        }

        func run() async throws {
            let app = try await database.application()
            let out = self.out
            let export = try await app.exportSummary(
                la: la, period: try Period.parse(period).get(), format: format, policy: policy,
                as: try await app.identify(actor: actorName(actor))
            ) { text in
                do {
                    try PrivateFile.write(text.hasSuffix("\n") ? text : text + "\n", to: out)
                } catch {
                    throw CommandError("cannot write \(out): \(error.localizedDescription)")
                }
            }
            struct Line: Encodable {
                var file: String
                var la_id: String
                var period: String
                var policy: String
                var rows: Int
                var recorded_at_position: Int64
            }
            emit(
                try jsonLine(
                    Line(
                        file: out, la_id: export.laID, period: export.period, policy: export.policy, rows: export.rows,
                        recorded_at_position: export.recordedAtPosition)))
        }
    }
}
