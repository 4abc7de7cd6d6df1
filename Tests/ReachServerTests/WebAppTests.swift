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

/// The web app's pages over HTTP, as a browser without script would use them: recording through
/// forms made from the catalogue, recent records corrected and withdrawn, imports, dashboards
/// against the figures `reach metrics` computes, downloads recorded as exports, accounts.
extension ServerTests {
    /// A signed-in browser: its session cookie and the session's CSRF token.
    struct WebUser {
        var running: Running
        var cookie: String
        var csrf: String

        init(_ running: Running, _ name: String) async throws {
            self.running = running
            let signIn = try await ServerTests.call(
                running, "POST", "/api/v1/session", as: nil, body: #"{"name":"\#(name)","password":"a long enough password"}"#)
            let cookie = (signIn.headers["set-cookie"] ?? "").split(separator: ";").first.map(String.init) ?? ""
            #expect(cookie.hasPrefix("reach_session="), "\(name) could not sign in: \(signIn.body)")
            self.cookie = cookie
            struct Session: Decodable { var csrf_token: String }
            self.csrf = try JSONDecoder().decode(Session.self, from: Data(signIn.body.utf8)).csrf_token
        }

        func get(_ path: String) async throws -> (status: Int, body: String, type: String, headers: [String: String]) {
            try await ServerTests.page(running, "GET", path, as: nil, headers: ["Cookie": cookie])
        }

        /// Posts a form (with the CSRF token unless `csrf` is false).
        func post(_ path: String, _ fields: [(String, String)], csrf: Bool = true) async throws -> (
            status: Int, body: String, type: String, headers: [String: String]
        ) {
            let all = (csrf ? [("csrf_token", self.csrf)] : []) + fields
            let body = all.map { "\(Self.encoded($0.0))=\(Self.encoded($0.1))" }.joined(separator: "&")
            return try await ServerTests.page(
                running, "POST", path, as: nil, body: body, contentType: "application/x-www-form-urlencoded",
                headers: ["Cookie": cookie])
        }

        /// Posts a multipart form with one file.
        func upload(_ path: String, _ fields: [(String, String)], file: (name: String, text: String)) async throws -> (
            status: Int, body: String, type: String, headers: [String: String]
        ) {
            let boundary = "----reach\(UUID().uuidString.prefix(8))"
            var body = ""
            for (name, value) in [("csrf_token", csrf)] + fields {
                body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
            }
            body +=
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(file.name)\"\r\nContent-Type: text/csv\r\n\r\n\(file.text)\r\n--\(boundary)--\r\n"
            return try await ServerTests.page(
                running, "POST", path, as: nil, body: body, contentType: "multipart/form-data; boundary=\(boundary)",
                headers: ["Cookie": cookie])
        }

        static func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? ""
        }
    }

    /// A figure as the web app shows it: its symbol, or its value (whole numbers without decimals).
    static func shown(_ row: Observation) -> String {
        if let symbol = row.symbol { return symbol }
        guard let value = row.value else { return ":" }
        return value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }

    /// The first match of a pattern's first group in a page.
    static func first(_ pattern: String, in text: String) -> String? {
        guard let expression = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]),
            let match = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
            let range = Range(match.range(at: 1), in: text)
        else { return nil }
        return String(text[range])
    }

    static func all(_ pattern: String, in text: String) -> [String] {
        guard let expression = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return [] }
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    @Test(
        "the web app records: a form for every record type made from the catalogue, refusals at their fields with the typing kept, the record in the figures, then corrected and withdrawn through forms; scoped by role and authority"
    )
    func webRecording() async throws {
        let running = try await Self.start()
        let staff = try await WebUser(running, "sam")
        let sam = Identity(name: "sam", role: .staff, authorities: ["northvale"])
        // A form for every type staff record, asking for each field the type's checks read.
        let index = try await staff.get("/record")
        #expect(index.status == 200)
        for (name, type) in RecordType.recordable where !["event_corrected", "event_withdrawn"].contains(name) {
            #expect(index.body.contains("href=\"/record/\(name)\""), "the list of forms lacks \(name)")
            let form = try await staff.get("/record/\(name)")
            #expect(form.status == 200, "the form of \(name): \(form.status)")
            for field in type.fieldDescriptions {
                #expect(
                    form.body.contains("name=\"\(field.key)\"") || form.body.contains("name=\"\(field.key).")
                        || form.body.contains("id=\"f-\(field.key)\""),
                    "the form of \(name) lacks \(field.key)")
            }
            #expect(!form.body.contains("<script"))
        }
        // Labels for every input and select.
        let form = try await staff.get("/record/activity_delivered")
        for id in Self.all(#"<(?:input|select|textarea) type="text" id="([^"]+)""#, in: form.body) + Self.all(#"<select id="([^"]+)""#, in: form.body)
        {
            #expect(form.body.contains("<label for=\"\(id)\">"), "no label for \(id)")
        }
        #expect(form.body.contains(#"name="la_id" value="northvale""#), "the staff member's one authority is filled in")
        let recordID = try #require(Self.first(#"name="record_id" value="([^"]+)""#, in: form.body))
        let assembly = try Assembly(try running.db.ownerConnection())
        var fields: [(String, String)] = [
            ("record_id", recordID), ("pilot_id", assembly.pilot), ("la_id", "northvale"), ("school_id", assembly.school),
            ("kind", "asembly"), ("date", "2025-02-30"), ("duration_minutes", "45x"), ("mode", "in_person"),
            ("attendance.pupils.ks3", "-3"), ("attendance.staff.teaching", "4"), ("delivered_by.team", "<b>CS team</b>"),
        ]
        // Refused: each refusal in the summary, linked to its field, and next to it; the typing kept (escaped).
        let refused = try await staff.post("/record/activity_delivered", fields)
        #expect(refused.status == 422)
        for (id, words) in [
            ("f-kind", "asembly"), ("f-date", "not a real date"), ("f-duration_minutes", "whole number"), ("f-attendance-pupils-ks3", "0 or more"),
        ] {
            #expect(refused.body.contains("<a href=\"#\(id)\">"), "the summary does not link to \(id)")
            #expect(refused.body.contains("id=\"\(id)-error\""), "no error next to \(id)")
            #expect(refused.body.contains(words), "the refusal of \(id) does not say \(words)")
        }
        #expect(refused.body.contains(#"value="45x""#) && refused.body.contains(#"value="-3""#) && refused.body.contains(#"value="2025-02-30""#))
        #expect(refused.body.contains("&lt;b&gt;CS team&lt;/b&gt;") && !refused.body.contains("<b>CS team</b>"))
        #expect(refused.body.contains(#"<option value="asembly" selected>"#), "the word typed is kept, even where it is not a choice")
        // Without the session's CSRF token: refused, nothing recorded.
        #expect(try await staff.post("/record/activity_delivered", fields, csrf: false).status == 403)
        // Accepted: in the log, in the list of recent records, and in the figures.
        let period = try Period.parse("2024/25").get()
        let before =
            try await running.app.metrics(MetricQuery(period: period, la: "northvale", metrics: [.sessions]), as: sam)
            .rows.first { $0.dimension == "total" }?.value ?? 0
        fields = fields.map {
            $0.0 == "kind"
                ? ("kind", "assembly")
                : $0.0 == "date"
                    ? ("date", "2025-03-04")
                    : $0.0 == "duration_minutes"
                        ? ("duration_minutes", "45")
                        : $0.0 == "attendance.pupils.ks3" ? ("attendance.pupils.ks3", "120") : $0
        }
        let accepted = try await staff.post("/record/activity_delivered", fields)
        #expect(accepted.status == 303 && accepted.headers["location"] == "/records?recorded=\(recordID)")
        let again = try await staff.post("/record/activity_delivered", fields)
        #expect(again.status == 303, "sending the same form again records nothing more")
        let after =
            try await running.app.metrics(MetricQuery(period: period, la: "northvale", metrics: [.sessions]), as: sam)
            .rows.first { $0.dimension == "total" }?.value ?? 0
        #expect(after == before + 1)
        let dashboard = try await staff.get("/authorities/northvale?period=2024/25")
        #expect(
            dashboard.body.contains("<th scope=\"row\">Sessions</th><td class=\"number\">\(Int(after))</td>"), "the dashboard shows the new count")
        let list = try await staff.get("/records?recorded=\(recordID)")
        #expect(list.status == 200 && list.body.contains("Record \(recordID) is in the log") && list.body.contains("<code>\(recordID)</code>"))
        // Corrected through its form, prefilled with the record; the reason is required.
        let correct = try await staff.get("/records/\(recordID)/correct")
        #expect(correct.status == 200 && correct.body.contains(#"name="attendance.pupils.ks3" value="120""#))
        let correctionID = try #require(Self.first(#"name="record_id" value="([^"]+)""#, in: correct.body))
        var correction = fields.filter { $0.0 != "record_id" } + [("record_id", correctionID)]
        correction = correction.map { $0.0 == "attendance.pupils.ks3" ? ("attendance.pupils.ks3", "150") : $0 }
        let noReason = try await staff.post("/records/\(recordID)/correct", correction)
        #expect(noReason.status == 422 && noReason.body.contains(##"<a href="#f-correction_reason">"##))
        let corrected = try await staff.post("/records/\(recordID)/correct", correction + [("correction_reason", "the head count was 150")])
        #expect(corrected.status == 303)
        let records = try await running.app.recentRecords(as: sam)
        #expect(records.first { $0.recordID == recordID }?.status == "corrected")
        #expect(
            records.first { $0.recordID == recordID }?.data["attendance"]
                == .object(["pupils": .object(["ks3": 150]), "staff": .object(["teaching": 4])]))
        // Withdrawn: no longer counted; a withdrawn record cannot be corrected.
        let withdrawForm = try await staff.get("/records/\(recordID)/withdraw")
        let withdrawalID = try #require(Self.first(#"name="record_id" value="([^"]+)""#, in: withdrawForm.body))
        #expect(try await staff.post("/records/\(recordID)/withdraw", [("record_id", withdrawalID)]).status == 422)
        #expect(try await staff.post("/records/\(recordID)/withdraw", [("record_id", withdrawalID), ("reason", "recorded twice")]).status == 303)
        let withdrawn =
            try await running.app.metrics(MetricQuery(period: period, la: "northvale", metrics: [.sessions]), as: sam)
            .rows.first { $0.dimension == "total" }?.value ?? 0
        #expect(withdrawn == before)
        #expect(try await staff.get("/records/\(recordID)/correct").status == 400)
        // Another authority's record is not this staff member's to see, change or withdraw.
        let admin = Identity(name: "ops", role: .admin)
        let elsewhere = try #require(
            try await running.app.recentRecords(limit: 500, as: admin).first { $0.authority != nil && $0.authority != "northvale" })
        #expect(try await running.app.recentRecords(limit: 500, as: sam).allSatisfy { $0.authority == "northvale" })
        #expect(try await staff.get("/records/\(WebUser.encoded(elsewhere.recordID))/correct").status == 404)
        #expect(try await staff.get("/records/\(WebUser.encoded(elsewhere.recordID))/withdraw").status == 404)
        // Row numbers no form makes: read no further than the form's rows, and the service carries on.
        let plan = try await staff.post(
            "/record/safety_plan_agreed",
            [
                ("record_id", "web-plan-1"), ("actions.9223372036854775807.action_id", "a1"),
                ("actions.5000000.action_id", "a2"), ("add_row", "actions"),
            ])
        #expect(plan.status == 200 && plan.body.utf8.count < 200_000)
        #expect(
            try await staff.post("/record/safety_plan_agreed", [("record_id", "web-plan-1"), ("actions.9223372036854775807.action_id", "a1")]).status
                == 422)
        // Researchers and leads record nothing.
        for name in ["ana", "lee"] {
            let other = try await WebUser(running, name)
            #expect(try await other.get("/record").status == 403)
            #expect(try await other.get("/record/activity_delivered").status == 403)
            #expect(try await other.get("/records").status == 403)
        }
        await running.stop()
    }

    @Test(
        "the web app imports: a file with a refused row, its job page (line, field, reason), the rejects file fixed and imported again; templates; wrong files refused with the reason at the field"
    )
    func webImports() async throws {
        let running = try await Self.start()
        let staff = try await WebUser(running, "sam")
        let page = try await staff.get("/imports")
        #expect(page.status == 200 && page.body.contains(#"enctype="multipart/form-data""#) && page.body.contains(#"<label for="f-file">"#))
        let template = try await staff.get("/templates/activity_delivered.csv")
        #expect(template.status == 200 && template.headers["content-disposition"]?.contains("activity_delivered.csv") == true)
        let lines = template.body.split(separator: "\n").map(String.init)
        let assembly = try Assembly(try running.db.ownerConnection())
        let header = lines[0]
        let columns = header.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func row(_ id: String, kind: String) -> String {
            var cells = lines[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            cells[0] = id
            if let index = columns.firstIndex(of: "kind") { cells[index] = kind }
            if let index = columns.firstIndex(of: "pilot_id") { cells[index] = assembly.pilot }
            if let index = columns.firstIndex(of: "school_id") { cells[index] = assembly.school }
            if let index = columns.firstIndex(of: "delivered_by_partners") { cells[index] = "" }
            if let index = columns.firstIndex(of: "date") { cells[index] = "2025-03-04" }
            return cells.joined(separator: ",")
        }
        let file = ([header] + (1...4).map { row("web-import-\($0)", kind: $0 == 3 ? "asembly" : "assembly") }).joined(separator: "\n") + "\n"
        let started = try await staff.upload("/imports", [("type", "")], file: ("activity_delivered-week.csv", file))
        #expect(started.status == 303, "\(started.body.prefix(400))")
        let location = try #require(started.headers["location"])
        var job = try await staff.get(location)
        for _ in 0..<50 where job.headers["refresh"] != nil {
            try await Task.sleep(for: .milliseconds(200))
            job = try await staff.get(location)
        }
        #expect(job.status == 200 && job.body.contains("Nothing was imported") && job.body.contains("1 row was refused"))
        #expect(job.body.contains("<td>4</td><td>web-import-3</td><td><code>kind</code></td>"), "the refused row's line, id and field")
        #expect(job.body.contains("<a href=\"\(location)/rejects\""), "the job's page links to its rejects")
        let rejects = try await staff.get(location + "/rejects")
        #expect(rejects.status == 200 && rejects.headers["content-disposition"]?.contains("activity_delivered-week-rejects.csv") == true)
        #expect(rejects.body.contains("web-import-3") && !rejects.body.contains("web-import-1,"))
        // Fixed, the rejects import on their own (the reason column is left out), then the whole file.
        let fixed = file.replacingOccurrences(of: "asembly", with: "assembly")
        let second = try await staff.upload("/imports", [("type", "activity_delivered")], file: ("week.csv", fixed))
        let secondLocation = try #require(second.headers["location"])
        var done = try await staff.get(secondLocation)
        for _ in 0..<50 where done.headers["refresh"] != nil {
            try await Task.sleep(for: .milliseconds(200))
            done = try await staff.get(secondLocation)
        }
        #expect(done.body.contains("<h2>Imported</h2>") && done.body.contains("4 records recorded"), "\(done.body.prefix(2000))")
        let listed = try await staff.get("/imports")
        #expect(listed.body.contains(">activity_delivered-week.csv</a>") && listed.body.contains(">week.csv</a>"))
        // Wrong files: the reason at the file field, nothing started.
        let text = try await staff.upload("/imports", [("type", "")], file: ("notes.txt", "hello"))
        #expect(text.status == 422 && text.body.contains(##"<a href="#f-file">The file must be a CSV file"##))
        let unnamed = try await staff.upload("/imports", [("type", "")], file: ("week.csv", fixed))
        #expect(unnamed.status == 422 && unnamed.body.contains(##"<a href="#f-type">"##))
        #expect(try await staff.upload("/imports", [("type", "")], file: ("", "")).body.contains("Choose a file to import"))
        // A file refused as a whole (its header): said so, with the reason.
        let wrongHeader = try await staff.upload("/imports", [("type", "activity_delivered")], file: ("header.csv", "id,nothing\nx,1\n"))
        let wrongLocation = try #require(wrongHeader.headers["location"])
        var wrongJob = try await staff.get(wrongLocation)
        for _ in 0..<50 where wrongJob.headers["refresh"] != nil {
            try await Task.sleep(for: .milliseconds(200))
            wrongJob = try await staff.get(wrongLocation)
        }
        #expect(
            wrongJob.body.contains("The file was refused before any row was recorded") && wrongJob.body.contains("<td>the file</td>"),
            "\(wrongJob.body.prefix(1500))")
        #expect(!wrongJob.body.contains("false"))
        // A body no browser sends (a part without headers, a cut-off body): refused, and the service carries on.
        let boundary = "----broken"
        for body in [
            "--\(boundary)\r\n\r\nx\r\n--\(boundary)--\r\n",
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nid",
        ] {
            let broken = try await Self.page(
                running, "POST", "/imports", as: nil, body: body, contentType: "multipart/form-data; boundary=\(boundary)",
                headers: ["Cookie": staff.cookie])
            #expect([400, 403, 422].contains(broken.status), "a broken upload: \(broken.status)")
        }
        #expect(try await staff.get("/imports").status == 200)
        // Researchers import nothing.
        #expect(try await WebUser(running, "ana").get("/imports").status == 403)
        await running.stop()
    }

    @Test(
        "the web app's dashboards: every figure drawn equals the figures reach metrics computes for the same cut; filters in the URL; CSV of exactly the figures drawn; the summary as CSV, XLSX, report and PDF, each recorded as an export"
    )
    func webDashboards() async throws {
        let running = try await Self.start()
        let lead = try await WebUser(running, "lee")
        let lee = Identity(name: "lee", role: .laViewer, authorities: ["northvale"])
        let period = try Period.parse("2024/25").get()
        let page = try await lead.get("/authorities/northvale?period=2024/25")
        #expect(page.status == 200 && page.body.contains("<strong>dfe</strong>"))
        #expect(page.body.utf8.count < 200_000, "the page weighs \(page.body.utf8.count) bytes")
        // Each chart's values, as drawn, against the figures for the same cut.
        let figures = try await running.app.metrics(
            MetricQuery(
                period: period, la: "northvale",
                metrics: [
                    .schoolsEngaged, .sessions, .attendances, .staffTrained, .learnerHours, .partnersInvolved, .pilotProgress, .surveyChange,
                    .contextPathways, .locationsOfConcern,
                ]), as: lee
        ).rows
        var byMonth = MetricQuery(period: period, la: "northvale", metrics: [.sessions])
        byMonth.by = .month
        let months = try await running.app.metrics(byMonth, as: lee).rows.filter { $0.dimension == "total" }
        let cuts: [(String, [Observation])] = [
            ("sessions-by-month", months),
            ("attendances-by-audience", figures.filter { $0.metric == "attendances" && $0.dimension == "audience" }),
            ("staff-trained-by-role", figures.filter { $0.metric == "staff_trained" && $0.dimension == "role" }),
            ("schools-by-stage", figures.filter { $0.metric == "pilot_progress" && $0.dimension == "stage" }),
        ]
        for (id, expected) in cuts {
            let drawn = Self.first(#"<title id="\#(id)-title">(.*?)</svg>"#, in: page.body) ?? ""
            let values = Self.all(#"class="value(?:-right)?">([^<]*)</text>"#, in: drawn)
            #expect(values.sorted() == expected.map(Self.shown).sorted(), "\(id): drawn \(values), computed \(expected.map(Self.shown))")
            #expect(!expected.isEmpty || id == "staff-trained-by-role", "\(id) draws nothing on the demo data")
            let csv = try await lead.get("/authorities/northvale/figures.csv?period=2024/25&chart=\(id)")
            let rows = csv.body.split(separator: "\n").dropFirst()
            #expect(rows.count == expected.count && rows.allSatisfy { $0.hasSuffix(",dfe") }, "\(id)'s CSV holds \(rows.count) rows")
        }
        #expect(page.body.contains("schools implementing or beyond"))
        for id in ["sessions-by-month", "attendances-by-audience"] {
            #expect(page.body.contains("aria-labelledby=\"\(id)-title \(id)-desc\"") && page.body.contains("<desc id=\"\(id)-desc\">"))
        }
        #expect(page.body.contains(#"<dl class="legend">"#) && page.body.contains("<dt>c</dt>"))
        // A lead sees no small number about pupils in any table.
        for row in page.body.components(separatedBy: "<tr>") where row.hasPrefix("<th scope=\"row\">Pupils</th>") {
            for cell in Self.all(#"<td class="number">([0-9]+)</td>"#, in: row) {
                #expect((Int(cell) ?? 0) == 0 || (Int(cell) ?? 0) > 5, "a small number about pupils is shown: \(row.prefix(200))")
            }
        }
        // Staff filter by pilot and strategy project, in the URL.
        let staff = try await WebUser(running, "sam")
        let sam = Identity(name: "sam", role: .staff, authorities: ["northvale"])
        let staffPage = try await staff.get("/authorities/northvale?period=2024/25")
        let pilot = try #require(
            Self.first(#"<select id="pilot" name="pilot"><option value="" selected>All pilots</option><option value="([^"]+)""#, in: staffPage.body))
        let filtered = try await staff.get("/authorities/northvale?period=2024/25&pilot=\(pilot)")
        let pilotSessions =
            try await running.app.metrics(MetricQuery(period: period, la: "northvale", pilot: pilot, metrics: [.sessions]), as: sam)
            .rows.first { $0.dimension == "total" }.map(Self.shown) ?? ""
        #expect(
            filtered.body.contains("<th scope=\"row\">Sessions</th><td class=\"number\">\(pilotSessions)</td>")
                && filtered.body.contains("<option value=\"\(pilot)\" selected>"))
        #expect(try await staff.get("/authorities/northvale?period=2024/25&project=nothing").status == 400)
        for period in ["FY2024/25", "2024-Q4", "2024-11"] {
            #expect(try await staff.get("/authorities/northvale?period=\(WebUser.encoded(period))").status == 200, "period \(period)")
        }
        // The summary: each format a download, each recorded with its format.
        let summary = try await lead.get("/authorities/northvale/summary?period=2024/25")
        #expect(summary.status == 200 && summary.body.contains(#"value="xlsx""#))
        let csv = try await lead.post("/authorities/northvale/summary/download", [("period", "2024/25"), ("policy", "dfe"), ("format", "csv")])
        #expect(csv.status == 200 && csv.type.hasPrefix("text/csv"))
        let xlsx = try await lead.post("/authorities/northvale/summary/download", [("period", "2024/25"), ("policy", "dfe"), ("format", "xlsx")])
        #expect(xlsx.status == 200 && xlsx.type.contains("spreadsheetml") && xlsx.body.hasPrefix("PK"))
        // (Under northvale's one policy, dfe until the programme sets another; the other is refused.)
        #expect(summary.body.contains("<strong>dfe</strong>"))
        let report = try await lead.post("/authorities/northvale/summary/download", [("period", "2024/25"), ("format", "html")])
        #expect(
            report.status == 200 && report.body.contains("<strong>dfe</strong>") && report.body.contains("<svg") && !report.body.contains("<style>"))
        let other = try await lead.post("/authorities/northvale/summary/download", [("period", "2024/25"), ("policy", "nhs"), ("format", "html")])
        #expect(other.status == 400 && other.body.contains("leave under dfe"), "\(other.status)")
        var formats = ["csv", "xlsx", "html"]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/weasyprint") {
            let pdf = try await lead.post("/authorities/northvale/summary/download", [("period", "2024/25"), ("policy", "dfe"), ("format", "pdf")])
            #expect(pdf.status == 200 && pdf.type == "application/pdf" && pdf.body.hasPrefix("%PDF"))
            formats.append("pdf")
        }
        #expect(
            try await lead.post("/authorities/northvale/summary/download", [("period", "2024/25"), ("policy", "none"), ("format", "csv")]).status
                == 400)
        #expect(
            try await lead.post("/authorities/southmere/summary/download", [("period", "2024/25"), ("policy", "dfe"), ("format", "xlsx")]).status
                == 403)
        let exports = try running.db.ownerConnection().query(
            """
            SELECT data ->> 'format', data ->> 'policy', metadata ->> 'actor' FROM reach.events
            WHERE event_type = 'summary_exported' AND authority_id = 'northvale' ORDER BY "position"
            """
        ).mapRows { "\(try $0.decode(0, as: String.self))/\(try $0.decode(1, as: String.self))/\(try $0.decode(2, as: String.self))" }
        #expect(exports == formats.map { "\($0)/dfe/lee" }, "\(exports)")
        await running.stop()
    }

    @Test(
        "the web app's accounts and research pages: change a password, make and revoke a token, an admin adds and disables accounts; the research views listed with a comment on every column"
    )
    func webAccounts() async throws {
        let running = try await Self.start()
        let admin = try await WebUser(running, "ops")
        let users = try await admin.get("/admin/users")
        #expect(users.status == 200 && users.body.contains("<th scope=\"row\">sam</th>"))
        let short = try await admin.post("/admin/users", [("name", "kim"), ("role", "staff"), ("authorities", "northvale"), ("password", "short")])
        #expect(short.status == 422 && short.body.contains(##"<a href="#f-password">"##) && short.body.contains(#"value="kim""#))
        let noAuthority = try await admin.post(
            "/admin/users", [("name", "kim"), ("role", "la_viewer"), ("authorities", ""), ("password", "a long enough password")])
        #expect(noAuthority.status == 422 && noAuthority.body.contains(##"<a href="#f-authorities">"##))
        let added = try await admin.post(
            "/admin/users", [("name", "kim"), ("role", "staff"), ("authorities", "northvale, southmere"), ("password", "a long enough password")])
        #expect(added.status == 303)
        let kim = try await WebUser(running, "kim")
        #expect(try await kim.get("/record").status == 200)
        // Kim changes the password: the current one is needed, the new one twice.
        let wrong = try await kim.post(
            "/account/password", [("current", "not it at all"), ("new", "another long password"), ("again", "another long password")])
        #expect(wrong.status == 422 && wrong.body.contains(##"<a href="#f-current">"##))
        // An admin too gives the current password here.
        let adminWrong = try await admin.post(
            "/account/password", [("current", "not it at all"), ("new", "another long password"), ("again", "another long password")])
        #expect(adminWrong.status == 422 && adminWrong.body.contains(##"<a href="#f-current">"##))
        _ = try await running.app.checkPassword(name: "ops", password: "a long enough password", from: "test")
        let mismatch = try await kim.post(
            "/account/password", [("current", "a long enough password"), ("new", "another long password"), ("again", "another")])
        #expect(mismatch.status == 422 && mismatch.body.contains(##"<a href="#f-again">"##))
        #expect(
            try await kim.post(
                "/account/password", [("current", "a long enough password"), ("new", "another long password"), ("again", "another long password")]
            ).status == 303)
        _ = try await running.app.checkPassword(name: "kim", password: "another long password", from: "test")
        // A token, shown once, then revoked.
        let made = try await kim.post("/account/tokens", [])
        let token = try #require(Self.first(#"<code class="token">([^<]+)</code>"#, in: made.body))
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: token).status == 200)
        let id = try #require(Self.first(#"reach_([0-9a-f]+)_"#, in: token))
        #expect(try await kim.post("/tokens/\(id)/revoke", []).status == 303)
        #expect(try await Self.call(running, "GET", "/api/v1/catalogue", as: token).status == 401)
        // Only admins manage accounts; an admin disables one.
        #expect(try await kim.get("/admin/users").status == 403)
        #expect(try await kim.post("/admin/users/sam/disable", []).status == 403)
        #expect(try await admin.post("/admin/users/kim/disable", [], csrf: false).status == 403)
        #expect(try await admin.post("/admin/users/kim/disable", []).status == 303)
        let gone = try await kim.get("/record")
        #expect(gone.status == 303 && gone.headers["location"] == "/sign-in?next=%2Frecord&ended=1")
        // The research page: every column of every research view described in the database.
        let researcher = try await WebUser(running, "ana")
        let research = try await researcher.get("/research")
        #expect(research.status == 200 && research.body.contains("research.activities") && research.body.contains("<code>survey_change</code>"))
        #expect(research.body.contains("req_auth_bearer_token") && research.body.contains("pd.read_csv"))
        let undescribed = try running.db.ownerConnection().query(
            """
            SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'research' AND c.relkind = 'v' AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
            """
        ).decode(Int64.self, row: 0, column: 0)
        #expect(undescribed == 0)
        #expect(!research.body.contains("See the view's description"))
        #expect(try await WebUser(running, "sam").get("/research").status == 403)
        await running.stop()
    }
}
