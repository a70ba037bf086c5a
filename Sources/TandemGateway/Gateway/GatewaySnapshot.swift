import Crypto

/// A validated configuration compiled for serving: key hashes to tenants, salts, models with
/// their replicas' backends, aliases. Immutable; a reload builds a new one.
struct GatewaySnapshot: Sendable {
    /// One replica of a model.
    struct Replica: Sendable {
        /// Identity for load and health tracking: the deployment URL.
        let id: String
        /// Position among the model's deployments (what responses and metrics show).
        let index: Int
        let capacity: Int?
        let backend: any InferenceBackend
    }

    struct ServedModel: Sendable {
        let configuration: GatewayModelConfiguration
        let replicas: [Replica]
        var name: String { configuration.name }
        var profile: ModelProfile {
            ModelProfile(name: configuration.name, costPerToken: configuration.costPerToken,
                         expectedLatencyMs: configuration.expectedLatencyMs, defaultMaxTokens: configuration.defaultMaxTokens)
        }
    }

    let configuration: GatewayConfiguration
    let tenantByKeyHash: [String: String]
    let saltByTenant: [String: String]
    let models: [String: ServedModel]
    let aliases: [String: String]

    /// Makes the backend of one deployment.
    typealias BackendFactory = @Sendable (GatewayModelConfiguration, DeploymentConfiguration) -> any InferenceBackend

    init(_ loaded: GatewayConfigurationLoader.Loaded, backendFactory: BackendFactory) {
        let configuration = loaded.configuration
        self.configuration = configuration
        tenantByKeyHash = Dictionary(loaded.keys.keys.map { ($0.sha256, $0.tenant) }, uniquingKeysWith: { a, _ in a })
        saltByTenant = Dictionary(uniqueKeysWithValues: configuration.tenants.map { name, t in
            (name, t.cacheSalt ?? Self.derivedSalt(tenant: name))
        })
        var models: [String: ServedModel] = [:]
        var aliases: [String: String] = [:]
        for m in configuration.models {
            let replicas = m.deployments.enumerated().map { i, d in
                Replica(id: d.url, index: i, capacity: d.maxConcurrent, backend: backendFactory(m, d))
            }
            models[m.name] = ServedModel(configuration: m, replicas: replicas)
            for a in m.aliases { aliases[a] = m.name }
        }
        self.models = models
        self.aliases = aliases
    }

    /// A tenant's default cache salt: a hash of its name (the salt only has to differ between
    /// tenants; clients can never set it).
    static func derivedSalt(tenant: String) -> String {
        String(APIKeyHash.hex("tandem-cache-salt\u{0}" + tenant).prefix(32))
    }

    var limits: ServerLimits {
        ServerLimits(maxBodyBytes: configuration.limits.maxBodyBytes,
                     requestTimeout: .milliseconds(configuration.limits.requestTimeoutMs))
    }

    /// Every name a client may send as `model`, with the model it stands for (nil for policies).
    var allNames: [String] {
        configuration.models.flatMap { [$0.name] + $0.aliases } + configuration.routing.policies.keys.sorted()
    }
}
