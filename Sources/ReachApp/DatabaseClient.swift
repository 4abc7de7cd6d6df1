import Logging
import ReachEventLog
import ReachPostgres
import ReachProjections

/// The application's one way to the database: each use case asks for a connection for a login
/// (``Login``) and is given one for the length of a closure, which runs on the process's
/// executor for blocking work (``BlockingExecutor``), never on Swift's cooperative pool. A
/// service's connections come from its pool and go back to it (rolled back first if a closure
/// left a transaction open); a command's are opened for the closure and closed after it.
///
/// ```swift
/// let count = try await app.database.withConnection(.request(identity, reading: true)) { connection in
///     try connection.query("SELECT count(*) FROM scoped.activities").decode(Int.self, row: 0, column: 0)
/// }
/// try await app.database.withTransaction(.application) { connection in try connection.execute("...", [value]) }
/// ```
public struct DatabaseClient: Sendable {
    /// Who a connection is for.
    public enum Login: Sendable {
        /// The application's login, unscoped: accounts, sessions, tokens, import jobs, the log.
        case application
        /// The database's owner: migrations, the projections, publishing.
        case owner
        /// One request of an identity: the request's account, role and authorities are set on
        /// the connection before any query (`reach.actor`, `reach.request_role`,
        /// `reach.authorities`, which the log's checks and the scoped views read) and, when
        /// `reading`, it takes the identity's reading role. Writes keep the application's login:
        /// the log's own checks refuse a staff member's events about another authority.
        case request(Identity, reading: Bool)
        /// A connection to read on from `server` (the primary's application login, or a read
        /// replica's; see ``ReachApplication/readSource(_:for:service:)``), scoped to the
        /// identity's reads when there is one. A replica that cannot be reached is passed over for
        /// the primary.
        case reading(Identity?, from: ConnectionConfiguration)
        /// A connection of its own, never pooled, of another configuration (a check that waits
        /// less for an answer, the server's maintenance database).
        case unpooled(ConnectionConfiguration)
    }

    /// Where the database is, and the logins to reach it with.
    public let target: DatabaseTarget
    /// Connections kept for reuse between requests (a service's); nil: each closure has a new one.
    let pool: ConnectionPool?
    let logger: Logger
    /// What an application's publishing remembers between rounds (``PublicationCache``);
    /// nil: nothing, each round reads what it needs whole.
    var publishing: PublicationCache? = nil

    /// Runs `body` with a connection for `login`; cancelling the awaiting task sets the
    /// `Cancellation` it is given, which long work asks between steps.
    public func withConnection<T: Sendable>(
        _ login: Login, _ body: @escaping @Sendable (Connection, Cancellation) throws -> T
    ) async throws -> T {
        try await blocking { cancellation in
            let connection = try open(login)
            defer { give(connection, login) }
            return try body(connection, cancellation)
        }
    }

    /// Runs `body` with a connection for `login`.
    public func withConnection<T: Sendable>(_ login: Login, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection(login) { connection, _ in try body(connection) }
    }

    /// Runs `body` in a transaction on a connection for `login`, committed when it returns and
    /// rolled back when it throws.
    public func withTransaction<T: Sendable>(_ login: Login, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection(login) { connection, _ in try connection.withTransaction(body) }
    }

    /// Runs async `body` in a task whose every job runs on a thread of its own, with a
    /// connection for `login` that is its alone (never pooled): for long-lived work whose
    /// connection blocks its thread while other work goes on beside it (an import's pass, which
    /// reads the next chunk ahead while the server judges this one).
    public func withDedicatedConnection<T: Sendable>(
        _ login: Login, name: String, _ body: (Connection) async throws -> T
    ) async throws -> T {
        let client = DatabaseClient(target: target, pool: nil, logger: logger, publishing: publishing)
        return try await onThreadOfItsOwn(name: name, async: { try await body(try client.open(login)) })
    }

    /// A connection of the caller's own for `login`, never pooled, held for as long as its work
    /// lasts and closed when let go: the record batcher's (kept from batch to batch) and an
    /// import job's bookkeeping (whose session tells that the job is running). Called on a
    /// thread that may block (the batcher's own, or the blocking executor).
    public func dedicated(_ login: Login) throws -> Connection {
        switch login {
        case .application: return try Connection(configuration: target.application, logger: logger)
        case .owner: return try Connection(configuration: target.owner, logger: logger)
        default: return try open(login)
        }
    }

    // MARK: Inside the closures

    /// A connection for `login`: from the pool when there is one and the login is pooled,
    /// else a new one. The `with` functions above call it, and the read side's figure readers
    /// (``ReachApplication/withFigureReaders(_:refresh:as:service:disclosure:publish:_:)``),
    /// which open several on one server and give them back together.
    func open(_ login: Login) throws -> Connection {
        switch login {
        case .application:
            return try take(target.application)
        case .owner:
            return try take(target.owner)
        case .unpooled(let configuration):
            return try Connection(configuration: configuration, logger: logger)
        case .request(let identity, let reading):
            return try scoped(target.application, identity, reading: reading)
        case .reading(let identity, let source):
            return try openReading(identity, from: source).connection
        }
    }

    /// `body` on a connection of `login`, given back after: for work already off the
    /// cooperative pool (inside ``ReachApplication/blocking(_:)`` or a connection's closure).
    func withOpened<T>(_ login: Login, _ body: (Connection) throws -> T) throws -> T {
        let connection = try open(login)
        defer { give(connection, login) }
        return try body(connection)
    }

    /// A connection to read on from `source` (the primary's, or a read replica's), scoped to
    /// `identity`'s reads when there is one (else the application's own), and where it is: when
    /// `source` is the replica and it cannot be reached, the primary's (and the replica rests,
    /// ``ReplicaHealth``).
    func openReading(_ identity: Identity?, from source: ConnectionConfiguration) throws -> (connection: Connection, server: ConnectionConfiguration)
    {
        func open(_ server: ConnectionConfiguration) throws -> Connection {
            guard let identity else { return try take(server) }
            return try scoped(server, identity, reading: true)
        }
        guard source != target.application else { return (try open(source), source) }
        do {
            return (try open(source), source)
        } catch let error as PostgresError where error.meansUnavailable {
            ReplicaHealth.shared.failed(source, error, logger: logger)
            return (try open(target.application), target.application)
        }
    }

    /// Gives a connection back to the pool (if any, and if the login is pooled); the pool keeps
    /// it only when it is healthy and outside a transaction, and otherwise it is closed.
    func give(_ connection: Connection, _ login: Login) {
        if case .unpooled = login { return }
        pool?.give(connection)
    }

    /// Gives pooled connections back (each under the configuration it was opened with).
    func give(_ connections: [Connection]) {
        for connection in connections { pool?.give(connection) }
    }

    /// A connection of `configuration`, from the pool when there is one.
    private func take(_ configuration: ConnectionConfiguration) throws -> Connection {
        try pool?.take(configuration, logger: logger) ?? Connection(configuration: configuration, logger: logger)
    }

    /// A connection on `server` scoped to one request of `identity`. Scoped connections are
    /// pooled apart (a configuration of their own): only this function takes them, and it sets
    /// every setting of the request before any query.
    private func scoped(_ server: ConnectionConfiguration, _ identity: Identity, reading: Bool) throws -> Connection {
        let connection = try pool?.take(Self.scopedKey(server), logger: logger) ?? Connection(configuration: server, logger: logger)
        try Self.scope(connection, to: identity, reading: reading)
        return connection
    }

    /// Sets a request's settings on a connection, and its reading role when reading.
    static func scope(_ connection: Connection, to identity: Identity, reading: Bool) throws {
        let role = reading ? (ReachApplication.readingRole(of: identity) ?? "none") : "none"
        _ = try connection.query(
            """
            SELECT set_config('reach.actor', $1, false), set_config('reach.request_role', $2, false),
                   set_config('reach.authorities', $3, false), set_config('role', $4, false)
            """, [identity.name, identity.role.rawValue, identity.authorities.sorted().joined(separator: ","), role])
    }

    /// The pool's key for connections that have been scoped to a request (the same server and
    /// login; the application name tells them apart).
    static func scopedKey(_ configuration: ConnectionConfiguration) -> ConnectionConfiguration {
        configuration.overriding(["application_name": "reach-request"])
    }
}
