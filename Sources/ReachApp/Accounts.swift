import Foundation
import HummingbirdBcrypt
import ReachDomain
import ReachEventLog
import ReachPostgres
import Synchronization

/// An account of the HTTP service, as listed (never with its password).
public struct Account: Sendable, Encodable, Equatable {
    public var name: String
    public var role: Identity.Role
    public var authorities: [String]
    public var disabled: Bool
    public var tokens: Int
}

/// An API token as made: `token` is shown this once and kept nowhere.
public struct IssuedToken: Sendable, Encodable {
    public var id: String
    public var account: String
    public var token: String
}

/// A sign-in or token that does not let anyone in; the description is the same whatever the
/// reason, so that it tells nothing about which accounts exist.
public struct NotAuthenticated: Error, Sendable, CustomStringConvertible {
    public var description: String { "the name and password, or the token, are not those of an account that may sign in" }
    public init() {}
}

/// A password check put off, to slow guessing: the account, or the address it came from, has
/// failed too often of late. The password was not checked; try again after ``seconds``.
public struct TooManyAttempts: Error, Sendable, CustomStringConvertible {
    public var seconds: Int
    public var description: String {
        "too many wrong passwords for this account, or from this address, of late; try again in \(seconds) s"
    }
}

/// How password guessing is slowed, without locking anyone out.
///
/// Every password check (signing in, and the current password asked to change it) counts,
/// until it succeeds, against the account's name and the address it came from, over
/// ``window``. Past ``freePerAccount`` failures for an account (or ``freePerAddress`` from an
/// address), each check must wait after the last failure: 1 s, then 2, 4, 8... up to
/// ``longestWait``. A check asked for sooner is refused without looking at the password
/// (`TooManyAttempts`, 429 with `Retry-After`) and is not counted. So the right password always
/// gets in after at most ``longestWait``; a guesser gets about two tries a minute per account;
/// and failures against one account slow that account only, failures from one address that
/// address only. A success clears the account's failures.
public struct SignInLimits: Sendable {
    public var window: Duration = .seconds(15 * 60)
    public var freePerAccount = 5
    public var freePerAddress = 20
    public var longestWait: Duration = .seconds(30)

    public init() {}

    /// How long after the last failure the next check waits, given `failures` in the window.
    func wait(after failures: Int, free: Int) -> Duration {
        guard failures >= free else { return .zero }
        let doubling = min(failures - free, 20)
        return min(.seconds(1 << doubling), longestWait)
    }
}

extension ReachApplication {
    /// How hard passwords are to guess from their hashes (bcrypt's cost: 2^cost rounds).
    /// `REACH_BCRYPT_COST` lowers it for tests.
    static var bcryptCost: UInt8 {
        ProcessInfo.processInfo.environment["REACH_BCRYPT_COST"].flatMap { UInt8($0) }.map { min(max($0, 4), 16) } ?? 12
    }

    // MARK: Accounts

    /// Adds an account with a role of the domain's and, for staff and a local authority's lead,
    /// its authorities (each must be registered). An admin's to do.
    public func addUser(_ name: String, role: Identity.Role, authorities: [String], password: String, as identity: Identity) async throws -> Account {
        try Access.checkMayOperate(.manageUsers, for: identity)
        try Self.checkAccountName(name)
        try Self.checkPassword(password, account: name)
        let authorities = Array(Set(authorities)).sorted()
        switch role {
        case .staff where authorities.isEmpty:
            throw RequestError("a staff account records for at least one authority: give --la")
        case .laViewer where authorities.count != 1:
            throw RequestError("a local authority's lead reads one authority's figures: give exactly one --la")
        case .researcher where !authorities.isEmpty, .admin where !authorities.isEmpty:
            throw RequestError("a \(role.rawValue) reads every authority: give no --la")
        default: break
        }
        let hash = try await Self.bcryptHash(password)
        let account = try await database.withConnection(.application) { connection in
            for authority in authorities where try EventLog.streamVersion(Entity.authority.stream(authority), on: connection) == 0 {
                throw RequestError("no local authority '\(authority)' is registered")
            }
            let inserted = try connection.execute(
                """
                INSERT INTO reach.accounts (name, role, authorities, password_hash) VALUES ($1, $2, $3, $4)
                ON CONFLICT (name) DO NOTHING
                """, [name, role.rawValue, PostgresArray(authorities), hash])
            guard inserted == 1 else { throw RequestError("an account named '\(name)' exists already") }
            return Account(name: name, role: role, authorities: authorities, disabled: false, tokens: 0)
        }
        // An authority's lead reads its authority's published summaries: publish them now.
        if role == .laViewer { await publishAfterWriting() }
        return account
    }

    /// Every account, by name.
    public func listUsers(as identity: Identity) async throws -> [Account] {
        try Access.checkMayOperate(.manageUsers, for: identity)
        return try await database.withConnection(.application) { connection in
            try connection.query(
                """
                SELECT a.name, a.role, array_to_string(a.authorities, ','), a.disabled,
                       (SELECT count(*) FROM reach.api_tokens t WHERE t.account = a.name AND t.revoked_at IS NULL)::int
                FROM reach.accounts a ORDER BY a.name
                """
            ).mapRows { row in
                Account(
                    name: try row.decode(0), role: Identity.Role(rawValue: try row.decode(1)) ?? .researcher,
                    authorities: Self.list(try row.decode(2)), disabled: try row.decode(3), tokens: try row.decode(4))
            }
        }
    }

    /// Disables an account: it can no longer sign in, and its tokens stop working.
    public func disableUser(_ name: String, as identity: Identity) async throws {
        try Access.checkMayOperate(.manageUsers, for: identity)
        guard name != identity.name else { throw AccessDenied("an admin does not disable their own account (another admin may)") }
        defer { tokenCache?.forgetAll() }
        try await updateAccount(name, "UPDATE reach.accounts SET disabled = true WHERE name = $1", [name])
    }

    /// What changing a password did to the account's other ways in.
    public struct PasswordChanged: Sendable, Encodable {
        /// Sign-ins (sessions) of the account that were ended.
        public var sessionsEnded: Int
        /// Its API tokens still in use (they do not depend on the password), or revoked now.
        public var tokensInUse: Int
        public var tokensRevoked: Int
        enum CodingKeys: String, CodingKey {
            case sessionsEnded = "sessions_ended"
            case tokensInUse = "tokens_in_use"
            case tokensRevoked = "tokens_revoked"
        }
    }

    /// Sets an account's password: an admin for anyone; anyone for themselves, giving their
    /// current password (`current`, checked under the limits of signing in, from `address`),
    /// which an admin changing their own password must give too when `current` is given.
    /// Every other sign-in of the account ends (all of them when an admin resets someone
    /// else's): the session `keeping` (the asker's own, by its secret) stays. Its API tokens
    /// keep working unless `revokeTokens`.
    /// `ownNeedsCurrent` (the service's fronts) asks the current password of anyone changing
    /// their own, admins too: a session or token left open does not give the account away. The
    /// command line, the installation's own login, may reset any password.
    @discardableResult
    public func setPassword(
        _ name: String, password: String, current: String? = nil, from address: String = "local",
        keeping session: String? = nil, revokeTokens: Bool = false, ownNeedsCurrent: Bool = false,
        device: String? = nil, as identity: Identity
    ) async throws -> PasswordChanged {
        let admin = (try? Access.checkMayOperate(.manageUsers, for: identity)) != nil
        if identity.name != name {
            try Access.checkMayOperate(.manageUsers, for: identity)
        } else if !admin || current != nil || ownNeedsCurrent {
            guard let current else { throw AccessDenied("changing your password needs your current password") }
            do {
                _ = try await checkPassword(name: name, password: current, from: address, device: device)
            } catch is NotAuthenticated {
                throw AccessDenied("changing your password needs your current password, and the one given is not right")
            }
        }
        try Self.checkPassword(password, account: name)
        let hash = try await Self.bcryptHash(password)
        let keep = session.map(EventLog.sha256Hex) ?? ""
        defer { tokenCache?.forgetAll() }
        return try await database.withTransaction(.application) { connection in
            guard try connection.execute("UPDATE reach.accounts SET password_hash = $2 WHERE name = $1", [name, hash]) == 1 else {
                throw NotFound("no account is named '\(name.prefix(63))'")
            }
            let ended = try connection.execute(
                """
                UPDATE reach.sessions SET ended_at = now()
                WHERE account = $1 AND ended_at IS NULL AND ($2 = '' OR secret_hash <> decode($2, 'hex'))
                """, [name, keep])
            let revoked =
                revokeTokens
                ? try connection.execute("UPDATE reach.api_tokens SET revoked_at = now() WHERE account = $1 AND revoked_at IS NULL", [name]) : 0
            let inUse: Int = try connection.query("SELECT count(*)::int FROM reach.api_tokens WHERE account = $1 AND revoked_at IS NULL", [name])
                .decode(row: 0, column: 0)
            return PasswordChanged(sessionsEnded: ended, tokensInUse: inUse, tokensRevoked: revoked)
        }
    }

    /// Revokes every API token of an account still in use (the account's own, or an admin's to
    /// do); returns how many.
    @discardableResult
    public func revokeAllTokens(of name: String, as identity: Identity) async throws -> Int {
        if identity.name != name { try Access.checkMayOperate(.manageUsers, for: identity) }
        defer { tokenCache?.forgetAll() }
        return try await database.withConnection(.application) { connection in
            try connection
                .execute("UPDATE reach.api_tokens SET revoked_at = now() WHERE account = $1 AND revoked_at IS NULL", [name])
        }
    }

    /// A password's bcrypt hash, made on a thread of its own (it takes a quarter of a second
    /// at the default cost, which the cooperative pool's few threads must not spend).
    static func bcryptHash(_ password: String) async throws -> String {
        let cost = bcryptCost
        return try await blocking { Bcrypt.hash(password, cost: cost) }
    }

    private func updateAccount(_ name: String, _ sql: String, _ parameters: [any PostgresEncodable]) async throws {
        try await database.withConnection(.application) { connection in
            guard try connection.execute(sql, parameters) == 1 else {
                throw NotFound("no account is named '\(name.prefix(63))'")
            }
        }
    }

    // MARK: Tokens

    /// Makes an API token for an account (an admin's to do, or the account's own): the token
    /// is returned this once; only the sha256 of its secret is kept.
    public func createToken(for name: String, as identity: Identity) async throws -> IssuedToken {
        if identity.name != name { try Access.checkMayOperate(.manageUsers, for: identity) }
        var random = SystemRandomNumberGenerator()
        let id = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        let secret = Self.secret()
        try await database.withConnection(.application) { connection in
            let inserted = try connection.execute(
                """
                INSERT INTO reach.api_tokens (id, account, secret_hash)
                SELECT $1, a.name, decode($3, 'hex') FROM reach.accounts a WHERE a.name = $2 AND NOT a.disabled
                """, [id, name, EventLog.sha256Hex(secret)])
            guard inserted == 1 else { throw RequestError("no account that may sign in is named '\(name)'") }
        }
        return IssuedToken(id: id, account: name, token: "reach_\(id)_\(secret)")
    }

    /// Revokes a token by its id (an admin's to do, or the token's account's).
    public func revokeToken(_ id: String, as identity: Identity) async throws {
        defer { tokenCache?.forgetAll() }
        let admin = (try? Access.checkMayOperate(.manageUsers, for: identity)) != nil
        try await database.withConnection(.application) { connection in
            let revoked = try connection.execute(
                """
                UPDATE reach.api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL AND ($2 OR account = $3)
                """, [id, admin, identity.name])
            guard revoked == 1 else { throw NotFound("no token of yours with id '\(id.prefix(12))' is in use") }
        }
    }

    /// An API token as listed: never its secret.
    public struct TokenInfo: Sendable, Encodable {
        public var id: String
        public var account: String
        public var createdAt: String
        public var revokedAt: String?
        enum CodingKeys: String, CodingKey {
            case id, account
            case createdAt = "created_at"
            case revokedAt = "revoked_at"
        }
    }

    /// The asker's tokens (everyone's, for an admin), newest first.
    public func listTokens(as identity: Identity) async throws -> [TokenInfo] {
        let admin = (try? Access.checkMayOperate(.manageUsers, for: identity)) != nil
        return try await database.withConnection(.application) { connection in
            try connection.query(
                """
                SELECT id, account, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                       to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                FROM reach.api_tokens WHERE $1 OR account = $2 ORDER BY created_at DESC, id
                """, [admin, identity.name]
            ).mapRows { row in
                TokenInfo(
                    id: try row.decode(0), account: try row.decode(1), createdAt: try row.decode(2),
                    revokedAt: try row.decodeIfPresent(3, as: String.self))
            }
        }
    }

    // MARK: Sessions

    /// How long a sign-in lasts (`REACH_SESSION_HOURS`, default 8).
    static var sessionHours: Int {
        ProcessInfo.processInfo.environment["REACH_SESSION_HOURS"].flatMap { Int($0) }.map { min(max($0, 1), 24 * 30) } ?? 8
    }

    /// A random secret of 32 bytes, URL-safe (for a form's token, say).
    public static func newSecret() -> String { secret() }

    /// A random secret of 32 bytes, URL-safe.
    static func secret() -> String {
        var random = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// What signing in gives: who, the session's secret (for the cookie) and CSRF token, and
    /// the secret of the device (browser) it was made from, for its own cookie, when it was not
    /// known to this account yet (nil: the device's cookie stands).
    public struct SignedIn: Sendable {
        public var identity: Identity
        public var session: String
        public var csrfToken: String
        public var newDevice: String?
    }

    /// Signs an account in with its password, checked under ``SignInLimits`` for the account
    /// and `address` (where the attempt came from), or for `device` alone when it has signed
    /// in to this account before: a new session, whose secret (for the cookie) and CSRF token
    /// are returned this once, and a device secret when the device was not known; only the
    /// secrets' sha256 are kept.
    public func signIn(name: String, password: String, from address: String, device: String? = nil) async throws -> SignedIn {
        let identity = try await checkPassword(name: name, password: password, from: address, device: device)
        let (session, csrf, newDevice) = (Self.secret(), Self.secret(), Self.secret())
        let hours = Self.sessionHours
        let known = try await database.withConnection(.application) { connection in
            _ = try connection.execute(
                "INSERT INTO reach.sessions (secret_hash, account, csrf_token, expires_at) VALUES (decode($1, 'hex'), $2, $3, now() + make_interval(hours => $4))",
                [EventLog.sha256Hex(session), identity.name, csrf, Int32(hours)])
            if let device,
                try connection.execute(
                    "UPDATE reach.sign_in_devices SET last_used_at = now() WHERE secret_hash = decode($1, 'hex') AND account = $2",
                    [EventLog.sha256Hex(device), identity.name]) == 1
            {
                return true
            }
            _ = try connection.execute("DELETE FROM reach.sign_in_devices WHERE last_used_at < now() - interval '400 days'")
            _ = try connection.execute(
                "INSERT INTO reach.sign_in_devices (secret_hash, account) VALUES (decode($1, 'hex'), $2)",
                [EventLog.sha256Hex(newDevice), identity.name])
            return false
        }
        return SignedIn(identity: identity, session: session, csrfToken: csrf, newDevice: known ? nil : newDevice)
    }

    /// The identity and CSRF token of a session that is open (not expired, not ended, its
    /// account not disabled).
    public func identify(session: String) async throws -> (identity: Identity, csrfToken: String) {
        guard (32...64).contains(session.count) else { throw NotAuthenticated() }
        return try await database.withConnection(.application) { connection in
            let found = try connection.query(
                "SELECT a.name, a.role, array_to_string(a.authorities, ','), s.csrf_token FROM reach.sessions s JOIN reach.accounts a ON a.name = s.account "
                    + "WHERE s.secret_hash = decode($1, 'hex') AND s.ended_at IS NULL AND s.expires_at > now() AND NOT a.disabled",
                [EventLog.sha256Hex(session)])
            guard found.rowCount == 1 else { throw NotAuthenticated() }
            return (try Self.identity(found), try found.decode(String.self, row: 0, column: 3))
        }
    }

    /// Ends a session (signing out).
    public func signOut(session: String) async throws {
        try await database.withConnection(.application) { connection in
            _ = try connection.execute(
                "UPDATE reach.sessions SET ended_at = now() WHERE secret_hash = decode($1, 'hex') AND ended_at IS NULL", [EventLog.sha256Hex(session)]
            )
        }
    }

    // MARK: Signing in

    /// The identity behind an API token (`reach_<id>_<secret>`), if the token is in use and its
    /// account may sign in.
    public func identify(token: String) async throws -> Identity {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "reach", parts[1].count == 12, parts[2].count >= 16, parts[2].count <= 100 else {
            throw NotAuthenticated()
        }
        let (id, secret) = (String(parts[1]), String(parts[2]))
        if let known = tokenCache?.identity(for: token) { return known }
        let cache = tokenCache
        return try await database.withConnection(.application) { connection in
            let found = try connection.query(
                """
                SELECT a.name, a.role, array_to_string(a.authorities, ',') FROM reach.api_tokens t JOIN reach.accounts a ON a.name = t.account
                WHERE t.id = $1 AND t.revoked_at IS NULL AND NOT a.disabled AND t.secret_hash = decode($2, 'hex')
                """, [id, EventLog.sha256Hex(secret)], prepared: true)
            guard found.rowCount == 1 else { throw NotAuthenticated() }
            let identity = try Self.identity(found)
            cache?.keep(identity, for: token)
            return identity
        }
    }

    /// The identity behind a name and password, checked under ``SignInLimits``: refused with
    /// ``TooManyAttempts`` (the password not looked at) while the account or the address must
    /// wait; else the check counts as a failure until it succeeds (so that checks made at the
    /// same moment see each other: each account's and address's checks are counted one at a
    /// time), and a success clears the account's failures.
    ///
    /// `device` is the secret of a browser (or script) that has signed in to this account
    /// before (``signIn(name:password:from:device:)`` gives one): its checks are counted apart,
    /// against that device alone, so that no stranger's failures can make the owner wait.
    public func checkPassword(name: String, password: String, from address: String, device: String? = nil) async throws -> Identity {
        let limits = signInLimits
        let account = String(name.prefix(100)).isEmpty ? "-" : String(name.prefix(100))
        let place = String(address.prefix(100)).isEmpty ? "-" : String(address.prefix(100))
        let attempt: Int64 = try await database.withTransaction(.application) { connection in
            // A device that signed in to this account before is counted on its own.
            let known =
                try device.map { device in
                    try connection.query(
                        "SELECT 'device:' || left(encode(secret_hash, 'hex'), 16) FROM reach.sign_in_devices WHERE secret_hash = decode($1, 'hex') AND account = $2",
                        [EventLog.sha256Hex(device), account]
                    ).mapRows { try $0.decode(0, as: String.self) }.first
                } ?? nil
            let keys: [(column: String, value: String, free: Int)] =
                known.map { [("address", $0, limits.freePerAccount)] }
                ?? [("account", account, limits.freePerAccount), ("address", place, limits.freePerAddress)]
            let window = Double(limits.window.components.seconds)
            var wait = 0.0
            for key in keys {
                try connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", ["reach-sign-in:\(key.column):\(key.value)"])
                let counted = try connection.query(
                    """
                    SELECT count(*)::int, extract(epoch FROM now() - max(at))::float8 FROM reach.sign_in_failures
                    WHERE \(key.column) = $1 AND at > now() - make_interval(secs => $2)\(known == nil ? "" : " AND account = $3")
                    """, known == nil ? [key.value, window] : [key.value, window, account])
                let needed = limits.wait(after: try counted.decode(Int.self, row: 0, column: 0), free: key.free)
                if needed > .zero, let since = try counted.decodeIfPresent(Double.self, row: 0, column: 1) {
                    wait = max(wait, Double(needed.components.seconds) + Double(needed.components.attoseconds) / 1e18 - since)
                }
            }
            if wait > 0 { throw TooManyAttempts(seconds: max(1, Int(wait.rounded(.up)))) }
            _ = try connection.execute("DELETE FROM reach.sign_in_failures WHERE at < now() - interval '1 day'")
            return try connection.query(
                "INSERT INTO reach.sign_in_failures (account, address) VALUES ($1, $2) RETURNING id", [account, known ?? place]
            )
            .decode(row: 0, column: 0)
        }
        let identity = try await identify(name: name, password: password)
        try await database.withConnection(.application) { connection in
            _ = try connection.execute("DELETE FROM reach.sign_in_failures WHERE id = $1 OR account = $2", [attempt, account])
        }
        return identity
    }

    /// The identity behind a name and password, if they are an account's that may sign in:
    /// the bare check, without the limits of ``checkPassword(name:password:from:)``, which
    /// every front asks instead.
    func identify(name: String, password: String) async throws -> Identity {
        let found = try await database.withConnection(.application) { (connection) -> (Identity, String?)? in
            let result = try connection.query(
                "SELECT name, role, array_to_string(authorities, ','), password_hash FROM reach.accounts WHERE name = $1 AND NOT disabled", [name])
            guard result.rowCount == 1 else { return nil }
            return (try Self.identity(result), try result.decodeIfPresent(String.self, row: 0, column: 3))
        }
        // (A hash is checked even for an unknown name, so that the time taken tells nothing.)
        let stored = found?.1 ?? Self.absentHash
        let verified = try await blocking { Bcrypt.verify(password, hash: stored) }
        guard verified, let (identity, hash) = found, hash != nil else { throw NotAuthenticated() }
        return identity
    }

    /// A hash no password matches, to spend a check's time on.
    static let absentHash = Bcrypt.hash(UUID().uuidString, cost: bcryptCost)

    /// The authorities of the enabled leads' accounts (`la_viewer`), whose summaries are kept
    /// published.
    static func leadAuthorities(on connection: Connection) throws -> [String] {
        try connection.query("SELECT DISTINCT unnest(authorities) FROM reach.accounts WHERE role = 'la_viewer' AND NOT disabled ORDER BY 1")
            .mapRows { try $0.decode(0, as: String.self) }
    }

    static func identity(_ result: borrowing QueryResult) throws -> Identity {
        guard let role = Identity.Role(rawValue: try result.decode(String.self, row: 0, column: 1)) else { throw NotAuthenticated() }
        return Identity(name: try result.decode(row: 0, column: 0), role: role, authorities: Set(list(try result.decode(row: 0, column: 2))))
    }

    static func list(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }

    static func checkAccountName(_ name: String) throws {
        guard name.range(of: "^[a-z0-9][a-z0-9._-]{0,62}$", options: .regularExpression) != nil else {
            throw RequestError("an account name is 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
    }

    /// The rules for a new password, as the NCSC advises: long enough (12 characters), not a
    /// common or breached password (a list of 145,062 shipped with Reach, ``CommonPasswords``),
    /// not the account's own name, and not spaces or one character over and over; no rules on
    /// which kinds of characters it holds. Three or four random words make a good one.
    static func checkPassword(_ password: String, account: String? = nil) throws {
        guard password.count >= 12 else { throw RequestError("a password has at least 12 characters; three or four random words make a good one") }
        guard password.utf8.count <= 72 else { throw RequestError("a password has at most 72 bytes (bcrypt reads no further)") }
        guard !password.allSatisfy(\.isWhitespace) else { throw RequestError("a password of spaces alone is not allowed") }
        guard Set(password.lowercased()).count >= 4 else {
            throw RequestError(
                "a password that repeats a few characters over and over is too easy to guess; three or four random words make a good one")
        }
        if let account, account.count >= 4, password.lowercased().contains(account.lowercased()) {
            throw RequestError("a password must not contain the account's name")
        }
        guard !CommonPasswords.contains(password) else {
            throw RequestError(
                "that password is on a list of common or breached passwords, which guessers try first; choose another, such as three or four random words"
            )
        }
    }
}

/// Tokens a service has checked a moment ago, and whose they are, so that a script's every
/// request does not look its token up again. A token revoked (or its account disabled) through
/// the same service stops working at once; through another process, within ``lifetime``.
public final class TokenCache: Sendable {
    private let entries = Mutex<[String: (made: ContinuousClock.Instant, identity: Identity)]>([:])
    public let lifetime: Duration

    public init(lifetime: Duration = .seconds(2)) {
        self.lifetime = lifetime
    }

    func identity(for token: String) -> Identity? {
        let key = EventLog.sha256Hex(token)
        return entries.withLock { entries in
            guard let kept = entries[key], ContinuousClock.now - kept.made < lifetime else { return nil }
            return kept.identity
        }
    }

    func keep(_ identity: Identity, for token: String) {
        let key = EventLog.sha256Hex(token)
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count > 10_000 { entries = entries.filter { now - $0.value.made < lifetime } }
            entries[key] = (now, identity)
        }
    }

    func forgetAll() {
        entries.withLock { $0 = [:] }
    }
}
