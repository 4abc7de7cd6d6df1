import Foundation
import Hummingbird
import Logging
import ReachApp
import ReachDomain
import ReachPostgres
import ReachProjections

/// What a request that failed is answered with, decided once for every error of the
/// application and of the service: the status, a title (the API's) and a heading (the web
/// app's), the detail, the fields at fault and any headers. The API renders it as
/// `application/problem+json` (``ReachServer/problem(_:)``), the web app as a page that says
/// what to do (``WebPages/refusal(_:identity:csrf:)``). A new kind of error is one case here.
struct Failure: Sendable {
    var status: HTTPResponse.Status
    var title: String
    var heading: String
    var detail: String
    var fields: [(String, String)] = []
    var headers: HTTPFields = [:]
    /// What the web app's page says instead of ``detail``, when the API's words do not fit a page.
    var page: String?

    /// The answer to `error`; errors nobody expected are logged (by type, never their content)
    /// and answered as an internal error.
    init(_ error: any Error, logger: Logger? = nil, requestID: String = "", path: String = "") {
        switch error {
        case let error as NotFound:
            self.init(.notFound, "not found", "Page not found", error.description)
        case let refusals as Refusals:
            self.init(.badRequest, "invalid request", "There is a problem", refusals.description, fields: refusals.all.map { ($0.field, $0.reason) })
        case is NotSignedIn:
            self.init(
                .unauthorized, "not signed in", "Sign in to carry on",
                "sign in (POST /api/v1/session), or send an API token: Authorization: Bearer reach_...",
                headers: [.wwwAuthenticate: #"Bearer realm="reach""#])
        case is CSRFRefused:
            self.init(
                .forbidden, "not allowed", "The form has expired",
                "a write signed in by cookie needs the session's CSRF token in the X-CSRF-Token header")
            page = "Go back, reload the page and try again."
        case let error as NotAuthenticated:
            self.init(
                .unauthorized, "not signed in", "Sign in to carry on", error.description,
                headers: [.wwwAuthenticate: #"Bearer realm="reach", error="invalid_token""#])
        case let error as TooManyAttempts:
            self.init(.tooManyRequests, "too many attempts", "Too many attempts", error.description, headers: [.retryAfter: String(error.seconds)])
        case let error as AccessDenied:
            self.init(.forbidden, "not allowed", "You cannot see this page", error.description)
        case let error as ReachServer.Invalid:
            self.init(.badRequest, "invalid request", "There is a problem", "\(error.field) \(error.reason)", fields: [(error.field, error.reason)])
        case let error as RequestError:
            self.init(.badRequest, "invalid request", "There is a problem", error.description)
        case let error as UnpublishedPeriod:
            self.init(
                .badRequest, "invalid request", "There are no figures for this period", error.description, fields: [("period", error.description)])
        case let error as PeriodError:
            self.init(.badRequest, "invalid request", "There is a problem with the period", error.description, fields: [("period", error.reason)])
        case let error as HTTPError:
            self.init(error.status, error.status.reasonPhrase, error.status.reasonPhrase, error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError:
            // Hummingbird's own (a body over the limit, 413).
            self.init(error.status, error.status.reasonPhrase, error.status.reasonPhrase, error.status.reasonPhrase)
        case let error as PostgresError where error.sqlState == "57014":
            // statement_timeout (REACH_HTTP_REQUEST_TIMEOUT_SECONDS): the request took too long.
            self.init(
                .serviceUnavailable, "timed out", "The service took too long",
                "the request took longer than the service allows; try a narrower question, or again later", headers: [.retryAfter: "5"])
        case let error as PostgresError where error.meansUnavailable:
            // Not reached, lost, or no answer within the request limit (a hung server).
            logger?.warning("database unavailable", metadata: ["request_id": "\(requestID)", "path": "\(path)"])
            self.init(
                .serviceUnavailable, "unavailable", "Sorry, the service is unavailable",
                "the database cannot be reached just now; try again (a record sent again with the same id is recorded once)",
                headers: [.retryAfter: "2"])
        default:
            logger?.error("request failed", metadata: ["request_id": "\(requestID)", "path": "\(path)", "error.type": "\(type(of: error))"])
            self.init(
                .internalServerError, "internal error", "Sorry, there is a problem with the service",
                "the request could not be answered; it has been logged")
        }
    }

    init(
        _ status: HTTPResponse.Status, _ title: String, _ heading: String, _ detail: String,
        fields: [(String, String)] = [], headers: HTTPFields = [:]
    ) {
        (self.status, self.title, self.heading, self.detail, self.fields, self.headers) = (status, title, heading, detail, fields, headers)
    }

    /// The detail as the web app shows it: for an error the service made (a database that
    /// cannot be reached), what to do, in the page's words.
    var pageDetail: String {
        if let page { return page }
        switch status {
        case .serviceUnavailable: return "The database cannot be reached just now. Try again in a minute; nothing you sent has been recorded twice."
        case .internalServerError: return "Try again later."
        default: return detail
        }
    }
}
