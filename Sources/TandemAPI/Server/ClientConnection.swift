import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Whether the client of an HTTP connection is still there: closed once the peer closes its
/// sending side (EOF) or the connection goes away. An answer in progress registers a callback
/// that ends its event stream (`bounded(by:…)`), which cancels the backend's work.
///
/// Why not Hummingbird's `consumeWithCancellationOnInboundClose`: it watches by reading the
/// connection's request stream and, when the answer is done, cancels that read, which ends the
/// stream, so every such response had to carry `Connection: close`; it also costs two child
/// tasks per request. This watch is fed by a channel handler instead (`ClientConnectionHandler`),
/// reads nothing, and leaves the connection usable for the next request (keep-alive), which is
/// what lets the gateway keep pooled connections to its coordinators.
public final class ClientConnection: Sendable {
    private struct State {
        var closed = false
        var callbacks: [Int: @Sendable () -> Void] = [:]
        var nextID = 0
    }

    private let state = Locked(State())

    public init() {}

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Marks the client gone and runs every registered callback (later calls do nothing).
    public func markClosed() {
        let callbacks = state.withLock { s -> [@Sendable () -> Void] in
            guard !s.closed else { return [] }
            s.closed = true
            defer { s.callbacks = [:] }
            return Array(s.callbacks.values)
        }
        for c in callbacks { c() }
    }

    /// Runs `callback` once when the client goes away (at once if it already has). Returns a
    /// token for `cancel`, nil when the callback already ran.
    @discardableResult
    public func onClose(_ callback: @escaping @Sendable () -> Void) -> Int? {
        let id = state.withLock { s -> Int? in
            guard !s.closed else { return nil }
            defer { s.nextID += 1 }
            s.callbacks[s.nextID] = callback
            return s.nextID
        }
        if id == nil { callback() }
        return id
    }

    /// Forgets a callback registered with `onClose`.
    public func cancel(_ token: Int?) {
        guard let token else { return }
        _ = state.withLock { $0.callbacks.removeValue(forKey: token) }
    }
}

/// The client went away before its answer was complete (recorded as status 499).
public struct ClientClosedError: Error, Sendable, Equatable {
    public init() {}
}

/// Sits in each HTTP/1 connection's pipeline (after the HTTP codec) and tells the connection's
/// `ClientConnection` when the peer stops sending or the channel closes. Passes everything on.
public final class ClientConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart

    public let connection = ClientConnection()
    private var registered: ObjectIdentifier?

    public init() {}

    public func handlerAdded(context: ChannelHandlerContext) {
        let id = ObjectIdentifier(context.channel)
        registered = id
        Self.registry.withLock { $0[id] = connection }
    }

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
        if let id = registered { _ = Self.registry.withLock { $0.removeValue(forKey: id) } }
        connection.markClosed()
    }

    /// Live connections by channel identity, so a request finds its connection's watch without
    /// a trip to the channel's event loop (an entry lives from the handler's addition to its
    /// removal, i.e. while the channel, which the request holds, exists).
    private static let registry = Locked<[ObjectIdentifier: ClientConnection]>([:])

    /// The watch of `channel`'s connection; nil when its pipeline has no handler (in-memory tests).
    public static func connection(of channel: any Channel) -> ClientConnection? {
        registry.withLock { $0[ObjectIdentifier(channel)] }
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
