import ArgumentParser
import CSV
import Foundation
import Logging
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections

extension Metric: ExpressibleByArgument {}
extension ScopeDimension: ExpressibleByArgument {}
extension DisclosurePolicy.Name: ExpressibleByArgument {}

/// Filters shared by `reach metrics` and `reach export summary`.
struct MetricFilters: ParsableArguments {
    @Option(help: ArgumentHelp("Academic year 2024/25, financial year FY2024/25, quarter 2024-Q3, month 2024-09, range 2024-09-01..2025-08-31, or the strategy period 2024-2029.", valueName: "period"))
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
            throw ValidationError("--project '\(project)' is not a strategy project; choose one of \(StrategyProject.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func query(metrics: [Metric], by: ScopeDimension?) throws -> MetricQuery {
        MetricQuery(period: try Period.parse(period).get(), la: la, region: region, pilot: pilot, project: project,
                    objective: objective, policyGoal: policyGoal, by: by, metrics: metrics)
    }
}

/// Metric queries are short and run side by side: compiling them (JIT) or starting parallel
/// workers for them costs more than it saves.
let metricsSessionSettings = "SET jit = off; SET max_parallel_workers_per_gather = 0"

/// Where figures are read from, and for whom.
struct MetricsAccess {
    /// One connection per core (up to four), so the server answers a query's independent
    /// parts side by side.
    var readers: [Connection]
    /// The local authority of the login, when it is a local authority's login: it reads that
    /// authority's figures only, from the `authority` views.
    var authority: String?
    var calculator: MetricsCalculator { MetricsCalculator(schema: authority == nil ? "research" : "authority") }

    /// The query, limited to the login's authority; asking for another authority is refused.
    func scoped(_ query: MetricQuery) throws -> MetricQuery {
        guard let authority else { return query }
        if let asked = query.la, asked != authority {
            throw CommandError("this login reads the figures of local authority '\(authority)' only, not '\(asked)'")
        }
        var scoped = query
        scoped.la = authority
        return scoped
    }
}

/// Connects to read figures as the configured login. For the application's login, the
/// projections are first brought up to date (once); a local authority's login (see
/// `reach.authority_logins`) reads them as they are.
func metricsAccess(_ target: DatabaseTarget, logger: Logger) throws -> MetricsAccess {
    let first = try Connection(configuration: target.application, logger: logger)
    let authority = try first.query("SELECT reach.login_authority()").decodeIfPresent(String.self, row: 0, column: 0)
    if authority == nil {
        let owner = try Connection(configuration: target.owner, logger: logger)
        let behind = try ProjectionEngine(logger: logger).waitUntilCaughtUp(on: owner)
        if !behind.isEmpty {
            FileHandle.standardError.write(Data("warning: projections \(behind.joined(separator: ", ")) are behind the log or stopped (see reach projections status); their figures may be out of date\n".utf8))
        }
    }
    try first.executeScript(metricsSessionSettings)
    let more = try (1..<min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))).map { _ in
        let reader = try Connection(configuration: target.application, logger: logger)
        try reader.executeScript(metricsSessionSettings)
        return reader
    }
    return MetricsAccess(readers: [first] + more, authority: authority)
}

/// Brings the projections up to date (once) and returns a connection to compute figures on, as
/// the application's role reads them.
func metricsReader(_ target: DatabaseTarget, logger: Logger) throws -> Connection {
    let owner = try Connection(configuration: target.owner, logger: logger)
    let behind = try ProjectionEngine(logger: logger).waitUntilCaughtUp(on: owner)
    if !behind.isEmpty {
        FileHandle.standardError.write(Data("warning: projections \(behind.joined(separator: ", ")) are behind the log or stopped (see reach projections status); their figures may be out of date\n".utf8))
    }
    let reader = try Connection(configuration: target.application, logger: logger)
    try reader.executeScript(metricsSessionSettings)
    return reader
}

/// A disclosure policy with its thresholds from the environment (REACH_DISCLOSURE_*).
func configuredPolicy(_ name: DisclosurePolicy.Name) throws -> DisclosurePolicy {
    var policy = DisclosurePolicy(name)
    let environment = ProcessInfo.processInfo.environment
    let settings: [(String, WritableKeyPath<DisclosurePolicy, Int>)] = [
        ("REACH_DISCLOSURE_DFE_THRESHOLD", \.dfeThreshold), ("REACH_DISCLOSURE_DFE_TOTAL_ROUNDING", \.dfeTotalRounding),
        ("REACH_DISCLOSURE_NHS_THRESHOLD", \.nhsThreshold), ("REACH_DISCLOSURE_NHS_ROUNDING", \.nhsRounding),
        ("REACH_DISCLOSURE_MIN_SURVEY_BASE", \.minimumSurveyBase), ("REACH_DISCLOSURE_MIN_SURVEY_SCHOOLS", \.minimumSurveySchools),
    ]
    for (variable, keyPath) in settings {
        guard let text = environment[variable], !text.isEmpty else { continue }
        guard let value = Int(text), value >= 1 else { throw CommandError("\(variable) must be a whole number from 1, not '\(text)'") }
        policy[keyPath: keyPath] = value
    }
    return policy
}

/// The tidy columns of every figure.
let tidyColumns = ["metric", "period", "scope", "dimension", "category", "statistic", "value"]

func tidyCells(_ row: Observation) -> [String] {
    [row.metric, row.period, row.scope, row.dimension, row.category, row.statistic, row.shownValue]
}

/// Renders figures as a table, CSV, or JSON (one array of objects).
func render(_ rows: [Observation], format: OutputFormat, policy: DisclosurePolicy.Name, extra: [String: String] = [:]) throws -> String {
    switch format {
    case .table:
        return TextTable.render([tidyColumns] + rows.map(tidyCells))
    case .csv:
        let writer = try CSVWriter(stream: .toMemory())
        let extraKeys = extra.keys.sorted()
        try writer.write(row: tidyColumns + ["policy"] + extraKeys)
        for row in rows { try writer.write(row: tidyCells(row) + [policy.rawValue] + extraKeys.map { extra[$0]! }) }
        writer.stream.close()
        return String(decoding: writer.stream.property(forKey: .dataWrittenToMemoryStreamKey) as! Data, as: UTF8.self)
    case .json:
        var objects: [JSONValue] = []
        for row in rows {
            var object: JSONObject = [
                "metric": .string(row.metric), "period": .string(row.period), "scope": .string(row.scope),
                "dimension": .string(row.dimension), "category": .string(row.category), "statistic": .string(row.statistic),
                "policy": .string(policy.rawValue),
            ]
            object["value"] = row.symbol.map(JSONValue.string) ?? row.value.map(JSONValue.number) ?? .null
            for (key, value) in extra { object[key] = .string(value) }
            objects.append(.object(object))
        }
        return JSONValue.array(objects).text
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
    var format: OutputFormat = .table
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
        let chosen = policy ?? (publish ? .dfe : DisclosurePolicy.Name.none)
        let logger = makeLogger()
        let access = try metricsAccess(try database.target(logger: logger), logger: logger)
        let rows = try configuredPolicy(chosen).apply(try access.calculator.compute(try access.scoped(query), on: access.readers))
        let text = try render(rows, format: format, policy: chosen)
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
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
        var format: OutputFormat = .csv
        @Option(help: "Where to write the file.")
        var out: String
        @Option(help: "The disclosure policy: dfe (default) or nhs.")
        var policy: DisclosurePolicy.Name = .dfe
        @Option(help: "Who is exporting (default: $REACH_ACTOR, else the login name).")
        var actor: String?

        func validate() throws {
            if format == .table { throw ValidationError("--format is csv or json for an export") }
            if policy == DisclosurePolicy.Name.none { throw ValidationError("an export leaves the programme: --policy is dfe or nhs, not none") }
            if case .failure(let error) = Period.parse(period) { throw ValidationError(error.description) }
        }

        func run() async throws {
            let logger = makeLogger()
            let target = try database.target(logger: logger)
            let access = try metricsAccess(target, logger: logger)
            let application = access.readers[0]
            if access.authority == nil {
                let known = try application.query("SELECT EXISTS (SELECT FROM reach.streams WHERE stream_id = $1 AND version > 0)", [Entity.authority.stream(la)])
                guard try known.decode(Bool.self, row: 0, column: 0) else {
                    throw CommandError("no local authority '\(la)' is registered; see reach metrics --by la for the authorities with figures")
                }
            }
            let period = try Period.parse(self.period).get()
            let base = try access.scoped(MetricQuery(period: period, la: la))
            var rows: [Observation] = []
            var headline = base
            headline.metrics = [.authoritiesActive, .schoolsEngaged, .sessions, .attendances, .staffTrained, .learnerHours,
                                .partnersInvolved, .pilotProgress, .surveyChange, .contextPathways, .locationsOfConcern]
            let reader = access.readers
            let calculator = access.calculator
            rows += try calculator.compute(headline, on: reader)
            var byPilot = base
            byPilot.metrics = [.pilotProgress]
            byPilot.by = .pilot
            rows += try calculator.compute(byPilot, on: reader)
            var byMonth = base
            byMonth.metrics = [.sessions]
            byMonth.by = .month
            rows += try calculator.compute(byMonth, on: reader).filter { $0.dimension == "total" || $0.dimension == "kind" }
            let published = try configuredPolicy(policy).apply(rows)
            let text = try render(published, format: format, policy: policy, extra: ["la_id": la])
            do {
                try (text.hasSuffix("\n") ? text : text + "\n").write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw CommandError("cannot write \(out): \(error.localizedDescription)")
            }
            let environment = ProcessInfo.processInfo.environment
            let recorder = Recorder(actor: actor ?? environment["REACH_ACTOR"] ?? environment["USER"] ?? loginName(), source: "export")
            let data: JSONValue = .object([
                "la_id": .string(la), "period": .string(period.label), "format": .string(format.rawValue),
                "policy": .string(policy.rawValue), "rows": .number(Double(published.count)), "date": .string(PostgresDate.today.description),
            ])
            let id = "export-\(UUID().uuidString.lowercased())"
            let position: Int64
            if access.authority != nil {
                // A local authority's login appends this one kind of event, for its own authority,
                // through the server (it cannot read or write the log otherwise).
                guard case .object(let fields) = data else { preconditionFailure("the export's data is an object") }
                let checked: CheckedRecord
                switch RecordType.summaryExported.checkFields(fields, id: id, today: PostgresDate.today) {
                case .success(let passed): checked = passed
                case .failure(let refusals): throw CommandError("the file was written but the export could not be recorded: \(refusals)")
                }
                position = try application.query("SELECT reach.record_authority_export($1, $2::jsonb, $3)",
                                                  [id, PostgresJSONB(data.text), checked.occurredOn]).decode(row: 0, column: 0)
            } else {
                let record = JSONValue.object(["type": .string("summary_exported"), "id": .string(id), "data": data]).text
                let (_, outcome) = try recorder.record(record, on: application)
                guard case .accepted(let accepted) = outcome else {
                    throw CommandError("the file was written but the export could not be recorded: \(outcome)")
                }
                position = accepted
            }
            struct Line: Encodable { var file: String; var la_id: String; var period: String; var policy: String; var rows: Int; var recorded_at_position: Int64 }
            emit(try jsonLine(Line(file: out, la_id: la, period: period.label, policy: policy.rawValue, rows: published.count, recorded_at_position: position)))
        }
    }
}
