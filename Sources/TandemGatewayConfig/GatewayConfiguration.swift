/// The gateway's configuration file (JSON): where to listen, the keys file, tenants, models with
/// their deployments, and routing policies. Reloaded on SIGHUP after validation.
///
/// ```json
/// {
///   "listen": {"host": "127.0.0.1", "port": 8080},
///   "keys_file": "keys.json",
///   "limits": {"max_body_bytes": 1048576, "request_timeout_ms": 120000},
///   "upstream": {"connect_timeout_ms": 2000, "read_timeout_ms": 30000, "pool_max_connections": 128,
///                "pool_idle_timeout_ms": 30000, "metrics_timeout_ms": 1000},
///   "tenants": {"acme": {"requests_per_minute": 600, "tokens_per_minute": 200000,
///                        "max_concurrent": 8, "allowed_models": ["*"]}},
///   "models": [{"name": "small", "aliases": ["fast"], "cost_per_token": 1e-7,
///               "expected_latency_ms": 400, "max_prompt_tokens": 8192, "fallback": "big",
///               "deployments": [{"url": "http://127.0.0.1:8001"}]}],
///   "routing": {"affinity_prefix_chars": 512, "max_load_imbalance": 4,
///               "policies": {"auto": {"rules": [...], "default": "small"}}}
/// }
/// ```
public struct GatewayConfiguration: Codable, Sendable, Equatable {
    public var listen: ListenConfiguration
    /// Path of the API keys file; relative paths are relative to the configuration file.
    public var keysFile: String
    public var limits: LimitsConfiguration
    public var upstream: UpstreamConfiguration
    public var tenants: [String: TenantConfiguration]
    public var models: [GatewayModelConfiguration]
    public var routing: RoutingConfiguration
    public var health: HealthConfiguration
    /// File holding the HMAC key of the default per-tenant cache salts (relative to this file).
    /// nil: a random key per process (salts then change when the gateway restarts).
    public var saltKeyFile: String?
    /// File holding the operator key that `GET /metrics` and the reasons of `GET /ready` require
    /// (`Authorization: Bearer <key>`). nil: `/metrics` is served only on a loopback listen
    /// address, and `/ready` never gives reasons.
    public var adminKeyFile: String?
    /// Start on a non-loopback listen address although the keys file holds one of the shipped
    /// demo keys (whose text is public). For throw-away simulations only.
    public var allowDemoKeys: Bool
    /// File the gateway appends one JSON line per finished request to (tenant, model, route,
    /// tokens, cost, latency; relative to this file); reopened on SIGHUP, so it can be rotated.
    /// nil: no usage records.
    public var usageLog: String?
    /// Spans of every traced request exported over OTLP (read at start; a change needs a restart).
    /// nil: no tracing.
    public var tracing: TracingConfiguration?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, limits, upstream, tenants, models, routing, health, tracing
        case keysFile = "keys_file"
        case saltKeyFile = "salt_key_file"
        case adminKeyFile = "admin_key_file"
        case allowDemoKeys = "allow_demo_keys"
        case usageLog = "usage_log"
    }

    public init(listen: ListenConfiguration = ListenConfiguration(), keysFile: String,
                limits: LimitsConfiguration = LimitsConfiguration(), upstream: UpstreamConfiguration = UpstreamConfiguration(),
                tenants: [String: TenantConfiguration], models: [GatewayModelConfiguration],
                routing: RoutingConfiguration = RoutingConfiguration(), health: HealthConfiguration = HealthConfiguration()) {
        self.listen = listen
        self.keysFile = keysFile
        self.limits = limits
        self.upstream = upstream
        self.tenants = tenants
        self.models = models
        self.routing = routing
        self.health = health
        self.saltKeyFile = nil
        self.adminKeyFile = nil
        self.allowDemoKeys = false
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent(ListenConfiguration.self, forKey: .listen) ?? ListenConfiguration()
        keysFile = try c.decode(String.self, forKey: .keysFile)
        limits = try c.decodeIfPresent(LimitsConfiguration.self, forKey: .limits) ?? LimitsConfiguration()
        upstream = try c.decodeIfPresent(UpstreamConfiguration.self, forKey: .upstream) ?? UpstreamConfiguration()
        tenants = try c.decode([String: TenantConfiguration].self, forKey: .tenants)
        models = try c.decode([GatewayModelConfiguration].self, forKey: .models)
        routing = try c.decodeIfPresent(RoutingConfiguration.self, forKey: .routing) ?? RoutingConfiguration()
        health = try c.decodeIfPresent(HealthConfiguration.self, forKey: .health) ?? HealthConfiguration()
        saltKeyFile = try c.decodeIfPresent(String.self, forKey: .saltKeyFile)
        adminKeyFile = try c.decodeIfPresent(String.self, forKey: .adminKeyFile)
        allowDemoKeys = try c.decodeIfPresent(Bool.self, forKey: .allowDemoKeys) ?? false
        usageLog = try c.decodeIfPresent(String.self, forKey: .usageLog)
        tracing = try c.decodeIfPresent(TracingConfiguration.self, forKey: .tracing)
    }
}

/// OTLP tracing: where spans go (an OTLP/HTTP receiver's base URL; `/v1/traces` is added) and the
/// share of new traces sampled (a caller's `traceparent` keeps its own decision).
public struct TracingConfiguration: Codable, Sendable, Equatable {
    public var otlpEndpoint: String
    public var sampleRatio: Double = 1
    public var serviceName: String = "tandem-gateway"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case otlpEndpoint = "otlp_endpoint"
        case sampleRatio = "sample_ratio"
        case serviceName = "service_name"
    }

    public init(otlpEndpoint: String, sampleRatio: Double = 1, serviceName: String = "tandem-gateway") {
        self.otlpEndpoint = otlpEndpoint
        self.sampleRatio = sampleRatio
        self.serviceName = serviceName
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        otlpEndpoint = try c.decode(String.self, forKey: .otlpEndpoint)
        sampleRatio = try c.decodeIfPresent(Double.self, forKey: .sampleRatio) ?? 1
        serviceName = try c.decodeIfPresent(String.self, forKey: .serviceName) ?? "tandem-gateway"
    }
}

/// Where the gateway listens (changes need a restart).
public struct ListenConfiguration: Codable, Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080

    enum CodingKeys: String, CodingKey, CaseIterable {
        case host, port
    }

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 8080
    }
}

/// Limits applied to every request before routing.
public struct LimitsConfiguration: Codable, Sendable, Equatable {
    public var maxBodyBytes: Int = 1 << 20
    public var requestTimeoutMs: Int = 120_000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxBodyBytes = "max_body_bytes"
        case requestTimeoutMs = "request_timeout_ms"
    }

    public init(maxBodyBytes: Int = 1 << 20, requestTimeoutMs: Int = 120_000) {
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeoutMs = requestTimeoutMs
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? (1 << 20)
        requestTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .requestTimeoutMs) ?? 120_000
    }
}

/// Upstream HTTP calls: timeouts (connect and the connection pool are fixed at start; read applies
/// per deployment call) and the pool of kept-alive connections to each deployment.
public struct UpstreamConfiguration: Codable, Sendable, Equatable {
    public var connectTimeoutMs: Int = 2_000
    /// Longest silence allowed from an upstream (before its headers or between stream chunks).
    public var readTimeoutMs: Int = 60_000
    /// Most open connections to one deployment (host and port); a request beyond it waits for a
    /// connection to free up. Raised at start to the largest deployment `max_concurrent` + 8.
    public var poolMaxConnections: Int = 128
    /// How long an unused kept-alive connection stays in the pool. Keep it below the upstream's
    /// own keep-alive timeout (coordinators: 120 s) so the gateway is the side that closes.
    public var poolIdleTimeoutMs: Int = 30_000
    /// Time allowed to each coordinator's `/metrics` when the gateway's `/metrics` is scraped.
    public var metricsTimeoutMs: Int = 1_000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case connectTimeoutMs = "connect_timeout_ms"
        case readTimeoutMs = "read_timeout_ms"
        case poolMaxConnections = "pool_max_connections"
        case poolIdleTimeoutMs = "pool_idle_timeout_ms"
        case metricsTimeoutMs = "metrics_timeout_ms"
    }

    public init(connectTimeoutMs: Int = 2_000, readTimeoutMs: Int = 60_000, poolMaxConnections: Int = 128,
                poolIdleTimeoutMs: Int = 30_000, metricsTimeoutMs: Int = 1_000) {
        self.connectTimeoutMs = connectTimeoutMs
        self.readTimeoutMs = readTimeoutMs
        self.poolMaxConnections = poolMaxConnections
        self.poolIdleTimeoutMs = poolIdleTimeoutMs
        self.metricsTimeoutMs = metricsTimeoutMs
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        connectTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .connectTimeoutMs) ?? 2_000
        readTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .readTimeoutMs) ?? 60_000
        poolMaxConnections = try c.decodeIfPresent(Int.self, forKey: .poolMaxConnections) ?? 128
        poolIdleTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .poolIdleTimeoutMs) ?? 30_000
        metricsTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .metricsTimeoutMs) ?? 1_000
    }

    /// The per-deployment connection limit the pool gets: the configured one, but never below what
    /// a deployment may have in flight plus room for health probes and metric scrapes.
    public func effectivePoolMaxConnections(models: [GatewayModelConfiguration]) -> Int {
        let largest = models.flatMap(\.deployments).compactMap(\.maxConcurrent).max() ?? 0
        return max(poolMaxConnections, largest + 8)
    }
}

/// Limits and permissions of one tenant. Absent limits are unlimited.
public struct TenantConfiguration: Codable, Sendable, Equatable {
    public var requestsPerMinute: Int?
    /// Prompt plus generated tokens per minute (charged at admission from an estimate, corrected
    /// with the reported usage at the end).
    public var tokensPerMinute: Int?
    public var maxConcurrent: Int?
    /// Model, alias or policy names the tenant may ask for; `"*"` allows all.
    public var allowedModels: [String]
    /// Overrides the derived cache salt (sharing a salt shares cached prefixes between tenants).
    public var cacheSalt: String?
    /// Dollars the tenant may spend per UTC day and per UTC month at the models' prices (the
    /// usage records' `cost`); a request once it is reached gets a 429 `budget_exceeded`.
    public var budgetPerDay: Double?
    public var budgetPerMonth: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case requestsPerMinute = "requests_per_minute"
        case tokensPerMinute = "tokens_per_minute"
        case maxConcurrent = "max_concurrent"
        case allowedModels = "allowed_models"
        case cacheSalt = "cache_salt"
        case budgetPerDay = "budget_per_day"
        case budgetPerMonth = "budget_per_month"
    }

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, maxConcurrent: Int? = nil,
                allowedModels: [String] = ["*"], cacheSalt: String? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.maxConcurrent = maxConcurrent
        self.allowedModels = allowedModels
        self.cacheSalt = cacheSalt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        requestsPerMinute = try c.decodeIfPresent(Int.self, forKey: .requestsPerMinute)
        tokensPerMinute = try c.decodeIfPresent(Int.self, forKey: .tokensPerMinute)
        maxConcurrent = try c.decodeIfPresent(Int.self, forKey: .maxConcurrent)
        allowedModels = try c.decodeIfPresent([String].self, forKey: .allowedModels) ?? ["*"]
        cacheSalt = try c.decodeIfPresent(String.self, forKey: .cacheSalt)
        budgetPerDay = try c.decodeIfPresent(Double.self, forKey: .budgetPerDay)
        budgetPerMonth = try c.decodeIfPresent(Double.self, forKey: .budgetPerMonth)
    }

    public func allows(_ name: String) -> Bool { allowedModels.contains("*") || allowedModels.contains(name) }
}

/// How the router treats unhealthy replicas.
public struct HealthConfiguration: Codable, Sendable, Equatable {
    /// Consecutive connection failures after which a replica is taken out of rotation.
    public var failureThreshold: Int = 1
    /// How long it stays out before it is tried again.
    public var cooldownMs: Int = 5_000
    /// Timeout of the `/ready` probe of each deployment.
    public var probeTimeoutMs: Int = 2_000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case failureThreshold = "failure_threshold"
        case cooldownMs = "cooldown_ms"
        case probeTimeoutMs = "probe_timeout_ms"
    }

    public init(failureThreshold: Int = 1, cooldownMs: Int = 5_000, probeTimeoutMs: Int = 2_000) {
        self.failureThreshold = failureThreshold
        self.cooldownMs = cooldownMs
        self.probeTimeoutMs = probeTimeoutMs
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        failureThreshold = try c.decodeIfPresent(Int.self, forKey: .failureThreshold) ?? 1
        cooldownMs = try c.decodeIfPresent(Int.self, forKey: .cooldownMs) ?? 5_000
        probeTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .probeTimeoutMs) ?? 2_000
    }
}
