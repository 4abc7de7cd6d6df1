import ArgumentParser
import Foundation
import ReachApp
import ReachCommandLine

extension Identity.Role: ExpressibleByArgument {}

/// Reads a password: the first line of standard input with `--password-stdin`, else a new
/// random one, shown once.
func password(fromStandardInput: Bool) throws -> (password: String, generated: Bool) {
    if fromStandardInput {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw CommandError("no password on standard input") }
        return (line, false)
    }
    let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    var random = SystemRandomNumberGenerator()
    return (String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }), true)
}

/// `reach users add|list|disable|passwd`.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the accounts of Reach's HTTP service (an admin's task).",
        discussion: """
            Roles: staff (records for the authorities given with --la), researcher (reads every \
            authority), la_viewer (one authority's figures, always under a disclosure policy), admin. \
            Passwords are kept as bcrypt hashes; without --password-stdin a password is made and \
            shown once.
            """,
        subcommands: [Add.self, List.self, Disable.self, Passwd.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The account's name (lower-case letters, digits, '.', '_', '-').")
        var name: String
        @Option(help: "staff, researcher, la_viewer or admin.")
        var role: Identity.Role
        @Option(name: .customLong("la"), help: "An authority (la_id) the account is for (staff: one or more; la_viewer: exactly one).")
        var authorities: [String] = []
        @Flag(help: "Read the password from the first line of standard input.")
        var passwordStdin = false

        func run() async throws {
            let app = try await database.application()
            let (secret, generated) = try password(fromStandardInput: passwordStdin)
            let account = try await app.addUser(
                name, role: role, authorities: authorities, password: secret,
                as: try await app.identify(actor: actorName(nil)))
            struct Line: Encodable {
                var name: String
                var role: String
                var authorities: [String]
                var password: String?
            }
            emit(
                try jsonLine(
                    Line(name: account.name, role: account.role.rawValue, authorities: account.authorities, password: generated ? secret : nil)))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts (never their passwords).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let app = try await database.application()
            for account in try await app.listUsers(as: try await app.identify(actor: actorName(nil))) { emit(try jsonLine(account)) }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: it can no longer sign in, and its tokens stop working.")
        @OptionGroup var database: DatabaseOptions
        @Argument var name: String

        func run() async throws {
            let app = try await database.application()
            try await app.disableUser(name, as: try await app.identify(actor: actorName(nil)))
            struct Line: Encodable {
                var name: String
                var disabled = true
            }
            emit(try jsonLine(Line(name: name)))
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an account's password.",
            discussion: """
                A password has at least 12 characters and is not on Reach's list of common and breached \
                passwords. Every sign-in of the account ends; its API tokens keep working unless \
                --revoke-tokens.
                """)
        @OptionGroup var database: DatabaseOptions
        @Argument var name: String
        @Flag(help: "Read the password from the first line of standard input.")
        var passwordStdin = false
        @Flag(help: "Revoke the account's API tokens as well.")
        var revokeTokens = false

        func run() async throws {
            let app = try await database.application()
            let (secret, generated) = try password(fromStandardInput: passwordStdin)
            let changed = try await app.setPassword(
                name, password: secret, revokeTokens: revokeTokens, as: try await app.identify(actor: actorName(nil)))
            struct Line: Encodable {
                var name: String
                var password: String?
                var sessions_ended: Int
                var tokens_in_use: Int
                var tokens_revoked: Int
            }
            emit(
                try jsonLine(
                    Line(
                        name: name, password: generated ? secret : nil, sessions_ended: changed.sessionsEnded,
                        tokens_in_use: changed.tokensInUse, tokens_revoked: changed.tokensRevoked)))
        }
    }
}

/// `reach tokens create|revoke`.
struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make and revoke API tokens for scripts (Authorization: Bearer TOKEN).",
        subcommands: [Create.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token for an account; it is shown once, and only its hash is kept.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The account the token acts as.")
        var account: String

        func run() async throws {
            let app = try await database.application()
            emit(try jsonLine(try await app.createToken(for: account, as: try await app.identify(actor: actorName(nil)))))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by its id (the part after reach_).")
        @OptionGroup var database: DatabaseOptions
        @Argument var id: String

        func run() async throws {
            let app = try await database.application()
            try await app.revokeToken(id, as: try await app.identify(actor: actorName(nil)))
            struct Line: Encodable {
                var id: String
                var revoked = true
            }
            emit(try jsonLine(Line(id: id)))
        }
    }
}
