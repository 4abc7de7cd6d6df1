import Foundation
import Hummingbird
import NIOCore
import ReachApp

/// The request context of Reach's routes: Hummingbird's, the address the request came from
/// (for limiting sign-in attempts), and who is asking, set once by ``Authenticator`` for the
/// API and the web app alike.
public struct ReachRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The request's id, set by ``RequestLog``: in the answer's `X-Request-Id` and every log line.
    public var requestID = ""
    /// Who is asking, when the request carried credentials that hold.
    public var identity: Identity?
    /// How the request proved it, if it tried.
    public var credentials: Credentials?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Who is asking, for a route that needs someone: ``NotSignedIn`` when no one is.
    func requireIdentity() throws -> Identity {
        guard let identity else {
            if case .endedSession = credentials { throw NotAuthenticated() }
            throw NotSignedIn()
        }
        return identity
    }

    /// Who is signed in by the session cookie, and the session's CSRF token (for the forms of
    /// a page): ``NotSignedIn`` when no session is open.
    func requireSession() throws -> (identity: Identity, csrf: String) {
        guard let identity, case .session(_, let csrf) = credentials else { throw NotSignedIn() }
        return (identity, csrf)
    }

    /// The session's identity and CSRF token, if a session is open (for a page that shows who
    /// is signed in).
    var session: (identity: Identity, csrf: String)? { try? requireSession() }
}

/// How a request proved who it is.
public enum Credentials: Sendable {
    /// An API token (`Authorization: Bearer reach_...`).
    case token
    /// The session cookie of an open session: its secret and its CSRF token.
    case session(secret: String, csrf: String)
    /// A session cookie whose session has ended (signed out, expired, its account disabled).
    case endedSession
}

/// No one is signed in, for a route that needs someone: the API answers 401, the web app
/// leads to its sign-in page.
struct NotSignedIn: Error {}

/// A request signed in by the session cookie that writes (or exports) without the session's
/// CSRF token: another site may have sent it.
struct CSRFRefused: Error {}

/// The one rule against requests forged by another site: a request signed in by the session
/// cookie that writes, or that exports a summary (which is recorded), must present the
/// session's CSRF token (the API in the `X-CSRF-Token` header, a form in its `csrf_token`
/// field). A token or no credentials at all need none.
enum CSRF {
    static func check(_ context: ReachRequestContext, presented: String?) throws {
        guard case .session(_, let csrf) = context.credentials else { return }
        guard let presented, presented == csrf else { throw CSRFRefused() }
    }

    /// The token of an API request, from its header.
    static func header(_ request: Request) -> String? {
        request.headers[.init(ReachServer.csrfHeader)!]
    }
}

/// Finds out who is asking, once for every route of both fronts: an API token, else the
/// session cookie. A token that does not hold is refused (``NotAuthenticated``); a session
/// that has ended leaves the request signed out (``Credentials/endedSession``); a database
/// that cannot be asked fails the request (503), never signing anyone out. Each front's
/// middleware (``APIFront``, ``WebFront``) calls it, so that what it throws is answered in
/// that front's way.
enum Authenticator {
    static func authenticate(_ request: Request, _ context: inout ReachRequestContext, app: ReachApplication) async throws {
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            context.identity = try await app.identify(token: String(header.dropFirst("Bearer ".count)))
            context.credentials = .token
        } else if let secret = request.cookies[ReachServer.sessionCookie]?.value, !secret.isEmpty {
            do {
                let (identity, csrf) = try await app.identify(session: secret)
                context.identity = identity
                context.credentials = .session(secret: secret, csrf: csrf)
            } catch is NotAuthenticated {
                context.credentials = .endedSession
            }
        }
    }
}

/// The API's rule for writes (anything but GET and HEAD): ``CSRF``, from the header.
struct WritesNeedCSRF: RouterMiddleware {
    func handle(
        _ request: Request, context: ReachRequestContext,
        next: (Request, ReachRequestContext) async throws -> Response
    ) async throws -> Response {
        if request.method != .get && request.method != .head { try CSRF.check(context, presented: CSRF.header(request)) }
        return try await next(request, context)
    }
}

/// The API's front: who is asking (``Authenticator``), and the answer to a request that
/// failed, its ``Failure`` as `application/problem+json`.
struct APIFront: RouterMiddleware {
    let app: ReachApplication
    /// Whether the routes behind it find out who is asking (all but signing in).
    var authenticates = true

    func handle(
        _ request: Request, context: ReachRequestContext,
        next: (Request, ReachRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        do {
            if authenticates { try await Authenticator.authenticate(request, &context, app: app) }
            return try await next(request, context)
        } catch {
            return ReachServer.problem(Failure(error, logger: app.logger, requestID: context.requestID, path: request.uri.path))
        }
    }
}

/// The web app's front: who is asking (``Authenticator``), and the answer to a request that
/// failed: no one signed in, the sign-in page (which leads back); anything else, a page that
/// says what to do (``Failure``), showing who is signed in.
struct WebFront: RouterMiddleware {
    let app: ReachApplication

    func handle(
        _ request: Request, context: ReachRequestContext,
        next: (Request, ReachRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        do {
            try await Authenticator.authenticate(request, &context, app: app)
            return try await next(request, context)
        } catch is NotSignedIn {
            return WebPages.signInAgain(request)
        } catch {
            let session = context.session
            return WebPages.refusal(
                Failure(error, logger: app.logger, requestID: context.requestID, path: request.uri.path),
                identity: session?.identity, csrf: session?.csrf)
        }
    }
}
