import Foundation
import Hummingbird
import ReachApp

/// The web app's account pages: your own (change your password, make and revoke your API
/// tokens) and, for admins, every account (add one with its role and authorities, disable it,
/// make or revoke its tokens). Each action calls the function the command
/// line's `reach users` and `reach tokens` and the API's admin routes call, where the same
/// access decisions are made.
extension WebPages {
    /// The pages of WebAccounts, each handler a named method (see `addRoutes`).
    struct AccountPages {
        let app: ReachApplication
        let proxies: TrustedProxies

        func addRoutes(to pages: RouterGroup<ReachRequestContext>) {
            pages.get("/account", use: account)
            pages.post("/account/password", use: changePassword)
            pages.post("/account/tokens/revoke-all", use: revokeAllTokens)
            pages.post("/account/tokens", use: makeToken)
            pages.post("/tokens/:id/revoke", use: revokeToken)
            pages.get("/admin/users", use: users)
            pages.post("/admin/users", use: addUser)
            pages.post("/admin/users/:name/disable", use: disableUser)
            pages.post("/admin/users/:name/tokens", use: makeUserToken)
        }

        @Sendable func account(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            return try await accountPage(app, identity: identity, csrf: csrf, notice: notice(request), errors: [], status: .ok)
        }

        @Sendable func changePassword(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let values = try await WebPages.readForm(request, context)
            let current = values["current"]?.first ?? ""
            let new = values["new"]?.first ?? ""
            let again = values["again"]?.first ?? ""
            var errors: [(String, String)] = []
            if current.isEmpty { errors.append(("current", "Enter your current password")) }
            if new.isEmpty {
                errors.append(("new", "Enter a new password"))
            } else if new != again {
                errors.append(("again", "The two new passwords are not the same"))
            }
            // The current password is asked of everyone here, admins too (a browser left signed
            // in does not give its account away), and checked under the limits of signing in.
            // Every other sign-in of the account ends; this one stays.
            if errors.isEmpty {
                do {
                    let changed = try await app.setPassword(
                        identity.name, password: new, current: current,
                        from: ReachServer.clientAddress(request, context, proxies),
                        keeping: request.cookies[ReachServer.sessionCookie]?.value, ownNeedsCurrent: true,
                        device: request.cookies[ReachServer.deviceCookie]?.value, as: identity)
                    return redirect("/account?done=password&ended=\(changed.sessionsEnded)&tokens=\(changed.tokensInUse)")
                } catch is AccessDenied {
                    errors.append(("current", "Your current password is not right"))
                } catch let error as TooManyAttempts {
                    errors.append(
                        (
                            "current",
                            "Too many wrong passwords have been tried for this account of late. Wait \(error.seconds) seconds, then try again."
                        ))
                } catch let error as RequestError {
                    errors.append(("new", "The new password is not allowed: \(error.description)"))
                }
            }
            return try await accountPage(app, identity: identity, csrf: csrf, notice: nil, errors: errors, status: .unprocessableContent)
        }

        @Sendable func revokeAllTokens(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            _ = try await WebPages.readForm(request, context)
            let revoked = try await app.revokeAllTokens(of: identity.name, as: identity)
            return redirect("/account?done=revoked-all&tokens=\(revoked)")
        }

        @Sendable func makeToken(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            _ = try await WebPages.readForm(request, context)
            let issued = try await app.createToken(for: identity.name, as: identity)
            return try await accountPage(app, identity: identity, csrf: csrf, notice: nil, errors: [], status: .ok, issued: issued)
        }

        @Sendable func revokeToken(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            let values = try await WebPages.readForm(request, context)
            let id = try context.parameters.require("id")
            try await app.revokeToken(id, as: identity)
            return redirect((values["back"]?.first == "users" ? "/admin/users" : "/account") + "?done=revoked")
        }

        @Sendable func users(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            return try await usersPage(app, identity: identity, csrf: csrf, notice: notice(request), errors: [], typed: [:], status: .ok)
        }

        @Sendable func addUser(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            let values = try await WebPages.readForm(request, context)
            let name = (values["name"]?.first ?? "").trimmingCharacters(in: .whitespaces)
            let role = Identity.Role(rawValue: values["role"]?.first ?? "")
            let authorities = (values["authorities"]?.first ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
            let password = values["password"]?.first ?? ""
            var errors: [(String, String)] = []
            if name.isEmpty { errors.append(("name", "Enter the account's name")) }
            if role == nil { errors.append(("role", "Choose the account's role")) }
            if password.isEmpty { errors.append(("password", "Enter a first password for the account")) }
            if errors.isEmpty, let role {
                do {
                    _ = try await app.addUser(name, role: role, authorities: authorities, password: password, as: identity)
                    return redirect("/admin/users?done=added")
                } catch let error as RequestError {
                    let text = error.description.replacingOccurrences(of: "give --la", with: "give its authorities")
                        .replacingOccurrences(of: "give exactly one --la", with: "give exactly one authority")
                        .replacingOccurrences(of: "give no --la", with: "give no authorities")
                    let field = text.contains("password") ? "password" : text.contains("authorit") ? "authorities" : "name"
                    errors.append((field, text.capitalizedFirst))
                }
            }
            let typed = ["name": name, "role": values["role"]?.first ?? "", "authorities": values["authorities"]?.first ?? ""]
            return try await usersPage(app, identity: identity, csrf: csrf, notice: nil, errors: errors, typed: typed, status: .unprocessableContent)
        }

        @Sendable func disableUser(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, _) = try context.requireSession()
            _ = try await WebPages.readForm(request, context)
            let name = try context.parameters.require("name")
            try await app.disableUser(name, as: identity)
            return redirect("/admin/users?done=disabled")
        }

        @Sendable func makeUserToken(_ request: Request, context: ReachRequestContext) async throws -> Response {
            let (identity, csrf) = try context.requireSession()
            _ = try await WebPages.readForm(request, context)
            let name = try context.parameters.require("name")
            let issued = try await app.createToken(for: name, as: identity)
            return try await usersPage(app, identity: identity, csrf: csrf, notice: nil, errors: [], typed: [:], status: .ok, issued: issued)
        }
    }

    /// What the last action did, from the page's address.
    static func notice(_ request: Request) -> String? {
        let parameters = request.uri.queryParameters
        func count(_ name: String) -> Int { parameters[Substring(name)].flatMap { Int($0) } ?? 0 }
        switch parameters["done"].map(String.init) {
        case "password":
            let ended = count("ended")
            let tokens = count("tokens")
            return "Your password is changed. " + (ended == 0 ? "You were signed in nowhere else. " : "Your other sign-ins (\(ended)) have ended. ")
                + (tokens == 0
                    ? ""
                    : "Your API tokens (\(tokens)) do not use your password and still work: if someone else may know one, revoke it below, or revoke them all.")
        case "revoked-all": return "Your API tokens (\(count("tokens"))) are revoked: they no longer work."
        case "revoked": return "The token is revoked: it no longer works."
        case "added": return "The account is added. Give its name and first password to its owner, who can change the password under Your account."
        case "disabled": return "The account is disabled: it can no longer sign in, and its tokens no longer work."
        default: return nil
        }
    }

    static func formErrors(_ errors: [(String, String)], into values: inout [String: Any]) {
        values["errors"] = errors.map { ["id": "f-\($0.0)", "message": $0.1] }
        values["has_errors"] = !errors.isEmpty
        for (field, message) in errors where values["\(field)_error"] == nil { values["\(field)_error"] = message }
    }

    static func accountPage(
        _ app: ReachApplication, identity: Identity, csrf: String, notice: String?, errors: [(String, String)],
        status: HTTPResponse.Status, issued: IssuedToken? = nil
    ) async throws -> Response {
        let tokens = try await app.listTokens(as: identity).filter { $0.account == identity.name }
        var values: [String: Any] = [
            "notice": RecordForm.orFalse(notice), "role_name": roleName(identity.role),
            "authorities": identity.authorities.sorted().joined(separator: ", "), "has_authorities": !identity.authorities.isEmpty,
            "issued": issued.map { ["token": $0.token, "id": $0.id] as [String: Any] } ?? false,
            "tokens": tokens.map {
                ["id": $0.id, "created_at": $0.createdAt, "revoked_at": RecordForm.orFalse($0.revokedAt), "active": $0.revokedAt == nil]
                    as [String: Any]
            },
            "has_tokens": !tokens.isEmpty,
            "has_active_tokens": tokens.contains { $0.revokedAt == nil },
        ]
        formErrors(errors, into: &values)
        return page("account", title: (errors.isEmpty ? "" : "Error: ") + "Your account", status: status, identity: identity, csrf: csrf, values)
    }

    static func usersPage(
        _ app: ReachApplication, identity: Identity, csrf: String, notice: String?, errors: [(String, String)],
        typed: [String: String], status: HTTPResponse.Status, issued: IssuedToken? = nil
    ) async throws -> Response {
        let users = try await app.listUsers(as: identity)
        let tokens = try await app.listTokens(as: identity).filter { $0.revokedAt == nil }
        var values: [String: Any] = [
            "notice": RecordForm.orFalse(notice),
            "issued": issued.map { ["token": $0.token, "id": $0.id, "account": $0.account] as [String: Any] } ?? false,
            "users": users.map { user -> [String: Any] in
                [
                    "name": user.name, "path": percentEncoded(user.name), "role": user.role.rawValue,
                    "authorities": user.authorities.joined(separator: ", "),
                    "disabled": user.disabled, "tokens": user.tokens, "self": user.name == identity.name,
                ]
            },
            "tokens": tokens.map { ["id": $0.id, "account": $0.account, "created_at": $0.createdAt] },
            "has_tokens": !tokens.isEmpty,
            "name": typed["name"] ?? "", "authorities": typed["authorities"] ?? "",
            "roles": [["value": "", "label": "Choose a role", "selected": (typed["role"] ?? "").isEmpty]]
                + Identity.Role.allCases.map { role in
                    ["value": role.rawValue, "label": "\(role.rawValue): \(roleDescription(role))", "selected": typed["role"] == role.rawValue]
                        as [String: Any]
                },
        ]
        formErrors(errors, into: &values)
        return page("users", title: (errors.isEmpty ? "" : "Error: ") + "Accounts", status: status, identity: identity, csrf: csrf, values)
    }

    static func roleDescription(_ role: Identity.Role) -> String {
        switch role {
        case .staff: "programme staff, who record for their authorities"
        case .researcher: "reads every authority's figures"
        case .laViewer: "a local authority's lead: its own figures, small numbers suppressed"
        case .admin: "runs Reach: accounts and operations"
        }
    }
}
