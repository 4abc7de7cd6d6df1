import Foundation
import Hummingbird
import Mustache
import ReachApp
import ReachProjections

/// The web app's pages, rendered on the server from the templates in `Resources/web` (Mustache,
/// which escapes every value), on the same application layer as the API: each page calls the
/// use case the API route calls, so a page shows what the API gives for the same question.
/// Every task works without JavaScript; the pages carry none.
enum WebPages {
    /// The templates, by name.
    static let library: MustacheLibrary = {
        var templates: [String: MustacheTemplate] = [:]
        for name in [
            "layout", "sign-in", "home", "authority", "programme", "refusal", "record-form", "record-types", "records", "imports", "import-job",
            "summary", "report", "account", "users", "research",
        ] {
            guard let url = Bundle.module.url(forResource: "web/\(name)", withExtension: "mustache"),
                let text = try? String(contentsOf: url, encoding: .utf8),
                let template = try? MustacheTemplate(string: text)
            else { continue }
            templates[name] = template
        }
        return MustacheLibrary(templates: templates)
    }()

    /// The style sheet, served at `/assets/app.css`.
    static let styles: String = {
        guard let url = Bundle.module.url(forResource: "web/app", withExtension: "css"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()

    /// The cookie a sign-in form's token is kept in (against a sign-in forged by another site).
    static let formCookie = "reach_form"

    /// The web app's routes: the style sheet, then every page behind the web app's front
    /// (``WebFront``: who is asking, and failures as pages), each area a controller.
    static func add(
        to router: Router<ReachRequestContext>, app: ReachApplication, proxies: TrustedProxies, secureCookies: Bool,
        uploads: String, maximumUpload: Int
    ) {
        router.get("/assets/app.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: styles)))
        }
        let pages = router.group().add(middleware: WebFront(app: app))
        HomePages(app: app, secureCookies: secureCookies, proxies: proxies).addRoutes(to: pages)
        ProgrammePages(app: app).addRoutes(to: pages)
        RecordingPages(app: app).addRoutes(to: pages)
        ImportPages(app: app, uploads: uploads, maximumUpload: maximumUpload).addRoutes(to: pages)
        DashboardPages(app: app).addRoutes(to: pages)
        SummaryPages(app: app).addRoutes(to: pages)
        AccountPages(app: app, proxies: proxies).addRoutes(to: pages)
        ResearchPages(app: app).addRoutes(to: pages)
    }

    /// The programme's pages (researchers and admins): reach by region and authority, and the
    /// strategy 2024-2029 by project, objective and policy goal per academic year.
    struct ProgrammePages {
        let app: ReachApplication

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/programme", use: programmePage)
            pages.get("/programme/figures.csv", use: programmeFigures)
        }

        @Sendable func programmePage(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let parameters = parameters(request)
            let period = try ReachServer.parsePeriod(parameters["period"].flatMap { $0.isEmpty ? nil : $0 } ?? "2024/25")
            let measure = parameters["measure"].flatMap { $0.isEmpty ? nil : $0 } ?? "sessions"
            guard let chosen = strategyMeasures.first(where: { $0.0 == measure }) else {
                throw RequestError(
                    "'\(measure.prefix(40))' is not a strategy measure; choose one of \(strategyMeasures.map(\.0).joined(separator: ", "))")
            }
            let figures = try await programme(app, period: period, as: identity)
            let regions = figures.byRegion.rows.filter { $0.scope.hasPrefix("region:") && $0.metric == "sessions" && $0.dimension == "total" }
            return page(
                "programme", title: "The programme, \(period.label)", status: .ok, identity: identity, csrf: csrf,
                [
                    "period": period.label, "policy": figures.byAuthority.policy.rawValue, "suppressed": figures.byAuthority.policy != .none,
                    "authorities": table(figures.byAuthority.rows, prefix: "la:", period: period.label),
                    "regions": table(figures.byRegion.rows, prefix: "region:", period: period.label),
                    "region_chart": regions.isEmpty
                        ? false
                        : barChart(regions, title: "Sessions by region, \(period.label)", id: "sessions-by-region") {
                            RecordForm.label(String($0.scope.dropFirst("region:".count)))
                        },
                    "measure_label": chosen.1,
                    "measures": strategyMeasures.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == measure] as [String: Any] },
                    "strategy": [("project:", "By strategy project"), ("objective:", "By strategic objective"), ("policy_goal:", "By policy goal")]
                        .map { prefix, heading in
                            strategyTable(figures.strategy.rows, prefix: prefix, heading: heading, measure: chosen)
                        },
                    "years": strategyYears.map { ["year": $0] },
                    "measure": measure,
                ])
        }

        @Sendable func programmeFigures(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            let period = try ReachServer.parsePeriod(parameters(request)["period"].flatMap { $0.isEmpty ? nil : $0 } ?? "2024/25")
            let figures = try await programme(app, period: period, as: identity)
            let rows = figures.byAuthority.rows + figures.byRegion.rows + figures.strategy.rows
            return download(
                try Tidy.render(rows, format: .csv, policy: figures.byAuthority.policy), type: "text/csv; charset=utf-8",
                name: "programme-\(period.label.replacingOccurrences(of: "/", with: "-")).csv")
        }
    }

    /// The academic years of the strategy 2024-2029.
    static let strategyYears = ["2024/25", "2025/26", "2026/27", "2027/28", "2028/29"]

    /// What the strategy's tables can show: (the metric, its name, the statistic shown).
    static let strategyMeasures: [(String, String, String)] = [
        ("sessions", "Sessions", "sessions"), ("schools_engaged", "Schools engaged", "schools"), ("attendances", "Attendances", "attendances"),
        ("staff_trained", "Staff trained", "staff_attendances"), ("learner_hours", "Learner hours", "hours"),
        ("partners_involved", "Partners involved", "partners"), ("pilot_progress", "Schools implementing or beyond", "implementing_or_beyond"),
    ]

    /// One table of the strategy's progress: a row per project (or objective, or policy goal),
    /// a column per academic year, each cell the chosen measure.
    static func strategyTable(_ rows: [Observation], prefix: String, heading: String, measure: (String, String, String)) -> [String: Any] {
        var scopes: [String] = []
        var cells: [String: String] = [:]
        for row in rows where row.scope.hasPrefix(prefix) && row.dimension == measure.0 && row.statistic == measure.2 {
            let scope = String(row.scope.dropFirst(prefix.count))
            if !scopes.contains(scope) { scopes.append(scope) }
            cells["\(scope)|\(row.period)"] = shown(row)
        }
        return [
            "heading": heading, "caption": "\(measure.1) \(heading.lowercased()), each academic year of the strategy",
            "rows": scopes.sorted { $0.localizedStandardCompare($1) == .orderedAscending }.map { scope -> [String: Any] in
                [
                    "name": prefix == "project:" ? RecordForm.label(scope) : "\(prefix == "objective:" ? "Objective" : "Policy goal") \(scope)",
                    "cells": strategyYears.map { ["text": cells["\(scope)|\($0)"] ?? ""] },
                ]
            },
            "has_rows": !scopes.isEmpty,
        ]
    }

    /// The programme's figures by authority, by region, and the strategy's progress by project,
    /// objective and policy goal per academic year (the researchers' and admins' page; the
    /// others are refused by the same access decision as the API's).
    static func programme(_ app: ReachApplication, period: Period, as identity: Identity) async throws -> (
        byAuthority: Figures, byRegion: Figures, strategy: Figures
    ) {
        try ReachApplication.authorize(.readProgramme("the programme's page"), as: identity)
        let headline: [Metric] = [.schoolsEngaged, .sessions, .attendances]
        let byAuthority = try await app.metrics(MetricQuery(period: period, by: .la, metrics: headline), as: identity)
        let byRegion = try await app.metrics(MetricQuery(period: period, by: .region, metrics: headline), as: identity)
        let strategy = try await app.metrics(
            MetricQuery(period: try ReachServer.parsePeriod("2024-2029"), metrics: [.strategyProgress]), as: identity)
        return (byAuthority, byRegion, strategy)
    }

    /// One row per scope (`la:...`, `project:...`) of the headline figures.
    static func table(_ rows: [Observation], prefix: String, period: String) -> [[String: Any]] {
        var out: [String: [String: Any]] = [:]
        for row in rows where row.scope.hasPrefix(prefix) {
            let id = String(row.scope.dropFirst(prefix.count))
            var entry =
                out[id] ?? ["id": id, "name": RecordForm.label(id), "period": period, "schools": "", "sessions": "", "attendances": "", "pupils": ""]
            switch (row.metric, row.dimension, row.category) {
            case ("schools_engaged", "total", _): entry["schools"] = shown(row)
            case ("sessions", "total", _): entry["sessions"] = shown(row)
            case ("attendances", "total", _): entry["attendances"] = shown(row)
            case ("attendances", "audience", "pupils"): entry["pupils"] = shown(row)
            default: break
            }
            out[id] = entry
        }
        return out.keys.sorted().map { out[$0]! }
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    /// A figure as shown: its symbol, or its value (whole numbers without decimals).
    static func shown(_ row: Observation) -> String {
        if let symbol = row.symbol { return symbol }
        guard let value = row.value else { return ":" }
        return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    static func roleName(_ role: Identity.Role) -> String {
        switch role {
        case .staff: "programme staff"
        case .researcher: "a researcher"
        case .laViewer: "a local authority's lead"
        case .admin: "an admin"
        }
    }

    // MARK: Answering

    /// A form's fields (`application/x-www-form-urlencoded`, up to `limit` bytes), once the
    /// session's CSRF token among them has been checked (``CSRF``): the same rule as the API's.
    static func readForm(_ request: Request, _ context: ReachRequestContext, limit: Int = 16 * 1024) async throws -> [String: [String]] {
        var request = request
        let values = parseFormValues(try await request.collectBody(upTo: limit))
        try CSRF.check(context, presented: values["csrf_token"]?.first)
        return values
    }

    /// The page of a failure.
    static func refusal(_ failure: Failure, identity: Identity? = nil, csrf: String? = nil) -> Response {
        var response = refusal(failure.status, failure.heading, failure.pageDetail, identity: identity, csrf: csrf)
        for field in failure.headers where field.name != .contentType { response.headers.append(field) }
        return response
    }

    static func page(_ name: String, title: String, status: HTTPResponse.Status, identity: Identity?, csrf: String?, _ values: [String: Any])
        -> Response
    {
        var context = values
        context["title"] = title
        if let identity, let csrf {
            context["who"] = [
                "name": identity.name, "role": identity.role.rawValue, "csrf": csrf,
                "records": ReachApplication.allows(.record, identity),
                "reads_programme": ReachApplication.allows(.readProgramme("the programme"), identity),
                "admin": ReachApplication.allows(.operate(.manageUsers), identity),
            ]
        }
        let html = library.render(context, withTemplate: name) ?? "<!DOCTYPE html><title>Reach</title><p>The page could not be drawn.</p>"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func refusal(_ status: HTTPResponse.Status, _ heading: String, _ detail: String, identity: Identity? = nil, csrf: String? = nil)
        -> Response
    {
        page("refusal", title: heading, status: status, identity: identity, csrf: csrf, ["heading": heading, "detail": detail])
    }

    static func signInPage(
        name: String, errors: [(String, String)], status: HTTPResponse.Status, secureCookies: Bool,
        next: String? = nil, notice: String? = nil
    ) -> Response {
        let token = ReachApplication.newSecret()
        var values: [String: Any] = [
            "name": name, "form_token": token, "errors": errors.map { ["field": $0.0, "message": $0.1] },
            "has_errors": !errors.isEmpty, "next": RecordForm.orFalse(next), "notice": RecordForm.orFalse(notice),
        ]
        for (field, message) in errors where values["\(field)_error"] == nil { values["\(field)_error"] = message }
        var response = page("sign-in", title: errors.isEmpty ? "Sign in" : "Error: sign in", status: status, identity: nil, csrf: nil, values)
        response.setCookie(
            Cookie(name: formCookie, value: token, maxAge: 3600, path: "/sign-in", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    /// Where a sign-in may lead back to: a path of this site only (never another site's address).
    static func safeNext(_ next: String?) -> String? {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"), next.count <= 500,
            !next.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { return nil }
        return next
    }

    /// The answer to a page asked for without a sign-in (or after it ended): the sign-in page,
    /// which leads back to the page asked for.
    static func signInAgain(_ request: Request) -> Response {
        let ended = !(request.cookies[ReachServer.sessionCookie]?.value ?? "").isEmpty
        let path = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        var query: [String] = []
        if request.method == .get, path != "/" { query.append("next=" + percentEncoded(path)) }
        if ended { query.append("ended=1") }
        return redirect(query.isEmpty ? "/sign-in" : "/sign-in?" + query.joined(separator: "&"))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// An `application/x-www-form-urlencoded` body's fields (the first of each name).
    static func parseForm(_ body: ByteBuffer) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body.readableBytesView, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String { String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let key = decoded(parts[0])
            if fields[key] == nil { fields[key] = parts.count > 1 ? decoded(parts[1]) : "" }
        }
        return fields
    }
}

extension String {
    /// The text with its first letter in capitals.
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
