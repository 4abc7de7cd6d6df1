import Foundation
import Hummingbird
import ReachApp
import ServiceLifecycle
import Synchronization

/// The raw log, for admins: a page as JSON Lines, or followed live as server-sent events.
struct EventsController {
    let app: ReachApplication

    func addRoutes(to api: RouterGroup<ReachRequestContext>) {
        api.get("/events", use: events)
    }

    @Sendable func events(_ request: Request, context: ReachRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        try ReachApplication.authorize(.operate(.eventsRead), as: identity)
        var from: Int64 = 1
        if let text = request.uri.queryParameters["from"] {
            guard let value = Int64(text), value >= 1 else { throw ReachServer.Invalid("from", "is a position of the log, from 1") }
            from = value
        }
        if let last = request.headers[.init("Last-Event-ID")!], let value = Int64(last), value >= 0 { from = value + 1 }
        if (request.headers[.accept] ?? "").contains("text/event-stream") { return follow(from: from, as: identity) }
        return try await page(request, from: from, as: identity)
    }

    /// The log from `from`, live: the follower hands each batch over; the stream ends when the
    /// service begins to shut down, or the caller goes.
    func follow(from start: Int64, as identity: Identity) -> Response {
        let app = app
        let body = ResponseBody { writer in
            let (stream, continuation) = AsyncStream<String>.makeStream()
            let follower = Task {
                try? await app.followLog(after: start - 1, as: identity) { events in
                    var text = ""
                    for event in events { text += "id: \(event.position)\nevent: event\ndata: \(event.jsonLine)\n\n" }
                    continuation.yield(text)
                }
                continuation.finish()
            }
            defer { follower.cancel() }
            try await withGracefulShutdownHandler {
                for await chunk in stream { try await writer.write(ByteBuffer(string: chunk)) }
            } onGracefulShutdown: {
                follower.cancel()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// A page of the log from `from`, as JSON Lines; `X-Next-From` says where to go on.
    func page(_ request: Request, from: Int64, as identity: Identity) async throws -> Response {
        var limit = 1000
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), (1...10_000).contains(value) else { throw ReachServer.Invalid("limit", "is a whole number from 1 to 10000") }
            limit = value
        }
        let page = Delivered()
        let last = Mutex<Int64?>(nil)
        try await app.readLog(after: from - 1, limit: limit, as: identity) { events in
            var text = ""
            for event in events { text += event.jsonLine + "\n" }
            page.append(text)
            last.withLock { $0 = events.last?.position }
        }
        var headers: HTTPFields = [.contentType: "application/x-ndjson"]
        if let position = last.withLock({ $0 }) { headers[.init("X-Next-From")!] = String(position + 1) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page.get())))
    }
}
