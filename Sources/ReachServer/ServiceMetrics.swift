import Foundation
import Prometheus
import ReachApp
import ReachPostgres

/// What `GET /metrics` tells Prometheus: requests by route, method and status, their latency,
/// and, read at each scrape, the log's last position and each projection's lag. Routes are
/// the router's patterns (`/api/v1/authorities/{la}/summary`), never a request's own path, so
/// that no authority or record id becomes a label.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    static let buckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "reach", subsystem: "http", metricName: "requests", unitName: "total",
                helpText: "HTTP requests answered, by route, method and status."),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "reach", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                helpText: "Time to answer an HTTP request, by route and method."),
            labels: [("route", route), ("method", method)], buckets: Self.buckets
        ).record(duration)
    }

    /// Records answered by `POST /api/v1/records`, by outcome (`accepted` ones were appended).
    func records(_ results: [RecordResult]) {
        for outcome in ["accepted", "already_recorded", "refused"] {
            let count = results.count { $0.status == outcome }
            guard count > 0 else { continue }
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "reach", subsystem: "records", metricName: "answered", unitName: "total",
                    helpText: "Records sent to the service, by outcome (accepted ones were appended to the log)."),
                labels: [("outcome", outcome)]
            ).increment(by: Int64(count))
        }
    }

    /// The exposition text, with the log's and the projections' figures read now.
    func exposition(_ app: ReachApplication) async -> String {
        if let statuses = try? await app.projectionStatus(as: Identity(name: "metrics", role: .admin)) {
            for status in statuses {
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "reach", subsystem: "projection", metricName: "lag", unitName: "events",
                        helpText: "Events in the log the projection has not applied yet."),
                    labels: [("projection", status.name)]
                ).set(Double(status.lagEvents))
                registry.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "reach", subsystem: "projection", metricName: "checkpoint", unitName: "position",
                        helpText: "The log position the projection has applied up to."),
                    labels: [("projection", status.name)]
                ).set(Double(status.checkpoint))
            }
        }
        if let (position, _) = try? await app.readiness() {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "reach", subsystem: "log", metricName: "last", unitName: "position",
                    helpText: "The log's last position."), labels: []
            ).set(Double(position))
        }
        if let usage = app.pool?.usage {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "reach", subsystem: "pool", metricName: "idle", unitName: "connections",
                    helpText: "Database connections idle in the service's pool."), labels: []
            ).set(Double(usage.idle))
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "reach", subsystem: "pool", metricName: "opened", unitName: "connections",
                    helpText: "Database connections the pool has opened since the service started."), labels: []
            ).set(Double(usage.opened))
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
