import Foundation
import Hummingbird
import Logging
import ReachApp
import ReachDomain
import ReachPostgres
import ReachProjections
import ServiceLifecycle
import Synchronization

/// Reach as an HTTP service: each route authenticates its caller, calls the one
/// application-layer function for what it asks (``ReachApplication``, where every access
/// decision is made), and answers in JSON, CSV or `application/problem+json` (RFC 9457).
///
/// | route | use case |
/// | --- | --- |
/// | `GET /health/live`, `GET /health/ready` | the process, and the database behind it |
/// | `GET /api/v1/metrics` | ``ReachApplication/metrics(_:policy:publish:as:)`` |
/// | `POST /api/v1/records` | ``ReachApplication/record(_:source:as:)`` |
/// | `GET /api/v1/authorities/{la}/summary` | ``ReachApplication/exportSummary(la:period:format:policy:as:deliver:)`` |
/// | `GET`, `PUT /api/v1/authorities/{la}/policy` | ``ReachApplication/disclosurePolicies(_:as:)``, ``ReachApplication/setDisclosurePolicy(la:policy:reason:as:)`` |
/// | `GET /api/v1/projections` | ``ReachApplication/projectionStatus(as:)`` |
public enum ReachServer {
    /// The OpenAPI 3.1 document of every route (`Resources/openapi.yaml`), served at
    /// `/api/openapi.yaml`; a test checks it names exactly the routes of ``router(_:)``.
    public static let openAPIDocument: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()

    /// Every route of the OpenAPI document: its path as a pattern, and its methods.
    static let documentedRoutes: [(pattern: String, methods: [String])] = {
        var routes: [(String, [String])] = []
        for line in openAPIDocument.split(separator: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                let path = line.dropFirst(2).dropLast()
                let pattern =
                    "^"
                    + path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "[^/]+", options: .regularExpression)
                    .replacingOccurrences(of: ".", with: "\\.") + "$"
                routes.append((pattern, []))
            } else if !routes.isEmpty, let match = line.firstMatch(of: /^    (get|post|put|delete|patch):$/) {
                routes[routes.count - 1].1.append(match.1.uppercased())
            }
        }
        return routes
    }()

    /// The cookie that holds a signed-in session's secret.
    public static let sessionCookie = "reach_session"
    /// The header a cookie-authenticated write carries the session's CSRF token in.
    public static let csrfHeader = "X-CSRF-Token"
    /// The cookie of a device that has signed in before: its password checks are counted
    /// apart from strangers' (``ReachApplication/checkPassword(name:password:from:device:)``).
    public static let deviceCookie = "reach_device"

    /// The device cookie, kept 400 days, sent to this service's own pages only.
    static func deviceCookie(_ secret: String, secure: Bool) -> Cookie {
        Cookie(name: deviceCookie, value: secret, maxAge: 400 * 24 * 3600, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// The largest JSON body a route reads.
    public static let maximumBody = 2 * 1024 * 1024
    /// The largest upload `POST /api/v1/imports` keeps (`REACH_HTTP_MAX_UPLOAD_BYTES`); it is
    /// streamed to disk as it arrives, never held whole in memory.
    public static let defaultMaximumUpload = 512 * 1024 * 1024

    /// The router of every route, on `app`: each area a controller that registers its routes,
    /// behind the front of its kind (``APIFront``, ``WebFront``), which finds out who is asking
    /// and answers failures in its way.
    public static func router(
        _ app: ReachApplication, secureCookies: Bool = false,
        uploads: String = FileManager.default.temporaryDirectory.appendingPathComponent("reach-uploads").path,
        maximumUpload: Int = defaultMaximumUpload, trustedProxies: TrustedProxies = .none
    ) -> Router<ReachRequestContext> {
        let router = Router(context: ReachRequestContext.self)
        let metrics = ServiceMetrics()
        router.add(middleware: RequestLog(logger: app.logger, metrics: metrics))
        router.add(middleware: SecurityHeaders())
        router.add(middleware: NoSuchRoute(routes: documentedRoutes))
        HealthController(app: app, metrics: metrics).addRoutes(to: router)
        // The web app's pages (text/html; not part of the API's document).
        WebPages.add(to: router, app: app, proxies: trustedProxies, secureCookies: secureCookies, uploads: uploads, maximumUpload: maximumUpload)
        let signingIn = router.group("/api/v1").add(middleware: APIFront(app: app, authenticates: false))
        let api = router.group("/api/v1").add(middleware: APIFront(app: app)).add(middleware: WritesNeedCSRF())
        SessionController(app: app, secureCookies: secureCookies, proxies: trustedProxies).addRoutes(public: signingIn, signedIn: api)
        FiguresController(app: app).addRoutes(to: api)
        RecordsController(app: app, metrics: metrics).addRoutes(to: api)
        ImportsController(app: app, uploads: uploads, maximumUpload: maximumUpload).addRoutes(to: api)
        EventsController(app: app).addRoutes(to: api)
        AccountsController(app: app, proxies: trustedProxies).addRoutes(to: api)
        return router
    }

    // MARK: Answering

    /// The problem of a failure (``Failure``).
    static func problem(_ failure: Failure) -> Response {
        problem(failure.status, failure.title, failure.detail, errors: failure.fields, headers: failure.headers)
    }

    /// A problem (RFC 9457), with the fields at fault.
    static func problem(
        _ status: HTTPResponse.Status, _ title: String, _ detail: String, errors: [(String, String)] = [],
        headers: HTTPFields = [:]
    ) -> Response {
        var object: [String: Any] = ["type": "about:blank", "title": title, "status": status.code, "detail": detail]
        if !errors.isEmpty { object["errors"] = errors.map { ["field": $0.0, "reason": $0.1] } }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A value as JSON (sorted keys).
    static func encoded(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.sorted.encode(value))))
    }

    /// A JSON body as `type`; anything else is refused with `expected`.
    static func decoded<T: Decodable>(_ type: T.Type, _ body: ByteBuffer, _ expected: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView)) } catch {
            throw Invalid("body", "is not as expected: \(expected)")
        }
    }

    /// A true-or-false query parameter (absent: false).
    static func flag(_ text: Substring?, _ name: String) throws -> Bool {
        guard let text else { return false }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw Invalid(name, "is true or false")
        }
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String, format: TidyFormat) -> Response {
        let type = format == .csv ? "text/csv; charset=utf-8" : format == .json ? "application/json" : "text/plain; charset=utf-8"
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Reading requests

    /// The address the request came from (see ``TrustedProxies``).
    static func clientAddress(_ request: Request, _ context: ReachRequestContext, _ proxies: TrustedProxies) -> String {
        proxies.client(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
    }

    /// The body's media type, lower-cased, without its parameters.
    static func mediaType(_ request: Request) -> String {
        (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// Whether the request says it comes from a page of another site: an `Origin` (which
    /// browsers send with every POST) that is not this service's own address as the request
    /// names it (`Host`), or `null`. A request without one (a script) is not foreign.
    static func isForeignOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return false }
        guard let url = URL(string: origin), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return true }
        let defaultPort = scheme == "https" ? 443 : 80
        let originPort = url.port ?? defaultPort
        guard let authority = request.head.authority?.lowercased() else { return true }
        // The Host header: a name or an address (IPv6 in brackets), and a port if not the default.
        var hostPart = Substring(authority)
        var port: Int?
        if let close = authority.lastIndex(of: "]") {
            hostPart = authority[...close]
            if authority[close...].contains(":") { port = Int(authority[authority.index(after: authority.index(after: close))...]) }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            port = Int(authority[authority.index(after: colon)...])
        }
        let name = hostPart.hasPrefix("[") ? String(hostPart.dropFirst().dropLast()) : String(hostPart)
        let originName = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return name != originName || (port ?? defaultPort) != originPort
    }

    /// A request parameter that is not as it must be.
    struct Invalid: Error {
        var field: String
        var reason: String
        init(_ field: String, _ reason: String) {
            self.field = field
            self.reason = reason
        }
    }

    static func parsePeriod(_ text: String) throws -> Period {
        switch Period.parse(text) {
        case .success(let period): return period
        case .failure(let error): throw error
        }
    }

    static func tidyFormat(_ request: Request, default value: TidyFormat) throws -> TidyFormat {
        guard let text = request.uri.queryParameters["format"] else { return value }
        guard let format = TidyFormat(rawValue: String(text)) else { throw Invalid("format", "is json or csv") }
        return format
    }

    /// The filters of `reach metrics`, from the query string.
    static func metricQuery(_ request: Request) throws -> MetricQuery {
        let parameters = request.uri.queryParameters
        let period = try parsePeriod(parameters["period"].map(String.init) ?? "2024-2029")
        var metrics: [Metric] = []
        for text in parameters[values: "metric"] {
            guard let metric = Metric(rawValue: String(text)) else {
                throw Invalid(
                    "metric", "'\(text.prefix(40))' is not a metric; choose one of \(Metric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            metrics.append(metric)
        }
        var by: ScopeDimension?
        if let text = parameters["by"] {
            guard let dimension = ScopeDimension(rawValue: String(text)) else {
                throw Invalid("by", "is one of \(ScopeDimension.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            by = dimension
        }
        func number(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = parameters[Substring(name)] else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw Invalid(name, "is a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        func string(_ name: Substring) -> String? { parameters[name].map { String($0) } }
        var query = MetricQuery(period: period, by: by, metrics: metrics.isEmpty ? Metric.allCases : metrics)
        query.la = string("la")
        query.region = string("region")
        query.pilot = string("pilot")
        query.project = string("project")
        query.objective = try number("objective", 1...4)
        query.policyGoal = try number("policy_goal", 1...7)
        return query
    }
}

/// The text a summary export delivers, kept for the response.
final class Delivered: Sendable {
    private let text = Mutex("")
    func set(_ value: String) { text.withLock { $0 = value } }
    func append(_ value: String) { text.withLock { $0 += value } }
    func get() -> String { text.withLock { $0 } }
}

/// Headers every answer carries: no sniffing, no framing, no referrer, no caching of figures.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        // Pages carry no script and take styles and images from the service alone.
        response.headers[.init("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return response
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Gives each request an id (the caller's `X-Request-Id` when it is a plain token, else a new
/// one), returns it in the answer, and logs one line per request: method, path (never the query
/// or the body, which may hold a record's data), status and milliseconds.
struct RequestLog: RouterMiddleware {
    let logger: Logger
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: ReachRequestContext, next: (Request, ReachRequestContext) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let given = request.headers[.init("X-Request-Id")!]
        context.requestID =
            given.flatMap { $0.range(of: "^[A-Za-z0-9._-]{1,64}$", options: .regularExpression) != nil ? $0 : nil }
            ?? UUID().uuidString.lowercased()
        let start = ContinuousClock.now
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - start
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            logger.info(
                "request",
                metadata: [
                    "request_id": "\(context.requestID)", "method": "\(request.method.rawValue)",
                    "path": "\(request.uri.path)", "status": "\(status)", "ms": "\(String(format: "%.1f", milliseconds))",
                ])
            metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status, duration: elapsed)
        }
        var response = try await next(request, context)
        status = Int(response.status.code)
        response.headers[.init("X-Request-Id")!] = context.requestID
        return response
    }
}

/// What no route answers: a path the service has, asked with a method it does not take, gets
/// 405 with the methods it does take (`Allow`); any other path, 404; both as problems.
struct NoSuchRoute<Context: RequestContext>: RouterMiddleware {
    let routes: [(pattern: String, methods: [String])]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            if let route = routes.first(where: { path.range(of: $0.pattern, options: .regularExpression) != nil }),
                !route.methods.contains(request.method.rawValue)
            {
                return ReachServer.problem(
                    .methodNotAllowed, "method not allowed",
                    "\(path) takes \(route.methods.joined(separator: ", ")), not \(request.method.rawValue.prefix(20))",
                    headers: [.allow: route.methods.joined(separator: ", ")])
            }
            return ReachServer.problem(.notFound, "not found", "no route is \(path.prefix(100)); GET /api/openapi.yaml lists them")
        }
    }
}
