import Foundation
import Synchronization

/// Runs blocking work (libpq calls, file reading) on the process's ``BlockingExecutor`` and
/// awaits its result, so that async code never blocks Swift's cooperative pool, whose threads
/// are as many as the cores (two here): one blocked thread there would halve the whole process.
///
/// ```swift
/// let count = try await blocking {
///     try Connection(configuration: configuration).query("SELECT 1").decode(Int.self, row: 0, column: 0)
/// }
/// ```
///
/// Cancelling the awaiting task sets `cancellation`, which long work asks between steps.
public func blocking<T: Sendable>(_ body: @escaping @Sendable (_ cancellation: Cancellation) throws -> T) async throws -> T {
    try await BlockingExecutor.shared.run(body)
}

/// The same, for work that does not look at cancellation.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await BlockingExecutor.shared.run { (_: Cancellation) in try body() }
}

/// The threads that blocking calls run on: at most ``maximumThreads``, started as work needs
/// them and kept for the next; work beyond that waits its turn in order.
///
/// Its size, 64: each blocking call holds one database connection at most, and PostgreSQL's
/// default `max_connections` is 100. Sixty-four calls at once leave room for what runs on
/// threads of its own (the projection runner, the record batcher, an import's pass, the log's
/// followers) and for an operator's `psql`; and a server with a few cores answers no faster
/// with more statements at once, it only queues them itself. A call waiting on a server that
/// does not answer holds its thread until its answer deadline (`REACH_HTTP_TIMEOUT_SECONDS`
/// and one more second), so an outage cannot hold more threads than this either.
///
/// Work run here must not wait for other work run here (it might be queued behind it): work
/// that runs for long, or waits for other work, runs on a thread of its own
/// (``onThreadOfItsOwn(name:async:)``).
///
/// `@unchecked Sendable`: `queue`, `threads` and `idle` are only read or written while holding
/// `condition`.
public final class BlockingExecutor: @unchecked Sendable {
    /// The process's one executor for blocking work.
    public static let shared = BlockingExecutor(maximumThreads: 64)

    /// The most threads it runs at once.
    public let maximumThreads: Int
    private let condition = NSCondition()
    private var queue: [@Sendable () -> Void] = []
    private var head = 0
    private var threads = 0
    private var idle = 0

    public init(maximumThreads: Int) {
        precondition(maximumThreads > 0, "an executor needs at least one thread")
        self.maximumThreads = maximumThreads
    }

    /// Runs `body` on one of the executor's threads and returns its result; cancelling the
    /// awaiting task sets the `Cancellation` it is given.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Cancellation) throws -> T) async throws -> T {
        let cancellation = Cancellation()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                submit { continuation.resume(with: Result { try body(cancellation) }) }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(job)
        let start = idle == 0 && threads < maximumThreads
        if start { threads += 1 }
        condition.signal()
        condition.unlock()
        guard start else { return }
        let thread = Thread { [self] in work() }
        thread.name = "reach.blocking"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func work() {
        while true {
            condition.lock()
            idle += 1
            while head == queue.count { condition.wait() }
            idle -= 1
            let job = queue[head]
            head += 1
            if head == queue.count || head > 1_024 {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}

/// A flag that asks blocking work to stop at its next step; set when the task awaiting the
/// work is cancelled, or by ``cancel()``.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    /// Asks the work to stop.
    public func cancel() { flag.store(true, ordering: .relaxed) }
    /// Whether the work was asked to stop.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Runs blocking `body` on a thread of its own, started for it, and awaits its result: for
/// long-lived work (a projection runner's loop) that must not hold one of the
/// ``BlockingExecutor``'s threads for as long as it runs. Cancelling the awaiting task sets
/// `cancellation`.
public func onThreadOfItsOwn<T: Sendable>(name: String, _ body: @escaping @Sendable (_ cancellation: Cancellation) throws -> T) async throws -> T {
    let cancellation = Cancellation()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body(cancellation) }) }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    } onCancel: {
        cancellation.cancel()
    }
}

/// Runs async `body` with every job of its task on a thread of its own (a task executor
/// preference), so that long-running async work such as a follower of the log goes on even
/// while blocking work holds every thread of the cooperative pool.
public func onThreadOfItsOwn<T: Sendable>(name: String, async body: () async throws -> T) async throws -> T {
    let executor = ThreadExecutor(name: name, forTasks: true)
    defer { executor.shutdown() }
    return try await withTaskExecutorPreference(executor) { try await body() }
}

/// Starts async `operation` as a task whose every job runs on a thread of its own from its
/// first: unlike `Task { }`, it needs no thread of the cooperative pool to start, so it starts
/// even while blocking work holds them all (a caller that waits for it synchronously).
public func taskOnThreadOfItsOwn<T: Sendable>(name: String, _ operation: sending @escaping () async throws -> T) -> Task<T, any Error> {
    let executor = ThreadExecutor(name: name, forTasks: true)
    return Task(executorPreference: executor) {
        defer { executor.shutdown() }
        return try await operation()
    }
}
