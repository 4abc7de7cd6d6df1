import Foundation
import ReachApp
import ReachDomain
import ReachEventLog
import ReachPostgres
import ReachProjections
import ReachServer
import ReachTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The attacks of the outside security review, made through the fronts people use (the API,
/// the web app, `reach record`, imports), each refused with nothing written.
extension ServerTests {
    /// Which authority's copy of a record: northvale's (staff `sam`'s own) or southmere's.
    enum Side: String { case own, oth }

    /// The record types whose records can be amended, each recorded for both authorities from
    /// its catalogue example (ids made the fixture's own), in the order their references need.
    static let amendableOrder = [
        "school_registered", "pilot_registered", "location_registered", "peer_group_registered", "context_referral_received",
        "threshold_decided", "school_assessment_completed", "beyond_referrals_self_assessment_completed", "safety_plan_agreed",
        "action_rescheduled", "action_completed", "action_cancelled", "outcome_shared", "context_reviewed", "intervention_started",
        "intervention_ended", "location_concern_closed", "engagement_stage_reached", "activity_delivered", "survey_wave_recorded",
        "school_statistics_reported", "pilot_target_changed",
    ]

    /// A type's example as `side`'s record: its ids the fixture's, its authority northvale's or southmere's.
    static func fixtureData(_ type: String, _ side: Side) -> String {
        var text = RecordType.all[type]!.example
        let school = side == .own ? "990001" : "990002"
        for (from, to) in [
            ("northvale-pilot", "t-\(side)-pilot"), ("northvale-ref-1", "t-\(side)-ref"), ("northvale-plan-1", "t-\(side)-plan"),
            ("northvale-park-1", "t-\(side)-park"), ("900001", school), ("pg-7f3a", "t-\(side)-pg"), ("partner-1", "t-partner"),
        ] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        return side == .own ? text : text.replacingOccurrences(of: "northvale", with: "southmere")
    }

    /// A record line.
    static func line(_ type: String, _ id: String, _ data: String) -> String {
        #"{"type":"\#(type)","id":"\#(id)","data":\#(data)}"#
    }

    /// The results of `POST /api/v1/records` as `account`: status, and each record's (status, refusals).
    static func post(_ running: Running, _ lines: [String], as account: String) async throws -> [(status: String, refusals: [(String, String)])] {
        let answer = try await call(running, "POST", "/api/v1/records", as: account, body: lines.joined(separator: "\n"))
        guard let results = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [[String: Any]] else {
            Issue.record("not record results: \(answer.status) \(answer.body)")
            return []
        }
        return results.map { result in
            ((result["status"] as? String) ?? "", ((result["refusals"] as? [[String: String]]) ?? []).map { ($0["field"] ?? "", $0["reason"] ?? "") })
        }
    }

    /// The fixture: every amendable type recorded by an admin for northvale (`own-TYPE`) and
    /// southmere (`oth-TYPE`); the authorities' own registrations (the demo's), with their
    /// record ids and data.
    static func amendableFixture(_ running: Running) async throws -> [String: (own: (id: String, data: String), oth: (id: String, data: String))] {
        var lines = [line("partner_registered", "t-partner", #"{"partner_id":"t-partner","name":"Test youth work","kind":"youth_work"}"#)]
        for type in amendableOrder {
            for side in [Side.own, .oth] { lines.append(line(type, "\(side)-\(type)", fixtureData(type, side))) }
        }
        let results = try await post(running, lines, as: "ops")
        #expect(results.count == lines.count && results.allSatisfy { $0.status == "accepted" }, "\(results.filter { $0.status != "accepted" })")
        var fixture: [String: (own: (id: String, data: String), oth: (id: String, data: String))] = [:]
        for type in amendableOrder {
            fixture[type] = (("own-\(type)", fixtureData(type, .own)), ("oth-\(type)", fixtureData(type, .oth)))
        }
        let owner = try running.db.ownerConnection()
        func registration(_ la: String) throws -> (id: String, data: String) {
            let found = try owner.query(
                "SELECT metadata->>'correlation_id', data::text FROM reach.events WHERE stream_id = $1 AND version = 1", ["authority:\(la)"])
            // (As compact JSON, as the other records are written.)
            return (try found.decode(row: 0, column: 0), try JSONValue.parse(try found.decode(String.self, row: 0, column: 1)).text)
        }
        fixture["local_authority_registered"] = (try registration("northvale"), try registration("southmere"))
        return fixture
    }

    static func correction(_ id: String, _ recordID: String, _ data: String) -> String {
        line("event_corrected", id, #"{"record_id":"\#(recordID)","reason":"review","data":\#(data)}"#)
    }

    static func withdrawal(_ id: String, _ recordID: String) -> String {
        line("event_withdrawn", id, #"{"record_id":"\#(recordID)","reason":"review"}"#)
    }

    @Test(
        "staff of one authority cannot take over, correct or withdraw another authority's records (every amendable type), and no correction moves a record to another authority: through the API and reach record"
    )
    func amendmentMatrix() async throws {
        let running = try await Self.start()
        let fixture = try await Self.amendableFixture(running)
        let amendable = Set(RecordType.recordable.values.filter(\.isAmendable).map(\.name))
        #expect(Set(fixture.keys).union(["partner_registered"]) == amendable, "every amendable record type is in the matrix")
        let owner = try running.db.ownerConnection()
        let eventsBefore: Int64 = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)

        // The words for a record that does not exist: another authority's is answered the same.
        let unknown = try await Self.post(
            running, [Self.correction("x-unknown", "no-such-record", Self.fixtureData("school_registered", .own))], as: "sam")
        #expect(unknown.first?.refusals.map(\.0) == ["record_id"])
        let unknownWords = unknown.first?.refusals.first?.1.replacingOccurrences(of: "no-such-record", with: "ID") ?? ""
        #expect(unknownWords == "no record with id 'ID' has been recorded")

        for type in fixture.keys.sorted() {
            let (own, oth) = fixture[type]!
            let moved = own.data.replacingOccurrences(of: #""la_id":"northvale""#, with: #""la_id":"southmere""#)
            let takeover = oth.data.replacingOccurrences(of: #""la_id":"southmere""#, with: #""la_id":"northvale""#)
            #expect(moved != own.data && takeover != oth.data, "\(type): the data names its authority")
            let results = try await Self.post(
                running,
                [
                    Self.correction("m-own-\(type)", own.id, own.data), // own record, own authority: accepted
                    Self.correction("m-move-\(type)", own.id, moved), // own record moved to another authority
                    Self.correction("m-take-\(type)", oth.id, takeover), // the review's attack: another's record, named ours
                    Self.correction("m-oth-\(type)", oth.id, oth.data), // another's record, left theirs
                    Self.withdrawal("m-wd-\(type)", oth.id), // another's record withdrawn
                ], as: "sam")
            #expect(results.map(\.status) == ["accepted", "refused", "refused", "refused", "refused"], "\(type): \(results)")
            guard results.count == 5 else { continue }
            #expect(results[1].refusals.map(\.0) == ["data.la_id"], "\(type): \(results[1].refusals)")
            for attack in results[2...] {
                #expect(attack.refusals.map(\.0) == ["record_id"], "\(type): \(attack.refusals)")
                // Exactly as an unknown id is answered: nothing tells the record exists, or whose it is.
                #expect(attack.refusals.first?.1.replacingOccurrences(of: oth.id, with: "ID") == unknownWords, "\(type): \(attack.refusals)")
                #expect(!(attack.refusals.first?.1.replacingOccurrences(of: oth.id, with: "ID").contains("southmere") ?? true))
            }
        }
        // A partner is the programme's: staff amend none.
        let partner = try await Self.post(running, [Self.withdrawal("m-partner", "t-partner")], as: "sam")
        #expect(partner.first?.status == "refused" && partner.first?.refusals.map(\.0) == ["record_id"])
        // Staff withdraw their own (the latest first, so references stay).
        let withdrawals = try await Self.post(
            running,
            fixture.keys.filter { $0 != "local_authority_registered" }.sorted()
                .map { Self.withdrawal("w-own-\($0)", fixture[$0]!.own.id) }, as: "sam")
        #expect(withdrawals.allSatisfy { $0.status == "accepted" }, "\(withdrawals)")

        // Nothing of southmere's was amended; its school and pilot are still its own.
        let amendedTheirs: Int64 = try owner.query(
            """
            SELECT count(*) FROM reach.events WHERE event_type IN ('event_corrected', 'event_withdrawn')
              AND (data->>'record_id' LIKE 'oth-%' OR authority_id = 'southmere')
            """
        ).decode(row: 0, column: 0)
        #expect(amendedTheirs == 0)
        let eventsAfter: Int64 = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        #expect(
            eventsAfter == eventsBefore + Int64(fixture.count) + Int64(withdrawals.count), "only sam's own corrections and withdrawals were appended")
        _ = try await running.app.projectionStatus(as: Identity(name: "ops", role: .admin))
        _ = try await running.app.metrics(
            MetricQuery(period: try Period.parse("2024/25").get(), la: "southmere", metrics: [.sessions]),
            as: Identity(name: "ops", role: .admin))
        let schoolOwner: String = try owner.query("SELECT la_id FROM research.schools WHERE school_id = '990002'").decode(row: 0, column: 0)
        let pilotOwner: String = try owner.query("SELECT la_id FROM research.pilots WHERE pilot_id = 't-oth-pilot'").decode(row: 0, column: 0)
        #expect(schoolOwner == "southmere" && pilotOwner == "southmere")

        // reach record (the application's login: an admin, who may amend any authority's
        // record): no correction moves a record to another authority.
        if let binary = Self.builtReach() {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("moves-\(UUID().uuidString).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            var lines: [String] = []
            for type in fixture.keys.sorted() {
                let oth = fixture[type]!.oth
                lines.append(
                    Self.correction(
                        "cli-take-\(type)", oth.id, oth.data.replacingOccurrences(of: #""la_id":"southmere""#, with: #""la_id":"northvale""#)))
            }
            try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let url = "postgresql:///\(running.db.name)?host=\(TestCluster.shared.dataDirectory)&user=\(TestCluster.applicationUser)"
            let (status, output) = try Programs.run(binary, ["record", file, "--database-url", url], errors: false)
            #expect(status == 1)
            let results = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(results.count == fixture.count, "\(output)")
            for result in results {
                let fields = ((result["refusals"] as? [[String: String]]) ?? []).compactMap { $0["field"] }
                #expect(result["status"] as? String == "refused" && fields == ["data.la_id"], "\(result)")
            }
            // An admin may correct another authority's record, keeping its authority.
            let keep = Self.correction("cli-keep", fixture["pilot_registered"]!.oth.id, fixture["pilot_registered"]!.oth.data)
            try keep.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try Programs.run(binary, ["record", file, "--database-url", url], errors: false).status == 0)
        }
        #expect(try EventLog.verify(on: owner).ok)
        await running.stop()
    }

    @Test(
        "refusals tell nothing of other authorities: their schools are not registered to staff, their records not already recorded, their ids not theirs"
    )
    func refusalsRevealNothing() async throws {
        let running = try await Self.start()
        let fixture = try await Self.amendableFixture(running)
        // An activity of sam's own pilot at southmere's school: "not registered", as an unknown school is.
        let own = Self.fixtureData("activity_delivered", .own)
        let results = try await Self.post(
            running,
            [
                Self.line("activity_delivered", "r-theirs", own.replacingOccurrences(of: "990001", with: "990002")),
                Self.line("activity_delivered", "r-none", own.replacingOccurrences(of: "990001", with: "990999")),
            ], as: "sam")
        #expect(results.map(\.status) == ["refused", "refused"])
        let words = results.map {
            $0.refusals.map { "\($0.0) \($0.1)" }.joined().replacingOccurrences(of: "990002", with: "X").replacingOccurrences(of: "990999", with: "X")
        }
        #expect(words.count == 2 && words[0] == words[1] && words[0].contains("is not registered"), "\(words)")
        // Southmere's own record sent again by sam: refused for its authority (as a new record
        // naming southmere is), never "already recorded" with its position.
        let again = try await Self.post(
            running, [Self.line("activity_delivered", fixture["activity_delivered"]!.oth.id, fixture["activity_delivered"]!.oth.data)], as: "sam")
        #expect(again.first?.status == "refused" && again.first?.refusals.map(\.0) == ["la_id"], "\(again)")
        // The same through the web's one record at a time: not found, as an unknown one.
        let cookie = try await Self.signedIn(running, "sam")
        for id in [fixture["school_registered"]!.oth.id, "no-such-record"] {
            let page = try await Self.page(running, "GET", "/records/\(id)/correct", as: nil, headers: ["Cookie": cookie])
            #expect(page.status == 404, "\(id): \(page.status)")
        }
        await running.stop()
    }

    /// A session cookie for `account` (and its CSRF token).
    static func signedIn(_ running: Running, _ account: String, password: String = "a long enough password") async throws -> String {
        try await session(running, account, password: password).cookie
    }

    static func session(
        _ running: Running, _ account: String, password: String = "a long enough password",
        headers: [String: String] = [:]
    ) async throws -> (cookie: String, csrf: String) {
        let answer = try await call(
            running, "POST", "/api/v1/session", as: nil, body: #"{"name":"\#(account)","password":"\#(password)"}"#, headers: headers)
        #expect(answer.status == 200, "\(answer.body)")
        let cookie = String((answer.headers["set-cookie"] ?? "").split(separator: ";").first ?? "")
        let csrf = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["csrf_token"] as? String ?? ""
        return (cookie, csrf)
    }

    @Test(
        "records only Reach writes (summary_exported) are refused through the API, imports, the web and reach record; the export itself still records one"
    )
    func systemRecordsRefused() async throws {
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        func exports() throws -> Int64 {
            try owner.query("SELECT count(*) FROM reach.events WHERE event_type = 'summary_exported'").decode(row: 0, column: 0)
        }
        let before = try exports()
        let forged = Self.line(
            "summary_exported", "forged-1", #"{"la_id":"northvale","period":"2024/25","format":"csv","policy":"dfe","rows":0,"date":"2020-01-01"}"#)
        for account in ["sam", "ops"] {
            let results = try await Self.post(running, [forged], as: account)
            #expect(results.first?.status == "refused" && results.first?.refusals.map(\.0) == ["type"], "\(account): \(results)")
            #expect(results.first?.refusals.first?.1.contains("written by Reach itself") == true)
        }
        // An import, as CSV named after the type, or as JSON Lines.
        let csv = try await Self.call(
            running, "POST", "/api/v1/imports?name=summary_exported.csv", as: "ops",
            body: "id,la_id,period,format,policy,rows,date\nf-2,northvale,2024/25,csv,dfe,0,2020-01-01\n", contentType: "text/csv")
        #expect(csv.status == 400, "\(csv.status) \(csv.body)")
        let typed = try await Self.call(
            running, "POST", "/api/v1/imports?name=x.csv&type=summary_exported", as: "ops",
            body: "id,la_id\nf-3,northvale\n", contentType: "text/csv")
        #expect(typed.status == 400, "\(typed.status) \(typed.body)")
        let jsonl = try await Self.call(running, "POST", "/api/v1/imports?name=x.jsonl", as: "ops", body: forged, contentType: "application/x-ndjson")
        #expect(jsonl.status == 202)
        if let location = jsonl.headers["location"] {
            let job = try await Self.finished(running, location, as: "ops")
            #expect(job["state"] as? String == "failed" || (job["appended"] as? Int) == 0, "\(job)")
        }
        // No template, no form, no catalogue entry.
        #expect(try await Self.call(running, "GET", "/api/v1/templates/summary_exported.csv", as: "ops").status == 404)
        let catalogue = try await Self.call(running, "GET", "/api/v1/catalogue", as: "ops")
        #expect(catalogue.status == 200 && !catalogue.body.contains("\"summary_exported\""))
        let cookie = try await Self.signedIn(running, "ops")
        #expect(try await Self.page(running, "GET", "/record/summary_exported", as: nil, headers: ["Cookie": cookie]).status == 404)
        // reach record with the application's login.
        if let binary = Self.builtReach() {
            let url = "postgresql:///\(running.db.name)?host=\(TestCluster.shared.dataDirectory)&user=\(TestCluster.applicationUser)"
            let (status, output) = try Programs.run(binary, ["record", "-", "--database-url", url], input: forged, errors: false)
            #expect(status == 1 && output.contains("written by Reach itself"), "\(output)")
        }
        #expect(try exports() == before)
        // The export itself records one.
        let export = try await Self.call(running, "GET", "/api/v1/authorities/northvale/summary?period=2024/25&format=csv", as: "lee")
        #expect(export.status == 200)
        #expect(try exports() == before + 1)
        await running.stop()
    }

    @Test(
        "password guessing is slowed, not a lock-out: an account waits a moment and the right password gets in; a stranger's failures slow only that account, or only that address (X-Forwarded-For from listed proxies alone)"
    )
    func guessingSlowed() async throws {
        let running = try await Self.start(trustedProxies: try TrustedProxies("127.0.0.1, ::1"))
        func signIn(_ name: String, _ password: String, from address: String) async throws -> (status: Int, retry: Int?) {
            let answer = try await Self.call(
                running, "POST", "/api/v1/session", as: nil, body: #"{"name":"\#(name)","password":"\#(password)"}"#,
                headers: ["X-Forwarded-For": "192.0.2.99, \(address)"])
            return (answer.status, answer.headers["retry-after"].flatMap { Int($0) })
        }
        // Five wrong passwords for lee: the sixth check, at once, must wait; after the wait the
        // right password gets in.
        for _ in 0..<5 { #expect(try await signIn("lee", "not the password at all", from: "203.0.113.5").status == 401) }
        let early = try await signIn("lee", "a long enough password", from: "203.0.113.6")
        #expect(early.status == 429 && (early.retry ?? 0) >= 1 && (early.retry ?? 99) <= 30, "\(early)")
        // Another account, from the attacker's own address, is not slowed.
        #expect(try await signIn("sam", "a long enough password", from: "203.0.113.5").status == 200)
        try await Task.sleep(for: .seconds(Double(early.retry ?? 1) + 0.2))
        #expect(try await signIn("lee", "a long enough password", from: "203.0.113.6").status == 200)
        // Twenty failures from one address, against twenty names: that address waits, and the
        // accounts it tried are not locked for their owners elsewhere.
        for n in 0..<20 { #expect(try await signIn("guess-\(n)", "not the password at all", from: "198.51.100.7").status == 401) }
        #expect(try await signIn("ana", "a long enough password", from: "198.51.100.7").status == 429)
        #expect(try await signIn("ana", "a long enough password", from: "198.51.100.8").status == 200)
        // A browser that has signed in to the account before is counted on its own: a stranger's
        // failures against the account do not make its owner wait there.
        let first = try await Self.call(
            running, "POST", "/api/v1/session", as: nil, body: #"{"name":"ops","password":"a long enough password"}"#,
            headers: ["X-Forwarded-For": "192.0.2.10"])
        let device = try #require(Self.first(#"reach_device=([^;,\s]+)"#, in: first.headers["set-cookie"] ?? ""), "\(first.headers)")
        // Many guesses at once: checked one at a time, so only the free ones are checked at all.
        let burst = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<12 { group.addTask { try await signIn("ops", "guess number \(n) here", from: "203.0.113.\(100 + n)").status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(burst.filter { $0 == 401 }.count == 5 && burst.filter { $0 == 429 }.count == 7, "\(burst.sorted())")
        #expect(try await signIn("ops", "a long enough password", from: "192.0.2.10").status == 429)
        let owner = try await Self.call(
            running, "POST", "/api/v1/session", as: nil, body: #"{"name":"ops","password":"a long enough password"}"#,
            headers: ["X-Forwarded-For": "192.0.2.10", "Cookie": "reach_device=\(device)"])
        #expect(owner.status == 200, "\(owner.body)")
        // The same limits hold for the current password asked when changing it.
        let (cookie, csrf) = try await Self.session(running, "sam")
        var last = 0
        for attempt in 0..<6 {
            let answer = try await Self.call(
                running, "PUT", "/api/v1/users/sam/password", as: nil,
                body: #"{"password":"plum orbit lantern cactus","current_password":"wrong \#(attempt)"}"#,
                headers: ["Cookie": cookie, "X-CSRF-Token": csrf])
            last = answer.status
            if attempt < 5 { #expect(answer.status == 403, "\(answer.body)") }
        }
        #expect(last == 429)
        // X-Forwarded-For is believed from listed proxies only.
        let proxies = try TrustedProxies("10.0.0.0/8, 2001:db8::/32")
        #expect(proxies.client(peer: "10.1.2.3", forwardedFor: ["198.51.100.1, 10.9.9.9"]) == "198.51.100.1")
        #expect(proxies.client(peer: "192.0.2.1", forwardedFor: ["198.51.100.1"]) == "192.0.2.1")
        #expect(proxies.client(peer: "2001:db8::1", forwardedFor: ["not an address"]) == "2001:db8:0:0::/64")
        #expect(proxies.client(peer: "::ffff:10.0.0.1", forwardedFor: ["203.0.113.9:5678"]) == "203.0.113.9")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: ["[2001:db8:1:2:3:4:5:6]:443"]) == "2001:db8:1:2::/64")
        #expect(proxies.client(peer: "10.0.0.1", forwardedFor: ["10.0.0.2"]) == "10.0.0.2")
        #expect(TrustedProxies.none.client(peer: "127.0.0.1", forwardedFor: ["203.0.113.9"]) == "127.0.0.1")
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies("10.0.0.0/33") }
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies("proxy.example") }
        await running.stop()
    }

    @Test(
        "cookies cannot be used by another site: an export needs the CSRF token, a sign-in is JSON from no foreign Origin; a changed password ends the other sessions, and tokens say so"
    )
    func crossSiteAndSessions() async throws {
        let running = try await Self.start()
        let owner = try running.db.ownerConnection()
        func exports() throws -> Int64 {
            try owner.query("SELECT count(*) FROM reach.events WHERE event_type = 'summary_exported'").decode(row: 0, column: 0)
        }
        // A link on another site to the export, with only the cookie the browser sends along.
        let lee = try await Self.session(running, "lee")
        let path = "/api/v1/authorities/northvale/summary?period=2024/25&format=csv"
        let before = try exports()
        let linked = try await Self.call(running, "GET", path, as: nil, headers: ["Cookie": lee.cookie])
        #expect(linked.status == 403 && linked.body.contains("CSRF"), "\(linked.status) \(linked.body)")
        #expect(try exports() == before)
        #expect(try await Self.call(running, "GET", path, as: nil, headers: ["Cookie": lee.cookie, "X-CSRF-Token": lee.csrf]).status == 200)
        #expect(try await Self.call(running, "GET", path, as: "lee").status == 200)
        #expect(try exports() == before + 2)
        // Login CSRF: a form, text/plain or a foreign Origin is refused.
        let body = #"{"name":"sam","password":"a long enough password"}"#
        #expect(try await Self.call(running, "POST", "/api/v1/session", as: nil, body: body, contentType: "text/plain").status == 415)
        #expect(
            try await Self.call(
                running, "POST", "/api/v1/session", as: nil, body: "name=sam&password=x", contentType: "application/x-www-form-urlencoded"
            ).status == 415)
        let foreign = try await Self.call(running, "POST", "/api/v1/session", as: nil, body: body, headers: ["Origin": "https://evil.example"])
        #expect(foreign.status == 403)
        #expect(try await Self.call(running, "POST", "/api/v1/session", as: nil, body: body, headers: ["Origin": "null"]).status == 403)
        #expect(
            try await Self.call(running, "POST", "/api/v1/session", as: nil, body: body, headers: ["Origin": running.base.absoluteString]).status
                == 200)

        // Sam signed in twice, with a token too; a password change from the first session ends the second.
        let first = try await Self.session(running, "sam")
        let second = try await Self.session(running, "sam")
        let changed = try await Self.call(
            running, "PUT", "/api/v1/users/sam/password", as: nil,
            body: #"{"password":"plum orbit lantern cactus","current_password":"a long enough password"}"#,
            headers: ["Cookie": first.cookie, "X-CSRF-Token": first.csrf])
        #expect(changed.status == 200, "\(changed.body)")
        let outcome = try JSONSerialization.jsonObject(with: Data(changed.body.utf8)) as? [String: Int]
        #expect((outcome?["sessions_ended"] ?? 0) >= 2 && outcome?["tokens_in_use"] == 1 && outcome?["tokens_revoked"] == 0, "\(changed.body)")
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": second.cookie]).status == 401)
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": first.cookie]).status == 200)
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: "sam").status == 200)
        // Asked to, the change revokes the tokens as well.
        let revoking = try await Self.call(
            running, "PUT", "/api/v1/users/sam/password", as: nil,
            body: #"{"password":"quartz meadow violin ember","current_password":"plum orbit lantern cactus","revoke_tokens":true}"#,
            headers: ["Cookie": first.cookie, "X-CSRF-Token": first.csrf])
        #expect(revoking.status == 200 && revoking.body.contains(#""tokens_revoked":1"#), "\(revoking.body)")
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: "sam").status == 401)
        // An admin's reset ends every session of the account.
        let leeAgain = try await Self.session(running, "lee")
        #expect(
            try await Self.call(running, "PUT", "/api/v1/users/lee/password", as: "ops", body: #"{"password":"harbour thistle copper drum"}"#).status
                == 200)
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": leeAgain.cookie]).status == 401)
        // The web app says what became of the other sign-ins and the tokens, and revokes them all on asking.
        let ana = try await Self.session(running, "ana")
        let page = try await Self.page(
            running, "POST", "/account/password", as: nil,
            body: "csrf_token=\(ana.csrf)&current=a+long+enough+password&new=silver+canyon+marble+reed&again=silver+canyon+marble+reed",
            contentType: "application/x-www-form-urlencoded", headers: ["Cookie": ana.cookie])
        #expect(page.status == 303)
        let notice = try await Self.page(running, "GET", page.headers["location"] ?? "/account", as: nil, headers: ["Cookie": ana.cookie])
        #expect(notice.body.contains("other sign-ins") || notice.body.contains("signed in nowhere else"), "\(notice.body.prefix(300))")
        #expect(notice.body.contains("API tokens") && notice.body.contains("Revoke all my tokens"))
        let revokeAll = try await Self.page(
            running, "POST", "/account/tokens/revoke-all", as: nil, body: "csrf_token=\(ana.csrf)",
            contentType: "application/x-www-form-urlencoded", headers: ["Cookie": ana.cookie])
        #expect(revokeAll.status == 303)
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: "ana").status == 401)
        await running.stop()
    }

    @Test(
        "passwords follow the NCSC: twelve characters or more, none on the list of common or breached passwords, not spaces or one character over and over, not the account's name"
    )
    func passwordRules() async throws {
        let running = try await Self.start()
        #expect(CommonPasswords.isAvailable && CommonPasswords.count >= 100_000)
        for (password, words) in [
            ("            ", "spaces"), ("aaaaaaaaaaaa", "repeats"), ("passwordpassword", "common"), ("qwertyuiop123", "common"),
            ("kimberley-is-here", "name"), ("short", "12 characters"),
        ] {
            let answer = try await Self.call(
                running, "POST", "/api/v1/users", as: "ops",
                body: #"{"name":"kimberley","role":"researcher","password":"\#(password)"}"#)
            #expect(answer.status == 400 && answer.body.contains(words), "'\(password)': \(answer.status) \(answer.body)")
        }
        #expect(
            try await Self.call(
                running, "POST", "/api/v1/users", as: "ops",
                body: #"{"name":"kimberley","role":"researcher","password":"lantern orbit plum cactus"}"#
            ).status == 201)
        await running.stop()
    }

    @Test("ids are ASCII letters, digits, -, _ and . only; text is kept composed (NFC) and may hold no invisible or direction-changing characters")
    func unicodeRefused() async throws {
        let running = try await Self.start()
        let school = #"{"school_id":"991001","la_id":"northvale","name":"Example Academy","phase":"secondary"}"#
        let cases: [(String, String, String)] = [
            ("u-1", school.replacingOccurrences(of: #""la_id":"northvale""#, with: #""la_id":"northv\#u{0430}le""#), "la_id"), // Cyrillic а
            ("u-2", school.replacingOccurrences(of: "991001", with: "991\u{200B}002"), "school_id"),
            ("u-3", school.replacingOccurrences(of: "Example Academy", with: "Example \u{202E}ymedacA"), "name"),
            ("u-4", school.replacingOccurrences(of: "Example Academy", with: "\u{FEFF}Example Academy"), "name"),
            ("u\u{0430}-5", school.replacingOccurrences(of: "991001", with: "991005"), "id"),
            ("u 6", school.replacingOccurrences(of: "991001", with: "991006"), "id"),
        ]
        let results = try await Self.post(running, cases.map { Self.line("school_registered", $0.0, $0.1) }, as: "sam")
        for ((_, _, field), result) in zip(cases, results) {
            #expect(result.status == "refused" && result.refusals.map(\.0) == [field], "\(field): \(result)")
        }
        #expect(results.count == cases.count)
        #expect(results[2].refusals.first?.1.contains("U+202E") == true)
        // A name typed decomposed (e and a combining accent) is kept composed.
        let decomposed = school.replacingOccurrences(of: "991001", with: "991007").replacingOccurrences(
            of: "Example Academy", with: "Cafe\u{0301} Academy")
        #expect(try await Self.post(running, [Self.line("school_registered", "u-7", decomposed)], as: "sam").first?.status == "accepted")
        let stored: String = try running.db.ownerConnection().query("SELECT data->>'name' FROM reach.events WHERE stream_id = 'school:991007'")
            .decode(row: 0, column: 0)
        #expect(Array(stored.utf8) == Array("Caf\u{00E9} Academy".utf8))
        await running.stop()
    }

    @Test("a backend whose client was killed ends within seconds: a statement left running, and a killed reach import")
    func clientGone() async throws {
        guard let binary = Self.builtReach() else { return }
        let (db, _) = try await Self.demo()
        let owner = try db.ownerConnection()
        func backends(_ name: String) throws -> Int64 {
            try owner.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1", [name]).decode(
                row: 0, column: 0)
        }
        // psql running a ten-minute statement, killed.
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: TestCluster.shared.binDirectory + "/psql")
        psql.arguments = [
            "-X", "-q", "-c", "SELECT pg_sleep(600)",
            "host=\(TestCluster.shared.dataDirectory) dbname=\(db.name) user=postgres application_name=reach-test-sleeper",
        ]
        psql.standardOutput = FileHandle.nullDevice
        psql.standardError = FileHandle.nullDevice
        try psql.run()
        for _ in 0..<100 where try backends("reach-test-sleeper") == 0 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(try backends("reach-test-sleeper") == 1)
        kill(psql.processIdentifier, SIGKILL)
        let killed = ContinuousClock.now
        for _ in 0..<200 where try backends("reach-test-sleeper") > 0 { try await Task.sleep(for: .milliseconds(50)) }
        let gone = ContinuousClock.now - killed
        #expect(try backends("reach-test-sleeper") == 0 && gone < .seconds(8), "the backend ran on for \(gone)")
        print("kill -9 of psql running pg_sleep(600): its backend ended \(gone) later")

        // reach import of 300,000 schools, killed while its backend works.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("school_registered-\(UUID().uuidString.prefix(8)).csv").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let rows = (1...300_000).map { "gone-\($0),\(2_000_000 + $0),northvale,Test School \($0),secondary,600\n" }.joined()
        try ("id,school_id,la_id,name,phase,pupils_on_roll\n" + rows).write(toFile: file, atomically: true, encoding: .utf8)
        let before: Int64 = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        let importer = Process()
        importer.executableURL = URL(fileURLWithPath: binary)
        // (Reach names its connections "reach"; in this database, only the import's are.)
        importer.arguments = ["import", file, "--database-url", "postgresql:///\(db.name)?host=\(TestCluster.shared.dataDirectory)&user=postgres"]
        importer.standardOutput = FileHandle.nullDevice
        importer.standardError = FileHandle.nullDevice
        try importer.run()
        func working() throws -> Bool {
            try owner.query(
                """
                SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'reach'
                               AND backend_xid IS NOT NULL)
                """
            ).decode(row: 0, column: 0)
        }
        for _ in 0..<400 where try !working() { try await Task.sleep(for: .milliseconds(25)) }
        #expect(try working(), "the import's backend was seen appending")
        kill(importer.processIdentifier, SIGKILL)
        let importKilled = ContinuousClock.now
        for _ in 0..<200 where try backends("reach") > 0 { try await Task.sleep(for: .milliseconds(50)) }
        let importGone = ContinuousClock.now - importKilled
        #expect(try backends("reach") == 0 && importGone < .seconds(8), "the import's backend ran on for \(importGone)")
        let after: Int64 = try owner.query("SELECT count(*) FROM reach.events").decode(row: 0, column: 0)
        #expect(after == before, "nothing of the killed import is in the log")
        print("kill -9 of reach import (300,000 rows): its backends ended \(importGone) later; events before \(before), after \(after)")
    }
}

extension ServerTests {
    @Test(
        "when the database cannot be reached, a signed-in web user gets a 503 page saying so (not that the sign-in has ended), as the API answers 503"
    )
    func databaseDownOnTheWeb() async throws {
        let running = try await Self.start()
        let cookie = try await Self.signedIn(running, "sam")
        #expect(try await Self.page(running, "GET", "/records", as: nil, headers: ["Cookie": cookie]).status == 200)
        // No login but a superuser may connect now, and the service's connections are ended.
        let owner = try running.db.ownerConnection()
        try owner.executeScript("ALTER DATABASE \(running.db.name) CONNECTION LIMIT 0")
        _ = try owner.query(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        let page = try await Self.page(running, "GET", "/records", as: nil, headers: ["Cookie": cookie])
        #expect(page.status == 503 && page.type.hasPrefix("text/html"), "\(page.status) \(page.headers)")
        #expect(page.body.contains("cannot be reached") && !page.body.contains("Your sign-in has ended"))
        #expect(page.headers["retry-after"] != nil)
        let api = try await Self.call(running, "GET", "/api/v1/catalogue", as: nil, headers: ["Cookie": cookie])
        #expect(api.status == 503 && api.type == "application/problem+json")
        // Once it can be reached again, the same sign-in goes on (connections the pool kept
        // from before, ended by the server, fail once each and are dropped).
        try owner.executeScript("ALTER DATABASE \(running.db.name) CONNECTION LIMIT -1")
        var again = 0
        for _ in 0..<20 where again != 200 {
            again = try await Self.page(running, "GET", "/records", as: nil, headers: ["Cookie": cookie]).status
        }
        #expect(again == 200)
        await running.stop()
    }
}
