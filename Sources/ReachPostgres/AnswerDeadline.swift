import Foundation

/// Closes the socket of a connection whose server has not answered in time.
///
/// libpq's blocking calls wait on the socket with no limit. A server that is hung (stopped with
/// SIGSTOP, a frozen virtual machine, a network path that drops packets silently) never answers
/// and never applies its own `statement_timeout`, so a caller would wait forever. A connection
/// with an ``ConnectionConfiguration/answerTimeout`` registers each blocking call here; one
/// thread watches the deadlines and shuts the socket of a call that outlives its deadline
/// (`shutdown(2)`, which wakes the blocked `poll` in libpq: the call fails as a lost
/// connection, and the connection is never used again). A server that answers normally, even
/// slowly, is cancelled by its own `statement_timeout` first.
///
/// The watching thread sleeps until the earliest deadline (or until a call is watched), and is
/// woken early by each new watch; it does not poll.
///
/// `@unchecked Sendable`: `watches`, `started` and each watch's `expired` are only read or
/// written while holding `lock` (a watch's `socket` and `deadline` never change).
final class AnswerDeadlines: @unchecked Sendable {
    static let shared = AnswerDeadlines()

    /// A watched call: a duplicate of its socket (so that the number stays the socket's even
    /// if libpq closes its own while the call ends), when it must have answered by, and whether
    /// it was cut.
    final class Watch: @unchecked Sendable {
        let socket: Int32
        let deadline: ContinuousClock.Instant
        var expired = false
        init(socket: Int32, deadline: ContinuousClock.Instant) {
            self.socket = socket
            self.deadline = deadline
        }
    }

    private let lock = NSCondition()
    private var watches: [ObjectIdentifier: Watch] = [:]
    private var started = false
    /// When the watcher wakes next on its own (nil: only when woken).
    private var wakesAt: ContinuousClock.Instant?

    /// Watches `socket` until ``end(_:)``; past `timeout`, the socket is shut.
    func begin(socket: Int32, timeout: Duration) -> Watch {
        let watch = Watch(socket: dup(socket), deadline: .now + timeout)
        let start = lock.withLock {
            watches[ObjectIdentifier(watch)] = watch
            // Woken only when this deadline comes before the one it sleeps until: calls share
            // one timeout, so a new call's deadline is nearly always the latest, and a busy
            // service's calls do not wake the watcher one by one.
            if wakesAt.map({ watch.deadline < $0 }) ?? true { lock.signal() }
            defer { started = true }
            return !started
        }
        if start {
            let thread = Thread { [unowned self] in self.watchForever() }
            thread.name = "reach.answer-deadlines"
            thread.start()
        }
        return watch
    }

    /// Stops watching; returns whether the deadline had passed (and the socket was shut).
    func end(_ watch: Watch) -> Bool {
        let expired = lock.withLock {
            watches[ObjectIdentifier(watch)] = nil
            return watch.expired
        }
        if watch.socket >= 0 { close(watch.socket) }
        return expired
    }

    private func watchForever() {
        lock.lock()
        while true {
            let now = ContinuousClock.now
            var next: ContinuousClock.Instant?
            for watch in watches.values where !watch.expired {
                if watch.deadline <= now {
                    watch.expired = true
                    // The duplicate is closed only once the call has ended (``end(_:)``), so
                    // this shuts the call's socket and nothing else; shutting it wakes libpq's
                    // own descriptor too, since both are the one socket.
                    if watch.socket >= 0 { shutdown(watch.socket, Int32(SHUT_RDWR)) }
                } else {
                    next = min(next ?? watch.deadline, watch.deadline)
                }
            }
            wakesAt = next
            if let next {
                let wait = next - now
                let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
                _ = lock.wait(until: Date(timeIntervalSinceNow: seconds))
            } else {
                lock.wait()
            }
        }
    }
}
