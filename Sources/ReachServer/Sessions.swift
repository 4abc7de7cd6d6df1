import Foundation
import Hummingbird
import NIOCore
import ReachApp
import Synchronization

/// The request context of Reach's routes: Hummingbird's, and the address the request came from
/// (for limiting sign-in attempts).
public struct ReachRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The request's id, set by ``RequestLog``: in the answer's `X-Request-Id` and every log line.
    public var requestID = ""

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// Failed sign-ins, counted per account and per address over a window: past the limit, the
/// next attempt is refused (429) until the oldest failure leaves the window, whatever the
/// password, so that passwords cannot be guessed at speed.
final class SignInLimiter: Sendable {
    let window: TimeInterval
    let perAccount: Int
    let perAddress: Int
    private let failures = Mutex<[String: [Date]]>([:])

    init(window: TimeInterval = 15 * 60, perAccount: Int = 5, perAddress: Int = 20) {
        self.window = window
        self.perAccount = perAccount
        self.perAddress = perAddress
    }

    /// Seconds to wait before `account` may try again from `address`, or nil if it may now.
    func wait(account: String, address: String) -> Int? {
        let now = Date()
        return failures.withLock { failures in
            var wait: TimeInterval = 0
            for (key, limit) in [("account:" + account, perAccount), ("address:" + address, perAddress)] {
                let recent = (failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
                failures[key] = recent
                if recent.count >= limit, let oldest = recent.first { wait = max(wait, window - now.timeIntervalSince(oldest)) }
            }
            return wait > 0 ? Int(wait.rounded(.up)) : nil
        }
    }

    func failed(account: String, address: String) {
        let now = Date()
        failures.withLock { failures in
            for key in ["account:" + account, "address:" + address] { failures[key, default: []].append(now) }
        }
    }
}
