import Foundation
import ReachCalendar
import ReachDomain
import ReachEventLog
import ReachPostgres

/// How an authority's figures leave the programme under a disclosure policy without any two
/// outputs giving a suppressed count back (see the README, "How disclosure control resists
/// differencing"):
///
/// - only standard periods: months, academic years and the 2024-2029 strategy period, which
///   nest (each month in one academic year, each academic year of the strategy in it), and
///   calendar quarters and financial years, which cut across academic years and so show
///   figures about young people as `x` (their sessions, schools, staff and partners are shown);
/// - every month, academic year and the strategy period of the authority are computed
///   together, and cells are suppressed until no suppressed cell can be worked out from the
///   shown ones by any sum or difference of them, across periods and across the breakdowns of
///   each table alike (``consistentOverTime(_:policy:)``);
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

    /// The standard periods of an authority whose data starts on `first`, up to `today`:
    /// every month, academic year, quarter and financial year that has begun, and the strategy
    /// period (`nested` only: months, academic years and the strategy period).
    public static func periods(from first: CalendarDate, through today: CalendarDate, nested: Bool = false) -> [Period] {
        var out: [Period] = []
        let start = min(first, CalendarDate(year: 2024, month: 9, day: 1))
        let firstYear = start.month >= 9 ? start.year : start.year - 1
        let lastYear = today.month >= 9 ? today.year : today.year - 1
        for year in firstYear...lastYear {
            let academic = Period.academicYear(year)
            out.append(academic)
            out += Self.months(of: academic).filter { $0.start <= today }
        }
        out.append(try! Period.parse("2024-2029").get())
        guard !nested else { return out }
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

    /// Every standard period's summary of an authority under the policy, consistent across
    /// periods: the tables of `periods` (by label).
    public func build(la: String, periods: [Period], on readers: [Connection]) throws -> [String: [Observation]] {
        var tables: [String: [Observation]] = [:]
        for period in periods {
            tables[period.label] = policy.apply(try summaryRows(la: la, period: period, on: readers), authority: la)
        }
        return consistentOverTime(tables)
    }

    /// The figures of one query about one authority under the policy (see ``refusal(_:)``),
    /// from the authority's consistent tables: the query's metrics, with time cuts made of the
    /// sub-periods' tables.
    public func figures(_ query: MetricQuery, today: CalendarDate, on readers: [Connection]) throws -> [Observation] {
        guard let la = query.la else { return [] }
        let first = try Self.firstDate(of: la, on: readers[0]) ?? today
        let tables = try build(la: la, periods: Self.periods(from: first, through: today, nested: true), on: readers)
        var out: [Observation] = []
        for (scope, period) in Self.pieces(of: query) {
            var rows: [Observation]
            if let table = tables[period.label] {
                rows = table
            } else {
                rows = policy.apply(try summaryRows(la: la, period: period, on: readers), authority: la)
                if !period.isNested { rows = rows.map(Self.crossCutting) }
            }
            out += Self.answer(query, scope: scope, from: rows)
        }
        return out
    }

    /// The periods a query's figures come from: its period, or each sub-period a cut by time
    /// makes of it, with the scope its rows take (`month:2024-10`).
    public static func pieces(of query: MetricQuery) -> [(scope: String?, period: Period)] {
        query.by.map { by in MetricsCalculator.split(query.period, by: by).map { ("\(by.rawValue):\($0.label)", $0) } } ?? [(nil, query.period)]
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

    /// A summary for a quarter or a financial year: figures about young people shown as `x`.
    static func crossCutting(_ row: Observation) -> Observation {
        var row = row
        if row.sensitivity == .children || row.sensitivity == .derived
            || (row.sensitivity == .share && row.category.hasPrefix("\(RespondentGroup.pupils.rawValue)/"))
        {
            row.value = nil
            row.symbol = "x"
        }
        return row
    }

    /// One standard period's table of an authority, as published (see ``buildAll(la:today:policies:calculator:on:)``).
    public func table(la: String, period: Period, today: CalendarDate, on readers: [Connection]) throws -> [Observation] {
        if period.isNested {
            let first = try Self.firstDate(of: la, on: readers[0]) ?? today
            if let table = try build(la: la, periods: Self.periods(from: first, through: today, nested: true), on: readers)[period.label] {
                return table
            }
            return policy.apply(try summaryRows(la: la, period: period, on: readers), authority: la)
        }
        return policy.apply(try summaryRows(la: la, period: period, on: readers), authority: la).map(Self.crossCutting)
    }

    // MARK: Storing

    /// A table as stored in `publication.summaries`: an array of rows, each
    /// `[metric, period, scope, dimension, category, statistic, value, symbol, sensitivity]`.
    public static func encode(_ rows: [Observation]) -> String {
        JSONValue.array(
            rows.map { row in
                .array([
                    .string(row.metric), .string(row.period), .string(row.scope), .string(row.dimension), .string(row.category),
                    .string(row.statistic), row.value.map(JSONValue.number) ?? .null, row.symbol.map(JSONValue.string) ?? .null,
                    .string(row.sensitivity.rawValue),
                ])
            }
        ).text
    }

    /// The rows of a stored table.
    public static func decode(_ text: String) throws -> [Observation] {
        guard case .array(let rows) = try JSONValue.parse(text) else { throw PublicationError("a published table is not an array") }
        return try rows.map { row in
            guard case .array(let cells) = row, cells.count == 9 else { throw PublicationError("a published row is not nine cells") }
            func string(_ index: Int) throws -> String {
                guard case .string(let value) = cells[index] else { throw PublicationError("cell \(index) of a published row is not text") }
                return value
            }
            var value: Double?
            if case .number(let number) = cells[6] { value = number }
            var symbol: String?
            if case .string(let text) = cells[7] { symbol = text }
            return Observation(
                metric: try string(0), period: try string(1), scope: try string(2), dimension: try string(3), category: try string(4),
                statistic: try string(5), value: value, symbol: symbol, sensitivity: Sensitivity(rawValue: try string(8)) ?? .other)
        }
    }

    /// Publishes an authority's tables under each policy for its logins to read, in place of
    /// those before, in one transaction; `position` is the log's position they reflect.
    public static func store(la: String, tables: [DisclosurePolicy.Name: [String: [Observation]]], position: Int64, on connection: Connection) throws
    {
        try connection.withTransaction { connection in
            _ = try connection.execute("DELETE FROM publication.summaries WHERE la_id = $1", [la])
            for (policy, periods) in tables {
                for (period, rows) in periods {
                    _ = try connection.execute(
                        "INSERT INTO publication.summaries (la_id, period, policy, figures, rows, log_position) VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
                        [la, period, policy.rawValue, encode(rows), Int32(rows.count), position])
                }
            }
        }
    }

    /// Every standard period's table of an authority under each of `policies` (quarters and
    /// financial years with figures about young people as `x`), the figures computed once for
    /// all of them.
    public static func buildAll(
        la: String, today: CalendarDate, policies: [DisclosurePolicy], calculator: MetricsCalculator = MetricsCalculator(),
        on readers: [Connection]
    ) throws -> [DisclosurePolicy.Name: [String: [Observation]]] {
        let first = try firstDate(of: la, on: readers[0]) ?? today
        let nestedLabels = Set(periods(from: first, through: today, nested: true).map(\.label))
        var raw: [(Period, [Observation])] = []
        for period in periods(from: first, through: today) {
            raw.append((period, try Publication(policy: policies[0], calculator: calculator).summaryRows(la: la, period: period, on: readers)))
        }
        var out: [DisclosurePolicy.Name: [String: [Observation]]] = [:]
        for policy in policies {
            var nested: [String: [Observation]] = [:]
            var tables: [String: [Observation]] = [:]
            for (period, rows) in raw {
                let applied = policy.apply(rows, authority: la)
                if nestedLabels.contains(period.label) { nested[period.label] = applied } else { tables[period.label] = applied.map(crossCutting) }
            }
            tables.merge(Publication(policy: policy, calculator: calculator).consistentOverTime(nested)) { $1 }
            out[policy.name] = tables
        }
        return out
    }

    // MARK: Consistency

    /// Suppresses further cells until no suppressed figure about young people can be worked
    /// out exactly from the shown ones: within each table (a total and its parts) and across
    /// periods (an academic year is the sum of its months, the strategy period of its academic
    /// years). The cells are the unknowns of a system of linear equations, one per such sum;
    /// a suppressed cell that the equations determine has another cell of one of its equations
    /// (the smallest shown) suppressed too, until none is determined. Only `dfe` shows exact
    /// counts; `nhs` rounds every count to 5, which leaves a difference uncertain.
    func consistentOverTime(_ tables: [String: [Observation]]) -> [String: [Observation]] {
        guard policy.name == .dfe else { return tables }
        var tables = tables
        struct Cell: Hashable, Comparable {
            var period: String
            var index: Int
            static func < (a: Cell, b: Cell) -> Bool { (a.period, a.index) < (b.period, b.index) }
        }
        // The cells of figures about young people, metric by metric (survey bases are not sums over time).
        var metrics = Set<String>()
        for rows in tables.values {
            for row in rows where Self.sumsOverTime(row) { metrics.insert(row.metric) }
        }
        for metric in metrics.sorted() {
            struct Key: Hashable { var dimension, category, statistic: String }
            var byKey: [String: [Key: Int]] = [:]
            for (period, rows) in tables {
                for (index, row) in rows.enumerated() where row.metric == metric && Self.sumsOverTime(row) {
                    let key = Key(dimension: row.dimension, category: row.category, statistic: row.statistic)
                    byKey[period, default: [:]][key] = index
                }
            }
            // Each equation: cells whose sum with these signs is known (0 when all are shown).
            var equations: [[(Cell, Double)]] = []
            // The breakdowns the metric has (in any period: a breakdown with no cell in a period
            // is all 0 there, and its total is then known).
            var breakdowns = Set<Key>()
            var audiences = Set<String>()
            for keys in byKey.values {
                for key in keys.keys where key.dimension != "total" {
                    breakdowns.insert(Key(dimension: key.dimension, category: "", statistic: key.statistic))
                    if key.dimension == "audience" { audiences.insert(key.category) }
                }
            }
            for (period, keys) in byKey.sorted(by: { $0.key < $1.key }) {
                // A total and its parts: the parts of a breakdown add up to the cell they detail
                // (pupils for key stages), else to the metric's total of that statistic.
                var groups: [Key: [Int]] = Dictionary(uniqueKeysWithValues: breakdowns.map { ($0, []) })
                for (key, index) in keys where key.dimension != "total" {
                    groups[Key(dimension: key.dimension, category: "", statistic: key.statistic), default: []].append(index)
                }
                for (group, members) in groups.sorted(by: { ($0.key.dimension, $0.key.statistic) < ($1.key.dimension, $1.key.statistic) }) {
                    // (A breakdown of an audience whose cell is absent here is all 0 here.)
                    let detailsAudience = audiences.contains(group.dimension)
                    let parent =
                        detailsAudience
                        ? keys[Key(dimension: "audience", category: group.dimension, statistic: group.statistic)]
                        : keys[Key(dimension: "total", category: "total", statistic: group.statistic)]
                    guard let parent else { continue }
                    equations.append([(Cell(period: period, index: parent), 1)] + members.sorted().map { (Cell(period: period, index: $0), -1) })
                }
            }
            // Across periods: an academic year is its months, the strategy period its years.
            for (parent, children) in Self.timeSums(Set(tables.keys)) {
                for (key, index) in (byKey[parent] ?? [:]).sorted(by: { $0.value < $1.value }) {
                    var equation = [(Cell(period: parent, index: index), 1.0)]
                    for child in children { if let member = byKey[child]?[key] { equation.append((Cell(period: child, index: member), -1)) } }
                    equations.append(equation)
                }
            }
            func value(_ cell: Cell) -> Double { tables[cell.period]![cell.index].value ?? 0 }
            func suppressed(_ cell: Cell) -> Bool { tables[cell.period]![cell.index].symbol != nil }
            func unknowns(also extra: Set<Cell> = []) -> [[(Cell, Double)]] {
                equations.map { $0.filter { suppressed($0.0) || extra.contains($0.0) } }
            }
            // Which cell of each period holds each figure, to hide the same figures elsewhere.
            var index: [String: [Key: Cell]] = [:]
            for (period, keys) in byKey { for (key, row) in keys { index[period, default: [:]][key] = Cell(period: period, index: row) } }
            func key(_ cell: Cell) -> Key {
                let row = tables[cell.period]![cell.index]
                return Key(dimension: row.dimension, category: row.category, statistic: row.statistic)
            }
            while let cell = Self.determined(unknowns()).first {
                // Hide as little as will do, the smallest first: one more cell of an equation
                // that holds it; else, in another period of a sum over time that holds it, the
                // same figures as are hidden in its own (a total and its parts hidden together
                // in two months, so that neither month's can be told); else whatever is smallest.
                let holding = equations.filter { $0.contains { $0.0 == cell } }
                var options: [Set<Cell>] = []
                let own = Set(holding.flatMap { $0.map(\.0) }.filter { !suppressed($0) })
                options += own.sorted { (value($0) == 0 ? 1 : 0, value($0), $0) < (value($1) == 0 ? 1 : 0, value($1), $1) }.map { [$0] }
                let hiddenHere = (index[cell.period] ?? [:]).filter { suppressed($0.value) }.map(\.key)
                var copies: [(Double, Set<Cell>)] = []
                for equation in holding {
                    for (other, _) in equation where other.period != cell.period {
                        let copy = Set(hiddenHere.compactMap { index[other.period]?[$0] }.filter { !suppressed($0) })
                        if !copy.isEmpty { copies.append((copy.map(value).reduce(0, +), copy)) }
                    }
                }
                options += copies.sorted { ($0.0, $0.1.sorted().first!) < ($1.0, $1.1.sorted().first!) }.map(\.1)
                if options.isEmpty {
                    // Every cell of every equation that holds it is hidden: it is determined
                    // through others; hide a shown cell of an equation with a hidden one.
                    let linked = Set(equations.filter { $0.contains { suppressed($0.0) } }.flatMap { $0.map(\.0) }.filter { !suppressed($0) })
                    options = linked.sorted { (value($0) == 0 ? 1 : 0, value($0), $0) < (value($1) == 0 ? 1 : 0, value($1), $1) }.map { [$0] }
                }
                guard !options.isEmpty else { break } // (nothing is shown that could hide it)
                let next =
                    options.first { option in
                        let after = Set(Self.determined(unknowns(also: option)))
                        return !after.contains(cell) && after.isDisjoint(with: option)
                    } ?? options.last!
                for hidden in next {
                    tables[hidden.period]![hidden.index].symbol = "c"
                    tables[hidden.period]![hidden.index].value = nil
                }
            }
        }
        return tables
    }

    /// Whether a row is a figure about young people that adds up over time (survey bases are
    /// not: a period's are those of its latest waves).
    static func sumsOverTime(_ row: Observation) -> Bool {
        row.metric != Metric.surveyChange.rawValue && row.scope == "all" && (row.sensitivity == .children || row.sensitivity == .derived)
    }

    /// The sums across periods among `labels`: each academic year of its months, the strategy
    /// period of its academic years (a period not among `labels` has nothing: months that have
    /// not begun).
    static func timeSums(_ labels: Set<String>) -> [(String, [String])] {
        var out: [(String, [String])] = []
        for label in labels {
            guard case .success(let period) = Period.parse(label) else { continue }
            if label == "2024-2029" {
                out.append((label, Period.strategyYears.map(\.label)))
            } else if !label.hasPrefix("FY"), label.contains("/") {
                out.append((label, months(of: period).map(\.label)))
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// The unknowns that a system of linear equations determines. Each equation lists the
    /// unknowns it holds with their coefficients (the rest of it is known). Reduced row
    /// echelon form: an unknown is determined when a row of it is that unknown alone.
    static func determined<Unknown: Hashable & Comparable>(_ equations: [[(Unknown, Double)]]) -> [Unknown] {
        var pivots: [Unknown: [Unknown: Double]] = [:]
        var order: [Unknown] = []
        for equation in equations {
            var row: [Unknown: Double] = [:]
            for (unknown, coefficient) in equation { row[unknown, default: 0] += coefficient }
            for column in Array(row.keys) {
                guard let factor = row[column], let pivot = pivots[column] else { continue }
                for (other, value) in pivot { row[other, default: 0] -= factor * value }
            }
            row = row.filter { abs($0.value) > 1e-9 }
            guard let column = row.keys.min(), let lead = row[column] else { continue }
            row = row.mapValues { $0 / lead }
            for key in Array(pivots.keys) {
                guard let factor = pivots[key]![column] else { continue }
                var reduced = pivots[key]!
                for (other, value) in row { reduced[other, default: 0] -= factor * value }
                pivots[key] = reduced.filter { abs($0.value) > 1e-9 }
            }
            pivots[column] = row
            order.append(column)
        }
        return order.filter { pivots[$0]?.count == 1 }
    }
}

extension Period {
    /// Whether the period is a standard one (a year, quarter, month or the strategy period),
    /// not a range of dates.
    public var isStandard: Bool { !label.contains("..") }

    /// Whether the period is a month, an academic year or the strategy period: the periods
    /// that nest, over which figures about young people are published under a policy.
    public var isNested: Bool {
        label == "2024-2029" || (!label.hasPrefix("FY") && label.contains("/")) || (isStandard && !label.contains("Q") && label.count == 7)
    }
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
