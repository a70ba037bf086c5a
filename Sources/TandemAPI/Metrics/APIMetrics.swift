import Metrics
import Prometheus

/// The `tandem_*` metrics of the HTTP API (and, through `count`, the gateway's router and limits:
/// `TandemGateway`'s `GatewayMetrics.swift`), recorded through swift-metrics into a Prometheus
/// registry owned by this object (no global bootstrap, so tests and several servers in one
/// process keep separate counts).
///
/// Label sets are fixed per metric name: model and tenant names come from configuration,
/// never from the client (unknown models are counted as `unknown`). As a backstop, at most
/// `maxTenantLabels` distinct tenant values get series of their own; later ones are counted as
/// `other` (a coordinator believes its gateway's tenant header, which is bounded by the gateway's
/// configuration; one started without an internal key is bounded by this alone).
public final class APIMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    /// Read at every scrape and appended to the exposition (Prometheus text, complete families
    /// with their `# TYPE` lines), e.g. a coordinator's engine statistics.
    private let collectors: [@Sendable () -> String]
    /// Like `collectors`, but may wait (e.g. the gateway scraping its coordinators); added after
    /// start with `addCollector`, read by `renderWithCollectors()`.
    private let asyncCollectors = Locked<[@Sendable () async -> String]>([])
    /// Most distinct `tenant` label values; beyond them a tenant is labelled `other`.
    public let maxTenantLabels: Int
    private let tenantLabels = Locked<Set<String>>([])
    /// The label of tenants beyond `maxTenantLabels` (and of unconfigured ones).
    public static let otherTenant = "other"

    /// Latency buckets for TTFT, end-to-end and queue time (seconds).
    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]
    /// Inter-token latency buckets (seconds).
    static let interTokenBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
        .milliseconds(35), .milliseconds(50), .milliseconds(75), .milliseconds(100), .milliseconds(200),
        .milliseconds(500), .seconds(1),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                collectors: [@Sendable () -> String] = [], maxTenantLabels: Int = 256) {
        self.registry = registry
        self.maxTenantLabels = maxTenantLabels
        self.collectors = collectors
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        factory.durationHistogramBuckets = ["tandem_inter_token_latency_seconds": Self.interTokenBuckets]
        self.factory = factory
    }

    /// The Prometheus text exposition of everything recorded (and of the synchronous collectors).
    public func render() -> String {
        var text = registry.emitToString()
        for collect in collectors {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += collect()
        }
        return text
    }

    /// Adds a collector that may wait; its families must not share names with the others.
    public func addCollector(_ collect: @escaping @Sendable () async -> String) {
        asyncCollectors.withLock { $0.append(collect) }
    }

    /// `render()` followed by what the asynchronous collectors return (run concurrently), in the
    /// order they were added. What `GET /metrics` serves.
    public func renderWithCollectors() async -> String {
        var text = render()
        let pending = asyncCollectors.withLock { $0 }
        guard !pending.isEmpty else { return text }
        let parts = await withTaskGroup(of: (Int, String).self) { group in
            for (i, collect) in pending.enumerated() { group.addTask { (i, await collect()) } }
            var parts = [String](repeating: "", count: pending.count)
            for await (i, part) in group { parts[i] = part }
            return parts
        }
        for part in parts where !part.isEmpty {
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            text += part
        }
        return text
    }

    /// `tenant` as a label value: itself while fewer than `maxTenantLabels` tenants have series.
    package func tenantLabel(_ tenant: String) -> String {
        tenantLabels.withLock { seen in
            if seen.contains(tenant) { return tenant }
            guard seen.count < maxTenantLabels else { return Self.otherTenant }
            seen.insert(tenant)
            return tenant
        }
    }

    // MARK: Recent errors

    /// A request that ended with an error status, for an operator's status page.
    public struct ErrorRecord: Sendable, Equatable {
        /// Unix seconds.
        public var time: Int64
        public var model: String
        public var tenant: String
        public var status: Int
        public var message: String
        public var requestID: String

        public init(time: Int64, model: String, tenant: String, status: Int, message: String, requestID: String) {
            self.time = time
            self.model = model
            self.tenant = tenant
            self.status = status
            self.message = message
            self.requestID = requestID
        }
    }

    /// How many error records are kept (the newest).
    public static let recentErrorLimit = 20
    private let errorRecords = Locked<[ErrorRecord]>([])

    /// Keeps `record` among the newest `recentErrorLimit`.
    public func recordError(_ record: ErrorRecord) {
        errorRecords.withLock { records in
            records.append(record)
            if records.count > Self.recentErrorLimit { records.removeFirst(records.count - Self.recentErrorLimit) }
        }
    }

    /// The kept error records, oldest first.
    public var recentErrors: [ErrorRecord] { errorRecords.withLock { $0 } }

    // MARK: Requests

    /// One finished request (any outcome), by model, tenant and HTTP status.
    public func request(model: String, tenant: String, status: Int) {
        Counter(label: "tandem_requests_total",
                dimensions: [("model", model), ("tenant", tenantLabel(tenant)), ("status", String(status))], factory: factory).increment()
    }

    public func timeToFirstToken(model: String, _ d: Duration) {
        timer("tandem_time_to_first_token_seconds", model: model).recordNanoseconds(Self.nanoseconds(d))
    }

    public func interTokenLatency(model: String, _ d: Duration) {
        timer("tandem_inter_token_latency_seconds", model: model).recordNanoseconds(Self.nanoseconds(d))
    }

    public func endToEnd(model: String, _ d: Duration) {
        timer("tandem_request_duration_seconds", model: model).recordNanoseconds(Self.nanoseconds(d))
    }

    /// Time from arrival until a backend accepted the request (admission, routing, upstream queue).
    public func queueTime(model: String, _ d: Duration) {
        timer("tandem_queue_time_seconds", model: model).recordNanoseconds(Self.nanoseconds(d))
    }

    public func tokens(model: String, tenant: String, usage: Usage) {
        let dims = [("model", model), ("tenant", tenantLabel(tenant))]
        Counter(label: "tandem_prompt_tokens_total", dimensions: dims, factory: factory).increment(by: usage.promptTokens)
        Counter(label: "tandem_cached_prompt_tokens_total", dimensions: dims, factory: factory).increment(by: usage.cachedTokens)
        Counter(label: "tandem_generated_tokens_total", dimensions: dims, factory: factory).increment(by: usage.completionTokens)
        Counter(label: "tandem_reasoning_tokens_total", dimensions: dims, factory: factory).increment(by: usage.reasoningTokens)
    }

    /// Dollars a tenant's requests to a model cost (the gateway's prices), as usage records say.
    public func spend(model: String, tenant: String, dollars: Double) {
        FloatingPointCounter(label: "tandem_tenant_spend_dollars_total", dimensions: [("model", model), ("tenant", tenantLabel(tenant))],
                             factory: factory).increment(by: dollars)
    }

    /// Requests currently being answered, by model.
    public func runningStarted(model: String) { runningGauge(model: model).increment() }
    public func runningEnded(model: String) { runningGauge(model: model).decrement() }

    private func runningGauge(model: String) -> Meter {
        Meter(label: "tandem_running_requests", dimensions: [("model", model)], factory: factory)
    }

    /// A backend that refused or failed a request, by model and `BackendError` category (the
    /// gateway's upstreams; a coordinator's engine).
    public func upstreamError(model: String, category: BackendError.Category) {
        count("tandem_upstream_errors_total", [("model", model), ("category", category.rawValue)])
    }

    // MARK: For other layers' metrics in the same registry

    /// Adds `amount` to the counter `label` with these labels (the gateway's router and limit
    /// metrics, `GatewayMetrics.swift`). `tenant` labels must go through `tenantLabel(_:)`.
    package func count(_ label: String, _ dimensions: [(String, String)], by amount: Int = 1) {
        Counter(label: label, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    private func timer(_ label: String, model: String) -> Timer {
        Timer(label: label, dimensions: [("model", model)], factory: factory)
    }

    package static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
