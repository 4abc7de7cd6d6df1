import Foundation
import Logging
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections

/// Figures as one asker gets them: tidy rows, the policy applied to them, and the projections
/// that were behind the log when they were computed (their figures may be out of date).
public struct Figures: Sendable {
    public var rows: [Observation]
    public var policy: DisclosurePolicy.Name
    public var staleProjections: [String]
}

/// An export of an authority's summary, made and recorded.
public struct SummaryExport: Sendable, Encodable {
    public var laID: String
    public var period: String
    public var policy: String
    public var rows: Int
    /// Where the `summary_exported` event was appended.
    public var recordedAtPosition: Int64

    enum CodingKeys: String, CodingKey {
        case laID = "la_id", period, policy, rows, recordedAtPosition = "recorded_at_position"
    }
}

extension ReachApplication {
    /// Metric queries are short and run side by side: compiling them (JIT) or starting parallel
    /// workers for them costs more than it saves.
    public static let metricsSessionSettings = "SET jit = off; SET max_parallel_workers_per_gather = 0"

    // MARK: Metrics

    /// Reach and impact figures for `query`, limited to what `identity` may see and under the
    /// disclosure policy its role gets (``Access/figures(_:policy:publish:for:)``). For askers
    /// who read every authority, the projections are first brought up to date, so a record made
    /// a moment before shows in the figures.
    public func metrics(_ query: MetricQuery, policy: DisclosurePolicy.Name? = nil, publish: Bool = false, as identity: Identity) async throws -> Figures {
        let grant = try Access.figures(query, policy: policy, publish: publish, for: identity)
        let (target, logger, disclosure) = (target, logger, disclosure)
        return try await onThreadOfItsOwn(name: "reach.metrics") {
            let (readers, stale) = try Self.figureReaders(target, refresh: grant.schema == "research", logger: logger)
            let rows = try MetricsCalculator(schema: grant.schema).compute(grant.query, on: readers)
            return Figures(rows: disclosure.policy(grant.policy).apply(rows, authority: grant.query.la), policy: grant.policy, staleProjections: stale)
        }
    }

    /// Connections to compute figures on: one per core (up to four), so the server answers a
    /// query's independent parts side by side. With `refresh`, the projections are brought up
    /// to date first (that needs the owner's login); the names of those still behind come back.
    static func figureReaders(_ target: DatabaseTarget, refresh: Bool, logger: Logger) throws -> ([Connection], stale: [String]) {
        var stale: [String] = []
        if refresh {
            let owner = try Connection(configuration: target.owner, logger: logger)
            stale = try ProjectionEngine(logger: logger).waitUntilCaughtUp(on: owner)
        }
        let readers = try (0..<min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))).map { _ in
            let reader = try Connection(configuration: target.application, logger: logger)
            try reader.executeScript(metricsSessionSettings)
            return reader
        }
        return (readers, stale)
    }

    // MARK: Exports

    /// The metrics of an authority's summary, in the order the export lists them.
    static let summaryMetrics: [Metric] = [.authoritiesActive, .schoolsEngaged, .sessions, .attendances, .staffTrained, .learnerHours,
                                           .partnersInvolved, .pilotProgress, .surveyChange, .contextPathways, .locationsOfConcern]

    /// A local authority's summary for a period, with `policy` (dfe or nhs) applied: headline
    /// reach, pilot progress by pilot, sessions by kind and by month, attendances, staff
    /// trained, survey change, context pathways and locations of concern. `deliver` is given
    /// the text (CSV or JSON, the policy named on every row); once it returns, the export is
    /// recorded in the log as a `summary_exported` event, so no summary leaves unrecorded.
    public func exportSummary(
        la: String, period: Period, format: TidyFormat, policy: DisclosurePolicy.Name, as identity: Identity,
        deliver: @escaping @Sendable (String) throws -> Void
    ) async throws -> SummaryExport {
        guard policy != DisclosurePolicy.Name.none else {
            throw AccessDenied("an export leaves the programme: its policy is dfe or nhs, not none")
        }
        guard format != .table else { throw RequestError("an export is csv or json") }
        try Access.checkMayExport(la: la, for: identity)
        let grant = try Access.figures(MetricQuery(period: period, la: la), policy: policy, publish: true, for: identity)
        let (target, logger, disclosure) = (target, logger, disclosure)
        return try await onThreadOfItsOwn(name: "reach.export") {
            let (readers, _) = try Self.figureReaders(target, refresh: grant.schema == "research", logger: logger)
            let application = readers[0]
            if identity.role != .laViewer {
                guard try EventLog.streamVersion(Entity.authority.stream(la), on: application) > 0 else {
                    throw RequestError("no local authority '\(la)' is registered; see reach metrics --by la for the authorities with figures")
                }
            }
            let calculator = MetricsCalculator(schema: grant.schema)
            var headline = grant.query
            headline.metrics = Self.summaryMetrics
            var rows = try calculator.compute(headline, on: readers)
            var byPilot = grant.query
            byPilot.metrics = [.pilotProgress]
            byPilot.by = .pilot
            rows += try calculator.compute(byPilot, on: readers)
            var byMonth = grant.query
            byMonth.metrics = [.sessions]
            byMonth.by = .month
            rows += try calculator.compute(byMonth, on: readers).filter { $0.dimension == "total" || $0.dimension == "kind" }
            let published = disclosure.policy(policy).apply(rows, authority: la)
            try deliver(try Tidy.render(published, format: format, policy: policy, extra: ["la_id": la]))
            let position = try Self.recordExport(la: la, period: period, format: format, policy: policy, rows: published.count,
                                                 as: identity, on: application)
            return SummaryExport(laID: la, period: period.label, policy: policy.rawValue, rows: published.count, recordedAtPosition: position)
        }
    }

    /// Appends the `summary_exported` event: through the recorder for the application's login,
    /// or, for a local authority's login (which may neither read nor write the log), through
    /// `reach.record_authority_export`, which checks the authority again in the database.
    static func recordExport(la: String, period: Period, format: TidyFormat, policy: DisclosurePolicy.Name, rows: Int,
                             as identity: Identity, on connection: Connection) throws -> Int64 {
        let data: JSONObject = [
            "la_id": .string(la), "period": .string(period.label), "format": .string(format.rawValue),
            "policy": .string(policy.rawValue), "rows": .number(Double(rows)), "date": .string(PostgresDate.today.description),
        ]
        let id = "export-\(UUID().lowercasedString)"
        if identity.role == .laViewer {
            let checked: CheckedRecord
            switch RecordType.summaryExported.checkFields(data, id: id, today: PostgresDate.today) {
            case .success(let passed): checked = passed
            case .failure(let refusals): throw RequestError("the summary was delivered but the export could not be recorded: \(refusals)")
            }
            return try connection.query("SELECT reach.record_authority_export($1, $2::jsonb, $3)",
                                        [id, PostgresJSONB(JSONValue.object(data).text), checked.occurredOn]).decode(row: 0, column: 0)
        }
        let recorder = Recorder(actor: identity.name, source: "export")
        let record = JSONValue.object(["type": .string("summary_exported"), "id": .string(id), "data": .object(data)]).text
        let (_, outcome) = try recorder.record(record, on: connection)
        guard case .accepted(let position) = outcome else {
            throw RequestError("the summary was delivered but the export could not be recorded: \(outcome)")
        }
        return position
    }
}
