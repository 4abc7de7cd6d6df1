import Foundation
import Hummingbird
import NIOCore
import ReachApp

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
