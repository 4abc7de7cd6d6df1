import Foundation
import Logging

/// Idle connections kept for reuse, by configuration, so that a service does not pay for a
/// connection's start (and its password exchange) on every request. A connection is taken,
/// used by one thread, and given back when it is healthy and outside a transaction; one that
/// failed is not given back, and so is closed.
///
/// `@unchecked Sendable` rather than a `Mutex`: connections are not `Sendable`, and `idle` and
/// `opened` are only read or written while holding `lock`; a connection is either idle here or
/// in one borrower's hands, never both.
///
/// ```swift
/// let pool = ConnectionPool(maximumIdle: 32)
/// let connection = try pool.take(configuration, logger: logger)
/// defer { pool.give(connection) }
/// ```
public final class ConnectionPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [ConnectionConfiguration: [Connection]] = [:]
    private var opened = 0
    /// The most idle connections kept per configuration.
    public let maximumIdle: Int

    public init(maximumIdle: Int = 32) {
        self.maximumIdle = max(0, maximumIdle)
    }

    /// An idle connection of `configuration`, or a new one.
    public func take(_ configuration: ConnectionConfiguration, logger: Logger) throws -> Connection {
        while let connection = lock.withLock({ idle[configuration]?.popLast() }) {
            if connection.isHealthy && !connection.isInTransaction { return connection }
        }
        let connection = try Connection(configuration: configuration, logger: logger)
        lock.withLock { opened += 1 }
        return connection
    }

    /// Gives a connection back for reuse, under the configuration it was opened with (or lets
    /// it close, when it is unhealthy or the pool holds enough). A transaction the borrower left open (or failed) is rolled back first, so the next
    /// borrower never inherits it.
    public func give(_ connection: Connection) {
        guard connection.isHealthy else { return }
        if connection.isInTransaction {
            try? connection.settle()
            connection.abandonTransaction()
        }
        guard connection.isHealthy && !connection.isInTransaction else { return }
        let configuration = connection.configuration
        lock.withLock {
            if idle[configuration, default: []].count < maximumIdle { idle[configuration, default: []].append(connection) }
        }
    }

    /// Closes every idle connection (those lent out are closed when given back, if the pool
    /// then holds enough, or kept).
    public func drain() {
        lock.withLock { idle.removeAll() }
    }

    /// Connections idle now, and opened since the pool was made.
    public var usage: (idle: Int, opened: Int) {
        lock.withLock { (idle.values.reduce(0) { $0 + $1.count }, opened) }
    }
}
