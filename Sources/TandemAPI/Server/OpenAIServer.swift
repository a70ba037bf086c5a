import Hummingbird
import Logging

/// Builds the HTTP server for a dispatcher.
///
/// Coordinator use:
/// ```swift
/// let dispatcher = DirectDispatcher(backend: engineBackend, modelNames: ["smollm2"])
/// let app = OpenAIServer.application(dispatcher: dispatcher, host: "127.0.0.1", port: 8001,
///                                    metrics: APIMetrics(), logger: logger)
/// try await app.runService()   // graceful shutdown on SIGTERM/SIGINT
/// ```
///
/// Connections are HTTP/1.1 keep-alive: each gets a `ClientConnectionHandler`, so an answer in
/// progress is cancelled when its client goes away without the connection being closed after
/// every answer. A connection idle for `idleTimeout` between requests is closed (clients that
/// pool connections, like the gateway, should drop theirs sooner).
public enum OpenAIServer {
    /// How long a kept-alive connection may sit idle between requests.
    public static let idleTimeout: Duration = .seconds(120)

    /// - Parameter moreRoutes: adds routes of the caller's own beside the API's (the gateway's `/status`).
    public static func application<Dispatcher: CompletionDispatcher>(
        dispatcher: Dispatcher, host: String, port: Int, metrics: APIMetrics?, logger: Logger, tracer: Tracer? = nil,
        moreRoutes: (Router<TandemRequestContext>) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = OpenAIRoutes.router(dispatcher: dispatcher, metrics: metrics, tracer: tracer)
        moreRoutes(router)
        return Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientConnectionHandler()],
                                                idleTimeout: .nanoseconds(APIMetrics.nanoseconds(idleTimeout)))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
