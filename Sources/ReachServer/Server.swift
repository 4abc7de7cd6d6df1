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
/// | `GET /api/v1/projections` | ``ReachApplication/projectionStatus(as:)`` |
public enum ReachServer {
    /// The OpenAPI 3.1 document of every route (`Resources/openapi.yaml`), served at
    /// `/api/openapi.yaml`; a test checks it names exactly the routes of ``router(_:)``.
    public static let openAPIDocument: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return "" }
        return text
    }()

    /// Every route of the OpenAPI document: its path as a pattern, and its methods.
    static let documentedRoutes: [(pattern: String, methods: [String])] = {
        var routes: [(String, [String])] = []
        for line in openAPIDocument.split(separator: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                let path = line.dropFirst(2).dropLast()
                let pattern = "^" + path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "[^/]+", options: .regularExpression)
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

    /// The router of every route, on `app`.
    public static func router(_ app: ReachApplication, secureCookies: Bool = false,
                              uploads: String = FileManager.default.temporaryDirectory.appendingPathComponent("reach-uploads").path,
                              maximumUpload: Int = defaultMaximumUpload, trustedProxies: TrustedProxies = .none) -> Router<ReachRequestContext> {
        let router = Router(context: ReachRequestContext.self)
        let metrics = ServiceMetrics()
        router.add(middleware: RequestLog(logger: app.logger, metrics: metrics))
        router.add(middleware: SecurityHeaders())
        router.add(middleware: NoSuchRoute(routes: documentedRoutes))
        router.get("/health/live") { _, _ in json(#"{"status":"live"}"#) }
        router.get("/health/ready") { _, _ in
            do {
                // The replica is looked at beside the primary (within a second), and never makes
                // the service unready.
                async let replicaState = app.readReplicaState()
                let (position, lag) = try await app.readiness()
                let replica = try await replicaState.map { #","read_replica":"# + String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) } ?? ""
                return json(#"{"status":"ready","last_position":\#(position),"projection_lag":\#(lag)\#(replica)}"#)
            } catch let error as RequestError {
                return problem(.serviceUnavailable, "not ready", error.description)
            } catch {
                return problem(.serviceUnavailable, "not ready", "the database cannot be reached")
            }
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: await metrics.exposition(app))))
        }
        router.get("/api/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: openAPIDocument)))
        }
        // The web app's pages (text/html; not part of the API's document).
        WebPages.add(to: router, app: app, proxies: trustedProxies, secureCookies: secureCookies, uploads: uploads, maximumUpload: maximumUpload)
        let api = router.group("/api/v1")
        api.get("/metrics") { request, context in
            try await answer(app, request, context) { identity in
                let parameters = request.uri.queryParameters
                let query = try metricQuery(request)
                let policy = try parameters["policy"].map { text in
                    guard let name = DisclosurePolicy.Name(rawValue: String(text)) else { throw Invalid("policy", "is dfe, nhs or none") }
                    return name
                }
                let publish = parameters["publish"].map { $0 == "true" || $0 == "1" } ?? false
                let figures = try await app.metrics(query, policy: policy, publish: publish, as: identity)
                let format = try tidyFormat(request, default: TidyFormat.json)
                return text(try Tidy.render(figures.rows, format: format, policy: figures.policy), format: format)
            }
        }
        api.post("/records") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: maximumBody)
            return try await answer(app, request, context) { identity in
                guard let text = String(validating: body.readableBytesView, as: UTF8.self) else { throw Invalid("body", "is not UTF-8 text") }
                let results = try await app.record(text, source: "api", as: identity)
                metrics.records(results)
                let lines = try results.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }
                let status: HTTPResponse.Status = results.contains { $0.isRefused } ? .unprocessableContent : .ok
                return Response(status: status, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: "[" + lines.joined(separator: ",") + "]")))
            }
        }
        api.post("/imports") { request, context in
            try await answer(app, request, context) { identity in
                try Access.checkMayRecord(identity)
                let parameters = request.uri.queryParameters
                let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                let csv: Bool
                switch mediaType {
                case "text/csv": csv = true
                case "application/x-ndjson", "application/jsonl", "application/jsonlines", "application/json-lines": csv = false
                default:
                    return problem(.unsupportedMediaType, "unsupported media type",
                                   "send the file as text/csv (one record type, named by ?type= or ?name=) or application/x-ndjson (JSON Lines)",
                                   errors: [("Content-Type", "is text/csv or application/x-ndjson")])
                }
                let name = try ReachApplication.uploadName(parameters["name"].map(String.init), csv: csv)
                let type = parameters["type"].map(String.init)
                let skipInvalid = try flag(parameters["skip_invalid"], "skip_invalid")
                // Streamed to a directory of the upload's own, readable by this user only.
                let directory = try Uploads.directory(in: uploads)
                let path = (directory as NSString).appendingPathComponent(name)
                var started = false
                defer { if !started { try? FileManager.default.removeItem(atPath: directory) } }
                guard let bytes = try await Uploads.store(request.body, at: path, maximum: maximumUpload) else {
                    return problem(.contentTooLarge, "upload too large", "an upload is at most \(maximumUpload) bytes; split the file",
                                   errors: [("body", "is larger than \(maximumUpload) bytes")])
                }
                guard bytes > 0 else { throw Invalid("body", "is empty: send the file's contents") }
                let job = try await app.startImport(file: path, name: name, bytes: Int64(bytes), type: type, skipInvalid: skipInvalid, as: identity)
                started = true
                var response = try encoded(job, status: .accepted)
                response.headers[.location] = "/api/v1/imports/\(job.id)"
                return response
            }
        }
        api.get("/imports") { request, context in
            try await answer(app, request, context) { identity in
                try encoded(try await app.importJobs(as: identity))
            }
        }
        api.get("/imports/:id") { request, context in
            try await answer(app, request, context) { identity in
                try encoded(try await app.importJob(try context.parameters.require("id"), as: identity))
            }
        }
        api.get("/imports/:id/rejects") { request, context in
            try await answer(app, request, context) { identity in
                let (text, isCSV) = try await app.importRejects(try context.parameters.require("id"), as: identity)
                return Response(status: .ok, headers: [.contentType: isCSV ? "text/csv; charset=utf-8" : "application/x-ndjson"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
        // An export is recorded in the log: signed in by cookie, it needs the CSRF token as a
        // write does, so that a link on another site cannot make one in someone's name.
        api.get("/authorities/:la/summary") { request, context in
            try await answer(app, request, context, writes: true) { identity in
                let parameters = request.uri.queryParameters
                let la = try context.parameters.require("la")
                guard let periodText = parameters["period"] else { throw Invalid("period", "is required, such as 2024/25") }
                let period = try parsePeriod(String(periodText))
                let format = try tidyFormat(request, default: TidyFormat.csv)
                guard format != .table else { throw Invalid("format", "is csv or json") }
                let policy = try parameters["policy"].map { text in
                    guard let name = DisclosurePolicy.Name(rawValue: String(text)), name != DisclosurePolicy.Name.none else { throw Invalid("policy", "is dfe or nhs") }
                    return name
                } ?? .dfe
                let delivered = Delivered()
                _ = try await app.exportSummary(la: la, period: period, format: format, policy: policy, as: identity) { text in delivered.set(text) }
                return text(delivered.get(), format: format)
            }
        }
        api.get("/catalogue") { request, context in
            try await answer(app, request, context) { _ in
                json("[" + (try ReachApplication.catalogue().map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }).joined(separator: ",") + "]")
            }
        }
        api.get("/templates/:file") { request, context in
            try await answer(app, request, context) { _ in
                let file = try context.parameters.require("file")
                let type = file.hasSuffix(".csv") ? String(file.dropLast(4)) : file.hasSuffix(".jsonl") ? String(file.dropLast(6)) : file
                guard RecordType.recordable[type] != nil else {
                    return problem(.notFound, "no such record type", "'\(type.prefix(60))' is not a record type; GET /api/v1/catalogue lists them")
                }
                let template = try ReachApplication.template(type)
                return Response(status: .ok, headers: [.contentType: template.isCSV ? "text/csv; charset=utf-8" : "application/x-ndjson"],
                                body: .init(byteBuffer: ByteBuffer(string: template.text)))
            }
        }
        api.post("/session") { request, context in
            var request = request
            // Against a sign-in forged by another site (a login CSRF): JSON only (a form or
            // text/plain is what another site's page can send without asking), and no foreign
            // Origin.
            guard mediaType(request) == "application/json" else {
                return problem(.unsupportedMediaType, "unsupported media type", "send {\"name\": ..., \"password\": ...} as application/json",
                               errors: [("Content-Type", "is application/json")])
            }
            if isForeignOrigin(request) {
                return problem(.forbidden, "not allowed", "a sign-in is accepted from this service's own pages or from a script, not from another site",
                               errors: [("Origin", "is not this service's")])
            }
            let body = try await request.collectBody(upTo: 16 * 1024)
            struct SignIn: Decodable { var name: String; var password: String }
            guard let form = try? JSONDecoder().decode(SignIn.self, from: Data(body.readableBytesView)) else {
                return problem(.badRequest, "invalid request", "send {\"name\": ..., \"password\": ...} as JSON", errors: [("body", "is not a sign-in")])
            }
            let address = clientAddress(request, context, trustedProxies)
            do {
                let signedIn = try await app.signIn(name: form.name, password: form.password, from: address, device: request.cookies[deviceCookie]?.value)
                struct Out: Encodable { var account: String; var role: String; var csrf_token: String }
                var response = json(String(decoding: try JSONEncoder.sorted.encode(Out(account: signedIn.identity.name, role: signedIn.identity.role.rawValue,
                                                                                          csrf_token: signedIn.csrfToken)), as: UTF8.self))
                response.setCookie(Cookie(name: sessionCookie, value: signedIn.session, maxAge: 8 * 3600, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax))
                if let device = signedIn.newDevice { response.setCookie(deviceCookie(device, secure: secureCookies)) }
                return response
            } catch is NotAuthenticated {
                return problem(.unauthorized, "not signed in", NotAuthenticated().description)
            } catch {
                return problem(Failure(error, logger: app.logger, requestID: context.requestID, path: request.uri.path))
            }
        }
        api.delete("/session") { request, context in
            try await answer(app, request, context) { _ in
                if let session = request.cookies[sessionCookie]?.value { try await app.signOut(session: session) }
                var response = Response(status: .noContent)
                response.setCookie(Cookie(name: sessionCookie, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax))
                return response
            }
        }
        // The raw log, for admins: a page as JSON Lines, or followed live as server-sent events.
        api.get("/events") { request, context in
            try await answer(app, request, context) { identity in
                try Access.checkMayOperate(.eventsRead, for: identity)
                let parameters = request.uri.queryParameters
                var from: Int64 = 1
                if let text = parameters["from"] {
                    guard let value = Int64(text), value >= 1 else { throw Invalid("from", "is a position of the log, from 1") }
                    from = value
                }
                if let last = request.headers[.init("Last-Event-ID")!], let value = Int64(last), value >= 0 { from = value + 1 }
                if (request.headers[.accept] ?? "").contains("text/event-stream") {
                    let start = from
                    let body = ResponseBody { writer in
                        // The follower hands each batch over; the stream ends when the service
                        // begins to shut down, or the caller goes.
                        let (stream, continuation) = AsyncStream<String>.makeStream()
                        let follower = Task {
                            try? await app.followLog(after: start - 1, as: identity) { events in
                                var text = ""
                                for event in events { text += "id: \(event.position)\nevent: event\ndata: \(event.jsonLine)\n\n" }
                                continuation.yield(text)
                            }
                            continuation.finish()
                        }
                        defer { follower.cancel() }
                        try await withGracefulShutdownHandler {
                            for await chunk in stream { try await writer.write(ByteBuffer(string: chunk)) }
                        } onGracefulShutdown: {
                            follower.cancel()
                        }
                        try await writer.finish(nil)
                    }
                    return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
                }
                var limit = 1000
                if let text = parameters["limit"] {
                    guard let value = Int(text), (1...10_000).contains(value) else { throw Invalid("limit", "is a whole number from 1 to 10000") }
                    limit = value
                }
                let page = Delivered()
                let last = Mutex<Int64?>(nil)
                try await app.readLog(after: from - 1, limit: limit, as: identity) { events in
                    var text = ""
                    for event in events { text += event.jsonLine + "\n" }
                    page.append(text)
                    last.withLock { $0 = events.last?.position }
                }
                var headers: HTTPFields = [.contentType: "application/x-ndjson"]
                if let position = last.withLock({ $0 }) { headers[.init("X-Next-From")!] = String(position + 1) }
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.get())))
            }
        }
        // Accounts and tokens: an admin's, except one's own tokens and password.
        api.get("/users") { request, context in
            try await answer(app, request, context) { identity in try encoded(try await app.listUsers(as: identity)) }
        }
        api.post("/users") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: 16 * 1024)
            return try await answer(app, request, context) { identity in
                struct NewUser: Decodable { var name: String; var role: String; var authorities: [String]?; var password: String }
                let form = try decoded(NewUser.self, body, "send {\"name\", \"role\", \"authorities\", \"password\"} as JSON")
                guard let role = Identity.Role(rawValue: form.role) else {
                    throw Invalid("role", "is one of \(Identity.Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let account = try await app.addUser(form.name, role: role, authorities: form.authorities ?? [], password: form.password, as: identity)
                var response = try encoded(account, status: .created)
                response.headers[.location] = "/api/v1/users/\(account.name)"
                return response
            }
        }
        api.post("/users/:name/disable") { request, context in
            try await answer(app, request, context) { identity in
                try await app.disableUser(try context.parameters.require("name"), as: identity)
                return Response(status: .noContent)
            }
        }
        api.put("/users/:name/password") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: 16 * 1024)
            return try await answer(app, request, context) { identity in
                struct NewPassword: Decodable { var password: String; var current_password: String?; var revoke_tokens: Bool? }
                let form = try decoded(NewPassword.self, body, "send {\"password\", \"current_password\", \"revoke_tokens\"} as JSON")
                // Every other sign-in of the account ends; the asker's own session, if it asked
                // by cookie, stays.
                let changed = try await app.setPassword(try context.parameters.require("name"), password: form.password, current: form.current_password,
                                                        from: clientAddress(request, context, trustedProxies),
                                                        keeping: request.headers[.authorization] == nil ? request.cookies[sessionCookie]?.value : nil,
                                                        revokeTokens: form.revoke_tokens ?? false, ownNeedsCurrent: true, as: identity)
                return try encoded(changed)
            }
        }
        api.get("/tokens") { request, context in
            try await answer(app, request, context) { identity in try encoded(try await app.listTokens(as: identity)) }
        }
        api.post("/tokens") { request, context in
            var request = request
            let body = try await request.collectBody(upTo: 16 * 1024)
            return try await answer(app, request, context) { identity in
                struct NewToken: Decodable { var account: String? }
                let form = body.readableBytes == 0 ? NewToken() : try decoded(NewToken.self, body, "send {\"account\": ...} as JSON, or nothing for a token of your own")
                return try encoded(try await app.createToken(for: form.account ?? identity.name, as: identity), status: .created)
            }
        }
        api.delete("/tokens/:id") { request, context in
            try await answer(app, request, context) { identity in
                try await app.revokeToken(try context.parameters.require("id"), as: identity)
                return Response(status: .noContent)
            }
        }
        api.get("/projections") { request, context in
            try await answer(app, request, context) { identity in
                let rows = try await app.projectionStatus(as: identity)
                return json("[" + (try rows.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }).joined(separator: ",") + "]")
            }
        }
        return router
    }

    // MARK: Answering

    /// Authenticates the request (`Authorization: Bearer reach_...`), runs `body` as the
    /// identity found, and turns every refusal into a problem. A request that `writes` (by
    /// default, any but GET and HEAD) and is signed in by the session cookie must carry the
    /// session's CSRF token.
    static func answer(_ app: ReachApplication, _ request: Request, _ context: ReachRequestContext, writes: Bool? = nil,
                       _ body: (Identity) async throws -> Response) async throws -> Response {
        do {
            if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
                return try await body(try await app.identify(token: String(header.dropFirst("Bearer ".count))))
            }
            guard let session = request.cookies[sessionCookie]?.value, !session.isEmpty else {
                return problem(.unauthorized, "not signed in", "sign in (POST /api/v1/session), or send an API token: Authorization: Bearer reach_...",
                               headers: [.wwwAuthenticate: #"Bearer realm="reach""#])
            }
            let (identity, csrf) = try await app.identify(session: session)
            // A write authenticated by the cookie alone could be forged by another site: it must
            // carry the session's CSRF token too.
            if writes ?? (request.method != .get && request.method != .head) {
                guard let sent = request.headers[.init(csrfHeader)!], sent == csrf else {
                    return problem(.forbidden, "not allowed", "a write signed in by cookie needs the session's CSRF token in the X-CSRF-Token header")
                }
            }
            return try await body(identity)
        } catch {
            return problem(Failure(error, logger: app.logger, requestID: context.requestID, path: request.uri.path))
        }
    }

    /// The problem of a failure (``Failure``).
    static func problem(_ failure: Failure) -> Response {
        problem(failure.status, failure.title, failure.detail, errors: failure.fields, headers: failure.headers)
    }

    /// A problem (RFC 9457), with the fields at fault.
    static func problem(_ status: HTTPResponse.Status, _ title: String, _ detail: String, errors: [(String, String)] = [],
                        headers: HTTPFields = [:]) -> Response {
        var object: [String: Any] = ["type": "about:blank", "title": title, "status": status.code, "detail": detail]
        if !errors.isEmpty { object["errors"] = errors.map { ["field": $0.0, "reason": $0.1] } }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A value as JSON (sorted keys).
    static func encoded(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.sorted.encode(value))))
    }

    /// A JSON body as `type`; anything else is refused with `expected`.
    static func decoded<T: Decodable>(_ type: T.Type, _ body: ByteBuffer, _ expected: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView)) } catch { throw Invalid("body", "is not as expected: \(expected)") }
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
        var hostPart = Substring(authority), port: Int?
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
                throw Invalid("metric", "'\(text.prefix(40))' is not a metric; choose one of \(Metric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            metrics.append(metric)
        }
        var by: ScopeDimension?
        if let text = parameters["by"] {
            guard let dimension = ScopeDimension(rawValue: String(text)) else { throw Invalid("by", "is one of \(ScopeDimension.allCases.map(\.rawValue).joined(separator: ", "))") }
            by = dimension
        }
        func number(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let text = parameters[Substring(name)] else { return nil }
            guard let value = Int(text), range.contains(value) else { throw Invalid(name, "is a whole number from \(range.lowerBound) to \(range.upperBound)") }
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

    func handle(_ request: Request, context: ReachRequestContext, next: (Request, ReachRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        let given = request.headers[.init("X-Request-Id")!]
        context.requestID = given.flatMap { $0.range(of: "^[A-Za-z0-9._-]{1,64}$", options: .regularExpression) != nil ? $0 : nil }
            ?? UUID().uuidString.lowercased()
        let start = ContinuousClock.now
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - start
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            logger.info("request", metadata: ["request_id": "\(context.requestID)", "method": "\(request.method.rawValue)",
                                               "path": "\(request.uri.path)", "status": "\(status)", "ms": "\(String(format: "%.1f", milliseconds))"])
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
               !route.methods.contains(request.method.rawValue) {
                return ReachServer.problem(.methodNotAllowed, "method not allowed",
                                           "\(path) takes \(route.methods.joined(separator: ", ")), not \(request.method.rawValue.prefix(20))",
                                           headers: [.allow: route.methods.joined(separator: ", ")])
            }
            return ReachServer.problem(.notFound, "not found", "no route is \(path.prefix(100)); GET /api/openapi.yaml lists them")
        }
    }
}
