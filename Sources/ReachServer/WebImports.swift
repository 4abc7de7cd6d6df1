import Foundation
import Hummingbird
import ReachApp
import ReachDomain

/// The web app's import pages (staff, and admins): upload a CSV or JSON Lines file, follow the
/// job while it runs (the page reloads itself, with no script), see the refused rows with line,
/// field and reason, download the rejects file, and download a template for any record type.
/// The upload goes to disk as it arrives and becomes a job through
/// ``ReachApplication/startImport(file:name:bytes:type:skipInvalid:as:)``, as the API's does.
extension WebPages {
    /// The most refused rows a job's page lists (the rejects file holds them all).
    static let refusalsShown = 200

    /// The pages of WebImports, each handler a named method (see `addRoutes`).
    struct ImportPages {
        let app: ReachApplication
        let uploads: String
        let maximumUpload: Int

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/imports", use: imports)
            pages.post("/imports", use: upload)
            pages.get("/imports/:id", use: job)
            pages.get("/imports/:id/rejects", use: rejects)
            pages.get("/templates/:type", use: template)
        }

        @Sendable func imports(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            return try await importsPage(app, identity: identity, csrf: csrf, errors: [], type: "", skipInvalid: false, status: .ok)
        }

        /// (A multipart form: its CSRF token is read from the stored body below.)
        @Sendable func upload(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            try ReachApplication.authorize(.record, as: identity)
            guard let boundary = Uploads.boundary(request.headers[.contentType] ?? "") else {
                throw RequestError("send the import form as it is on the page (multipart/form-data)")
            }
            let directory = try Uploads.directory(in: uploads)
            var started = false
            defer { if !started { try? FileManager.default.removeItem(atPath: directory) } }
            let raw = (directory as NSString).appendingPathComponent("form.multipart")
            guard try await Uploads.store(request.body, at: raw, maximum: maximumUpload + 64 * 1024) != nil else {
                return try await importsPage(
                    app, identity: identity, csrf: csrf,
                    errors: [("file", "The file is larger than \(maximumUpload / 1024 / 1024) MB; split it into smaller files")],
                    type: "", skipInvalid: false, status: .contentTooLarge)
            }
            let parsed = Result { try Uploads.multipart(at: raw, boundary: boundary, fileTo: directory, name: Self.keptName) }
            try? FileManager.default.removeItem(atPath: raw)
            if case .failure(let refused as WrongKindOfFile) = parsed {
                return try await importsPage(
                    app, identity: identity, csrf: csrf, errors: [("file", refused.message)], type: "", skipInvalid: false,
                    status: .unprocessableContent)
            }
            let form = try parsed.get()
            try CSRF.check(context, presented: form.fields["csrf_token"])
            let type = (form.fields["type"] ?? "").trimmingCharacters(in: .whitespaces)
            let skipInvalid = form.fields["skip_invalid"] == "yes"
            guard let file = form.file, file.bytes > 0 else {
                let errors = [("file", form.file == nil ? "Choose a file to import" : "The file chosen is empty")]
                return try await importsPage(
                    app, identity: identity, csrf: csrf, errors: errors, type: type, skipInvalid: skipInvalid,
                    status: .unprocessableContent)
            }
            do {
                let job = try await app.startImport(
                    file: file.path, name: file.name, bytes: Int64(file.bytes), type: type.isEmpty ? nil : type,
                    skipInvalid: skipInvalid, as: identity)
                started = true
                return redirect("/imports/\(job.id)")
            } catch let refusals as Refusals {
                let errors = refusals.all.map { refusal in
                    (refusal.field == "type" ? "type" : "file", refusal.field == "type" ? "Record type " + refusal.reason : "File " + refusal.reason)
                }
                return try await importsPage(
                    app, identity: identity, csrf: csrf, errors: errors, type: type, skipInvalid: skipInvalid,
                    status: .unprocessableContent)
            }
        }

        /// An uploaded file that is not of a kind that imports.
        struct WrongKindOfFile: Error {
            let message = "The file must be a CSV file (.csv) or JSON Lines (.jsonl)"
        }

        /// The name an uploaded file is kept under: letters, digits, '.', '_' and '-', of the
        /// same kind as the name given (`.ndjson` kept as `.jsonl`).
        static func keptName(_ given: String) throws -> String {
            let lower = given.lowercased()
            let csv = lower.hasSuffix(".csv")
            guard csv || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") || lower.hasSuffix(".ndjson") else {
                throw WrongKindOfFile()
            }
            var kept = String(given.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }.prefix(200))
            if !(kept.first?.isLetter ?? false || kept.first?.isNumber ?? false) { kept = "upload" + kept }
            if lower.hasSuffix(".ndjson") { kept = (kept as NSString).deletingPathExtension + ".jsonl" }
            return try ReachApplication.uploadName(kept, csv: csv)
        }

        @Sendable func job(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let id = try context.parameters.require("id")
            try ReachApplication.authorize(.record, as: identity)
            let job = try await app.importJob(id, as: identity)
            let refusals = job.refusals ?? []
            var response = page(
                "import-job", title: "Import of \(job.file)", status: .ok, identity: identity, csrf: csrf,
                [
                    "job": [
                        "id": job.id, "file": job.file, "type": job.type ?? "named in the file", "state": job.state,
                        "running": job.state == "running", "succeeded": job.state == "succeeded", "refused": job.state == "refused",
                        "failed": job.state == "failed", "rows_read": job.rowsRead, "appended": job.appended ?? 0,
                        "already_present": job.alreadyPresent ?? 0, "refused_rows": job.refusedRows ?? 0,
                        "skip_invalid": job.skipInvalid, "error": RecordForm.orFalse(job.error), "has_rejects": job.hasRejects,
                        "appended_summary": WebPages.appendedSummary(job),
                        "refused_summary": WebPages.refusedSummary(job),
                        "created_at": job.createdAt, "finished_at": RecordForm.orFalse(job.finishedAt),
                    ] as [String: Any],
                    "refusals": refusals.prefix(refusalsShown).map { line -> [String: Any] in
                        ["line": line.line == 0 ? "the file" : String(line.line), "id": line.id ?? "", "field": line.field, "reason": line.reason]
                    },
                    "has_refusals": !refusals.isEmpty, "more_refusals": refusals.count > refusalsShown, "shown": refusalsShown,
                    "refusal_count": refusals.count,
                ])
            // While it runs, the page reloads itself every two seconds (no script needed).
            if job.state == "running" { response.headers[.init("Refresh")!] = "2" }
            return response
        }

        @Sendable func rejects(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            let id = try context.parameters.require("id")
            try ReachApplication.authorize(.record, as: identity)
            let job = try await app.importJob(id, as: identity)
            let (text, isCSV) = try await app.importRejects(id, as: identity)
            let stem = (job.file as NSString).deletingPathExtension
            return download(
                text, type: isCSV ? "text/csv; charset=utf-8" : "application/x-ndjson",
                name: "\(stem)-rejects.\(isCSV ? "csv" : "jsonl")")
        }

        @Sendable func template(_ request: Request, context: ReachRequestContext) async throws -> Response {
            _ = try context.requireSession()
            let file = try context.parameters.require("type")
            let type = file.hasSuffix(".csv") ? String(file.dropLast(4)) : file.hasSuffix(".jsonl") ? String(file.dropLast(6)) : file
            guard RecordType.recordable[type] != nil else { throw NotFound("there is no record type '\(type.prefix(60))'") }
            let template = try ReachApplication.template(type)
            return download(
                template.text, type: template.isCSV ? "text/csv; charset=utf-8" : "application/x-ndjson",
                name: "\(type).\(template.isCSV ? "csv" : "jsonl")")
        }
    }

    /// What a finished import recorded, in words.
    static func appendedSummary(_ job: ImportJob) -> String {
        func count(_ value: Int64, _ one: String, _ many: String) -> String { value == 1 ? "1 \(one)" : "\(value) \(many)" }
        var text = count(job.appended ?? 0, "record recorded", "records recorded")
        if let present = job.alreadyPresent, present > 0 { text += ", " + count(present, "was in the log already", "were in the log already") }
        if let refused = job.refusedRows, refused > 0 { text += ", " + count(refused, "row left out", "rows left out") }
        return text + "."
    }

    /// Why a refused import recorded nothing, in words.
    static func refusedSummary(_ job: ImportJob) -> String {
        guard let refused = job.refusedRows, refused > 0 else {
            return "The file was refused before any row was recorded: see why below, fix the file and import it again."
        }
        return (refused == 1 ? "1 row was refused" : "\(refused) rows were refused")
            + ", so no row of the file was recorded. Fix them and import the whole file again, or import it again choosing to leave out the rows that do not pass."
    }

    /// A file to download, named.
    static func download(_ text: String, type: String, name: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(name)\""],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func importsPage(
        _ app: ReachApplication, identity: Identity, csrf: String, errors: [(String, String)], type: String,
        skipInvalid: Bool, status: HTTPResponse.Status
    ) async throws -> Response {
        try ReachApplication.authorize(.record, as: identity)
        let jobs = try await app.importJobs(limit: 20, as: identity)
        // (An export's record is Reach's own to make, not a spreadsheet's.)
        let types = RecordType.recordable.keys.sorted()
        var values: [String: Any] = [
            "errors": errors.map { ["id": "f-\($0.0)", "message": $0.1] }, "has_errors": !errors.isEmpty,
            "skip_invalid": skipInvalid,
            "types": [["value": "", "label": "Named in the file, or by the file's name", "selected": type.isEmpty]]
                + types.map { ["value": $0, "label": RecordForm.label($0), "selected": $0 == type] as [String: Any] },
            "templates": types.filter { !typesNotOnForms.contains($0) }.map { name -> [String: Any] in
                let csv = (try? ReachApplication.template(name).isCSV) ?? false
                return [
                    "name": name, "label": RecordForm.label(name), "file": "\(name).\(csv ? "csv" : "jsonl")", "kind": csv ? "CSV" : "JSON Lines",
                ]
            },
            "jobs": jobs.map { job -> [String: Any] in
                [
                    "id": job.id, "file": job.file, "state": job.state, "created_at": job.createdAt, "appended": job.appended.map(String.init) ?? "",
                    "refused_rows": job.refusedRows.map(String.init) ?? "",
                ]
            },
            "has_jobs": !jobs.isEmpty,
        ]
        for (field, message) in errors where values["\(field)_error"] == nil { values["\(field)_error"] = message }
        return page("imports", title: (errors.isEmpty ? "" : "Error: ") + "Import a file", status: status, identity: identity, csrf: csrf, values)
    }
}
