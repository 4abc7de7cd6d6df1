import Foundation
import Hummingbird
import ReachApp
import ReachDomain
import ReachProjections

/// An authority's dashboard: its figures for a period (and, for those who see figures without a
/// disclosure policy, a pilot or a strategy project), under the asker's policy, named on the
/// page. Every figure comes from ``ReachApplication/metrics(_:policy:publish:as:)``, the
/// function `reach metrics` and `GET /api/v1/metrics` call; each chart is drawn on the server
/// as SVG with a title and description, can be shown as a table, and its figures downloaded as
/// CSV, exactly those drawn.
struct AuthorityDashboard {
    var la: String
    var period: Period
    var pilot: String?
    var project: String?
    /// Every metric but the strategy's, with its breakdowns.
    var figures: Figures
    /// Sessions by month.
    var months: [Observation]
    /// The authority's pilots, for the filter (empty where the policy allows no such cut).
    var pilots: [String]

    /// The metrics the dashboard shows.
    static let metrics: [Metric] = [
        .schoolsEngaged, .sessions, .attendances, .staffTrained, .learnerHours, .partnersInvolved,
        .pilotProgress, .surveyChange, .contextPathways, .locationsOfConcern,
    ]

    static func load(_ app: ReachApplication, la: String, parameters: [String: String], as identity: Identity) async throws -> AuthorityDashboard {
        let period = try ReachServer.parsePeriod(parameters["period"].flatMap { $0.isEmpty ? nil : $0 } ?? "2024/25")
        let pilot = parameters["pilot"].flatMap { $0.isEmpty ? nil : $0 }
        let project = parameters["project"].flatMap { $0.isEmpty ? nil : $0 }
        if let project, StrategyProject(rawValue: project) == nil {
            throw RequestError(
                "'\(project.prefix(60))' is not a strategy project; choose one of \(StrategyProject.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let query = MetricQuery(period: period, la: la, pilot: pilot, project: project, metrics: metrics)
        let figures = try await app.metrics(query, as: identity)
        var byMonth = query
        byMonth.by = .month
        byMonth.metrics = [.sessions]
        let months = try await app.metrics(byMonth, as: identity).rows.filter { $0.dimension == "total" && $0.statistic == "sessions" }
        var pilots: [String] = []
        if figures.policy == .none {
            var byPilot = MetricQuery(period: period, la: la, by: .pilot, metrics: [.pilotProgress])
            byPilot.la = la
            pilots = Set(
                try await app.metrics(byPilot, as: identity).rows.map(\.scope).filter { $0.hasPrefix("pilot:") }
                    .map { String($0.dropFirst("pilot:".count)) }
            ).sorted()
        }
        return AuthorityDashboard(la: la, period: period, pilot: pilot, project: project, figures: figures, months: months, pilots: pilots)
    }

    /// The view's parameters, for links that keep it.
    var query: String {
        var parts = ["period=\(WebPages.percentEncoded(period.label))"]
        if let pilot { parts.append("pilot=\(WebPages.percentEncoded(pilot))") }
        if let project { parts.append("project=\(WebPages.percentEncoded(project))") }
        return parts.joined(separator: "&")
    }

    func rows(_ metric: Metric, dimension: String? = nil, statistic: String? = nil) -> [Observation] {
        figures.rows.filter {
            $0.metric == metric.rawValue && (dimension == nil || $0.dimension == dimension) && (statistic == nil || $0.statistic == statistic)
        }
    }

    /// The stage order of a pilot's schools.
    static func stageOrder(_ category: String) -> Int { EngagementStage(rawValue: category)?.order ?? 99 }

    // MARK: Sections

    /// The figures of each chart, by the chart's id (what its CSV holds).
    func chartRows() -> [(id: String, rows: [Observation])] {
        [
            ("sessions-by-month", months),
            ("attendances-by-audience", rows(.attendances, dimension: "audience")),
            ("staff-trained-by-role", rows(.staffTrained, dimension: "role")),
            ("schools-by-stage", rows(.pilotProgress, dimension: "stage").sorted { Self.stageOrder($0.category) < Self.stageOrder($1.category) }),
            ("survey-change", rows(.surveyChange)),
        ]
    }

    /// The figures of every section, in the order shown (what the page's CSV holds).
    var allRows: [Observation] { figures.rows + months }

    /// "15 of 31 schools implementing or beyond", from the pilot progress totals.
    var progress: String? {
        let total = rows(.pilotProgress, dimension: "total")
        guard let reached = total.first(where: { $0.statistic == "implementing_or_beyond" }),
            let target = total.first(where: { $0.statistic == "target_schools" })
        else { return nil }
        let percent = total.first { $0.statistic == "percent_of_target" }.map { " (\(WebPages.shown($0))% of the target)" } ?? ""
        return "\(WebPages.shown(reached)) of \(WebPages.shown(target)) schools implementing or beyond\(percent)"
    }

    func sections() -> [[String: Any]] {
        let csv = "/authorities/\(WebPages.percentEncoded(la))/figures.csv?\(query)"
        let charts = Dictionary(uniqueKeysWithValues: chartRows().map { ($0.id, $0.rows) })
        return [headlineSection(), monthSection(charts, csv: csv)] + chartSections(charts, csv: csv) + groupSections()
            + [surveySection(charts, csv: csv)] + tableSections()
    }

    private func label(_ text: String) -> String { RecordForm.label(text) }

    /// Headline reach: one figure per metric.
    private func headlineSection() -> [String: Any] {
        let headline: [(Metric, String)] = [
            (.schoolsEngaged, "Schools engaged"), (.sessions, "Sessions"), (.attendances, "Attendances"),
            (.staffTrained, "Staff trained (attendances at staff training)"), (.learnerHours, "Learner hours"),
            (.partnersInvolved, "Partners involved"),
        ]
        var headlineRows: [[String: Any]] = []
        for (metric, name) in headline {
            if let row = rows(metric, dimension: "total").first { headlineRows.append(Self.tableRow([name], [WebPages.shown(row)])) }
        }
        return Self.section(
            "headline", "Headline reach", lead: progress.map { "Pilot progress: \($0)." },
            table: Self.table("Headline reach, \(la), \(period.label)", ["Figure"], ["Value"], headlineRows, collapsed: false),
            csv: nil)
    }

    private func monthSection(_ charts: [String: [Observation]], csv: String) -> [String: Any] {
        let monthRows = charts["sessions-by-month"] ?? []
        return Self.section(
            "sessions-by-month", "Sessions by month",
            columns: WebPages.columnChart(monthRows, title: "Sessions by month, \(la), \(period.label)", id: "sessions-by-month") {
                $0.scope.replacingOccurrences(of: "month:", with: "")
            },
            table: Self.table(
                "Sessions by month", ["Month"], ["Sessions"],
                monthRows.map { Self.tableRow([$0.scope.replacingOccurrences(of: "month:", with: "")], [WebPages.shown($0)]) }),
            csv: csv + "&chart=sessions-by-month", empty: "No sessions in this period.")
    }

    /// Attendances by audience, staff trained by role, schools by stage: a bar chart each.
    private func chartSections(_ charts: [String: [Observation]], csv: String) -> [[String: Any]] {
        [
            ("attendances-by-audience", "Attendances by audience", "Audience"), ("staff-trained-by-role", "Staff trained by role", "Role"),
            ("schools-by-stage", "Pilot progress: schools by engagement stage", "Stage"),
        ].map { id, heading, what in
            let drawn = charts[id] ?? []
            return Self.section(
                id, heading, lead: id == "schools-by-stage" ? progress.map { "\($0)." } : nil,
                bars: WebPages.barChart(drawn, title: "\(heading), \(la), \(period.label)", id: id) { label($0.category) },
                table: Self.table(
                    heading, [what], [id == "schools-by-stage" ? "Schools" : id == "staff-trained-by-role" ? "Staff attendances" : "Attendances"],
                    drawn.map { Self.tableRow([label($0.category)], [WebPages.shown($0)]) }),
                csv: csv + "&chart=\(id)", empty: "None in this period.")
        }
    }

    private func groupSections() -> [[String: Any]] {
        let groups = rows(.attendances).filter { !["total", "audience"].contains($0.dimension) }
        guard !groups.isEmpty else { return [] }
        return [
            Self.section(
                "attendances-by-group", "Attendances by sub-group",
                table: Self.table(
                    "Attendances by audience and sub-group", ["Audience", "Sub-group"], ["Attendances"],
                    groups.map { Self.tableRow([label($0.dimension), label($0.category)], [WebPages.shown($0)]) }, collapsed: false),
                csv: nil)
        ]
    }

    /// Survey change per measure: the shares at baseline and follow-up, and the change with its interval.
    private func surveySection(_ charts: [String: [Observation]], csv: String) -> [String: Any] {
        let survey = charts["survey-change"] ?? []
        var measures: [String] = []
        for row in survey where !measures.contains(row.category) { measures.append(row.category) }
        let surveyRows = measures.map { measure -> [String: Any] in
            func value(_ statistic: String) -> String {
                survey.first { $0.category == measure && $0.statistic == statistic }.map(WebPages.shown) ?? ""
            }
            let parts = measure.split(separator: "/").map(String.init)
            return Self.tableRow(
                [label(parts.last ?? measure), label(parts.count > 1 ? parts[0] : "")],
                [
                    value("baseline_percent"), value("follow_up_percent"), value("difference_pp"),
                    "\(value("difference_low_pp")) to \(value("difference_high_pp"))",
                    value("baseline_answering"), value("follow_up_answering"), value("schools"),
                ])
        }
        return Self.section(
            "survey-change", "Survey change: share agreeing, baseline to latest follow-up",
            lead: "The change in percentage points, with its 95% interval (Newcombe's method).",
            intervals: WebPages.intervalChart(survey, measures: measures, title: "Survey change, \(la), \(period.label)") { measure in
                let parts = measure.split(separator: "/").map(String.init)
                return "\(label(parts.last ?? measure)) (\(parts.count > 1 ? parts[0].replacingOccurrences(of: "_", with: " ") : ""))"
            },
            table: Self.table(
                "Survey change by measure", ["Measure", "Asked"],
                ["Baseline %", "Follow-up %", "Change (points)", "95% interval", "Answering at baseline", "Answering at follow-up", "Schools"],
                surveyRows),
            csv: csv + "&chart=survey-change", empty: "No survey has a baseline and a follow-up in this period.")
    }

    /// Context pathways and locations of concern, as tables.
    private func tableSections() -> [[String: Any]] {
        [
            (Metric.contextPathways, "context-pathways", "Context pathways and safety-plan actions"),
            (Metric.locationsOfConcern, "locations-of-concern", "Locations of concern"),
        ].map { metric, id, heading in
            Self.section(
                id, heading,
                table: Self.table(
                    heading, ["Figure", "Breakdown"], ["Value"],
                    rows(metric).map { row in
                        Self.tableRow(
                            [label(row.statistic), row.dimension == "total" ? "" : "\(label(row.dimension)): \(label(row.category))"],
                            [WebPages.shown(row)])
                    }, collapsed: false),
                csv: nil, empty: "None in this period.")
        }
    }

    /// A section for the template, every key present (so none is looked up in the page).
    static func section(
        _ id: String, _ heading: String, lead: String? = nil, bars: [String: Any]? = nil, columns: [String: Any]? = nil,
        intervals: [String: Any]? = nil, table: [String: Any], csv: String?, empty: String? = nil
    ) -> [String: Any] {
        let rowCount = (table["rows"] as? [Any])?.count ?? 0
        var table = table
        if bars == nil && columns == nil && intervals == nil { table["collapsed"] = false }
        return [
            "id": id, "heading": heading, "lead": RecordForm.orFalse(lead),
            "bars": rowCount == 0 ? false : orFalse(bars), "columns": rowCount == 0 ? false : orFalse(columns),
            "intervals": rowCount == 0 ? false : orFalse(intervals),
            "table": rowCount == 0 ? false : table, "csv": rowCount == 0 ? false : RecordForm.orFalse(csv),
            "empty": rowCount == 0 ? RecordForm.orFalse(empty ?? "None in this period.") : false,
        ]
    }

    static func orFalse(_ value: [String: Any]?) -> Any {
        if let value { return value }
        return false
    }

    static func table(_ caption: String, _ labels: [String], _ numbers: [String], _ rows: [[String: Any]], collapsed: Bool = true) -> [String: Any] {
        [
            "caption": caption, "collapsed": collapsed,
            "head": labels.map { ["text": $0, "number": false] } + numbers.map { ["text": $0, "number": true] }, "rows": rows,
        ]
    }

    static func tableRow(_ labels: [String], _ numbers: [String]) -> [String: Any] {
        [
            "cells": labels.enumerated().map { ["text": $1, "number": false, "header": $0 == 0] as [String: Any] }
                + numbers.map { ["text": $0, "number": true, "header": false] as [String: Any] }
        ]
    }
}

extension WebPages {
    /// The pages of WebDashboard, each handler a named method (see `addRoutes`).
    struct DashboardPages {
        let app: ReachApplication

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/authorities/:la", use: authority)
            pages.get("/authorities/:la/figures.csv", use: authorityFigures)
        }

        @Sendable func authority(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let la = try context.parameters.require("la")
            let dashboard = try await AuthorityDashboard.load(app, la: la, parameters: parameters(request), as: identity)
            return page(
                "authority", title: "\(la), \(dashboard.period.label)", status: .ok, identity: identity, csrf: csrf,
                dashboardValues(dashboard, identity: identity))
        }

        @Sendable func authorityFigures(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            let la = try context.parameters.require("la")
            let parameters = parameters(request)
            let dashboard = try await AuthorityDashboard.load(app, la: la, parameters: parameters, as: identity)
            var rows = dashboard.allRows
            var name = "\(la)-\(dashboard.period.label.replacingOccurrences(of: "/", with: "-"))"
            if let chart = parameters["chart"] {
                guard let drawn = dashboard.chartRows().first(where: { $0.id == chart }) else {
                    throw RequestError(
                        "there is no chart '\(chart.prefix(40))' on the page; choose one of \(dashboard.chartRows().map(\.id).joined(separator: ", "))"
                    )
                }
                rows = drawn.rows
                name += "-\(chart)"
            }
            return download(
                try Tidy.render(rows, format: .csv, policy: dashboard.figures.policy), type: "text/csv; charset=utf-8", name: name + ".csv")
        }
    }

    /// The first value of each query parameter.
    static func parameters(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where out[String(key)] == nil { out[String(key)] = String(value) }
        return out
    }

    static func dashboardValues(_ dashboard: AuthorityDashboard, identity: Identity) -> [String: Any] {
        let policy = dashboard.figures.policy
        let today = Date()
        let year = Calendar(identifier: .gregorian).component(.year, from: today)
        let month = Calendar(identifier: .gregorian).component(.month, from: today)
        let current = month >= 9 ? year : year - 1
        let years = (2022...current).map { "\($0)/\(String(format: "%02d", ($0 + 1) % 100))" }
        var shortcuts = years.map { ["label": $0, "href": "/authorities/\(percentEncoded(dashboard.la))?period=\(percentEncoded($0))"] }
        shortcuts.append(["label": "Strategy 2024-2029", "href": "/authorities/\(percentEncoded(dashboard.la))?period=2024-2029"])
        return [
            "la": dashboard.la, "la_path": percentEncoded(dashboard.la), "period": dashboard.period.label, "query": dashboard.query,
            "policy": policy.rawValue, "suppressed": policy != .none, "shortcuts": shortcuts,
            "filters_cut": !dashboard.pilots.isEmpty,
            "pilots": [["value": "", "label": "All pilots", "selected": dashboard.pilot == nil]]
                + dashboard.pilots.map { ["value": $0, "label": $0, "selected": $0 == dashboard.pilot] as [String: Any] },
            "projects": [["value": "", "label": "All strategy projects", "selected": dashboard.project == nil]]
                + StrategyProject.allCases.map {
                    ["value": $0.rawValue, "label": RecordForm.label($0.rawValue), "selected": $0.rawValue == dashboard.project] as [String: Any]
                },
            "sections": dashboard.sections(),
            "csv": "/authorities/\(percentEncoded(dashboard.la))/figures.csv?\(dashboard.query)",
            "summary": "/authorities/\(percentEncoded(dashboard.la))/summary",
            "exports": true,
            "symbols": SummaryWorkbook.symbols.map { ["symbol": $0.0, "meaning": $0.1] },
            "stale": !dashboard.figures.staleProjections.isEmpty,
        ]
    }

    // MARK: Charts

    /// A chart's frame and description, for the template.
    static func frame(id: String, title: String, width: Double, height: Double, description: String) -> [String: Any] {
        ["id": id, "title": title, "width": format(width), "height": format(height), "description": description]
    }

    /// Vertical columns (for a time series): one per row, its label below and its figure above.
    static func columnChart(_ rows: [Observation], title: String, id: String, label: (Observation) -> String) -> [String: Any] {
        let (width, height, top, bottom) = (720.0, 260.0, 20.0, 40.0)
        let step = rows.isEmpty ? 0 : width / Double(rows.count)
        let largest = max(1, rows.compactMap { $0.symbol == nil ? $0.value : nil }.max() ?? 1)
        var items: [[String: Any]] = []
        for (index, row) in rows.enumerated() {
            let size = (row.symbol == nil ? row.value ?? 0 : 0) / largest * (height - top - bottom)
            let x = Double(index) * step
            items.append([
                "x": format(x + step * 0.15), "width": format(step * 0.7), "y": format(height - bottom - size), "height": format(size),
                "label_x": format(x + step / 2), "label_y": format(height - bottom + 16), "value_y": format(height - bottom - size - 4),
                "label": label(row), "shown": shown(row),
            ])
        }
        let described = rows.map { "\(label($0)): \(shown($0))" }.joined(separator: "; ")
        var chart = frame(id: id, title: title, width: width, height: height, description: "\(title). \(described).")
        chart["items"] = items
        return chart
    }

    /// Horizontal bars (for categories with long names): the name on the left, the figure after the bar.
    static func barChart(_ rows: [Observation], title: String, id: String, label: (Observation) -> String) -> [String: Any] {
        let (width, labelWidth, rowHeight) = (720.0, 230.0, 30.0)
        let room = width - labelWidth - 70
        let largest = max(1, rows.compactMap { $0.symbol == nil ? $0.value : nil }.max() ?? 1)
        var items: [[String: Any]] = []
        for (index, row) in rows.enumerated() {
            let size = (row.symbol == nil ? row.value ?? 0 : 0) / largest * room
            let y = Double(index) * rowHeight
            items.append([
                "label_x": format(labelWidth - 8), "label_y": format(y + rowHeight * 0.65), "x": format(labelWidth), "y": format(y + 5),
                "width": format(size), "height": format(rowHeight - 10), "value_x": format(labelWidth + size + 6),
                "label": label(row), "shown": shown(row),
            ])
        }
        let described = rows.map { "\(label($0)): \(shown($0))" }.joined(separator: "; ")
        var chart = frame(id: id, title: title, width: width, height: Double(rows.count) * rowHeight + 4, description: "\(title). \(described).")
        chart["items"] = items
        return chart
    }

    /// Each survey measure's change in percentage points as a dot, with its 95% interval as a
    /// line, around a line at no change. Measures whose change is not shown (a symbol) are named
    /// in the description and left out of the drawing.
    static func intervalChart(_ rows: [Observation], measures: [String], title: String, label: (String) -> String) -> [String: Any] {
        let (width, labelWidth, rowHeight) = (720.0, 300.0, 30.0)
        func value(_ measure: String, _ statistic: String) -> Double? {
            rows.first { $0.category == measure && $0.statistic == statistic && $0.symbol == nil }?.value
        }
        let drawn = measures.compactMap { measure -> (String, Double, Double, Double)? in
            guard let change = value(measure, "difference_pp"), let low = value(measure, "difference_low_pp"),
                let high = value(measure, "difference_high_pp")
            else { return nil }
            return (measure, change, low, high)
        }
        let lowest = min(0, drawn.map(\.2).min() ?? 0)
        let highest = max(0, drawn.map(\.3).max() ?? 0)
        let span = max(1, highest - lowest)
        let room = width - labelWidth - 150
        func x(_ value: Double) -> Double { labelWidth + 10 + (value - lowest) / span * room }
        var items: [[String: Any]] = []
        for (index, (measure, change, low, high)) in drawn.enumerated() {
            let y = Double(index) * rowHeight + rowHeight / 2 + 14
            items.append([
                "label_x": format(labelWidth - 8), "label_y": format(y + 5), "low_x": format(x(low)), "high_x": format(x(high)),
                "x": format(x(change)), "y": format(y), "value_x": format(x(highest) + 12),
                "label": label(measure), "shown": "\(formatted(change)) (\(formatted(low)) to \(formatted(high)))",
            ])
        }
        let hidden = measures.filter { measure in !drawn.contains { $0.0 == measure } }.map(label)
        let described =
            drawn.map { "\(label($0.0)): \(formatted($0.1)) points (95% interval \(formatted($0.2)) to \(formatted($0.3)))" }.joined(separator: "; ")
            + (hidden.isEmpty ? "" : ". Not shown (too few answers): \(hidden.joined(separator: ", "))")
        let height = Double(drawn.count) * rowHeight + 24
        var chart = frame(
            id: "survey-change", title: title, width: width, height: height, description: "\(title), in percentage points. \(described).")
        chart["items"] = items
        chart["zero_x"] = format(x(0))
        chart["axis_bottom"] = format(height)
        chart["has_items"] = !items.isEmpty
        return chart
    }

    static func formatted(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
