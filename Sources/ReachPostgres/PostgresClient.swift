import Logging
import Synchronization

/// A pool of connections for async code. Each connection has its own thread; callers borrow
/// one for the length of a closure and give it back when the closure returns.
///
/// ```swift
/// let client = PostgresClient(configuration: configuration, maximumConnections: 8)
/// let answer = try await client.withConnection { try $0.query("SELECT 42").decode(Int.self, row: 0, column: 0) }
/// try await client.withTransaction { connection in try connection.execute("INSERT ...", [value]) }
/// await client.shutdown()
/// ```
public final class PostgresClient: Sendable {
    /// The configuration connections are opened with.
    public let configuration: ConnectionConfiguration
    /// The most connections the pool opens at once.
    public let maximumConnections: Int
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
        var closed = false
    }

    public init(configuration: ConnectionConfiguration, maximumConnections: Int = 4, logger: Logger = Logger(label: "reach.postgres")) {
        precondition(maximumConnections > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.logger = logger
        self.state = Mutex(State())
    }

    /// Borrows a connection for `body`, which runs on that connection's thread.
    public func withConnection<T: Sendable>(_ body: @Sendable (Connection) throws -> T) async throws -> T {
        let connection = try await lease()
        do {
            let value = try await connection.run(body)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// Borrows a connection and runs `body` in a transaction on it.
    public func withTransaction<T: Sendable>(_ body: @Sendable (Connection) throws -> T) async throws -> T {
        try await withConnection { try $0.withTransaction(body) }
    }

    /// Closes every idle connection and refuses new leases.
    public func shutdown() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        for connection in idle { await connection.close() }
    }

    private enum Lease {
        case reuse(PostgresConnection)
        case open
        case wait
        case closed
    }

    private func lease() async throws -> PostgresConnection {
        while true {
            let decision: Lease = state.withLock { state in
                if state.closed { return .closed }
                if let connection = state.idle.popLast() { return .reuse(connection) }
                if state.open < maximumConnections {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch decision {
            case .closed:
                throw PostgresError(code: .connection, message: "the connection pool has been shut down")
            case .reuse(let connection):
                return connection
            case .open:
                do {
                    return try await PostgresConnection.connect(configuration, logger: logger)
                } catch {
                    state.withLock { $0.open -= 1 }
                    throw error
                }
            case .wait:
                let handed: PostgresConnection? = await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.closed { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume(returning: nil) }
                }
                if let handed { return handed }
            // Either the pool closed or a slot freed up; loop to find out which.
            }
        }
    }

    /// Takes a connection back. One that a borrower left inside a transaction or a copy is
    /// rolled back first, and one that is broken or cannot be made idle is closed, so the next
    /// borrower never inherits another's transaction.
    private func release(_ connection: PostgresConnection) async {
        let healthy = await connection.resetForReuse()
        if !healthy { await connection.close() }
        let waiter: CheckedContinuation<PostgresConnection?, Never>? = state.withLock { state in
            if !healthy { state.open -= 1 }
            if !state.waiters.isEmpty {
                let waiter = state.waiters.removeFirst()
                if healthy { return waiter }
                // No connection to hand over, but a slot is free: let the waiter open one.
                waiter.resume(returning: nil)
                return nil
            }
            if healthy && !state.closed { state.idle.append(connection) }
            return nil
        }
        if let waiter {
            waiter.resume(returning: connection)
        } else if healthy, state.withLock({ $0.closed }) {
            await connection.close()
        }
    }
}
