import Foundation
import Hummingbird
import Logging
import ReachCalendar
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachServer
import ReachTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@testable import ReachApp

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `reach serve` over loopback, as scripts and the web app reach it: every route against every
/// kind of caller, and input meant to break it.
@Suite("the HTTP service", .serialized)
struct ServerTests {
    /// A running service on the demo data, with an account and token per role.
    struct Running {
        var base: URL
        var tokens: [String: String]
        var app: ReachApplication
        var group: ServiceGroup
        var task: Task<Void, any Error>
        var db: TestDatabase

        /// Stops the service as SIGTERM would, and waits for it.
        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
    }

    /// The largest upload the tests' service keeps.
    static let maximumUpload = 256 * 1024

    /// A new database with the demo data set, and the application on it.
    static func demo() async throws -> (TestDatabase, ReachApplication) {
        setenv("REACH_BCRYPT_COST", "4", 1)
        let db = try TestDatabase.create()
        var target = DatabaseTarget.url("")
        target.application = db.application
        target.owner = db.owner
        var logger = Logger(label: "reach.test")
        logger.logLevel = .warning
        let app = ReachApplication(target: target, logger: logger)
        _ = try await app.loadDemo(seed: 7, events: 3000, as: Identity(name: "ops", role: .admin))
        return (db, app)
    }

    static func start(trustedProxies: TrustedProxies = .none) async throws -> Running {
        var (db, app) = try await demo()
        let admin = Identity(name: "ops", role: .admin)
        var tokens: [String: String] = [:]
        for (name, role, authorities) in [
            ("ana", Identity.Role.researcher, [String]()), ("sam", .staff, ["northvale"]),
            ("lee", .laViewer, ["northvale"]), ("ops", .admin, []), ("gone", .staff, ["northvale"]),
        ] {
            _ = try await app.addUser(name, role: role, authorities: authorities, password: "a long enough password", as: admin)
            tokens[name] = try await app.createToken(for: name, as: admin).token
        }
        let revoked = try await app.createToken(for: "ana", as: admin)
        try await app.revokeToken(revoked.id, as: admin)
        tokens["revoked"] = revoked.token
        try await app.disableUser("gone", as: admin)
        _ = try await app.publishSummaries(as: admin)
        // As `reach serve --no-runner` runs (each question brings the projections up to date,
        // with REACH_HTTP_FIGURES_SECONDS=0: each test reads the figures of what it just recorded).
        app = app.with(.service(runner: false, figuresSeconds: 0, idleConnections: 8))
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let server = Application(
            router: ReachServer.router(app, maximumUpload: maximumUpload, trustedProxies: trustedProxies),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: app.logger)
        let group = ServiceGroup(configuration: .init(services: app.services + [server], logger: app.logger))
        let task = Task { try await group.run() }
        var port = 0
        for await value in stream {
            port = value
            break
        }
        return Running(base: URL(string: "http://127.0.0.1:\(port)")!, tokens: tokens, app: app, group: group, task: task, db: db)
    }

    /// A client that keeps no cookies: each test sends the ones it means to.
    static let client: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration)
    }()

    /// Stops a session from following redirects, so that a test sees the 303 and its cookies.
    final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }

    /// A page of the web app, as a browser without cookies of its own would ask for it.
    static func page(
        _ running: Running, _ method: String, _ path: String, as account: String?, body: String? = nil,
        contentType: String = "application/json", headers: [String: String] = [:]
    ) async throws -> (status: Int, body: String, type: String, headers: [String: String]) {
        try await call(running, method, path, as: account, body: body, contentType: contentType, headers: headers, client: browserless)
    }

    /// A client that keeps no cookies and follows no redirects (for the web app's pages).
    static let browserless: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }()

    static func call(
        _ running: Running, _ method: String, _ path: String, as account: String?, body: String? = nil,
        contentType: String = "application/json", headers: [String: String] = [:],
        client: URLSession = client
    ) async throws -> (status: Int, body: String, type: String, headers: [String: String]) {
        var request = URLRequest(url: URL(string: running.base.absoluteString + path)!)
        request.httpMethod = method
        if let account { request.setValue("Bearer \(running.tokens[account] ?? account)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await client.data(for: request)
        let http = response as! HTTPURLResponse
        let fields = Dictionary(http.allHeaderFields.map { (String(describing: $0.key).lowercased(), String(describing: $0.value)) }) { a, _ in a }
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.value(forHTTPHeaderField: "Content-Type") ?? "", fields)
    }

    @Test("every role against every route: 200, 401, 403 or 400 as designed, and never another authority's figures for a lead")
    func authorisationMatrix() async throws {
        let running = try await Self.start()
        let other = "southmere"
        let metricsOwn = "/api/v1/metrics?la=northvale&period=2024/25&metric=sessions&metric=attendances"
        let metricsOther = "/api/v1/metrics?la=\(other)&period=2024/25&metric=sessions"
        let summaryOwn = "/api/v1/authorities/northvale/summary?period=2024/25&format=json"
        let summaryOther = "/api/v1/authorities/\(other)/summary?period=2024/25&format=json"
        let expected: [(String?, String, String, Int)] = [
            // No credentials, a revoked token, a disabled account, a made-up token: 401 everywhere.
            (nil, "GET", metricsOwn, 401), ("revoked", "GET", metricsOwn, 401), ("gone", "GET", metricsOwn, 401),
            ("reach_0123456789ab_notarealsecretatall", "GET", metricsOwn, 401), (nil, "GET", summaryOwn, 401),
            (nil, "GET", "/api/v1/projections", 401),
            // A researcher reads every authority; records nothing.
            ("ana", "GET", metricsOther, 200), ("ana", "GET", summaryOther, 200), ("ana", "GET", "/api/v1/projections", 200),
            // Staff read their own authority's figures, not another's.
            ("sam", "GET", metricsOwn, 200), ("sam", "GET", metricsOther, 403), ("sam", "GET", summaryOther, 403),
            ("sam", "GET", "/api/v1/projections", 403),
            // A lead: its own authority under a policy only.
            ("lee", "GET", metricsOwn, 200), ("lee", "GET", metricsOther, 403), ("lee", "GET", metricsOwn + "&policy=none", 403),
            ("lee", "GET", "/api/v1/metrics?period=2024-10-01..2024-10-30", 400), ("lee", "GET", summaryOwn, 200), ("lee", "GET", summaryOther, 403),
            ("lee", "GET", "/api/v1/projections", 403),
            // An admin operates.
            ("ops", "GET", "/api/v1/projections", 200), ("ops", "GET", summaryOther, 200),
            // The catalogue and its templates, for anyone signed in.
            (nil, "GET", "/api/v1/catalogue", 401), ("lee", "GET", "/api/v1/catalogue", 200),
            ("sam", "GET", "/api/v1/templates/activity_delivered.csv", 200),
            ("sam", "GET", "/api/v1/templates/no_such_type.csv", 404),
            // Accounts and the raw log are an admin's; one's own tokens and imports are one's own.
            (nil, "GET", "/api/v1/users", 401), ("ana", "GET", "/api/v1/users", 403), ("sam", "GET", "/api/v1/users", 403),
            ("lee", "GET", "/api/v1/users", 403), ("ops", "GET", "/api/v1/users", 200),
            (nil, "GET", "/api/v1/events", 401), ("ana", "GET", "/api/v1/events", 403), ("sam", "GET", "/api/v1/events", 403),
            ("lee", "GET", "/api/v1/events", 403), ("ops", "GET", "/api/v1/events?from=1&limit=5", 200),
            ("lee", "GET", "/api/v1/tokens", 200), ("ana", "GET", "/api/v1/imports", 403), ("lee", "GET", "/api/v1/imports", 403),
            ("sam", "GET", "/api/v1/imports", 200), ("ops", "GET", "/api/v1/imports", 200),
            ("sam", "POST", "/api/v1/users/ops/disable", 403), ("lee", "DELETE", "/api/v1/tokens/000000000000", 404),
            // What no route answers: a method a path does not take, a path there is not, an authority there is not.
            ("ana", "PUT", "/api/v1/catalogue", 405), (nil, "DELETE", "/health/live", 405), ("ana", "GET", "/api/v1/nothing-here", 404),
            ("ana", "GET", "/api/v1/authorities/nowhere/summary?period=2024/25", 404),
        ]
        for (account, method, path, status) in expected {
            let answer = try await Self.call(running, method, path, as: account)
            #expect(answer.status == status, "\(account ?? "nobody") \(method) \(path): \(answer.status) \(answer.body.prefix(200))")
            if status >= 400 { #expect(answer.type == "application/problem+json", "\(path)") }
        }
        let wrongMethod = try await Self.call(running, "PATCH", "/api/v1/records", as: "sam")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "POST", "\(wrongMethod.headers)")
        // What a lead receives is under dfe, and no count of young people from 1 to 5 is in it.
        let lead = try await Self.call(running, "GET", metricsOwn + "&format=csv", as: "lee")
        let rows = lead.body.split(separator: "\n").dropFirst()
        #expect(!rows.isEmpty && rows.allSatisfy { $0.hasSuffix(",dfe") })
        for row in rows where row.contains(",pupils,") {
            if let value = Int(row.split(separator: ",")[6]) { #expect(value == 0 || value > 5, "\(row)") }
        }
        // Every answer carries a request id: the caller's when it is a plain token, else a new one.
        let traced = try await Self.call(running, "GET", "/health/live", as: nil, headers: ["X-Request-Id": "trace-42"])
        #expect(traced.headers["x-request-id"] == "trace-42")
        let untraced = try await Self.call(running, "GET", "/health/live", as: nil, headers: ["X-Request-Id": "not; a token"])
        #expect(untraced.headers["x-request-id"].map { $0 != "not; a token" && $0.count == 36 } == true)
        let template = try await Self.call(running, "GET", "/api/v1/templates/activity_delivered.csv", as: "sam")
        #expect(template.type.hasPrefix("text/csv"))
        #expect(template.body == (try ReachApplication.template("activity_delivered").text))
        let catalogue = try await Self.call(running, "GET", "/api/v1/catalogue", as: "ana")
        #expect(catalogue.body.contains(#""type":"activity_delivered""#))
        #expect(try await Self.call(running, "GET", "/health/live", as: nil).status == 200)
        #expect(try await Self.call(running, "GET", "/health/ready", as: nil).status == 200)
        // Prometheus: requests by the route's pattern (never an authority's id), latency, the
        // log's position and each projection's lag, in the text format.
        let scraped = try await Self.call(running, "GET", "/metrics", as: nil)
        #expect(scraped.status == 200 && scraped.type.hasPrefix("text/plain"))
        #expect(
            scraped.body.contains(#"reach_http_requests_total{route="/api/v1/authorities/{la}/summary",method="GET",status="403"}"#)
                || scraped.body.contains(#"route="/api/v1/authorities/{la}/summary""#), "\(scraped.body.prefix(600))")
        #expect(!scraped.body.contains("southmere"))
        #expect(scraped.body.contains("reach_http_request_duration_seconds_bucket"))
        #expect(scraped.body.contains(#"reach_projection_lag_events{projection="activities"}"#))
        #expect(scraped.body.contains("reach_log_last_position"))
        for line in scraped.body.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.range(of: #"^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? (-?[0-9.e+-]+|\+Inf)$"#, options: .regularExpression) != nil, "\(line)")
        }
        #expect(scraped.body.contains("reach_pool_opened_connections"))
        // And by Prometheus's own linter, where Debian's prometheus package provides it.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let (status, said) = try Programs.run("/usr/bin/promtool", ["check", "metrics"], input: scraped.body)
            #expect(status == 0, "promtool check metrics: \(said)")
        }
        await running.stop()
    }

    @Test("each request reads under its account's role in PostgreSQL: a handler that forgets to filter still gets no other authority's rows")
    func databaseScope() async throws {
        let running = try await Self.start()
        defer { Task { await running.stop() } }
        func refused(_ connection: Connection, _ sql: String) -> Bool {
            do {
                _ = try connection.query(sql)
                return false
            } catch let error as PostgresError { return error.sqlState == "42501" } catch { return false }
        }
        func count(_ connection: Connection, _ sql: String) throws -> Int64 { try connection.query(sql).decode(row: 0, column: 0) }

        // Staff of northvale: the scoped views hold northvale's rows only, whatever is asked.
        let sam = Identity(name: "sam", role: .staff, authorities: ["northvale"])
        let staff = try running.app.database.open(.request(sam, reading: true))
        #expect(try count(staff, "SELECT count(*) FROM scoped.activities") > 0)
        #expect(try count(staff, "SELECT count(*) FROM scoped.activities WHERE la_id <> 'northvale'") == 0)
        #expect(try count(staff, "SELECT count(*) FROM scoped.authorities") == 1)
        for sql in [
            "SELECT 1 FROM research.activities LIMIT 1", "SELECT 1 FROM reach.events LIMIT 1", "SELECT 1 FROM reach.accounts LIMIT 1",
            "SELECT 1 FROM publication.summaries LIMIT 1", "SELECT 1 FROM proj_activities.activities LIMIT 1",
        ] {
            #expect(refused(staff, sql), "staff: \(sql)")
        }
        #expect(try staff.query("SELECT reach.first_occurred_on('southmere')").decodeIfPresent(CalendarDate.self, row: 0, column: 0) == nil)
        // Read through the scoped views, a staff member's figures for their authority are the
        // research views' figures for it, cut by anything, with or without a policy.
        let year = try Period.parse("2024/25").get()
        for (by, policy) in [(ScopeDimension?.none, DisclosurePolicy.Name?.none), (.month, nil), (.pilot, nil), (nil, .dfe)] {
            let query = MetricQuery(period: year, la: "northvale", by: by)
            let asStaff = try await running.app.metrics(query, policy: policy, as: sam)
            let asResearcher = try await running.app.metrics(query, policy: policy, as: Identity(name: "ana", role: .researcher))
            #expect(
                !asStaff.rows.isEmpty && asStaff.rows == asResearcher.rows, "by \(by?.rawValue ?? "nothing"), policy \(policy?.rawValue ?? "default")"
            )
        }
        // A staff member's request appends for its own authorities only, whatever the path.
        let writer = try running.app.database.open(.request(sam, reading: false))
        let stray = NewEvent(streamID: "test:stray", type: "note_made", data: "{}", occurredOn: .today, authorityID: "southmere")
        do {
            _ = try EventLog.append([stray], on: writer)
            Issue.record("a staff member's request appended an event of another authority")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42501", "\(error)")
        }
        #expect(try count(writer, "SELECT 1") == 1)

        // A researcher reads the research views, and not the log, the accounts or what is published.
        let ana = try running.app.database.open(.request(Identity(name: "ana", role: .researcher), reading: true))
        #expect(try count(ana, "SELECT count(DISTINCT la_id) FROM research.activities") > 1)
        for sql in [
            "SELECT 1 FROM reach.events LIMIT 1", "SELECT 1 FROM reach.sessions LIMIT 1", "SELECT 1 FROM scoped.activities LIMIT 1",
            "SELECT 1 FROM publication.summaries LIMIT 1",
        ] {
            #expect(refused(ana, sql), "researcher: \(sql)")
        }

        // A lead reads its own authority's published summaries, through the authority functions only.
        let lee = try running.app.database.open(.request(Identity(name: "lee", role: .laViewer, authorities: ["northvale"]), reading: true))
        #expect(try lee.query("SELECT authority.login_authority()").decode(String.self, row: 0, column: 0) == "northvale")
        #expect(try count(lee, "SELECT count(*) FROM authority.published('2024/25', 'dfe')") == 1)
        for sql in [
            "SELECT 1 FROM publication.summaries LIMIT 1", "SELECT 1 FROM research.activities LIMIT 1", "SELECT 1 FROM scoped.activities LIMIT 1",
            "SELECT 1 FROM reach.events LIMIT 1",
        ] {
            #expect(refused(lee, sql), "lead: \(sql)")
        }
        // A login that is not the service's cannot claim an authority by the setting alone.
        let owner = try running.db.ownerConnection()
        try owner.executeScript(
            """
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stray_login') THEN CREATE ROLE stray_login LOGIN PASSWORD 'stray-login-pass' IN ROLE reach_authority; END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
            """)
        let strayLogin = try Connection(configuration: running.db.owner.overriding(["user": "stray_login", "password": "stray-login-pass"]))
        _ = try strayLogin.query("SELECT set_config('role', 'reach_authority', false), set_config('reach.authorities', 'northvale', false)")
        #expect(try strayLogin.query("SELECT authority.login_authority()").decodeIfPresent(String.self, row: 0, column: 0) == nil)
        #expect(try count(strayLogin, "SELECT count(*) FROM authority.published('2024/25', 'dfe')") == 0)
        await running.stop()
    }

    @Test("records: staff record for their authority, a retry changes nothing, refusals say field and reason; hostile input gets a clear 4xx")
    func records() async throws {
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        let assembly = try Assembly(owner)
        let before: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        let first = try await Self.call(running, "POST", "/api/v1/records", as: "sam", body: assembly.record("api-1"))
        #expect(first.status == 200, "\(first.body)")
        #expect(first.body.contains(#""status":"accepted""#))
        let again = try await Self.call(running, "POST", "/api/v1/records", as: "sam", body: assembly.record("api-1"))
        #expect(again.body.contains(#""status":"already_recorded""#), "\(again.body)")
        // Another authority's record is refused with the field and the reason.
        let elsewhere = try await Self.call(running, "POST", "/api/v1/records", as: "sam", body: assembly.record("api-2", la: "southmere"))
        #expect(elsewhere.status == 422)
        #expect(elsewhere.body.contains("la_id"), "\(elsewhere.body)")
        // A researcher and a lead record nothing.
        #expect(try await Self.call(running, "POST", "/api/v1/records", as: "ana", body: assembly.record("api-3")).status == 403)
        #expect(try await Self.call(running, "POST", "/api/v1/records", as: "lee", body: assembly.record("api-4")).status == 403)
        // Hostile input: each a 4xx that says what is wrong, and the service still answers.
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        for (body, allowed) in [
            ("{not json", [422, 400]), (deep, [422, 400]),
            (#"{"type":"activity_delivered","id":"x'; DROP TABLE reach.events; --","data":{}}"#, [422]),
            (String(repeating: "x", count: ReachServer.maximumBody + 10), [413]),
        ] {
            let answer = try await Self.call(running, "POST", "/api/v1/records", as: "sam", body: body)
            #expect(allowed.contains(answer.status), "\(body.prefix(40)): \(answer.status) \(answer.body.prefix(200))")
        }
        // Invalid UTF-8, and a body that is not what the route reads.
        var raw = URLRequest(url: URL(string: running.base.absoluteString + "/api/v1/records")!)
        raw.httpMethod = "POST"
        raw.setValue("Bearer \(running.tokens["sam"]!)", forHTTPHeaderField: "Authorization")
        raw.httpBody = Data([0x7B, 0x22, 0xFF, 0xFE, 0xC3, 0x28, 0x22, 0x7D])
        let (invalidBody, invalidResponse) = try await Self.client.data(for: raw)
        #expect((invalidResponse as? HTTPURLResponse)?.statusCode == 400, "\(String(decoding: invalidBody, as: UTF8.self))")
        #expect(String(decoding: invalidBody, as: UTF8.self).contains("UTF-8"))
        // SQL-looking text in every parameter of the figures and the summary: a 4xx, or figures
        // about nothing; never a 5xx, and the log unchanged.
        let sql = "x'%20OR%20'1'='1;%20DROP%20TABLE%20reach.events;--"
        for parameter in ["period", "la", "region", "pilot", "project", "objective", "policy_goal", "metric", "by", "policy", "format", "publish"] {
            let answer = try await Self.call(running, "GET", "/api/v1/metrics?\(parameter)=\(sql)", as: "ana")
            #expect((200..<500).contains(answer.status), "\(parameter): \(answer.status) \(answer.body.prefix(200))")
        }
        for path in [
            "/api/v1/authorities/\(sql)/summary?period=2024/25", "/api/v1/authorities/northvale/summary?period=\(sql)",
            "/api/v1/imports/\(sql)", "/api/v1/templates/\(sql)", "/api/v1/events?from=\(sql)",
        ] {
            let answer = try await Self.call(running, "GET", path, as: "ops")
            #expect((400..<500).contains(answer.status), "\(path): \(answer.status) \(answer.body.prefix(200))")
        }
        for path in [
            "/api/v1/metrics?period=2024/99", "/api/v1/metrics?metric=nonsense", "/api/v1/metrics?objective=99", "/api/v1/metrics?by=la'%20OR%201=1",
        ] {
            let answer = try await Self.call(running, "GET", path, as: "ana")
            #expect(answer.status == 400, "\(path): \(answer.status) \(answer.body.prefix(200))")
            #expect(answer.type == "application/problem+json")
        }
        #expect(try await Self.call(running, "GET", "/health/live", as: nil).status == 200)
        // Prometheus counts the records by outcome.
        let scraped = try await Self.call(running, "GET", "/metrics", as: nil).body
        #expect(scraped.contains(#"reach_records_answered_total{outcome="accepted"} 1"#), "\(scraped.prefix(400))")
        #expect(scraped.contains(#"reach_records_answered_total{outcome="already_recorded"} 1"#))
        // Only what a 2xx acknowledged is in the log, and the log holds.
        #expect(try owner.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == before + 1)
        #expect(try EventLog.verify(on: owner).ok)
        await running.stop()
    }

    @Test(
        "accounts over the API: an admin adds, lists and disables accounts and makes tokens; anyone changes their own password with the current one; the raw log as JSON Lines and live events"
    )
    func accountsAndEvents() async throws {
        let running = try await Self.start()
        let added = try await Self.call(
            running, "POST", "/api/v1/users", as: "ops",
            body: #"{"name":"kim","role":"staff","authorities":["northvale"],"password":"another long password"}"#)
        #expect(added.status == 201 && added.body.contains(#""role":"staff""#), "\(added.body)")
        for (body, field) in [
            (#"{"name":"kim","role":"staff","authorities":["northvale"],"password":"another long password"}"#, "exists"),
            (#"{"name":"Bad Name","role":"staff","authorities":["northvale"],"password":"another long password"}"#, "account name"),
            (#"{"name":"kim2","role":"chief","password":"another long password"}"#, "role"),
            (#"{"name":"kim3","role":"la_viewer","authorities":["northvale","southmere"],"password":"another long password"}"#, "exactly one"),
            (#"{"name":"kim4","role":"researcher","password":"short"}"#, "12 characters"), ("[1,2", "body"),
        ] {
            let answer = try await Self.call(running, "POST", "/api/v1/users", as: "ops", body: body)
            #expect(answer.status == 400 && answer.body.contains(field), "\(body): \(answer.status) \(answer.body)")
        }
        let token = try await Self.call(running, "POST", "/api/v1/tokens", as: "ops", body: #"{"account":"kim"}"#)
        #expect(token.status == 201)
        let issued = try JSONSerialization.jsonObject(with: Data(token.body.utf8)) as? [String: Any] ?? [:]
        var tokens = running.tokens
        tokens["kim"] = issued["token"] as? String
        let kim = Running(base: running.base, tokens: tokens, app: running.app, group: running.group, task: running.task, db: running.db)
        #expect(try await Self.call(kim, "GET", "/api/v1/metrics?period=2024/25&metric=sessions", as: "kim").status == 200)
        // Their own password: with the current one only.
        #expect(
            try await Self.call(kim, "PUT", "/api/v1/users/kim/password", as: "kim", body: #"{"password":"a newer long password"}"#).status == 403)
        #expect(
            try await Self.call(
                kim, "PUT", "/api/v1/users/kim/password", as: "kim",
                body: #"{"password":"a newer long password","current_password":"another long password"}"#
            ).status == 200)
        #expect(
            try await Self.call(kim, "PUT", "/api/v1/users/sam/password", as: "kim", body: #"{"password":"a newer long password"}"#).status == 403)
        #expect(
            try await Self.call(kim, "PUT", "/api/v1/users/nobody-here/password", as: "ops", body: #"{"password":"a newer long password"}"#).status
                == 404)
        let signIn = try await Self.call(kim, "POST", "/api/v1/session", as: nil, body: #"{"name":"kim","password":"a newer long password"}"#)
        #expect(signIn.status == 200)
        // Tokens listed without secrets; revoked by their owner; an admin disables the account.
        let listed = try await Self.call(kim, "GET", "/api/v1/tokens", as: "kim")
        #expect(
            listed.status == 200 && listed.body.contains(issued["id"] as? String ?? "?") && !listed.body.contains(issued["token"] as? String ?? "?"))
        let users = try await Self.call(kim, "GET", "/api/v1/users", as: "ops")
        #expect(users.body.contains(#""name":"kim""#) && !users.body.contains("password"))
        #expect(try await Self.call(kim, "POST", "/api/v1/users/kim/disable", as: "ops").status == 204)
        #expect(try await Self.call(kim, "GET", "/api/v1/tokens", as: "kim").status == 401)
        #expect(try await Self.call(kim, "POST", "/api/v1/users/nobody-here/disable", as: "ops").status == 404)
        let own = try await Self.call(kim, "POST", "/api/v1/tokens", as: "sam")
        #expect(own.status == 201)
        let ownID = (try JSONSerialization.jsonObject(with: Data(own.body.utf8)) as? [String: Any])?["id"] as? String ?? ""
        #expect(try await Self.call(kim, "DELETE", "/api/v1/tokens/\(ownID)", as: "lee").status == 404)
        #expect(try await Self.call(kim, "DELETE", "/api/v1/tokens/\(ownID)", as: "sam").status == 204)

        // The raw log: pages of JSON Lines, and the same events followed live.
        let page = try await Self.call(running, "GET", "/api/v1/events?from=1&limit=3", as: "ops")
        let lines = page.body.split(separator: "\n")
        #expect(page.type == "application/x-ndjson" && lines.count == 3 && page.headers["x-next-from"] == "4", "\(page.headers)")
        #expect(lines.first?.contains(#""position":1"#) == true, "\(lines.first ?? "")")
        for (path, status) in [("/api/v1/events?from=0", 400), ("/api/v1/events?limit=100000", 400), ("/api/v1/events?from=x", 400)] {
            #expect(try await Self.call(running, "GET", path, as: "ops").status == status, "\(path)")
        }
        var request = URLRequest(url: URL(string: running.base.absoluteString + "/api/v1/events?from=2")!)
        request.setValue("Bearer \(running.tokens["ops"]!)", forHTTPHeaderField: "Authorization")
        request.setValue("text/event-stream", forHTTPHeaderField: "Accept")
        request.timeoutInterval = 30
        // The stream stays open: the service's shutdown ends it, and the events given so far arrive.
        let stream = Task { try await Self.client.data(for: request) }
        try await Task.sleep(for: .seconds(2))
        await running.stop()
        let (data, response) = try await stream.value
        let text = String(decoding: data, as: UTF8.self)
        #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type") == "text/event-stream")
        #expect(text.hasPrefix("id: 2\nevent: event\ndata: {"), "\(text.prefix(200))")
        #expect(text.contains("id: 100\n"))
    }

    /// schemathesis (PyPI): from REACH_PYTHON_TOOLS, the venv Deploy/test.sh makes in .build/pytools, or the PATH.
    static func schemathesisPath() -> String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let environment = ProcessInfo.processInfo.environment
        var candidates = [root + "/.build/pytools/bin/schemathesis"]
        if let tools = environment["REACH_PYTHON_TOOLS"] { candidates.insert(tools + "/schemathesis", at: 0) }
        candidates += (environment["PATH"] ?? "").split(separator: ":").map { $0 + "/schemathesis" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(
        "schemathesis runs every operation against a live service for each role: no 5xx, every response as documented; then verify holds and every new event is one a request acknowledged"
    )
    func schemathesis() async throws {
        guard let tool = Self.schemathesisPath() else {
            Issue.record("schemathesis is not installed: Deploy/test.sh (the README's test command) installs it in .build/pytools")
            return
        }
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        let before: Int64 = try owner.query("SELECT coalesce(max(\"position\"), 0) FROM reach.events").decode(row: 0, column: 0)
        // An admin's run comes last: its stateful phase may disable the accounts it lists.
        for account in ["lee", "ana", "sam", "ops"] {
            let output = try await blocking {
                try Programs.run(
                    tool,
                    [
                        "run", running.base.absoluteString + "/api/openapi.yaml", "--url", running.base.absoluteString,
                        "-H", "Authorization: Bearer \(running.tokens[account]!)", "--max-examples", "5", "--request-timeout", "20",
                        "--seed", "20261130", "--no-color",
                        "--checks",
                        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,ignored_auth",
                    ],
                    directory: FileManager.default.temporaryDirectory)
            }
            #expect(output.0 == 0, "schemathesis as \(account): \(output.1.suffix(3000))")
            #expect(output.1.contains("passed"), "\(output.1.suffix(500))")
        }
        #expect(try await Self.call(running, "GET", "/health/live", as: nil).status == 200)
        await running.stop()
        // The log holds: and every event since is a record, import or export of one of the accounts.
        #expect(try EventLog.verify(on: owner).ok)
        let strays: Int = try owner.query(
            """
            SELECT count(*) FROM reach.events WHERE "position" > $1
              AND NOT (metadata ->> 'actor' = ANY ('{ana,sam,lee,ops}') AND (metadata ->> 'source' IN ('api', 'export') OR metadata ->> 'source' LIKE 'import:%'))
            """, [before]
        ).decode(row: 0, column: 0)
        #expect(strays == 0)
    }

    @Test(
        "the catalogue's JSON Schema of each record type accepts the type's example and refuses a record without its required data (checked by Python's jsonschema)"
    )
    func catalogueSchemas() throws {
        let catalogue = ReachApplication.catalogue()
        let activity = try #require(catalogue.first { $0.type == "activity_delivered" })
        guard case .object(let schema) = activity.schema, case .object(let properties)? = schema["properties"],
            case .object(let data)? = properties["data"], case .array(let required)? = data["required"],
            case .object(let fields)? = data["properties"], case .object(let kind)? = fields["kind"], case .array(let kinds)? = kind["enum"]
        else {
            Issue.record("activity_delivered's schema is not as expected: \(activity.schema.text.prefix(400))")
            return
        }
        #expect(required.contains("pilot_id") && required.contains("la_id") && required.contains("date"))
        #expect(kinds.contains("assembly"))
        let encoded = try JSONEncoder.init().encode(catalogue)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("reach-catalogue-\(getpid()).json")
        try encoded.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        guard let tool = Self.schemathesisPath() else {
            Issue.record("Python's tools are not installed: Deploy/test.sh (the README's test command) installs them in .build/pytools")
            return
        }
        let python = (tool as NSString).deletingLastPathComponent + "/python"
        let (status, output) = try Programs.run(
            FileManager.default.isExecutableFile(atPath: python) ? python : "/usr/bin/python3",
            [
                "-c",
                """
                import json, sys
                from jsonschema import Draft202012Validator
                bad = []
                for entry in json.load(open(sys.argv[1])):
                    Draft202012Validator.check_schema(entry["schema"])
                    validator = Draft202012Validator(entry["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER)
                    record = {"type": entry["type"], "id": "example-1", "data": json.loads(entry["example"])}
                    errors = [e.message for e in validator.iter_errors(record)]
                    if errors: bad.append(entry["type"] + ": example refused: " + "; ".join(errors))
                    required = entry["schema"]["properties"]["data"].get("required", [])
                    if required and validator.is_valid({"type": entry["type"], "id": "x", "data": {}}): bad.append(entry["type"] + ": empty data accepted")
                    if validator.is_valid({"type": "not_" + entry["type"], "id": "x", "data": record["data"]}): bad.append(entry["type"] + ": another type accepted")
                print("\\n".join(bad) if bad else "ok")
                sys.exit(1 if bad else 0)
                """, file.path,
            ])
        #expect(status == 0 && output.hasPrefix("ok"), "\(output.suffix(2000))")
    }

    @Test(
        "SIGTERM to a running reach serve while clients post records: it exits 0 within its limit, and every record acknowledged is in the log exactly once"
    )
    func sigterm() async throws {
        guard let binary = Self.builtReach() else { return }
        let (db, app) = try await Self.demo()
        let admin = Identity(name: "ops", role: .admin)
        _ = try await app.addUser("sam", role: .staff, authorities: ["northvale"], password: "a long enough password", as: admin)
        let token = try await app.createToken(for: "sam", as: admin).token
        _ = try await app.publishSummaries(as: admin) // (brings the projections up to date)
        let owner = try db.ownerConnection()
        let assembly = try Assembly(owner)

        // The service as a process of its own, told its database by URL, on a port it picks.
        let (process, port) = try await Self.serveProcess(binary, db: db, ["--shutdown-seconds", "20"])

        let base = "http://127.0.0.1:\(port)"
        func post(_ id: String) async -> Int? {
            var request = URLRequest(url: URL(string: base + "/api/v1/records")!)
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.httpBody = Data(assembly.record(id).utf8)
            guard let (_, response) = try? await Self.client.data(for: request) else { return nil }
            return (response as? HTTPURLResponse)?.statusCode
        }
        let started = ContinuousClock.now
        let acknowledged = await withTaskGroup(of: [String].self) { group in
            for client in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for n in 0..<400 {
                        let id = "term-\(client)-\(n)"
                        guard let status = await post(id) else { break }
                        if status == 200 { mine.append(id) }
                    }
                    return mine
                }
            }
            try? await Task.sleep(for: .milliseconds(1500))
            kill(process.processIdentifier, SIGTERM)
            var all: [String] = []
            for await ids in group { all += ids }
            return all
        }
        try await blocking { process.waitUntilExit() }
        let took = ContinuousClock.now - started
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "exit \(process.terminationStatus)")
        #expect(took < .seconds(25), "\(took)")
        print(
            "SIGTERM under load: \(acknowledged.count) records acknowledged; the process exited \(process.terminationStatus) \(took) after the clients began"
        )
        #expect(!acknowledged.isEmpty && acknowledged.count < 3200, "\(acknowledged.count) acknowledged")
        let stored = try owner.query(
            "SELECT count(*), count(DISTINCT event_id) FROM reach.events WHERE event_id = ANY($1::uuid[])",
            [PostgresArray(acknowledged.map { EventLog.recordEventID($0).uuidString })])
        #expect(try stored.decode(Int.self, row: 0, column: 0) == acknowledged.count)
        #expect(try stored.decode(Int.self, row: 0, column: 1) == acknowledged.count)
        #expect(try EventLog.verify(on: owner).ok)
    }

    @Test(
        "records of requests arriving together are checked and appended in one transaction, each request answered with its own outcomes as if alone")
    func batching() async throws {
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        let assembly = try Assembly(owner)
        var shared = false
        for round in 0..<3 {
            // 12 records of their own, one sent twice at once, one another authority's and one
            // that is not JSON, all at the same moment.
            var bodies: [(String, String)] = (0..<12).map { ("own-\($0)", assembly.record("batch-\(round)-\($0)")) }
            bodies += [
                ("twice", assembly.record("batch-\(round)-twice")), ("twice", assembly.record("batch-\(round)-twice")),
                ("elsewhere", assembly.record("batch-\(round)-x", la: "southmere")), ("broken", "{not json"),
            ]
            let answers = try await withThrowingTaskGroup(of: (String, Int, String).self) { group in
                for (kind, body) in bodies {
                    group.addTask {
                        let answer = try await Self.call(running, "POST", "/api/v1/records", as: "sam", body: body)
                        return (kind, answer.status, answer.body)
                    }
                }
                var all: [(String, Int, String)] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            for (kind, status, body) in answers {
                switch kind {
                case "own": #expect(status == 200 && body.contains(#""status":"accepted""#), "\(body)")
                case "twice": #expect(status == 200, "\(body)")
                case "elsewhere": #expect(status == 422 && body.contains("la_id"), "\(body)")
                case "broken": #expect(status == 422 && body.contains("not valid JSON"), "\(body)")
                default: break
                }
            }
            let twice = answers.filter { $0.0 == "twice" }.map(\.2)
            #expect(
                twice.filter { $0.contains(#""status":"accepted""#) }.count == 1 && twice.filter { $0.contains("already_recorded") }.count == 1,
                "\(twice)")
            let stored = try owner.query(
                """
                SELECT count(*), count(DISTINCT recorded_at) FROM reach.events WHERE metadata ->> 'correlation_id' LIKE $1
                """, ["batch-\(round)-%"])
            let (count, times): (Int, Int) = (try stored.decode(row: 0, column: 0), try stored.decode(row: 0, column: 1))
            #expect(count == 13)
            if times < count { shared = true }
        }
        // Some records of different requests went in one transaction (they share its time).
        #expect(shared)
        #expect(try EventLog.verify(on: owner).ok)
        await running.stop()
    }

    @Test(
        "the web app's first pages: sign in and out with forms (labels, error summary, kept input, CSRF), an authority's page under the role's policy with an SVG chart, its table and its CSV; another authority's page refused"
    )
    func webPages() async throws {
        let running = try await Self.start()
        func cookie(_ headers: [String: String], _ name: String) -> String? {
            (headers["set-cookie"] ?? "").components(separatedBy: ", ").flatMap { $0.components(separatedBy: ",") }
                .first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + "=") }
                .map { String($0.trimmingCharacters(in: .whitespaces).split(separator: ";")[0]) }
        }
        func form(_ fields: [(String, String)]) -> String {
            fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        }
        let formType = "application/x-www-form-urlencoded"
        let start = try await Self.page(running, "GET", "/", as: nil)
        #expect(start.status == 303 && start.headers["location"] == "/sign-in")
        let signIn = try await Self.page(running, "GET", "/sign-in", as: nil)
        #expect(signIn.status == 200 && signIn.type.hasPrefix("text/html"))
        #expect(signIn.body.contains(#"<label for="name">"#) && signIn.body.contains(#"<label for="password">"#))
        #expect(signIn.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        #expect(!signIn.body.contains("<script"))
        let formCookie = try #require(cookie(signIn.headers, "reach_form"))
        let token = try #require(
            signIn.body.range(of: #"name="form_token" value="[^"]+""#, options: .regularExpression)
                .map { String(signIn.body[$0].dropFirst(#"name="form_token" value=""#.count).dropLast()) })
        // Without the form's token (a sign-in forged by another site): refused.
        let forged = try await Self.page(
            running, "POST", "/sign-in", as: nil, body: form([("name", "lee"), ("password", "a long enough password")]), contentType: formType)
        #expect(forged.status == 400 && forged.body.contains("There is a problem"))
        // Empty fields, then a wrong password: an error summary linking to the field, what was typed kept (escaped).
        let empty = try await Self.page(
            running, "POST", "/sign-in", as: nil, body: form([("form_token", token), ("name", ""), ("password", "")]),
            contentType: formType, headers: ["Cookie": formCookie])
        #expect(
            empty.status == 422 && empty.body.contains(##"<a href="#name">Enter your account name</a>"##)
                && empty.body.contains(##"<a href="#password">Enter your password</a>"##))
        let wrong = try await Self.page(
            running, "POST", "/sign-in", as: nil, body: form([("form_token", token), ("name", "<b>lee</b>"), ("password", "not it")]),
            contentType: formType, headers: ["Cookie": formCookie])
        #expect(wrong.status == 401 && wrong.body.contains("&lt;b&gt;lee&lt;/b&gt;") && !wrong.body.contains("<b>lee</b>"))
        #expect(wrong.body.contains(#"aria-describedby="name-error""#))
        // The lead signs in, sees its authority's page under dfe, and no other's.
        let signedIn = try await Self.page(
            running, "POST", "/sign-in", as: nil, body: form([("form_token", token), ("name", "lee"), ("password", "a long enough password")]),
            contentType: formType, headers: ["Cookie": formCookie])
        #expect(signedIn.status == 303 && signedIn.headers["location"] == "/")
        let session = try #require(cookie(signedIn.headers, "reach_session"))
        let home = try await Self.page(running, "GET", "/", as: nil, headers: ["Cookie": session])
        #expect(home.status == 200 && home.body.contains(#"href="/authorities/northvale""#))
        let page = try await Self.page(running, "GET", "/authorities/northvale?period=2024/25", as: nil, headers: ["Cookie": session])
        #expect(page.status == 200 && page.body.contains("<strong>dfe</strong>"))
        #expect(
            page.body.contains("<svg") && page.body.contains("<title id=\"sessions-by-month-title\">")
                && page.body.contains("<desc id=\"sessions-by-month-desc\">"))
        #expect(page.body.contains("<summary>Show as table"))
        for row in page.body.components(separatedBy: "<tr>") where row.contains("pupils") {
            if let cell = row.range(of: #"<td class="number">[0-9]+</td>"#, options: .regularExpression) {
                let value = Int(row[cell].filter(\.isNumber)) ?? 0
                #expect(value == 0 || value > 5, "a small number about pupils is shown: \(row.prefix(200))")
            }
        }
        let csv = try await Self.page(running, "GET", "/authorities/northvale/figures.csv?period=2024/25", as: nil, headers: ["Cookie": session])
        let lines = csv.body.split(separator: "\n").dropFirst()
        #expect(csv.type.hasPrefix("text/csv") && !lines.isEmpty && lines.allSatisfy { $0.hasSuffix(",dfe") })
        #expect(lines.contains { $0.contains("month:2024-10") })
        let other = try await Self.page(running, "GET", "/authorities/southmere", as: nil, headers: ["Cookie": session])
        #expect(other.status == 403 && other.body.contains("You cannot see this page") && !other.body.contains("<svg"))
        let badPeriod = try await Self.page(running, "GET", "/authorities/northvale?period=someday", as: nil, headers: ["Cookie": session])
        #expect(badPeriod.status == 400 && badPeriod.body.contains("period"))
        // Signing out needs the session's CSRF token, then ends the session.
        let csrf = try #require(
            page.body.range(of: #"name="csrf_token" value="[^"]+""#, options: .regularExpression)
                .map { String(page.body[$0].dropFirst(#"name="csrf_token" value=""#.count).dropLast()) })
        #expect(
            try await Self.page(running, "POST", "/sign-out", as: nil, body: "csrf_token=wrong", contentType: formType, headers: ["Cookie": session])
                .status == 403)
        let out = try await Self.page(
            running, "POST", "/sign-out", as: nil, body: "csrf_token=\(csrf)", contentType: formType, headers: ["Cookie": session])
        #expect(out.status == 303 && out.headers["location"] == "/sign-in")
        let after = try await Self.page(running, "GET", "/authorities/northvale", as: nil, headers: ["Cookie": session])
        #expect(after.status == 303 && after.headers["location"] == "/sign-in?next=%2Fauthorities%2Fnorthvale&ended=1")
        // Staff see their authority's page unsuppressed.
        let staffSignIn = try await Self.page(
            running, "POST", "/api/v1/session", as: nil, body: #"{"name":"sam","password":"a long enough password"}"#)
        let staffSession = try #require(cookie(staffSignIn.headers, "reach_session"))
        let staffPage = try await Self.page(running, "GET", "/authorities/northvale", as: nil, headers: ["Cookie": staffSession])
        #expect(staffPage.status == 200 && staffPage.body.contains("<strong>none</strong>"))
        // The programme's page: a researcher's, by authority and by strategy project; not a lead's or staff's.
        let researcherSignIn = try await Self.call(
            running, "POST", "/api/v1/session", as: nil, body: #"{"name":"ana","password":"a long enough password"}"#)
        let researcherSession = try #require(cookie(researcherSignIn.headers, "reach_session"))
        let programme = try await Self.page(running, "GET", "/programme?period=2024/25", as: nil, headers: ["Cookie": researcherSession])
        #expect(programme.status == 200 && programme.body.contains(#"<a href="/authorities/northvale?period=2024/25">northvale</a>"#))
        #expect(programme.body.contains("Strategy 2024-2029 progress by project"))
        let programmeCSV = try await Self.page(
            running, "GET", "/programme/figures.csv?period=2024/25", as: nil, headers: ["Cookie": researcherSession])
        #expect(programmeCSV.body.contains("la:southmere") && programmeCSV.body.contains(",project:"))
        #expect(try await Self.page(running, "GET", "/programme", as: nil, headers: ["Cookie": staffSession]).status == 403)
        await running.stop()
    }

    @Test(
        "the web app in a real browser (headless Chromium, Selenium, axe-core on every page, a screenshot of each): each role signs in; the lead's dashboard under dfe, its charts' tables, the spreadsheet against the CSV, another authority refused; staff record with the keyboard alone (refused, then accepted) and see it counted; an import with a refused row, its rejects fixed and imported again"
    )
    func browser() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        guard let tool = Self.schemathesisPath(), FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            Issue.record("Chromium, its driver or Selenium is not installed: Deploy/test.sh (the README's test command) installs them")
            return
        }
        let running = try await Self.start()
        let assembly = try Assembly(try running.db.ownerConnection())
        let output = try await blocking {
            try Programs.run(
                (tool as NSString).deletingLastPathComponent + "/python",
                [
                    root + "/Tests/Browser/web_app.py", running.base.absoluteString, "a long enough password", "lee", "northvale", "southmere",
                    "ana", "sam", "ops", assembly.pilot, assembly.school, root + "/.build/screenshots",
                ])
        }
        #expect(output.0 == 0, "\(output.1.suffix(3000))")
        #expect(output.1.contains(#""failures": []"#), "\(output.1.suffix(500))")
        await running.stop()
    }

    /// `reach serve` as a process of its own (no runner), on `db` by URL and a port it picks:
    /// the process, and the port it said it listens on.
    /// The debug build of `reach` that the README's test command (Deploy/test.sh) makes before
    /// the tests; nil, with the test's issue recorded, when it is not there.
    static func builtReach() -> String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let binary = root + "/.build/debug/reach"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("\(binary) is not built: the README's test command (Deploy/test.sh) builds it before the tests")
            return nil
        }
        return binary
    }

    static func serveProcess(_ binary: String, db: TestDatabase, _ options: [String] = []) async throws -> (Process, port: Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments =
            ["serve", "--no-runner", "--port", "0"] + options
            + ["--database-url", "postgresql:///\(db.name)?host=\(TestCluster.shared.dataDirectory)&user=postgres"]
        var environment = ProcessInfo.processInfo.environment
        environment["REACH_LOG_LEVEL"] = "warning"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let (port, said): (Int, String) = try await blocking {
            var text = ""
            while true {
                let data = errors.fileHandleForReading.availableData
                if data.isEmpty { return (0, text) }
                text += String(decoding: data, as: UTF8.self)
                if let range = text.range(of: #"listening on http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression),
                    let port = Int(text[range].split(separator: ":").last ?? "")
                {
                    return (port, text)
                }
            }
        }
        guard port > 0 else {
            process.terminate()
            throw ServeDidNotStart(said: said)
        }
        return (process, port)
    }

    struct ServeDidNotStart: Error, CustomStringConvertible {
        var said: String
        var description: String { "reach serve did not start: \(said.suffix(1000))" }
    }

    /// An assembly of northvale's, at one of its pilots' schools, as a record with any id.
    struct Assembly {
        var pilot: String
        var school: String

        /// Northvale's first pilot and school with activities on the demo data set.
        init(_ owner: Connection) throws {
            let fact = try owner.query(
                "SELECT pilot_id, school_id FROM research.activities WHERE la_id = 'northvale' AND school_id IS NOT NULL LIMIT 1")
            (pilot, school) = (try fact.decode(row: 0, column: 0), try fact.decode(row: 0, column: 1))
        }

        func record(_ id: String, la: String = "northvale") -> String {
            #"{"type":"activity_delivered","id":"\#(id)","data":{"pilot_id":"\#(pilot)","la_id":"\#(la)","school_id":"\#(school)","kind":"assembly","date":"2025-03-04","duration_minutes":45,"mode":"in_person","delivered_by":{"team":"CS schools team"},"attendance":{"pupils":{"ks3":30,"ks4":0},"staff":{"teaching":4}}}}"#
        }
    }

    /// Polls an import job until it has finished.
    static func finished(_ running: Running, _ location: String, as account: String) async throws -> [String: Any] {
        for _ in 0..<200 {
            let answer = try await call(running, "GET", location, as: account)
            let job = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any] ?? [:]
            if job["state"] as? String != "running" { return job }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the import job \(location) did not finish")
        return [:]
    }

    @Test(
        "imports: an upload streamed to disk becomes a job; its progress, outcome, refused rows (line, field, reason) and rejects file; all or nothing"
    )
    func imports() async throws {
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        let before: Int = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        let header = "id,school_id,la_id,name,phase,pupils_on_roll\n"
        let good = (1...40).map { "imp-\($0),\(990_000 + $0),northvale,Test School \($0),secondary,\(600 + $0)\n" }.joined()
        let bad = "imp-41,990041,southmere,Test School 41,secondary,700\nimp-42,990042,northvale,Test School 42,nursery,700\n"

        // All or nothing: two refused rows, nothing appended, each refusal with line, field and reason.
        let refused = try await Self.call(
            running, "POST", "/api/v1/imports?name=school_registered.csv", as: "sam", body: header + good + bad, contentType: "text/csv")
        #expect(refused.status == 202, "\(refused.body)")
        let location = refused.headers["location"] ?? ""
        #expect(location.hasPrefix("/api/v1/imports/"))
        var job = try await Self.finished(running, location, as: "sam")
        #expect(job["state"] as? String == "refused", "\(job)")
        #expect(job["appended"] as? Int == 0 && job["refused_rows"] as? Int == 2)
        let lines = (job["refusals"] as? [[String: Any]] ?? []).map { "\($0["line"] ?? "")|\($0["field"] ?? "")" }
        #expect(lines.contains("42|la_id") && lines.contains("43|phase"), "\(lines)")
        #expect(try owner.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == before)
        let rejects = try await Self.call(running, "GET", location + "/rejects", as: "sam")
        #expect(rejects.status == 200 && rejects.type.hasPrefix("text/csv"))
        #expect(rejects.body.split(separator: "\n").count == 3 && rejects.body.contains("rejected_because"), "\(rejects.body)")

        // With skip_invalid: the 40 that pass are appended; sending the file again appends nothing.
        let skipping = try await Self.call(
            running, "POST", "/api/v1/imports?name=school_registered.csv&skip_invalid=true", as: "sam",
            body: header + good + bad, contentType: "text/csv")
        job = try await Self.finished(running, skipping.headers["location"] ?? "", as: "sam")
        #expect(job["state"] as? String == "succeeded" && job["appended"] as? Int == 40 && job["rows_read"] as? Int == 42, "\(job)")
        #expect(job["has_rejects"] as? Bool == true)
        let again = try await Self.call(
            running, "POST", "/api/v1/imports?type=school_registered&skip_invalid=true", as: "sam",
            body: header + good, contentType: "text/csv")
        job = try await Self.finished(running, again.headers["location"] ?? "", as: "sam")
        #expect(job["state"] as? String == "succeeded" && job["appended"] as? Int == 0 && job["already_present"] as? Int == 40, "\(job)")
        // JSON Lines.
        let jsonl =
            #"{"type":"school_registered","id":"imp-j1","data":{"school_id":"990101","la_id":"northvale","name":"Test School J","phase":"primary"}}"#
        let lined = try await Self.call(running, "POST", "/api/v1/imports", as: "sam", body: jsonl + "\n", contentType: "application/x-ndjson")
        job = try await Self.finished(running, lined.headers["location"] ?? "", as: "sam")
        #expect(job["state"] as? String == "succeeded" && job["appended"] as? Int == 1, "\(job)")
        #expect(try owner.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == before + 41)

        // Who may: a researcher and a lead import nothing; a job is its account's (and an admin's) only.
        for account in ["ana", "lee"] {
            let answer = try await Self.call(
                running, "POST", "/api/v1/imports?type=school_registered", as: account, body: header + good, contentType: "text/csv")
            #expect(answer.status == 403, "\(account): \(answer.status)")
        }
        #expect(try await Self.call(running, "GET", location, as: "ana").status == 404)
        #expect(try await Self.call(running, "GET", location, as: "ops").status == 200)
        #expect(try await Self.call(running, "GET", "/api/v1/imports/not-a-job", as: "sam").status == 404)
        let listed = try await Self.call(running, "GET", "/api/v1/imports", as: "sam")
        let jobs = try JSONSerialization.jsonObject(with: Data(listed.body.utf8)) as? [Any]
        #expect(listed.status == 200 && jobs?.count == 4)

        // Hostile uploads: each a clear 4xx, nothing appended.
        let cases: [(String, String, String, Int)] = [
            ("/api/v1/imports?type=school_registered", String(repeating: "x", count: Self.maximumUpload + 1), "text/csv", 413),
            ("/api/v1/imports?type=school_registered", header + good, "application/pdf", 415),
            ("/api/v1/imports", header + good, "text/csv", 400),
            ("/api/v1/imports?type=no_such_type", header + good, "text/csv", 400),
            ("/api/v1/imports?name=../../etc/passwd.csv", header + good, "text/csv", 400),
            ("/api/v1/imports?type=school_registered&skip_invalid=perhaps", header + good, "text/csv", 400),
            ("/api/v1/imports?type=school_registered", "", "text/csv", 400),
        ]
        for (path, body, type, status) in cases {
            let answer = try await Self.call(running, "POST", path, as: "sam", body: body, contentType: type)
            #expect(answer.status == status, "\(path) \(type): \(answer.status) \(answer.body.prefix(200))")
            #expect(answer.type == "application/problem+json")
        }
        // A header that is not the record type's, and invalid UTF-8: the job is refused, naming why.
        let wrong = try await Self.call(
            running, "POST", "/api/v1/imports?type=school_registered", as: "sam", body: "who,what\n1,2\n", contentType: "text/csv")
        job = try await Self.finished(running, wrong.headers["location"] ?? "", as: "sam")
        #expect(job["state"] as? String == "refused" && !((job["refusals"] as? [Any]) ?? []).isEmpty, "\(job)")
        // A job whose service stopped while it ran shows as failed, not running.
        _ = try owner.execute(
            """
            INSERT INTO reach.import_jobs (id, account, file_name, skip_invalid, bytes, backend_pid, backend_start)
            VALUES ('00000000-0000-4000-8000-000000000001', 'sam', 'lost.csv', false, 10, 1, now() - interval '1 hour')
            """)
        job = try await Self.finished(running, "/api/v1/imports/00000000-0000-4000-8000-000000000001", as: "sam")
        #expect(job["state"] as? String == "failed" && (job["error"] as? String)?.contains("stopped") == true, "\(job)")
        #expect(try owner.query("SELECT count(*) FROM reach.events").decode(Int.self, row: 0, column: 0) == before + 41)
        #expect(try EventLog.verify(on: owner).ok)
        #expect(try await Self.call(running, "GET", "/health/live", as: nil).status == 200)
        await running.stop()
    }

    @Test("the OpenAPI document names exactly the routes the service has, and is a valid OpenAPI 3.1 document")
    func openAPIDocument() throws {
        let router = ReachServer.router(ReachApplication(target: DatabaseTarget.url(""), logger: Logger(label: "reach.test")))
        // (The web app's pages, text/html for people, are not the API's.)
        let served = Set(
            router.routes.filter { route in
                let path = "\(route.path)"
                return path.hasPrefix("/api") || path.hasPrefix("/health") || path == "/metrics"
            }.map { route in
                "\(route.method.rawValue) " + "\(route.path)".replacingOccurrences(of: #":([a-z_]+)"#, with: "{$1}", options: .regularExpression)
            })
        var documented = Set<String>()
        var path: String?
        for line in ReachServer.openAPIDocument.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("components:") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
            for method in ["get", "post", "put", "patch", "delete"] where line == "    \(method):" {
                if let path { documented.insert("\(method.uppercased()) \(path)") }
            }
        }
        #expect(!served.isEmpty)
        #expect(served == documented, "served only: \(served.subtracting(documented)); documented only: \(documented.subtracting(served))")
        // The document itself, checked by openapi-spec-validator (PyPI) where Python has it.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("reach-openapi-\(UUID().uuidString.prefix(6)).yaml")
        try ReachServer.openAPIDocument.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, said) = try Programs.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import sys
                try:
                    from openapi_spec_validator import validate
                    from openapi_spec_validator.readers import read_from_filename
                except ImportError:
                    print("openapi-spec-validator is not installed"); sys.exit(3)
                validate(read_from_filename(sys.argv[1])[0]); print("valid")
                """, file.path,
            ])
        if status == 3 {
            print("note: \(said.trimmingCharacters(in: .whitespacesAndNewlines)); only the routes were compared")
        } else {
            #expect(status == 0, "\(said)")
        }
    }

    @Test(
        "sign-in by password: a session cookie (HttpOnly, SameSite), writes need its CSRF token, sign-out ends it, and guessing is slowed to a stop")
    func sessions() async throws {
        let running = try await Self.start()
        let signIn = try await Self.call(running, "POST", "/api/v1/session", as: nil, body: #"{"name":"sam","password":"a long enough password"}"#)
        #expect(signIn.status == 200, "\(signIn.body)")
        let setCookie = signIn.headers["set-cookie"] ?? ""
        #expect(setCookie.hasPrefix("reach_session=") && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax"), "\(setCookie)")
        let cookie = String(setCookie.split(separator: ";")[0])
        let csrf = try #require((try JSONSerialization.jsonObject(with: Data(signIn.body.utf8)) as? [String: Any])?["csrf_token"] as? String)
        // Reads need the cookie alone; writes its CSRF token as well.
        #expect(
            try await Self.call(running, "GET", "/api/v1/metrics?la=northvale&period=2024/25&metric=sessions", as: nil, headers: ["Cookie": cookie])
                .status == 200)
        let record = #"{"type":"event_withdrawn","id":"w-1","data":{"event_id":"nothing","reason":"test"}}"#
        let forged = try await Self.call(running, "POST", "/api/v1/records", as: nil, body: record, headers: ["Cookie": cookie])
        #expect(forged.status == 403, "\(forged.body)")
        #expect(forged.body.contains("CSRF"))
        let wrong = try await Self.call(
            running, "POST", "/api/v1/records", as: nil, body: record, headers: ["Cookie": cookie, "X-CSRF-Token": "x" + csrf])
        #expect(wrong.status == 403)
        let allowed = try await Self.call(
            running, "POST", "/api/v1/records", as: nil, body: record, headers: ["Cookie": cookie, "X-CSRF-Token": csrf])
        #expect(allowed.status != 401 && allowed.status != 403, "\(allowed.status) \(allowed.body)")
        // An expired session lets nobody in.
        let second = try await Self.call(running, "POST", "/api/v1/session", as: nil, body: #"{"name":"ana","password":"a long enough password"}"#)
        let secondCookie = String((second.headers["set-cookie"] ?? "").split(separator: ";")[0])
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": secondCookie]).status == 200)
        _ = try running.db.ownerConnection().execute("UPDATE reach.sessions SET expires_at = now() - interval '1 minute' WHERE account = 'ana'")
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": secondCookie]).status == 401)
        // Signing out ends the session.
        #expect(try await Self.call(running, "DELETE", "/api/v1/session", as: nil, headers: ["Cookie": cookie, "X-CSRF-Token": csrf]).status == 204)
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": cookie]).status == 401)
        // A wrong password, a disabled account, an unknown name: the same 401. Five wrong
        // passwords for one account, and the next check must wait a moment, even with the right
        // password (SecurityReviewTests: it then gets in).
        for name in ["gone", "nobody-at-all"] {
            #expect(
                try await Self.call(running, "POST", "/api/v1/session", as: nil, body: #"{"name":"\#(name)","password":"a long enough password"}"#)
                    .status == 401)
        }
        for _ in 0..<5 {
            #expect(
                try await Self.call(running, "POST", "/api/v1/session", as: nil, body: #"{"name":"lee","password":"not the password"}"#).status == 401
            )
        }
        let limited = try await Self.call(running, "POST", "/api/v1/session", as: nil, body: #"{"name":"lee","password":"a long enough password"}"#)
        #expect(limited.status == 429)
        #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 > 0)
        #expect(try await Self.call(running, "POST", "/api/v1/session", as: nil, body: "{not json").status == 400)
        await running.stop()
    }

    @Test("shutdown under load: records keep coming while the service is told to stop; every one acknowledged is in the log exactly once")
    func shutdownUnderLoad() async throws {
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        let assembly = try Assembly(owner)
        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    for n in 0..<40 {
                        let id = "load-\(client)-\(n)"
                        guard let answer = try? await Self.call(running, "POST", "/api/v1/records", as: "sam", body: assembly.record(id)) else {
                            break
                        }
                        if answer.status == 200 { mine.append(id) }
                    }
                    return mine
                }
            }
            // Stop the service while the clients are posting.
            try await Task.sleep(for: .milliseconds(700))
            await running.group.triggerGracefulShutdown()
            var all: [String] = []
            for try await ids in group { all += ids }
            return all
        }
        _ = try? await running.task.value
        #expect(!acknowledged.isEmpty)
        let stored = try owner.query(
            "SELECT count(*), count(DISTINCT event_id) FROM reach.events WHERE event_id = ANY($1::uuid[])",
            [PostgresArray(acknowledged.map { EventLog.recordEventID($0).uuidString })])
        #expect(try stored.decode(Int.self, row: 0, column: 0) == acknowledged.count)
        #expect(try stored.decode(Int.self, row: 0, column: 1) == acknowledged.count)
        #expect(try EventLog.verify(on: owner).ok)
    }
}
