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
        for name in ["layout", "sign-in", "home", "authority", "programme", "refusal", "record-form", "record-types", "records", "imports", "import-job"] {
            guard let url = Bundle.module.url(forResource: "web/\(name)", withExtension: "mustache"),
                  let text = try? String(contentsOf: url, encoding: .utf8),
                  let template = try? MustacheTemplate(string: text) else { continue }
            templates[name] = template
        }
        return MustacheLibrary(templates: templates)
    }()

    /// The style sheet, served at `/assets/app.css`.
    static let styles: String = {
        guard let url = Bundle.module.url(forResource: "web/app", withExtension: "css"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return "" }
        return text
    }()

    /// The cookie a sign-in form's token is kept in (against a sign-in forged by another site).
    static let formCookie = "reach_form"

    /// The headline figures of an authority's page.
    static let headline: [Metric] = [.schoolsEngaged, .sessions, .attendances, .staffTrained, .pilotProgress]

    static func add(to router: Router<ReachRequestContext>, app: ReachApplication, limiter: SignInLimiter, secureCookies: Bool,
                    uploads: String, maximumUpload: Int) {
        addRecording(to: router, app: app)
        addImports(to: router, app: app, uploads: uploads, maximumUpload: maximumUpload)
        router.get("/assets/app.css") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: styles)))
        }
        router.get("/") { request, _ in
            guard let (identity, csrf) = await signedIn(app, request) else { return redirect("/sign-in") }
            let authorities = identity.authorities.sorted().map { ["id": $0] }
            return page("home", title: "Start", status: .ok, identity: identity, csrf: csrf,
                        ["authorities": authorities, "has_authorities": !authorities.isEmpty, "role_name": roleName(identity.role)])
        }
        router.get("/sign-in") { request, _ in
            if await signedIn(app, request) != nil { return redirect("/") }
            return signInPage(name: "", errors: [], status: .ok, secureCookies: secureCookies)
        }
        router.post("/sign-in") { request, context in
            var request = request
            let form = parseForm(try await request.collectBody(upTo: 16 * 1024))
            guard let token = form["form_token"], !token.isEmpty, token == request.cookies[formCookie]?.value else {
                return signInPage(name: form["name"] ?? "", errors: [("name", "The sign-in form has expired. Sign in again.")],
                                  status: .badRequest, secureCookies: secureCookies)
            }
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            let password = form["password"] ?? ""
            var errors: [(String, String)] = []
            if name.isEmpty { errors.append(("name", "Enter your account name")) }
            if password.isEmpty { errors.append(("password", "Enter your password")) }
            guard errors.isEmpty else { return signInPage(name: name, errors: errors, status: .unprocessableContent, secureCookies: secureCookies) }
            let address = context.remoteAddress?.ipAddress ?? "unknown"
            if let wait = limiter.wait(account: name, address: address) {
                var response = signInPage(name: name, errors: [("name", "Too many failed sign-ins. Try again in \(wait) seconds.")],
                                          status: .tooManyRequests, secureCookies: secureCookies)
                response.headers[.retryAfter] = String(wait)
                return response
            }
            do {
                let (_, session, _) = try await app.signIn(name: name, password: password)
                var response = redirect("/")
                response.setCookie(Cookie(name: ReachServer.sessionCookie, value: session, maxAge: 8 * 3600, path: "/", secure: secureCookies,
                                          httpOnly: true, sameSite: .lax))
                response.setCookie(Cookie(name: formCookie, value: "", maxAge: 0, path: "/sign-in", secure: secureCookies, httpOnly: true, sameSite: .strict))
                return response
            } catch is NotAuthenticated {
                limiter.failed(account: name, address: address)
                return signInPage(name: name, errors: [("name", "The account name or the password is not right")],
                                  status: .unauthorized, secureCookies: secureCookies)
            }
        }
        router.post("/sign-out") { request, _ in
            var request = request
            let form = parseForm(try await request.collectBody(upTo: 16 * 1024))
            if let (_, csrf) = await signedIn(app, request), let session = request.cookies[ReachServer.sessionCookie]?.value {
                guard form["csrf_token"] == csrf else { return refusal(.forbidden, "The form has expired", "Go back, reload the page and try again.") }
                try await app.signOut(session: session)
            }
            var response = redirect("/sign-in")
            response.setCookie(Cookie(name: ReachServer.sessionCookie, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax))
            return response
        }
        router.get("/authorities/:la") { request, context in
            guard let (identity, csrf) = await signedIn(app, request) else { return redirect("/sign-in") }
            let la = try context.parameters.require("la")
            return await answering(identity, csrf) {
                let period = try ReachServer.parsePeriod(String(request.uri.queryParameters["period"] ?? "2024/25"))
                let (headline, months) = try await figures(app, la: la, period: period, as: identity)
                return page("authority", title: "\(la), \(period.label)", status: .ok, identity: identity, csrf: csrf, [
                    "la": la, "period": period.label, "policy": headline.policy.rawValue, "suppressed": headline.policy != .none,
                    "headline": headline.rows.map { row -> [String: Any] in
                        ["label": row.metric.replacingOccurrences(of: "_", with: " ").capitalizedFirst,
                         "breakdown": row.dimension == "total" ? row.statistic.replacingOccurrences(of: "_", with: " ")
                            : "\(row.dimension.replacingOccurrences(of: "_", with: " ")): \(row.category.replacingOccurrences(of: "_", with: " "))",
                         "shown": shown(row)]
                    },
                    "chart": chart(months.rows, la: la, period: period.label), "has_bars": !months.rows.isEmpty,
                ])
            }
        }
        router.get("/programme") { request, _ in
            guard let (identity, csrf) = await signedIn(app, request) else { return redirect("/sign-in") }
            return await answering(identity, csrf) {
                let period = try ReachServer.parsePeriod(String(request.uri.queryParameters["period"] ?? "2024/25"))
                let (byAuthority, byProject) = try await programme(app, period: period, as: identity)
                return page("programme", title: "The programme, \(period.label)", status: .ok, identity: identity, csrf: csrf, [
                    "period": period.label, "policy": byAuthority.policy.rawValue, "suppressed": byAuthority.policy != .none,
                    "authorities": table(byAuthority.rows, prefix: "la:", period: period.label),
                    "projects": table(byProject.rows, prefix: "project:", period: period.label),
                ])
            }
        }
        router.get("/programme/figures.csv") { request, _ in
            guard let (identity, csrf) = await signedIn(app, request) else { return redirect("/sign-in") }
            return await answering(identity, csrf) {
                let period = try ReachServer.parsePeriod(String(request.uri.queryParameters["period"] ?? "2024/25"))
                let (byAuthority, byProject) = try await programme(app, period: period, as: identity)
                let text = try Tidy.render(byAuthority.rows + byProject.rows, format: .csv, policy: byAuthority.policy)
                return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                       .contentDisposition: "attachment; filename=\"programme-\(period.label.replacingOccurrences(of: "/", with: "-")).csv\""],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        router.get("/authorities/:la/figures.csv") { request, context in
            guard let (identity, csrf) = await signedIn(app, request) else { return redirect("/sign-in") }
            let la = try context.parameters.require("la")
            return await answering(identity, csrf) {
                let period = try ReachServer.parsePeriod(String(request.uri.queryParameters["period"] ?? "2024/25"))
                let (headline, months) = try await figures(app, la: la, period: period, as: identity)
                let text = try Tidy.render(headline.rows + months.rows, format: .csv, policy: headline.policy)
                return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                       .contentDisposition: "attachment; filename=\"\(la)-\(period.label.replacingOccurrences(of: "/", with: "-")).csv\""],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
    }

    /// An authority's headline figures and its sessions by month, as the asker may see them.
    static func figures(_ app: ReachApplication, la: String, period: Period, as identity: Identity) async throws -> (headline: Figures, months: Figures) {
        let headline = try await app.metrics(MetricQuery(period: period, la: la, metrics: Self.headline), as: identity)
        var months = try await app.metrics(MetricQuery(period: period, la: la, by: .month, metrics: [.sessions]), as: identity)
        months.rows = months.rows.filter { $0.dimension == "total" }
        return (headline, months)
    }

    /// The programme's figures by authority and by strategy project (the researchers' and
    /// admins' page; the others are refused by the same access decision as the API's).
    static func programme(_ app: ReachApplication, period: Period, as identity: Identity) async throws -> (Figures, Figures) {
        guard identity.role == .researcher || identity.role == .admin else {
            throw AccessDenied("the programme's page is for researchers and admins; your authority's page is on the start page")
        }
        let byAuthority = try await app.metrics(MetricQuery(period: period, by: .la, metrics: [.schoolsEngaged, .sessions, .attendances]), as: identity)
        let byProject = try await app.metrics(MetricQuery(period: period, by: .project, metrics: [.sessions, .attendances]), as: identity)
        return (byAuthority, byProject)
    }

    /// One row per scope (`la:...`, `project:...`) of the headline figures.
    static func table(_ rows: [Observation], prefix: String, period: String) -> [[String: Any]] {
        var out: [String: [String: Any]] = [:]
        for row in rows where row.scope.hasPrefix(prefix) {
            let id = String(row.scope.dropFirst(prefix.count))
            var entry = out[id] ?? ["id": id, "period": period, "schools": "", "sessions": "", "attendances": "", "pupils": ""]
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

    /// A bar chart of sessions by month, drawn as SVG: bars, month labels and values, and a
    /// description for screen readers.
    static func chart(_ rows: [Observation], la: String, period: String) -> [String: Any] {
        let (width, height, top, bottom) = (720.0, 260.0, 20.0, 40.0)
        let step = rows.isEmpty ? 0 : width / Double(rows.count)
        let largest = max(1, rows.compactMap(\.value).max() ?? 1)
        var bars: [[String: Any]] = []
        for (index, row) in rows.enumerated() {
            let month = row.scope.hasPrefix("month:") ? String(row.scope.dropFirst("month:".count)) : row.scope
            let barHeight = (row.value ?? 0) / largest * (height - top - bottom)
            let x = Double(index) * step
            bars.append(["x": format(x + step * 0.15), "width": format(step * 0.7), "y": format(height - bottom - barHeight), "height": format(barHeight),
                         "label_x": format(x + step / 2), "label_y": format(height - bottom + 16), "value_y": format(height - bottom - barHeight - 4),
                         "label": month, "shown": shown(row)])
        }
        let described = rows.map { row in "\(row.scope.replacingOccurrences(of: "month:", with: "")): \(shown(row))" }.joined(separator: "; ")
        return ["width": format(width), "height": format(height), "bars": bars,
                "description": rows.isEmpty ? "No sessions." : "Sessions in each month of \(period) for \(la): \(described)."]
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

    /// The signed-in account and its CSRF token, from the session cookie.
    static func signedIn(_ app: ReachApplication, _ request: Request) async -> (Identity, String)? {
        guard let session = request.cookies[ReachServer.sessionCookie]?.value, !session.isEmpty else { return nil }
        guard let (identity, csrf) = try? await app.identify(session: session) else { return nil }
        return (identity, csrf)
    }

    /// Runs a page's work, turning each refusal into a page that says what to do.
    static func answering(_ identity: Identity, _ csrf: String, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as AccessDenied {
            return refusal(.forbidden, "You cannot see this page", error.description, identity: identity, csrf: csrf)
        } catch let error as NotFound {
            return refusal(.notFound, "Page not found", error.description, identity: identity, csrf: csrf)
        } catch let error as PeriodError {
            return refusal(.badRequest, "There is a problem with the period", error.description, identity: identity, csrf: csrf)
        } catch let error as RequestError {
            return refusal(.badRequest, "There is a problem", error.description, identity: identity, csrf: csrf)
        } catch {
            return refusal(.internalServerError, "Sorry, there is a problem with the service", "Try again later.", identity: identity, csrf: csrf)
        }
    }

    static func page(_ name: String, title: String, status: HTTPResponse.Status, identity: Identity?, csrf: String?, _ values: [String: Any]) -> Response {
        var context = values
        context["title"] = title
        if let identity, let csrf {
            context["who"] = ["name": identity.name, "role": identity.role.rawValue, "csrf": csrf,
                              "records": identity.role == .staff || identity.role == .admin,
                              "reads_programme": identity.role == .researcher || identity.role == .admin,
                              "admin": identity.role == .admin]
        }
        let html = library.render(context, withTemplate: name) ?? "<!DOCTYPE html><title>Reach</title><p>The page could not be drawn.</p>"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func refusal(_ status: HTTPResponse.Status, _ heading: String, _ detail: String, identity: Identity? = nil, csrf: String? = nil) -> Response {
        page("refusal", title: heading, status: status, identity: identity, csrf: csrf, ["heading": heading, "detail": detail])
    }

    static func signInPage(name: String, errors: [(String, String)], status: HTTPResponse.Status, secureCookies: Bool) -> Response {
        let token = ReachApplication.newSecret()
        var values: [String: Any] = ["name": name, "form_token": token, "errors": errors.map { ["field": $0.0, "message": $0.1] },
                                     "has_errors": !errors.isEmpty]
        for (field, message) in errors where values["\(field)_error"] == nil { values["\(field)_error"] = message }
        var response = page("sign-in", title: errors.isEmpty ? "Sign in" : "Error: sign in", status: status, identity: nil, csrf: nil, values)
        response.setCookie(Cookie(name: formCookie, value: token, maxAge: 3600, path: "/sign-in", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
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
