import Logging
import Synchronization

/// Connections for async code: each borrowed from a ``ConnectionPool`` for the length of a
/// closure that runs on the process's executor for blocking work (``BlockingExecutor``), and
/// given back when it returns (rolled back first if it left a transaction open). At most
/// `maximumConnections` closures hold one at once; the others wait their turn.
///
/// ```swift
/// let client = PostgresClient(configuration: configuration, maximumConnections: 8)
/// let answer = try await client.withConnection { try $0.query("SELECT 42").decode(Int.self, row: 0, column: 0) }
/// try await client.withTransaction { connection in try connection.execute("INSERT ...", [value]) }
/// await client.shutdown()
/// ```
///
/// The application's client (`DatabaseClient`, which scopes each connection to who asks) is
/// built on the same pool and executor.
public final class PostgresClient: Sendable {
    /// The configuration connections are opened with.
    public let configuration: ConnectionConfiguration
    /// The most connections lent at once (and kept idle between).
    public let maximumConnections: Int
    private let pool: ConnectionPool
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var lent = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var closed = false
    }

    public init(configuration: ConnectionConfiguration, maximumConnections: Int = 4, logger: Logger = Logger(label: "reach.postgres")) {
        precondition(maximumConnections > 0, "a client needs at least one connection")
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.pool = ConnectionPool(maximumIdle: maximumConnections)
        self.logger = logger
        self.state = Mutex(State())
    }

    /// Borrows a connection for `body`, which runs on the executor for blocking work.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await lease()
        defer { release() }
        let (pool, configuration, logger) = (pool, configuration, logger)
        return try await blocking {
            let connection = try pool.take(configuration, logger: logger)
            defer { pool.give(connection) }
            return try body(connection)
        }
    }

    /// Borrows a connection and runs `body` in a transaction on it.
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection { try $0.withTransaction(body) }
    }

    /// Closes every idle connection and refuses new loans.
    public func shutdown() async {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
        pool.drain()
    }

    /// Waits for a loan to be free; throws once the client is shut down.
    private func lease() async throws {
        enum Decision { case lent, wait, closed }
        let decision: Decision = state.withLock { state in
            if state.closed { return .closed }
            guard state.lent < maximumConnections else { return .wait }
            state.lent += 1
            return .lent
        }
        switch decision {
        case .lent: return
        case .closed: throw Self.closedError
        case .wait:
            // A loan given back is handed straight to the first waiter (`lent` stays counted).
            let handed = await withCheckedContinuation { continuation in
                let now: Bool? = state.withLock { state in
                    if state.closed { return false }
                    if state.lent < maximumConnections {
                        state.lent += 1
                        return true
                    }
                    state.waiters.append(continuation)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
            if !handed { throw Self.closedError }
        }
    }

    private func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.lent -= 1
            return nil
        }
        waiter?.resume(returning: true)
    }

    private static let closedError = PostgresError(code: .connection, message: "the connection pool has been shut down")
}
