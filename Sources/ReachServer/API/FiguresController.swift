import Foundation
import Hummingbird
import ReachApp
import ReachProjections

/// Figures: reach-and-impact metrics, an authority's summary (recorded as an export) and the
/// projections' state, each the one use case `reach` calls for the same question.
struct FiguresController {
    let app: ReachApplication

    func addRoutes(to api: RouterGroup<ReachRequestContext>) {
        api.get("/metrics", use: metrics)
        api.get("/authorities/:la/summary", use: summary)
        api.get("/authorities/:la/policy", use: policy)
        api.put("/authorities/:la/policy", use: setPolicy)
        api.get("/projections", use: projections)
    }

    @Sendable func metrics(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let parameters = request.uri.queryParameters
        let query = try ReachServer.metricQuery(request)
        let policy = try parameters["policy"].map { text in
            guard let name = DisclosurePolicy.Name(rawValue: String(text)) else { throw ReachServer.Invalid("policy", "is dfe, nhs or none") }
            return name
        }
        let publish = parameters["publish"].map { $0 == "true" || $0 == "1" } ?? false
        let figures = try await app.metrics(query, policy: policy, publish: publish, as: identity)
        let format = try ReachServer.tidyFormat(request, default: TidyFormat.json)
        var response = ReachServer.text(try Tidy.render(figures.rows, format: format, policy: figures.policy), format: format)
        // One authority's published figures: the log position its publication reflects.
        if let position = figures.position { response.headers[.init("Reach-Log-Position")!] = String(position) }
        return response
    }

    /// An export is recorded in the log: signed in by cookie, it needs the CSRF token as a
    /// write does, so that a link on another site cannot make one in someone's name.
    @Sendable func summary(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        try CSRF.check(context, presented: CSRF.header(request))
        let parameters = request.uri.queryParameters
        let la = try context.parameters.require("la")
        guard let periodText = parameters["period"] else { throw ReachServer.Invalid("period", "is required, such as 2024/25") }
        let period = try ReachServer.parsePeriod(String(periodText))
        let format = try ReachServer.tidyFormat(request, default: TidyFormat.csv)
        guard format != .table else { throw ReachServer.Invalid("format", "is csv or json") }
        let policy =
            try parameters["policy"].map { text in
                guard let name = DisclosurePolicy.Name(rawValue: String(text)), name != DisclosurePolicy.Name.none else {
                    throw ReachServer.Invalid("policy", "is dfe or nhs")
                }
                return name
            }
        let delivered = Delivered()
        _ = try await app.exportSummary(la: la, period: period, format: format, policy: policy, as: identity) { text in delivered.set(text) }
        return ReachServer.text(delivered.get(), format: format)
    }

    /// The disclosure policy an authority's figures leave under (admins and researchers).
    @Sendable func policy(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let la = try context.parameters.require("la")
        let found = try await app.disclosurePolicies([la], as: try context.requireIdentity())
        return try ReachServer.encoded(PolicySetting(laID: la, policy: found[0].policy.rawValue, changed: false, recordedAtPosition: nil))
    }

    /// Sets it (admins), as `reach policy set` does.
    @Sendable func setPolicy(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let la = try context.parameters.require("la")
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        struct NewPolicy: Decodable {
            var policy: String
            var reason: String?
        }
        let form = try ReachServer.decoded(NewPolicy.self, body, "send {\"policy\", \"reason\"} as JSON")
        guard let policy = DisclosurePolicy.Name(rawValue: form.policy), policy != DisclosurePolicy.Name.none else {
            throw ReachServer.Invalid("policy", "is dfe or nhs")
        }
        return try ReachServer.encoded(try await app.setDisclosurePolicy(la: la, policy: policy, reason: form.reason, as: identity))
    }

    @Sendable func projections(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let rows = try await app.projectionStatus(as: try context.requireIdentity())
        return ReachServer.json(
            "[" + (try rows.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }).joined(separator: ",") + "]")
    }
}
