import Foundation

/// A serial executor that runs every job on one dedicated thread.
///
/// libpq calls block their thread until the server answers. Running them on Swift's
/// cooperative pool would starve it (two cores here means two threads), so each connection
/// gets a thread of its own and an actor whose jobs run there.
///
/// `@unchecked Sendable`: the job queue and the stop flag are only touched while holding
/// `condition`, and the thread only reads them under the same lock.
final class ThreadExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false
    /// Whether the executor serves as a task's preferred executor (every job of the task runs
    /// here) rather than as an actor's serial executor.
    private let forTasks: Bool

    init(name: String, forTasks: Bool = false) {
        self.forTasks = forTasks
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread finish once the queued jobs have run.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch {
                if forTasks { job.runSynchronously(on: asUnownedTaskExecutor()) } else { job.runSynchronously(on: asUnownedSerialExecutor()) }
            }
        }
    }
}
