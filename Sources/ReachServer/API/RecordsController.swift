import Foundation
import Hummingbird
import ReachApp
import ReachDomain

/// Recording: records (one or JSON Lines), the catalogue of record types with their JSON
/// Schemas, and each type's template.
struct RecordsController {
    let app: ReachApplication
    let metrics: ServiceMetrics

    func addRoutes(to api: RouterGroup<ReachRequestContext>) {
        api.post("/records", use: record)
        api.get("/catalogue", use: catalogue)
        api.get("/templates/:file", use: template)
    }

    @Sendable func record(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.collectBody(upTo: ReachServer.maximumBody)
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else { throw ReachServer.Invalid("body", "is not UTF-8 text") }
        let results = try await app.record(text, source: "api", as: identity)
        metrics.records(results)
        let lines = try results.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }
        let status: HTTPResponse.Status = results.contains { $0.isRefused } ? .unprocessableContent : .ok
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: "[" + lines.joined(separator: ",") + "]")))
    }

    @Sendable func catalogue(_ request: Request, context: ReachRequestContext) async throws -> Response {
        _ = try context.requireIdentity()
        return ReachServer.json(
            "["
                + (try ReachApplication.catalogue().map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) })
                .joined(separator: ",") + "]")
    }

    @Sendable func template(_ request: Request, context: ReachRequestContext) async throws -> Response {
        _ = try context.requireIdentity()
        let file = try context.parameters.require("file")
        let type = file.hasSuffix(".csv") ? String(file.dropLast(4)) : file.hasSuffix(".jsonl") ? String(file.dropLast(6)) : file
        guard RecordType.recordable[type] != nil else {
            return ReachServer.problem(
                .notFound, "no such record type", "'\(type.prefix(60))' is not a record type; GET /api/v1/catalogue lists them")
        }
        let template = try ReachApplication.template(type)
        return Response(
            status: .ok, headers: [.contentType: template.isCSV ? "text/csv; charset=utf-8" : "application/x-ndjson"],
            body: .init(byteBuffer: ByteBuffer(string: template.text)))
    }
}
