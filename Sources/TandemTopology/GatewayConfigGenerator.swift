import Foundation
import TandemGatewayConfig

/// The gateway's JSON configuration (see gateway/README.md) generated from a topology.
public enum GatewayConfigGenerator {
    /// The secret files `tandem up` creates for a run: each coordinator's internal key (by model
    /// name) and the gateway's salt key.
    public struct Secrets: Sendable, Equatable {
        public var internalKeyFiles: [String: String]
        public var saltKeyFile: String?

        public init(internalKeyFiles: [String: String] = [:], saltKeyFile: String? = nil) {
            self.internalKeyFiles = internalKeyFiles
            self.saltKeyFile = saltKeyFile
        }
    }

    /// The gateway's configuration for this topology, as the gateway's own type: the topology's
    /// gateway and router sections are already those types; each model becomes a
    /// `GatewayModelConfiguration` whose deployment is its coordinator (or external URL). Settings
    /// the topology leaves out keep the gateway's defaults.
    public static func configuration(_ r: ResolvedTopology, secrets: Secrets = Secrets()) -> GatewayConfiguration {
        let t = r.topology
        let g = t.gateway
        var config = GatewayConfiguration(listen: g.listen, keysFile: g.keysFile, limits: g.limits, upstream: g.upstream,
                                          tenants: g.tenants, models: t.models.map { model($0, in: t, secrets: secrets) },
                                          routing: t.router, health: g.health)
        config.saltKeyFile = secrets.saltKeyFile
        config.allowDemoKeys = g.allowDemoKeys
        config.usageLog = g.usageLog
        config.tracing = t.observability.tracing
        return config
    }

    static func model(_ m: ModelSpec, in t: Topology, secrets: Secrets) -> GatewayModelConfiguration {
        var deployments: [DeploymentConfiguration] = []
        if let p = m.placement, let endpoint = LaunchPlanner.coordinatorEndpoint(t, placement: p) {
            var d = DeploymentConfiguration(url: "http://\(LaunchPlanner.urlHost(endpoint.url)):\(p.port)", kind: .coordinator,
                                            maxConcurrent: p.maxConcurrent)
            d.internalKeyFile = secrets.internalKeyFiles[m.name]
            deployments.append(d)
        } else if let e = m.external {
            deployments.append(DeploymentConfiguration(url: e.url, kind: .external, upstreamModel: e.upstreamModel, apiKeyEnv: e.apiKeyEnv))
        }
        var o = GatewayModelConfiguration(name: m.name, aliases: m.aliases, deployments: deployments)
        if let rs = m.reasoning {
            o.reasoning = true
            if let f = rs.tokenFloor {
                o.reasoningTokenFloor = f
                o.reasoningFloorAction = rs.floorAction
            }
        }
        o.fallback = m.fallback
        o.maxPromptTokens = m.maxPromptTokens
        if let v = m.costPerToken { o.costPerToken = v }
        o.prices = m.prices
        if let v = m.expectedLatencyMs { o.expectedLatencyMs = v }
        if let v = m.defaultMaxTokens { o.defaultMaxTokens = v }
        return o
    }

    /// Pretty-printed with sorted keys (stable output for diffs and tests).
    public static func json(_ r: ResolvedTopology, secrets: Secrets = Secrets()) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every field of the configuration types is a string, number, bool, list or map: encoding cannot fail.
        let data = try! encoder.encode(configuration(r, secrets: secrets))
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
