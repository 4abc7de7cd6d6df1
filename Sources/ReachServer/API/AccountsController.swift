import Foundation
import Hummingbird
import ReachApp

/// Accounts and tokens: an admin's, except one's own tokens and password.
struct AccountsController {
    let app: ReachApplication
    let proxies: TrustedProxies

    func addRoutes(to api: RouterGroup<ReachRequestContext>) {
        api.get("/users", use: users)
        api.post("/users", use: addUser)
        api.post("/users/:name/disable", use: disable)
        api.put("/users/:name/password", use: password)
        api.get("/tokens", use: tokens)
        api.post("/tokens", use: makeToken)
        api.delete("/tokens/:id", use: revokeToken)
    }

    @Sendable func users(_ request: Request, context: ReachRequestContext) async throws -> Response {
        try ReachServer.encoded(try await app.listUsers(as: try context.requireIdentity()))
    }

    @Sendable func addUser(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        struct NewUser: Decodable {
            var name: String
            var role: String
            var authorities: [String]?
            var password: String
        }
        let form = try ReachServer.decoded(NewUser.self, body, "send {\"name\", \"role\", \"authorities\", \"password\"} as JSON")
        guard let role = Identity.Role(rawValue: form.role) else {
            throw ReachServer.Invalid("role", "is one of \(Identity.Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let account = try await app.addUser(form.name, role: role, authorities: form.authorities ?? [], password: form.password, as: identity)
        var response = try ReachServer.encoded(account, status: .created)
        response.headers[.location] = "/api/v1/users/\(account.name)"
        return response
    }

    @Sendable func disable(_ request: Request, context: ReachRequestContext) async throws -> Response {
        try await app.disableUser(try context.parameters.require("name"), as: try context.requireIdentity())
        return Response(status: .noContent)
    }

    /// Every other sign-in of the account ends; the asker's own session, if it asked by cookie,
    /// stays.
    @Sendable func password(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        struct NewPassword: Decodable {
            var password: String
            var current_password: String?
            var revoke_tokens: Bool?
        }
        let form = try ReachServer.decoded(NewPassword.self, body, "send {\"password\", \"current_password\", \"revoke_tokens\"} as JSON")
        var keeping: String?
        if case .session(let secret, _) = context.credentials { keeping = secret }
        let changed = try await app.setPassword(
            try context.parameters.require("name"), password: form.password, current: form.current_password,
            from: ReachServer.clientAddress(request, context, proxies), keeping: keeping,
            revokeTokens: form.revoke_tokens ?? false, ownNeedsCurrent: true,
            device: request.cookies[ReachServer.deviceCookie]?.value, as: identity)
        return try ReachServer.encoded(changed)
    }

    @Sendable func tokens(_ request: Request, context: ReachRequestContext) async throws -> Response {
        try ReachServer.encoded(try await app.listTokens(as: try context.requireIdentity()))
    }

    @Sendable func makeToken(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        struct NewToken: Decodable { var account: String? }
        let form =
            body.readableBytes == 0
            ? NewToken()
            : try ReachServer.decoded(NewToken.self, body, "send {\"account\": ...} as JSON, or nothing for a token of your own")
        return try ReachServer.encoded(try await app.createToken(for: form.account ?? identity.name, as: identity), status: .created)
    }

    @Sendable func revokeToken(_ request: Request, context: ReachRequestContext) async throws -> Response {
        try await app.revokeToken(try context.parameters.require("id"), as: try context.requireIdentity())
        return Response(status: .noContent)
    }
}
