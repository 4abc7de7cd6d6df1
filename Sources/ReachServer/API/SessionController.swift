import Foundation
import Hummingbird
import ReachApp

/// Signing in with a password (a session cookie and its CSRF token) and out. Signing in is
/// done once, here, for both fronts: the API answers with JSON, the web app's form with a
/// redirect, each setting the cookies ``SignIn/cookies(_:secure:)`` gives.
struct SessionController {
    let app: ReachApplication
    let secureCookies: Bool
    let proxies: TrustedProxies

    /// Signing in needs no sign-in; signing out does.
    func addRoutes(public: RouterGroup<ReachRequestContext>, signedIn: RouterGroup<ReachRequestContext>) {
        `public`.post("/session", use: signIn)
        signedIn.delete("/session", use: signOut)
    }

    /// Against a sign-in forged by another site (a login CSRF): JSON only (a form or
    /// text/plain is what another site's page can send without asking), and no foreign Origin.
    @Sendable func signIn(_ request: Request, context: ReachRequestContext) async throws -> Response {
        var request = request
        guard ReachServer.mediaType(request) == "application/json" else {
            return ReachServer.problem(
                .unsupportedMediaType, "unsupported media type", "send {\"name\": ..., \"password\": ...} as application/json",
                errors: [("Content-Type", "is application/json")])
        }
        if ReachServer.isForeignOrigin(request) {
            return ReachServer.problem(
                .forbidden, "not allowed", "a sign-in is accepted from this service's own pages or from a script, not from another site",
                errors: [("Origin", "is not this service's")])
        }
        let body = try await request.collectBody(upTo: 16 * 1024)
        struct Form: Decodable {
            var name: String
            var password: String
        }
        guard let form = try? JSONDecoder().decode(Form.self, from: Data(body.readableBytesView)) else {
            return ReachServer.problem(
                .badRequest, "invalid request", "send {\"name\": ..., \"password\": ...} as JSON", errors: [("body", "is not a sign-in")])
        }
        let signedIn = try await SignIn.perform(app, name: form.name, password: form.password, request, context, proxies: proxies)
        struct Out: Encodable {
            var account: String
            var role: String
            var csrf_token: String
        }
        var response = try ReachServer.encoded(
            Out(account: signedIn.identity.name, role: signedIn.identity.role.rawValue, csrf_token: signedIn.csrfToken))
        for cookie in SignIn.cookies(signedIn, secure: secureCookies) { response.setCookie(cookie) }
        return response
    }

    @Sendable func signOut(_ request: Request, context: ReachRequestContext) async throws -> Response {
        _ = try context.requireIdentity()
        if case .session(let secret, _) = context.credentials { try await app.signOut(session: secret) }
        var response = Response(status: .noContent)
        response.setCookie(SignIn.endedCookie(secure: secureCookies))
        return response
    }
}

/// Signing in, the one way both fronts do it: the password checked under the limits on
/// guessing (for the account and the client's address, or the device that signed in before),
/// then the cookies of the session and, for a new device, of the device.
enum SignIn {
    static func perform(
        _ app: ReachApplication, name: String, password: String, _ request: Request, _ context: ReachRequestContext,
        proxies: TrustedProxies
    ) async throws -> ReachApplication.SignedIn {
        try await app.signIn(
            name: name, password: password, from: ReachServer.clientAddress(request, context, proxies),
            device: request.cookies[ReachServer.deviceCookie]?.value)
    }

    /// The session's cookie (`HttpOnly`, `SameSite=Lax`, `Secure` behind TLS) and, for a device
    /// new to the account, the device's.
    static func cookies(_ signedIn: ReachApplication.SignedIn, secure: Bool) -> [Cookie] {
        var cookies = [
            Cookie(
                name: ReachServer.sessionCookie, value: signedIn.session, maxAge: 8 * 3600, path: "/", secure: secure,
                httpOnly: true, sameSite: .lax)
        ]
        if let device = signedIn.newDevice { cookies.append(ReachServer.deviceCookie(device, secure: secure)) }
        return cookies
    }

    /// The session's cookie, emptied (signed out).
    static func endedCookie(secure: Bool) -> Cookie {
        Cookie(name: ReachServer.sessionCookie, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }
}
