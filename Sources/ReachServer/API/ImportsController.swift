import Foundation
import Hummingbird
import ReachApp

/// Imports as jobs: the file itself streamed to disk as it arrives and imported as `reach
/// import` does; a job's progress and outcome; its rejects file.
struct ImportsController {
    let app: ReachApplication
    /// Where uploads are kept while imported, and the largest kept.
    let uploads: String
    let maximumUpload: Int

    func addRoutes(to api: RouterGroup<ReachRequestContext>) {
        api.post("/imports", use: start)
        api.get("/imports", use: list)
        api.get("/imports/:id", use: job)
        api.get("/imports/:id/rejects", use: rejects)
    }

    @Sendable func start(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        try ReachApplication.authorize(.record, as: identity)
        let parameters = request.uri.queryParameters
        let csv: Bool
        switch ReachServer.mediaType(request) {
        case "text/csv": csv = true
        case "application/x-ndjson", "application/jsonl", "application/jsonlines", "application/json-lines": csv = false
        default:
            return ReachServer.problem(
                .unsupportedMediaType, "unsupported media type",
                "send the file as text/csv (one record type, named by ?type= or ?name=) or application/x-ndjson (JSON Lines)",
                errors: [("Content-Type", "is text/csv or application/x-ndjson")])
        }
        let name = try ReachApplication.uploadName(parameters["name"].map(String.init), csv: csv)
        let skipInvalid = try ReachServer.flag(parameters["skip_invalid"], "skip_invalid")
        // Streamed to a directory of the upload's own, readable by this user only.
        let directory = try Uploads.directory(in: uploads)
        let path = (directory as NSString).appendingPathComponent(name)
        var started = false
        defer { if !started { try? FileManager.default.removeItem(atPath: directory) } }
        guard let bytes = try await Uploads.store(request.body, at: path, maximum: maximumUpload) else {
            return ReachServer.problem(
                .contentTooLarge, "upload too large", "an upload is at most \(maximumUpload) bytes; split the file",
                errors: [("body", "is larger than \(maximumUpload) bytes")])
        }
        guard bytes > 0 else { throw ReachServer.Invalid("body", "is empty: send the file's contents") }
        let job = try await app.startImport(
            file: path, name: name, bytes: Int64(bytes), type: parameters["type"].map(String.init),
            skipInvalid: skipInvalid, as: identity)
        started = true
        var response = try ReachServer.encoded(job, status: .accepted)
        response.headers[.location] = "/api/v1/imports/\(job.id)"
        return response
    }

    @Sendable func list(_ request: Request, context: ReachRequestContext) async throws -> Response {
        try ReachServer.encoded(try await app.importJobs(as: try context.requireIdentity()))
    }

    @Sendable func job(_ request: Request, context: ReachRequestContext) async throws -> Response {
        try ReachServer.encoded(try await app.importJob(try context.parameters.require("id"), as: try context.requireIdentity()))
    }

    @Sendable func rejects(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let (text, isCSV) = try await app.importRejects(try context.parameters.require("id"), as: try context.requireIdentity())
        return Response(
            status: .ok, headers: [.contentType: isCSV ? "text/csv; charset=utf-8" : "application/x-ndjson"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
