import Foundation
import Crypto
import TandemAPI

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
    /// When each expiring key stops being accepted, by hash.
    let expiryByKeyHash: [String: Date]
    let saltByTenant: [String: String]
    let models: [String: ServedModel]
    let aliases: [String: String]

    /// Makes the backend of one deployment.
    typealias BackendFactory = @Sendable (GatewayModelConfiguration, DeploymentConfiguration) -> any InferenceBackend

    /// The operator key of `/metrics` and `/ready` details (nil: none configured).
    let adminKey: String?

    /// - Parameter saltKey: the HMAC key of derived salts when the configuration names no
    ///   `salt_key_file` (the gateway's per-process random key).
    init(_ loaded: GatewayConfigurationLoader.Loaded, saltKey fallbackSaltKey: [UInt8], backendFactory: BackendFactory) {
        let configuration = loaded.configuration
        self.configuration = configuration
        adminKey = loaded.adminKey
        tenantByKeyHash = Dictionary(loaded.keys.keys.map { ($0.sha256, $0.tenant) }, uniquingKeysWith: { a, _ in a })
        expiryByKeyHash = Dictionary(loaded.keys.keys.compactMap { k in k.expiryDate.map { (k.sha256, $0) } }, uniquingKeysWith: { a, _ in a })
        let saltKey = loaded.saltKey.map { Array($0.utf8) } ?? fallbackSaltKey
        saltByTenant = Dictionary(uniqueKeysWithValues: configuration.tenants.map { name, t in
            (name, t.cacheSalt ?? Self.derivedSalt(tenant: name, key: saltKey))
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

    /// A tenant's default cache salt: HMAC-SHA256 of its name under the gateway's salt key, so
    /// that knowing a tenant's name (e.g. from a metrics label) does not give its salt.
    static func derivedSalt(tenant: String, key: [UInt8]) -> String {
        InternalKey.salt(tenant: tenant, key: key)
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
