import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachPostgres
import Synchronization

/// How an authority's figures leave the programme under a disclosure policy without any two
/// outputs giving a suppressed count back (see the README, "How disclosure control resists
/// differencing"):
///
/// - only standard periods, in two calendars: months, academic years and the 2024-2029
///   strategy period (each month in one academic year, each academic year of the strategy in
///   it), and months, calendar quarters and financial years (each month in one quarter, each
///   quarter in one financial year); a period in progress is published to date;
/// - every standard period of the authority, in both calendars, is computed together, and
///   cells are suppressed until no suppressed cell can be worked out from the shown ones by any
///   sum or difference of them, across periods of either calendar and across the breakdowns of
///   each table alike (``consistentOverTime(_:)``);
/// - no cut by pilot, strategy project, objective or policy goal (those subsets of an
///   authority would give the rest back by difference).
///
/// The same function builds what a local authority's login reads (stored in
/// `publication.summaries` for it) and what the programme exports or publishes for one
/// authority, so both are the same figures.
public struct Publication: Sendable {
    public var policy: DisclosurePolicy
    public var calculator: MetricsCalculator

    public init(policy: DisclosurePolicy, calculator: MetricsCalculator = MetricsCalculator()) {
        self.policy = policy
        self.calculator = calculator
    }

    /// The metrics of an authority's summary, in the order the export lists them.
    public static let summaryMetrics: [Metric] = [
        .authoritiesActive, .schoolsEngaged, .sessions, .attendances, .staffTrained, .learnerHours,
        .partnersInvolved, .pilotProgress, .surveyChange, .contextPathways, .locationsOfConcern,
    ]

    // MARK: What may be asked

    /// Why a query cannot be answered under a disclosure policy, or nil when it can.
    public static func refusal(_ query: MetricQuery) -> String? {
        if !query.period.isStandard {
            return
                "under a disclosure policy, figures are for a standard period (an academic year such as 2024/25, a financial year FY2024/25, a quarter 2024-Q3, a month 2024-09, or 2024-2029), not a range of dates: two ranges that differ by a day would give that day's small numbers back"
        }
        if query.by == .la || query.by == .pilot || query.pilot != nil {
            return
                "under a disclosure policy, an authority's own figures are its published summary: ask for one authority with --la (cut by month, quarter or year at most), not by authority or pilot"
        }
        guard query.la != nil else { return nil }
        if query.filtersByPilot || query.by?.needsPilot == true || query.by == .region {
            return
                "under a disclosure policy, one authority's figures are for the whole authority (cut by month, quarter or year at most), not by pilot, project, objective or policy goal: a part and the whole would give the rest back"
        }
        return nil
    }

    // MARK: Building

    /// An authority's summary for a period, unsuppressed: the summary's metrics, pilot
    /// progress by pilot, and (for a period longer than a month) sessions by month.
    public func summaryRows(la: String, period: Period, on readers: [Connection]) throws -> [Observation] {
        var headline = MetricQuery(period: period, la: la)
        headline.metrics = Self.summaryMetrics
        var rows = try calculator.compute(headline, on: readers)
        rows += try calculator.compute(MetricQuery(period: period, la: la, by: .pilot, metrics: [.pilotProgress]), on: readers)
        rows += try calculator.compute(MetricQuery(period: period, la: la, by: .month, metrics: [.sessions]), on: readers).filter {
            $0.dimension == "total" || $0.dimension == "kind"
        }
        return rows
    }

    /// The first day an authority's figures are published from: its first record, or the start
    /// of the strategy period (September 2024) if that is earlier.
    public static func publishedFrom(_ first: CalendarDate) -> CalendarDate {
        min(first, CalendarDate(year: 2024, month: 9, day: 1))
    }

    /// The standard periods of an authority whose data starts on `first`, up to `today`:
    /// every month, academic year, quarter and financial year that has begun, and the strategy
    /// period; each in progress to date.
    public static func periods(from first: CalendarDate, through today: CalendarDate) -> [Period] {
        var out: [Period] = []
        let start = publishedFrom(first)
        let firstYear = start.month >= 9 ? start.year : start.year - 1
        let lastYear = today.month >= 9 ? today.year : today.year - 1
        for year in firstYear...lastYear {
            let academic = Period.academicYear(year)
            out.append(academic)
            out += Self.months(of: academic).filter { $0.start <= today }
        }
        out.append(try! Period.parse("2024-2029").get())
        for year in firstYear...today.year {
            for quarter in 1...4 where Period.quarter(year, quarter).start <= today && Period.quarter(year, quarter).end >= start {
                out.append(Period.quarter(year, quarter))
            }
        }
        for year in (firstYear - 1)...today.year where Period.financialYear(year).start <= today && Period.financialYear(year).end >= start {
            out.append(Period.financialYear(year))
        }
        return out
    }

    static func months(of period: Period) -> [Period] {
        MetricsCalculator.split(period, by: .month)
    }

    /// The first day an authority has anything in the log about, or nil.
    public static func firstDate(of la: String, on connection: Connection) throws -> CalendarDate? {
        try EventLog.firstOccurredOn(authority: la, on: connection)
    }

    /// The periods a query's figures come from: its period, or each sub-period a cut by time
    /// makes of it that has begun by `today` (a period in progress is published to date), with
    /// the scope its rows take (`month:2024-10`). A period that has not begun, or that ended
    /// before the authority's figures begin, is refused in words.
    public static func pieces(of query: MetricQuery, la: String, first: CalendarDate?, today: CalendarDate) throws -> [(
        scope: String?, period: Period
    )] {
        if let refusal = outside(query.period, la: la, first: first, today: today) { throw UnpublishedPeriod(refusal) }
        guard let by = query.by else { return [(nil, query.period)] }
        let from = first.map(publishedFrom)
        return MetricsCalculator.split(query.period, by: by).filter { piece in piece.start <= today && from.map { piece.end >= $0 } ?? true }.map {
            ("\(by.rawValue):\($0.label)", $0)
        }
    }

    /// Why an authority has no figures for `period`: it has not begun, or it ended before the
    /// authority's figures begin; nil when it has figures (to date).
    public static func outside(_ period: Period, la: String, first: CalendarDate?, today: CalendarDate) -> String? {
        if period.start > today {
            return
                "\(period.label) has not begun: figures are published for periods that have begun, a period in progress to date (today is \(today))"
        }
        if let first, period.end < publishedFrom(first) {
            return "\(la)'s figures begin on \(publishedFrom(first)), after \(period.label) ended: there are no figures for it"
        }
        return nil
    }

    /// What to say of a period with no published table.
    public static func notPublished(_ period: Period, la: String, first: CalendarDate?, today: CalendarDate) -> String {
        outside(period, la: la, first: first, today: today)
            ?? "\(la)'s figures for \(period.label) are not published yet: they are published within moments of each change to the log"
    }

    /// The rows of a published table that answer `query`: its metrics, headline rows, labelled
    /// with the piece's scope and the query's period when the query cuts by time.
    public static func answer(_ query: MetricQuery, scope: String?, from rows: [Observation]) -> [Observation] {
        let wanted = Set(query.metrics.map(\.rawValue))
        return rows.filter { wanted.contains($0.metric) && $0.scope == "all" }.map { row in
            var row = row
            if let scope {
                row.scope = scope
                row.period = query.period.label
            }
            return row
        }
    }

    // MARK: Storing

    /// A table as stored in `publication.summaries`: an array of rows, each
    /// `[metric, period, scope, dimension, category, statistic, value, symbol, sensitivity]`,
    /// and with `exact` (the figures a table is made from) its base and schools as well.
    public static func encode(_ rows: [Observation], exact: Bool = false) -> String {
        JSONValue.array(
            rows.map { row in
                var cells: [JSONValue] = [
                    .string(row.metric), .string(row.period), .string(row.scope), .string(row.dimension), .string(row.category),
                    .string(row.statistic), row.value.map(JSONValue.number) ?? .null, row.symbol.map(JSONValue.string) ?? .null,
                    .string(row.sensitivity.rawValue),
                ]
                if exact { cells += [row.base.map { .number(Double($0)) } ?? .null, row.schools.map { .number(Double($0)) } ?? .null] }
                return .array(cells)
            }
        ).text
    }

    /// The rows of a stored table.
    public static func decode(_ text: String) throws -> [Observation] {
        guard case .array(let rows) = try JSONValue.parse(text) else { throw PublicationError("a published table is not an array") }
        return try rows.map { row in
            guard case .array(let cells) = row, cells.count == 9 || cells.count == 11 else {
                throw PublicationError("a published row is not nine cells (eleven with its base and schools)")
            }
            func string(_ index: Int) throws -> String {
                guard case .string(let value) = cells[index] else { throw PublicationError("cell \(index) of a published row is not text") }
                return value
            }
            var value: Double?
            if case .number(let number) = cells[6] { value = number }
            var symbol: String?
            if case .string(let text) = cells[7] { symbol = text }
            var row = Observation(
                metric: try string(0), period: try string(1), scope: try string(2), dimension: try string(3), category: try string(4),
                statistic: try string(5), value: value, symbol: symbol, sensitivity: Sensitivity(rawValue: try string(8)) ?? .other)
            if cells.count == 11 {
                if case .number(let base) = cells[9] { row.base = Int(base) }
                if case .number(let schools) = cells[10] { row.schools = Int(schools) }
            }
            return row
        }
    }

    /// Publishes an authority's tables (under its policy) for its logins to read, in place
    /// of those before, in one transaction, with the true values behind them (`truth`, kept
    /// for when they are released); `position` is the log's position they reflect. Refused
    /// (``PublicationRaced``) when a release was made since `released` were read: the tables
    /// must be solved with it too. `raw`, the exact rows of each period, is kept for the next
    /// publication to reuse (``stored(of:on:)``).
    public static func store(
        la: String, tables: [DisclosurePolicy.Name: [String: [Observation]]], truth: [String: [String: Double]],
        raw: [String: [Observation]] = [:], first: CalendarDate? = nil, position: Int64, released: Int, on connection: Connection
    ) throws {
        try connection.withTransaction { connection in
            _ = try connection.query("SELECT pg_advisory_xact_lock(hashtext('publication:' || $1))", [la])
            let now: Int = try connection.query("SELECT count(*)::int FROM publication.releases WHERE la_id = $1", [la]).decode(row: 0, column: 0)
            guard now == released else { throw PublicationRaced() }
            _ = try connection.execute("DELETE FROM publication.summaries WHERE la_id = $1", [la])
            for (policy, periods) in tables {
                for (period, rows) in periods {
                    _ = try connection.execute(
                        """
                        INSERT INTO publication.summaries (la_id, period, policy, figures, rows, log_position, truth, raw, first_on)
                        VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7::jsonb, $8::jsonb, $9)
                        """,
                        [
                            la, period, policy.rawValue, encode(rows), Int32(rows.count), position, encode(truth[period] ?? [:]),
                            raw[period].map { encode($0, exact: true) }, first,
                        ])
                }
            }
        }
    }

    /// Every release of `la`'s figures (``Release``), oldest first; with `after`, only those
    /// after the first `after`.
    public static func releases(of la: String, after: Int = 0, on connection: Connection) throws -> [Release] {
        try connection.query(
            """
            SELECT tables::text, truth::text FROM publication.releases WHERE la_id = $1
            ORDER BY log_position, published_at OFFSET $2
            """, [la, Int64(after)]
        ).mapRows { row in
            guard case .object(let tables) = try JSONValue.parse(try row.decode(0, as: String.self)),
                case .object(let truth) = try JSONValue.parse(try row.decode(1, as: String.self))
            else { throw PublicationError("a release is not two objects") }
            var release = Release(tables: [:], truth: [:])
            for field in tables { release.tables[field.key] = try decode(field.value.text) }
            for field in truth {
                guard case .object(let cells) = field.value else { throw PublicationError("a release's truth is not an object per period") }
                var values: [String: Double] = [:]
                for cell in cells { if case .number(let value) = cell.value { values[cell.key] = value } }
                release.truth[field.key] = values
            }
            return release
        }
    }

    /// `la`'s published tables of `periods` under `policy` (nil for a period not published),
    /// and the log position they reflect (nil while none is published); with `how` (`read`
    /// or `exported`) noted as having left the programme (`publication.release`) in the same
    /// transaction, so that what is handed over is what was released.
    public static func release(_ la: String, periods: [String], policy: String, how: String?, on connection: Connection) throws -> (
        tables: [String: [Observation]], position: Int64?
    ) {
        try connection.withTransaction { connection in
            if let how { _ = try connection.query("SELECT publication.release($1, $2)", [la, how]) }
            var out: [String: [Observation]] = [:]
            var position: Int64?
            let found = try connection.query(
                "SELECT period, figures::text, log_position FROM publication.summaries WHERE la_id = $1 AND period = ANY($2) AND policy = $3",
                [la, PostgresArray(periods), policy])
            for row in 0..<found.rowCount {
                out[try found.decode(String.self, row: row, column: 0)] = try decode(try found.decode(String.self, row: row, column: 1))
                position = try found.decode(Int64.self, row: row, column: 2)
            }
            return (out, position)
        }
    }

    /// The true values of one period, as stored.
    static func encode(_ truth: [String: Double]) -> String {
        JSONValue.object(JSONObject(truth.mapValues(JSONValue.number))).text
    }

    /// Every standard period's table of an authority under each of `policies`, the figures
    /// computed once for all of them; a period in `reuse` (its exact rows, unchanged since they
    /// were computed) is not computed again. With the exact rows of every period, and how many
    /// periods were computed.
    public static func buildAll(
        la: String, first: CalendarDate?, today: CalendarDate, policies: [DisclosurePolicy], released: [Release] = [],
        reuse: [String: [Observation]] = [:], calculator: MetricsCalculator = MetricsCalculator(), on readers: [Connection]
    ) throws -> Built {
        let first = first ?? today
        var raw: [String: [Observation]] = [:]
        var computed = 0
        for period in periods(from: first, through: today) {
            if let rows = reuse[period.label] {
                raw[period.label] = rows
                continue
            }
            raw[period.label] = try Publication(policy: policies[0], calculator: calculator).summaryRows(la: la, period: period, on: readers)
            computed += 1
        }
        var out: [DisclosurePolicy.Name: [String: [Observation]]] = [:]
        for policy in policies {
            let tables = raw.mapValues { policy.apply($0, authority: la) }
            out[policy.name] = Publication(policy: policy, calculator: calculator).consistentOverTime(tables, raw: raw, released: released)
        }
        return Built(tables: out, truth: Release.truth(of: raw), raw: raw, computed: computed)
    }

    /// One authority's publication as built: its tables under each policy, the true values
    /// behind them, the exact rows of each period, and how many periods were computed (the
    /// rest reused).
    public struct Built: Sendable {
        public var tables: [DisclosurePolicy.Name: [String: [Observation]]]
        public var truth: [String: [String: Double]]
        public var raw: [String: [Observation]]
        public var computed: Int
    }

    // MARK: What to compute again

    /// What `la`'s current publication keeps for the next: the log position it reflects, the
    /// exact rows of each period (none when it was published on an earlier day: a new day can
    /// begin a new period, and moves the end of those in progress), and the first day of the
    /// authority's records it found; nil while none is published.
    public static func stored(of la: String, on connection: Connection) throws -> Stored? {
        let found = try connection.query(
            """
            SELECT DISTINCT ON (period) period, CASE WHEN published_at >= date_trunc('day', now()) THEN raw::text END, log_position, first_on,
                   published_at >= date_trunc('day', now())
            FROM publication.summaries WHERE la_id = $1 ORDER BY period, policy
            """, [la])
        guard found.rowCount > 0 else { return nil }
        var stored = Stored(position: .max, raw: [:], first: nil, today: true)
        for row in 0..<found.rowCount {
            if let raw = try found.decodeIfPresent(String.self, row: row, column: 1) {
                stored.raw[try found.decode(String.self, row: row, column: 0)] = try decode(raw)
            }
            stored.position = min(stored.position, try found.decode(Int64.self, row: row, column: 2))
            stored.first = try found.decodeIfPresent(CalendarDate.self, row: row, column: 3)
            stored.today = try stored.today && found.decode(Bool.self, row: row, column: 4)
        }
        return stored
    }

    /// What an authority's current publication keeps for the next (``stored(of:on:)``).
    public struct Stored: Sendable {
        public var position: Int64
        public var raw: [String: [Observation]]
        public var first: CalendarDate?
        /// Whether it was published today (else it is published again, whole).
        public var today: Bool
    }

    /// The first day of an authority's records as its publication found it, nil while none is
    /// published (or nothing about it has a date).
    public static func publishedFirstDate(of la: String, on connection: Connection) throws -> CalendarDate? {
        try connection.query("SELECT min(first_on) FROM publication.summaries WHERE la_id = $1", [la]).decodeIfPresent(
            CalendarDate.self, row: 0, column: 0)
    }

    /// Which of `la`'s figures the events about it after `position` (up to `upTo`) can change.
    ///
    /// An activity changes the periods that contain its date; a correction or withdrawal of
    /// one, those that contain any date the record has had (its first and each correction's).
    /// Any other record changes every period ending on or after the earliest date of its
    /// stream: a referral's later decision changes the month it was referred in, a survey's
    /// baseline every later follow-up, a school's stage every later period's progress. A
    /// record with no date (a school registered) or statistics a school reports can change any
    /// period; an export changes none.
    public static func changes(_ la: String, after position: Int64, upTo: Int64, on connection: Connection) throws -> Changes {
        let touched = try EventLog.datesTouched(
            authority: la, after: position, upTo: upTo,
            rules: EventLog.DateRules(
                pointTypes: ["activity_delivered"], amendmentTypes: ["event_corrected", "event_withdrawn"], amendedStreamKinds: ["activities"],
                unchangingTypes: ["summary_exported"], everythingTypes: ["school_statistics_reported"]),
            on: connection)
        return Changes(everything: touched.undated > 0, from: touched.from, points: touched.points, earliest: touched.earliest)
    }

    /// What new events can change of an authority's figures (``changes(_:after:upTo:on:)``),
    /// and the earliest date any of them happened on (nil: none has one).
    public struct Changes: Sendable, Equatable {
        /// Any period (a record with no date, or statistics a school reports).
        public var everything: Bool
        /// Every period ending on or after this day.
        public var from: CalendarDate?
        /// The periods containing any of these days.
        public var points: [CalendarDate]
        public var earliest: CalendarDate?

        /// Of the exact rows `stored`, those of periods the events cannot have changed.
        public func unchanged(_ stored: [String: [Observation]]) -> [String: [Observation]] {
            guard !everything else { return [:] }
            return stored.filter { label, _ in
                guard case .success(let period) = Period.parse(label) else { return false }
                if let from, period.end >= from { return false }
                return !points.contains { $0 >= period.start && $0 <= period.end }
            }
        }
    }

    // MARK: Consistency

    /// Suppresses further cells until no suppressed figure about young people can be worked
    /// out exactly, from this publication's shown cells together with every release of the
    /// authority's figures that has left the programme (``Release``): see ``Suppression``.
    /// `raw` are the tables before the policy, for the true values; only `dfe` shows exact
    /// counts (`nhs` rounds every count to 5, which leaves a difference uncertain).
    func consistentOverTime(_ tables: [String: [Observation]], raw: [String: [Observation]]? = nil, released: [Release] = [])
        -> [String: [Observation]]
    {
        guard policy.name == .dfe else { return tables }
        var system = Suppression(tables, truth: Release.truth(of: raw ?? tables), released: released)
        system.solve()
        return system.published()
    }

    /// Whether a row is a figure about young people that adds up over time (survey bases are
    /// not: a period's are those of its latest waves).
    static func sumsOverTime(_ row: Observation) -> Bool {
        row.metric != Metric.surveyChange.rawValue && row.scope == "all" && (row.sensitivity == .children || row.sensitivity == .derived)
    }

    /// The sums across periods among `labels`: each academic year, quarter and financial year
    /// of its months, the strategy period of its academic years (a period not among `labels`
    /// has nothing: months that have not begun).
    static func timeSums(_ labels: Set<String>) -> [(String, [String])] {
        var out: [(String, [String])] = []
        for label in labels {
            guard case .success(let period) = Period.parse(label), period.isStandard else { continue }
            if label == "2024-2029" {
                out.append((label, Period.strategyYears.map(\.label)))
            } else if label.contains("/") || label.contains("Q") {
                out.append((label, months(of: period).map(\.label)))
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }
}

extension Period {
    /// Whether the period is a standard one (a year, quarter, month or the strategy period),
    /// not a range of dates.
    public var isStandard: Bool { !label.contains("..") }

}

/// A period an authority has no figures for (it has not begun, or it ended before the
/// authority's figures begin), said in words.
public struct UnpublishedPeriod: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A publication built while a release was made: it must be built again, with that release.
public struct PublicationRaced: Error, CustomStringConvertible {
    public var description: String { "a release was made while the publication was built; it is built again" }
}

/// A published table that cannot be read back.
public struct PublicationError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// What the read side says of its published summaries and of the logins that read them: the
/// application asks here rather than reading `publication.summaries`, `reach.authority_logins`
/// or the `authority` schema's functions itself.
extension Publication {
    /// Whether the connection's login reads for one local authority (a `reach_authority`
    /// login, or the service acting for a lead's account).
    public static func isAuthorityLogin(on connection: Connection) throws -> Bool {
        try loginAuthority(on: connection).authority != nil
    }

    /// The local authority the connection's login reads for (`authority.login_authority()`),
    /// nil for any other login, with the login's name.
    public static func loginAuthority(on connection: Connection) throws -> (authority: String?, login: String) {
        let result = try connection.query("SELECT authority.login_authority(), session_user::text")
        return (try result.decodeIfPresent(String.self, row: 0, column: 0), try result.decode(String.self, row: 0, column: 1))
    }

    /// Records in the log that a summary of `la` left the programme (`summary_exported`),
    /// through `publication.append_export`, the only way such a record enters the log; its
    /// position. The function checks every field and refuses what Reach would not write.
    public static func recordExport(la: String, period: String, format: String, policy: String, rows: Int, actor: String, on connection: Connection)
        throws -> Int64
    {
        try connection.query(
            "SELECT publication.append_export($1, $2, $3, $4, $5, $6)", [la, period, format, policy, Int32(rows), actor]
        ).decode(row: 0, column: 0)
    }

    /// The disclosure policy `la`'s figures leave under: the last the programme set for it
    /// (`disclosure_policy_set`), else `dfe`.
    public static func policy(of la: String, on connection: Connection) throws -> DisclosurePolicy.Name {
        let name: String = try connection.query("SELECT publication.authority_policy($1)", [la]).decode(row: 0, column: 0)
        return DisclosurePolicy.Name(rawValue: name) ?? .dfe
    }

    /// Every registered authority's id, sorted.
    public static func registeredAuthorities(on connection: Connection) throws -> [String] {
        try EventLog.streamNames(prefix: "authority:", on: connection)
    }

    /// The policy of the summaries published for the connection's authority (a lead's), nil
    /// while none is published.
    public static func publishedPolicy(on connection: Connection) throws -> DisclosurePolicy.Name? {
        try connection.query("SELECT authority.published_policy()").decodeIfPresent(String.self, row: 0, column: 0).flatMap(
            DisclosurePolicy.Name.init(rawValue:))
    }

    /// Sets the policy `la`'s figures leave under, recorded in the log (`disclosure_policy_set`)
    /// through `publication.set_policy`, the only way such a record enters it: its position, or
    /// nil when `policy` is already in force. Refused (SQLSTATE 55000) once the authority's
    /// figures have left under another policy.
    public static func setPolicy(la: String, policy: DisclosurePolicy.Name, actor: String, reason: String?, on connection: Connection) throws
        -> Int64?
    {
        try connection.query("SELECT publication.set_policy($1, $2, $3, $4)", [la, policy.rawValue, actor, reason]).decodeIfPresent(
            Int64.self, row: 0, column: 0)
    }

    /// The summary of `period` under `policy` published for the connection's authority, nil
    /// when none is published yet.
    public static func published(period: String, policy: String, on connection: Connection) throws -> [Observation]? {
        let found = try connection.query("SELECT figures::text FROM authority.published($1, $2)", [period, policy])
        guard found.rowCount == 1 else { return nil }
        return try decode(try found.decode(String.self, row: 0, column: 0))
    }

    /// The connection's authority's published summary of `period` under `policy`, exported in
    /// `format` (recorded in the log as `summary_exported`): its rows and the log position they
    /// reflect, nil when none is published yet.
    public static func exportPublished(period: String, policy: String, format: String, on connection: Connection) throws -> (
        rows: [Observation], position: Int64
    )? {
        let result: QueryResult
        do {
            result = try connection.query(
                "SELECT figures::text, rows, recorded_at_position FROM authority.export_summary($1, $2, $3)", [period, policy, format])
        } catch let error as PostgresError where error.sqlState == "P0002" {
            return nil
        }
        return (try decode(try result.decode(String.self, row: 0, column: 0)), try result.decode(row: 0, column: 2))
    }

    /// Whether the connection's login may publish (read the authorities' logins and write
    /// summaries): the owner's may, the application's alone may not.
    public static func mayPublish(on connection: Connection) throws -> Bool {
        try connection.query(
            "SELECT has_table_privilege('reach.authority_logins', 'SELECT') AND has_table_privilege('publication.summaries', 'INSERT')"
        ).decode(Bool.self, row: 0, column: 0)
    }

    /// The authorities a database login reads for (`reach authority-login`).
    public static func authoritiesWithLogins(on connection: Connection) throws -> [String] {
        try connection.query("SELECT DISTINCT la_id FROM reach.authority_logins ORDER BY 1").mapRows { try $0.decode(0, as: String.self) }
    }

    /// How far each authority's summaries were last published: the lowest log position of its
    /// summaries (nil when none is published), and whether any was published on an earlier day.
    public static func lastPublished(_ authorities: [String], on connection: Connection) throws -> [(
        la: String, position: Int64?, earlierDay: Bool
    )] {
        try connection.query(
            """
            SELECT l.la_id, min(s.log_position), coalesce(min(s.published_at) < date_trunc('day', now()), true)
            FROM unnest($1::text[]) AS l(la_id) LEFT JOIN publication.summaries s ON s.la_id = l.la_id
            GROUP BY l.la_id ORDER BY 1
            """, [PostgresArray(authorities)]
        ).mapRows { (try $0.decode(0, as: String.self), try $0.decodeIfPresent(1, as: Int64.self), try $0.decode(2, as: Bool.self)) }
    }
}

/// What one application's publishing remembers between rounds: the releases of each
/// authority's figures read so far (releases are never changed or removed, so only those made
/// since are read; an authority whose figures are read or exported often has many, each a copy
/// of every table), and how far the log is known to hold nothing new about each authority (so
/// that looking for what changed reads only the log's newest events, not all those since an
/// authority that nothing happens to was last published).
public final class PublicationCache: Sendable {
    private let known = Mutex<[String: (last: String, releases: [Release])]>([:])
    private let unchanged = Mutex<[String: Int64]>([:])

    public init() {}

    /// How far the log is known to hold nothing about `la` that changes its figures.
    public func unchanged(_ la: String) -> Int64? { unchanged.withLock { $0[la] } }

    /// Notes that the log holds nothing about each of `authorities` up to `position`.
    public func noteUnchanged(_ authorities: [String], upTo position: Int64) {
        unchanged.withLock { known in for la in authorities { known[la] = max(known[la] ?? 0, position) } }
    }

    /// Every release of `la`'s figures, oldest first: those known, and those made since.
    public func releases(of la: String, on connection: Connection) throws -> [Release] {
        let found = try connection.query(
            """
            SELECT count(*)::int,
                   coalesce((SELECT r.log_position::text || ' ' || r.published_at::text FROM publication.releases r WHERE r.la_id = $1
                             ORDER BY r.log_position DESC, r.published_at DESC LIMIT 1), '')
            FROM publication.releases WHERE la_id = $1
            """, [la])
        let (count, last): (Int, String) = (try found.decode(row: 0, column: 0), try found.decode(row: 0, column: 1))
        var have = known.withLock { $0[la] } ?? (last: "", releases: [])
        if have.last == last && have.releases.count == count { return have.releases }
        // (Fewer than known: another database at the same address, as tests make.)
        if have.releases.count > count { have.releases = [] }
        for var release in try Publication.releases(of: la, after: have.releases.count, on: connection) {
            // A release repeats most of the one before (a record changes a few periods): the
            // tables it repeats are kept once, so that memory grows with what changed.
            if let previous = have.releases.last {
                for (period, table) in release.tables where previous.tables[period] == table { release.tables[period] = previous.tables[period] }
                for (period, truth) in release.truth where previous.truth[period] == truth { release.truth[period] = previous.truth[period] }
            }
            have.releases.append(release)
        }
        have.last = last
        let result = have
        known.withLock { $0[la] = result }
        return have.releases
    }
}
