import AsyncHTTPClient
import Dispatch
import Foundation
import Hummingbird
import Logging
import TandemAPI

/// The gateway process: loads the configuration, serves the API over HTTP upstreams and the
/// operator's `/status` page (`StatusPage`), reloads on SIGHUP (an invalid file is refused and the
/// running configuration kept), and shuts down gracefully on SIGTERM/SIGINT.
public final class GatewayServer: Sendable {
    public let configurationPath: String
    public let dispatcher: GatewayDispatcher
    public let metrics: APIMetrics
    let client: HTTPClient
    /// For scraping coordinators' `/metrics`: a few connections per coordinator, and a refused
    /// connection fails at once instead of being retried until the connect timeout.
    let scrapeClient: HTTPClient
    let logger: Logger
    let listen: ListenConfiguration
    /// The upstream settings fixed at start (connect timeout and connection pool).
    let upstreamAtStart: UpstreamConfiguration
    /// The usage records file at start, read back for the budgets.
    private let usageLogAtStart: String?
    /// Spans of traced requests (the configuration's `tracing` at start).
    let tracer: Tracer?

    /// Loads and validates the configuration; `host`/`port` override its `listen` section.
    public init(configurationPath: String, host: String? = nil, port: Int? = nil, logger: Logger) throws(GatewayConfigurationError) {
        let loaded = try GatewayConfigurationLoader.load(path: configurationPath)
        self.configurationPath = configurationPath
        self.logger = logger
        var listen = loaded.configuration.listen
        if let host { listen.host = host }
        if let port { listen.port = port }
        self.listen = listen
        let configuration = loaded.configuration
        upstreamAtStart = configuration.upstream
        usageLogAtStart = Self.usageLogPath(loaded)
        tracer = configuration.tracing.map {
            Tracer(serviceName: $0.serviceName, endpoint: $0.otlpEndpoint, sampleRatio: $0.sampleRatio, logger: logger)
        }
        let loopback = RequestBounds.isLoopback(listen.host)
        if !loopback {
            let demo = DemoKeys.present(in: loaded.keys)
            if !demo.isEmpty && !loaded.configuration.allowDemoKeys {
                throw GatewayConfigurationError(file: configurationPath, problems: [
                    "the keys file holds the shipped demo key(s) \(demo.joined(separator: ", ")), whose text is public, and the gateway would listen on \(listen.host), which is not loopback; put your own keys in the keys file (tandem gateway --hash-key KEY), or listen on 127.0.0.1 (allow_demo_keys: true overrides this, for throw-away simulations only)"])
            }
            if !demo.isEmpty { logger.warning("serving the public demo keys on a non-loopback address (allow_demo_keys)") }
            if loaded.adminKey == nil {
                logger.warning("no admin_key_file: /metrics is refused and /ready gives no reasons on a non-loopback listen address")
            }
        }
        let client = HTTPUpstreamBackend.makeClient(
            connectTimeout: .milliseconds(configuration.upstream.connectTimeoutMs),
            readTimeout: .milliseconds(configuration.upstream.readTimeoutMs),
            maxConnectionsPerHost: configuration.upstream.effectivePoolMaxConnections(models: configuration.models),
            idleTimeout: .milliseconds(configuration.upstream.poolIdleTimeoutMs))
        self.client = client
        let scrapeClient = HTTPUpstreamBackend.makeClient(
            connectTimeout: .milliseconds(configuration.upstream.connectTimeoutMs), maxConnectionsPerHost: 2,
            idleTimeout: .milliseconds(configuration.upstream.poolIdleTimeoutMs), retryConnecting: false)
        self.scrapeClient = scrapeClient
        let metrics = APIMetrics()
        self.metrics = metrics
        let readTimeout = Duration.milliseconds(configuration.upstream.readTimeoutMs)
        let probeTimeout = Duration.milliseconds(configuration.health.probeTimeoutMs)
        dispatcher = GatewayDispatcher(loaded: loaded, metrics: metrics, backendFactory: { model, deployment in
            guard let url = UpstreamURL(deployment.url) else {
                return UnavailableBackend(reason: "invalid deployment url '\(deployment.url)'")
            }
            // A coordinator gets its internal key; otherwise the key the named variable holds.
            let apiKey = (deployment.kind == .coordinator ? deployment.internalKey : nil)
                ?? deployment.apiKeyEnv.flatMap { ProcessInfo.processInfo.environment[$0] }
            return HTTPUpstreamBackend(client: client, endpoint: .init(
                url: url, kind: deployment.kind, model: deployment.upstreamModel ?? model.name,
                apiKey: apiKey, readTimeout: readTimeout, probeTimeout: probeTimeout))
        }, listensOnLoopback: loopback)
        let dispatcher = self.dispatcher
        let engines = UpstreamMetrics(
            targets: { UpstreamMetrics.targets(of: await dispatcher.configuration) },
            timeout: { .milliseconds(await dispatcher.configuration.upstream.metricsTimeoutMs) },
            fetch: UpstreamMetrics.httpFetch(client: scrapeClient, key: { base in
                UpstreamMetrics.internalKey(of: base, in: await dispatcher.configuration)
            }))
        metrics.addCollector { await engines.collect() }
        do {
            try dispatcher.usageLog.open(path: Self.usageLogPath(loaded))
        } catch {
            throw GatewayConfigurationError(file: configurationPath, problems: [error.description])
        }
        metrics.configReload(result: "applied")
    }

    /// The `usage_log` of a configuration, resolved against the configuration file's folder.
    static func usageLogPath(_ loaded: GatewayConfigurationLoader.Loaded) -> String? {
        loaded.configuration.usageLog.map { GatewayConfigurationLoader.resolve($0, relativeTo: loaded.path) }
    }

    /// Re-reads the configuration; applies it if valid, else logs why and keeps the current one.
    @discardableResult
    public func reload() async -> Bool {
        do {
            let loaded = try GatewayConfigurationLoader.load(path: configurationPath)
            let upstream = loaded.configuration.upstream
            if loaded.configuration.listen != listen || upstream.connectTimeoutMs != upstreamAtStart.connectTimeoutMs
                || upstream.readTimeoutMs != upstreamAtStart.readTimeoutMs
                || upstream.poolMaxConnections != upstreamAtStart.poolMaxConnections
                || upstream.poolIdleTimeoutMs != upstreamAtStart.poolIdleTimeoutMs {
                logger.warning("listen address, upstream.connect_timeout_ms, read_timeout_ms and pool_* changes take effect only after a restart")
            }
            // Reopened (a rotated file is started anew); a file that cannot be opened refuses the reload.
            do { try dispatcher.usageLog.open(path: Self.usageLogPath(loaded)) } catch {
                throw GatewayConfigurationError(file: configurationPath, problems: [error.description])
            }
            await dispatcher.install(loaded)
            metrics.configReload(result: "applied")
            logger.notice("configuration reloaded", metadata: ["path": .string(configurationPath),
                                                                "models": .stringConvertible(loaded.configuration.models.count)])
            return true
        } catch {
            metrics.configReload(result: "rejected")
            logger.error("configuration reload refused; keeping the running configuration", metadata: [
                "path": .string(configurationPath), "error": .string("\(error)")])
            return false
        }
    }

    /// Serves until SIGTERM or SIGINT.
    public func run() async throws {
        // Budgets survive a restart: this month's spend comes back from the usage records.
        if let path = usageLogAtStart, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            await dispatcher.restoreSpend(fromUsageLog: text)
        }
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { [self] in
            Task { await self.reload() }
        }
        hangup.resume()
        defer { hangup.cancel() }

        let logger = self.logger
        let listen = self.listen
        let dispatcher = self.dispatcher, metrics = self.metrics
        let status = StatusPage()
        let app = OpenAIServer.application(
            dispatcher: dispatcher, host: listen.host, port: listen.port, metrics: metrics, logger: logger, tracer: tracer,
            moreRoutes: { router in
                router.get("/status") { request, _ -> Response in
                    if let refused = await dispatcher.operatorAccess(request.headers) { return refused.response(requestID: nil) }
                    let now = Date()
                    async let readiness = dispatcher.readiness()
                    async let text = metrics.renderWithCollectors()
                    let input = StatusPage.Input(
                        configuration: await dispatcher.configuration, readiness: await readiness, metricsText: await text,
                        errors: metrics.recentErrors, spend: await dispatcher.spendByTenant(at: now), now: now)
                    let html = await status.render(input)
                    return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                                    body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
                }
            },
            onServerRunning: { port in
                logger.notice("tandem gateway listening", metadata: ["host": .string(listen.host), "port": .stringConvertible(port)])
            })
        let exporter = tracer.map { t in Task { await t.run() } }
        do {
            try await app.runService()
        } catch {
            exporter?.cancel()
            _ = await exporter?.value
            try? await client.shutdown()
            try? await scrapeClient.shutdown()
            throw error
        }
        exporter?.cancel()
        _ = await exporter?.value
        try await client.shutdown()
        try await scrapeClient.shutdown()
    }
}
