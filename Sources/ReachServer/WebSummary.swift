import Foundation
import Hummingbird
import ReachApp
import ReachPostgres
import ReachProjections
import Synchronization

/// An authority's summary to take away: CSV, a spreadsheet (XLSX), a printable report (HTML
/// with print styles for A4, charts included) and, where WeasyPrint is installed, a PDF of the
/// report. Each is an export through ``ReachApplication/exportSummaryRows(la:period:format:policy:as:deliver:)``,
/// recorded in the log (`summary_exported`, with its format) before it is handed over, under
/// the dfe or nhs policy as chosen. (Recorded first: a file that then fails to be made, which
/// the asker is told of, still shows in the log as asked for.)
extension WebPages {
    /// WeasyPrint, where Debian's package put it.
    static let weasyprint: String? = ["/usr/bin/weasyprint", "/usr/local/bin/weasyprint"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The pages of WebSummary, each handler a named method (see `addRoutes`).
    struct SummaryPages {
        let app: ReachApplication

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/authorities/:la/summary", use: summary)
            pages.post("/authorities/:la/summary/download", use: downloadSummary)
        }

        @Sendable func summary(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let la = try context.parameters.require("la")
            try ReachApplication.authorize(.export(la: la), as: identity)
            let parameters = parameters(request)
            let period = try ReachServer.parsePeriod(parameters["period"].flatMap { $0.isEmpty ? nil : $0 } ?? "2024/25")
            let policy = try await app.disclosurePolicy(of: la, as: identity)
            let formats: [(String, String, String)] =
                [
                    ("csv", "CSV", "tidy figures, one per row, for R, Python or a spreadsheet"),
                    ("xlsx", "Spreadsheet (XLSX)", "one sheet per section, numbers as numbers"),
                    ("html", "Printable report", "a page to print or save, with its charts"),
                ] + (weasyprint == nil ? [] : [("pdf", "PDF", "the printable report as a PDF file")])
            return page(
                "summary", title: "Download \(la)'s summary", status: .ok, identity: identity, csrf: csrf,
                [
                    "la": la, "la_path": percentEncoded(la), "period": period.label, "policy": policy.rawValue,
                    "policy_rule": policy == .nhs
                        ? "counts from 1 to 7 shown as *, others rounded to 5: NHS England's rule"
                        : "counts of young people from 1 to 5 shown as c: the Department for Education's rule",
                    "formats": formats.enumerated().map { index, format in
                        [
                            "value": format.0, "label": format.1, "hint": format.2, "checked": index == 0,
                            "id": index == 0 ? "format" : "format-\(format.0)",
                        ]
                    },
                ])
        }

        /// A download is recorded in the log, so it is asked for with the session's CSRF token
        /// (a POST): another site cannot make an export in someone's name.
        @Sendable func downloadSummary(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            let values = try await WebPages.readForm(request, context)
            let la = try context.parameters.require("la")
            let period = try ReachServer.parsePeriod(values["period"]?.first.flatMap { $0.isEmpty ? nil : $0 } ?? "2024/25")
            // (The authority's own policy unless one is asked for.)
            let asked = values["policy"]?.first.flatMap { $0.isEmpty ? nil : $0 }
            let policy = try asked.map { text in
                guard let name = DisclosurePolicy.Name(rawValue: text), name != DisclosurePolicy.Name.none else {
                    throw RequestError("a summary that leaves the programme is under the dfe or the nhs policy")
                }
                return name
            }
            guard let format = ExportFormat(rawValue: values["format"]?.first ?? "csv") else {
                throw RequestError("choose csv, xlsx, html or pdf")
            }
            func stem(_ export: SummaryExport) -> String { "\(la)-\(period.label.replacingOccurrences(of: "/", with: "-"))-\(export.policy)" }
            switch format {
            case .csv, .json:
                let delivered = Delivered()
                let export = try await app.exportSummary(
                    la: la, period: period, format: format == .csv ? .csv : .json, policy: policy, as: identity
                ) { delivered.set($0) }
                return download(
                    delivered.get(), type: format == .csv ? "text/csv; charset=utf-8" : "application/json", name: "\(stem(export)).\(format.rawValue)"
                )
            case .xlsx:
                let made = DeliveredData()
                let export = try await app.exportSummaryRows(la: la, period: period, format: .xlsx, policy: policy, as: identity) { rows, policy in
                    made.set(try SummaryWorkbook.make(la: la, period: period.label, policy: policy.rawValue, rows: rows))
                }
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        .contentDisposition: "attachment; filename=\"\(stem(export)).xlsx\"",
                    ],
                    body: .init(byteBuffer: ByteBuffer(bytes: made.get())))
            case .html:
                let delivered = Delivered()
                _ = try await app.exportSummaryRows(la: la, period: period, format: .html, policy: policy, as: identity) { rows, policy in
                    delivered.set(report(la: la, period: period.label, policy: policy.rawValue, rows: rows, inlineStyles: false))
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: delivered.get())))
            case .pdf:
                guard let weasyprint else {
                    throw NotFound("PDFs need WeasyPrint (Debian's weasyprint), which is not installed here; print the report instead")
                }
                let made = DeliveredData()
                let export = try await app.exportSummaryRows(la: la, period: period, format: .pdf, policy: policy, as: identity) { rows, policy in
                    made.set(try pdf(report(la: la, period: period.label, policy: policy.rawValue, rows: rows, inlineStyles: true), tool: weasyprint))
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/pdf", .contentDisposition: "attachment; filename=\"\(stem(export)).pdf\""],
                    body: .init(byteBuffer: ByteBuffer(bytes: made.get())))
            }
        }
    }

    /// The printable report of a summary's rows: each section a table, the time series and
    /// breakdowns drawn as charts too; print styles lay it out on A4.
    static func report(la: String, period: String, policy: String, rows: [Observation], inlineStyles: Bool) -> String {
        func label(_ text: String) -> String { RecordForm.label(text) }
        var order: [String] = []
        var byMetric: [String: [Observation]] = [:]
        for row in rows {
            if byMetric[row.metric] == nil { order.append(row.metric) }
            byMetric[row.metric, default: []].append(row)
        }
        let months = rows.filter { $0.metric == "sessions" && $0.scope.hasPrefix("month:") && $0.dimension == "total" }
        let charts: [String: [String: Any]] = [
            "sessions": columnChart(months, title: "Sessions by month, \(la), \(period)", id: "report-sessions") {
                $0.scope.replacingOccurrences(of: "month:", with: "")
            },
            "attendances": barChart(
                rows.filter { $0.metric == "attendances" && $0.scope == "all" && $0.dimension == "audience" },
                title: "Attendances by audience, \(la), \(period)", id: "report-attendances"
            ) { label($0.category) },
            "staff_trained": barChart(
                rows.filter { $0.metric == "staff_trained" && $0.scope == "all" && $0.dimension == "role" },
                title: "Staff trained by role, \(la), \(period)", id: "report-staff"
            ) { label($0.category) },
            "pilot_progress": barChart(
                rows.filter { $0.metric == "pilot_progress" && $0.scope == "all" && $0.dimension == "stage" }
                    .sorted { AuthorityDashboard.stageOrder($0.category) < AuthorityDashboard.stageOrder($1.category) },
                title: "Schools by engagement stage, \(la), \(period)", id: "report-stages"
            ) { label($0.category) },
        ]
        let sections = order.map { metric -> [String: Any] in
            let found = byMetric[metric] ?? []
            let chart = charts[metric].flatMap { ($0["items"] as? [Any])?.isEmpty == false ? $0 : nil }
            return [
                "heading": label(metric), "columns": metric == "sessions" ? AuthorityDashboard.orFalse(chart) : false,
                "bars": metric != "sessions" ? AuthorityDashboard.orFalse(chart) : false,
                "rows": found.map { row -> [String: Any] in
                    [
                        "scope": row.scope == "all" ? la : row.scope,
                        "breakdown": row.dimension == "total" ? "" : "\(label(row.dimension)): \(label(row.category))",
                        "statistic": label(row.statistic), "shown": shown(row),
                    ]
                },
            ]
        }
        let context: [String: Any] = [
            "la": la, "period": period, "policy": policy, "sections": sections, "made": ISO8601DateFormatter().string(from: Date()),
            "symbols": SummaryWorkbook.symbols.map { ["symbol": $0.0, "meaning": $0.1] },
            "inline_css": inlineStyles ? styles : false, "linked_css": !inlineStyles,
        ]
        return library.render(context, withTemplate: "report") ?? "<!DOCTYPE html><title>Reach</title><p>The report could not be drawn.</p>"
    }

    /// The report as a PDF, made by WeasyPrint in a process of its own.
    static func pdf(_ html: String, tool: String) throws -> Data {
        let directory = URL(fileURLWithPath: try PrivateFile.temporaryDirectory(prefix: "reach-pdf"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("report.html")
        let output = directory.appendingPathComponent("report.pdf")
        try Data(html.utf8).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--quiet", input.path, output.path]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let data = try? Data(contentsOf: output) else {
            throw RequestError("the PDF could not be made (\(String(decoding: message.prefix(200), as: UTF8.self))); print the report instead")
        }
        return data
    }
}

/// Bytes handed over by an export's delivery.
final class DeliveredData: Sendable {
    private let bytes = Mutex(Data())
    func set(_ data: Data) { bytes.withLock { $0 = data } }
    func get() -> Data { bytes.withLock { $0 } }
}
