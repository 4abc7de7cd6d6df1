import Logging

/// A ``Connection`` owned by an actor that runs on a thread of its own, so async code can use
/// it without blocking Swift's cooperative thread pool.
///
/// ```swift
/// let connection = try await PostgresConnection.connect(configuration)
/// let answer = try await connection.run { try $0.query("SELECT 42").decode(Int.self, row: 0, column: 0) }
/// ```
public actor PostgresConnection {
    private let executor: ThreadExecutor
    private var connection: Connection?

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private init(executor: ThreadExecutor) {
        self.executor = executor
    }

    /// Opens a connection on a new dedicated thread.
    public static func connect(_ configuration: ConnectionConfiguration, logger: Logger = Logger(label: "reach.postgres")) async throws
        -> PostgresConnection
    {
        let executor = ThreadExecutor(name: "reach.postgres")
        let actor = PostgresConnection(executor: executor)
        do {
            try await actor.open(configuration, logger: logger)
        } catch {
            executor.shutdown()
            throw error
        }
        return actor
    }

    private func open(_ configuration: ConnectionConfiguration, logger: Logger) throws {
        connection = try Connection(configuration: configuration, logger: logger)
    }

    /// Runs `body` with the connection, on the connection's thread.
    public func run<T: Sendable>(_ body: (Connection) throws -> T) throws -> T {
        guard let connection else {
            throw PostgresError(code: .connection, message: "the connection is closed")
        }
        return try body(connection)
    }

    /// Whether the underlying connection is open and healthy.
    public var isHealthy: Bool { connection?.isHealthy ?? false }

    /// Closes the connection and lets its thread end.
    public func close() {
        connection = nil
        executor.shutdown()
    }
}
