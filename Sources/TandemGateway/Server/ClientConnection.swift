import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Whether the client of an HTTP connection is still there: closed once the peer closes its
/// sending side (EOF) or the connection goes away.
///
/// Why not Hummingbird's `consumeWithCancellationOnInboundClose`: it watches by reading the
/// connection's request stream and, when the answer is done, cancels that read, which ends the
/// stream, so every such response had to carry `Connection: close`. This watch is fed by a
/// channel handler instead (`ClientConnectionHandler`), reads nothing, and leaves the connection
/// usable for the next request (keep-alive), which is what lets the gateway keep pooled
/// connections to its coordinators.
public final class ClientConnection: Sendable {
    private struct State {
        var closed = false
        var waiters: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextID = 0
    }

    private let state = Locked(State())

    public init() {}

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Marks the client gone and wakes every waiter (later calls do nothing).
    public func markClosed() {
        let waiters = state.withLock { s -> [AsyncStream<Void>.Continuation] in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.finish() }
    }

    /// Returns when the client is gone, or when the calling task is cancelled.
    public func waitUntilClosed() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let id = state.withLock { s -> Int? in
            guard !s.closed else { return nil }
            defer { s.nextID += 1 }
            s.waiters[s.nextID] = continuation
            return s.nextID
        }
        guard let id else { return }
        for await _ in stream {}
        _ = state.withLock { $0.waiters.removeValue(forKey: id) }
    }

    /// Runs `operation`, cancelling it when the client goes away first (it then throws
    /// `CancellationError`, or whatever the cancelled operation threw).
    public func cancellingOnClose<Value: Sendable>(_ operation: () async throws -> Value) async throws -> Value {
        try await withoutActuallyEscaping(operation) { operation in
            let box = UncheckedOperation(operation)
            return try await withThrowingTaskGroup(of: Value?.self) { group in
                group.addTask {
                    await self.waitUntilClosed()
                    return nil
                }
                group.addTask { try await box.operation() }
                while let result = try await group.next() {
                    if let value = result {
                        group.cancelAll()
                        return value
                    }
                    // The client went away: stop the operation and let it unwind.
                    group.cancelAll()
                }
                throw CancellationError()
            }
        }
    }
}

extension ClientConnection? {
    /// `cancellingOnClose`, or the operation alone when nothing watches the connection (the
    /// in-memory router used by tests).
    func cancellingOnClose<Value: Sendable>(_ operation: () async throws -> Value) async throws -> Value {
        guard let self else { return try await operation() }
        return try await self.cancellingOnClose(operation)
    }
}

/// A non-escaping operation smuggled into a child task that never outlives the call
/// (`withoutActuallyEscaping` checks that at run time).
private struct UncheckedOperation<Value>: @unchecked Sendable {
    let operation: () async throws -> Value
    init(_ operation: @escaping () async throws -> Value) { self.operation = operation }
}

/// Sits in each HTTP/1 connection's pipeline (after the HTTP codec) and tells the connection's
/// `ClientConnection` when the peer stops sending or the channel closes. Passes everything on.
public final class ClientConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart

    public let connection = ClientConnection()

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { connection.markClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        connection.markClosed()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        connection.markClosed()
    }

    /// The watch of `channel`'s connection; nil when its pipeline has no handler (in-memory tests).
    public static func connection(of channel: any Channel) async -> ClientConnection? {
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self).connection
        }.get()
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}

/// The request context of the API's router: Hummingbird's basics plus the connection's channel,
/// through which a completion finds its `ClientConnection`.
public struct TandemRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
