import Foundation
import Hummingbird
import ReachApp

extension WebPages {
    /// The start page, signing in (with the sign-in form's own token, against a sign-in forged
    /// by another site) and signing out.
    struct HomePages {
        let app: ReachApplication
        let secureCookies: Bool
        let proxies: TrustedProxies

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/", use: home)
            pages.get("/sign-in", use: signInForm)
            pages.post("/sign-in", use: signIn)
            pages.post("/sign-out", use: signOut)
        }

        @Sendable func home(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let authorities = identity.authorities.sorted().map { ["id": $0] }
            return page(
                "home", title: "Start", status: .ok, identity: identity, csrf: csrf,
                ["authorities": authorities, "has_authorities": !authorities.isEmpty, "role_name": roleName(identity.role)])
        }

        /// The sign-in page (signed in already: where it would lead).
        @Sendable func signInForm(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let parameters = parameters(request)
            let next = safeNext(parameters["next"])
            if context.session != nil { return redirect(next ?? "/") }
            return signInPage(
                name: "", errors: [], status: .ok, secureCookies: secureCookies, next: next,
                notice: parameters["ended"] == "1" ? "Your sign-in has ended. Sign in again to carry on." : nil)
        }

        @Sendable func signIn(_ request: Request, context: ReachRequestContext) async throws -> Response {
            var request = request
            let form = parseForm(try await request.collectBody(upTo: 16 * 1024))
            let next = safeNext(form["next"])
            guard let token = form["form_token"], !token.isEmpty, token == request.cookies[formCookie]?.value else {
                return signInPage(
                    name: form["name"] ?? "", errors: [("name", "The sign-in form has expired. Sign in again.")],
                    status: .badRequest, secureCookies: secureCookies, next: next)
            }
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            let password = form["password"] ?? ""
            var errors: [(String, String)] = []
            if name.isEmpty { errors.append(("name", "Enter your account name")) }
            if password.isEmpty { errors.append(("password", "Enter your password")) }
            guard errors.isEmpty else {
                return signInPage(name: name, errors: errors, status: .unprocessableContent, secureCookies: secureCookies, next: next)
            }
            do {
                let signedIn = try await SignIn.perform(app, name: name, password: password, request, context, proxies: proxies)
                var response = redirect(next ?? "/")
                for cookie in SignIn.cookies(signedIn, secure: secureCookies) { response.setCookie(cookie) }
                response.setCookie(
                    Cookie(name: formCookie, value: "", maxAge: 0, path: "/sign-in", secure: secureCookies, httpOnly: true, sameSite: .strict))
                return response
            } catch is NotAuthenticated {
                return signInPage(
                    name: name, errors: [("name", "The account name or the password is not right")],
                    status: .unauthorized, secureCookies: secureCookies, next: next)
            } catch let error as TooManyAttempts {
                var response = signInPage(
                    name: name,
                    errors: [
                        (
                            "name",
                            "Too many wrong passwords have been tried for this account of late. Wait \(error.seconds) seconds, then sign in again."
                        )
                    ],
                    status: .tooManyRequests, secureCookies: secureCookies, next: next)
                response.headers[.retryAfter] = String(error.seconds)
                return response
            }
        }

        /// Signing out ends the session (its form carries the session's CSRF token), and
        /// empties the cookie either way.
        @Sendable func signOut(_ request: Request, context: ReachRequestContext) async throws -> Response {
            if case .session(let secret, _) = context.credentials {
                _ = try await readForm(request, context)
                try await app.signOut(session: secret)
            }
            var response = redirect("/sign-in")
            response.setCookie(SignIn.endedCookie(secure: secureCookies))
            return response
        }
    }
}
