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
public enum OpenAIServer {
    public static func application<Dispatcher: CompletionDispatcher>(
        dispatcher: Dispatcher, host: String, port: Int, metrics: APIMetrics?, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = OpenAIRoutes.router(dispatcher: dispatcher, metrics: metrics)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
