import Foundation
import Synchronization

/// Runs blocking work (libpq calls, file reading) on a thread of its own and awaits its result,
/// so that async code never blocks Swift's cooperative pool, whose threads are as many as the
/// cores (two here): one blocked thread there would halve the whole process.
///
/// ```swift
/// let count = try await onThreadOfItsOwn {
///     try Connection(configuration: configuration).query("SELECT 1").decode(Int.self, row: 0, column: 0)
/// }
/// ```
///
/// Cancelling the awaiting task sets `cancellation`, which long work asks between steps.
public func onThreadOfItsOwn<T: Sendable>(
    name: String = "reach.blocking", _ body: @escaping @Sendable (_ cancellation: Cancellation) throws -> T
) async throws -> T {
    let cancellation = Cancellation()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try body(cancellation) })
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    } onCancel: {
        cancellation.cancel()
    }
}

/// The same, for work that does not look at cancellation.
public func onThreadOfItsOwn<T: Sendable>(name: String = "reach.blocking", _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await onThreadOfItsOwn(name: name) { (_: Cancellation) in try body() }
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

/// Runs async `body` with every job of its task on a thread of its own (a task executor
/// preference), so that long-running async work such as a follower of the log goes on even
/// while blocking work holds every thread of the cooperative pool.
public func onThreadOfItsOwn<T: Sendable>(name: String, async body: () async throws -> T) async throws -> T {
    let executor = ThreadExecutor(name: name, forTasks: true)
    defer { executor.shutdown() }
    return try await withTaskExecutorPreference(executor) { try await body() }
}
