import Foundation
import Hummingbird
import ReachApp

/// The routes for those who run the service: liveness, readiness, Prometheus metrics and the
/// OpenAPI document. None needs a sign-in.
struct HealthController {
    let app: ReachApplication
    let metrics: ServiceMetrics

    func addRoutes(to router: Router<ReachRequestContext>) {
        router.get("/health/live", use: live)
        router.get("/health/ready", use: ready)
        router.get("/metrics", use: prometheus)
        router.get("/api/openapi.yaml", use: openAPI)
    }

    @Sendable func live(_ request: Request, context: ReachRequestContext) async throws -> Response {
        ReachServer.json(#"{"status":"live"}"#)
    }

    /// Ready: the migrations applied and the database answering; the replica, looked at beside
    /// the primary (within a second), never makes the service unready.
    @Sendable func ready(_ request: Request, context: ReachRequestContext) async throws -> Response {
        do {
            async let replicaState = app.readReplicaState()
            let (position, lag) = try await app.readiness()
            let replica =
                try await replicaState.map { #","read_replica":"# + String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) } ?? ""
            return ReachServer.json(#"{"status":"ready","last_position":\#(position),"projection_lag":\#(lag)\#(replica)}"#)
        } catch let error as RequestError {
            return ReachServer.problem(.serviceUnavailable, "not ready", error.description)
        } catch {
            return ReachServer.problem(.serviceUnavailable, "not ready", "the database cannot be reached")
        }
    }

    @Sendable func prometheus(_ request: Request, context: ReachRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: await metrics.exposition(app))))
    }

    @Sendable func openAPI(_ request: Request, context: ReachRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: ReachServer.openAPIDocument)))
    }
}
