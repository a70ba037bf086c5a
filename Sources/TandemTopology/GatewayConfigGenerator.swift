import Foundation

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

    public static func object(_ r: ResolvedTopology, secrets: Secrets = Secrets()) -> [String: Any] {
        let t = r.topology
        let g = t.gateway
        var config: [String: Any] = [
            "listen": ["host": g.host, "port": g.port],
            "keys_file": g.keysFile,
        ]
        if let v = secrets.saltKeyFile { config["salt_key_file"] = v }
        if g.allowDemoKeys { config["allow_demo_keys"] = true }
        var limits: [String: Any] = [:]
        if let v = g.maxBodyBytes { limits["max_body_bytes"] = v }
        if let v = g.requestTimeoutMs { limits["request_timeout_ms"] = v }
        if !limits.isEmpty { config["limits"] = limits }
        var upstream: [String: Any] = [:]
        if let v = g.connectTimeoutMs { upstream["connect_timeout_ms"] = v }
        if let v = g.readTimeoutMs { upstream["read_timeout_ms"] = v }
        if !upstream.isEmpty { config["upstream"] = upstream }
        var health: [String: Any] = [:]
        if let v = g.failureThreshold { health["failure_threshold"] = v }
        if let v = g.cooldownMs { health["cooldown_ms"] = v }
        if let v = g.probeTimeoutMs { health["probe_timeout_ms"] = v }
        if !health.isEmpty { config["health"] = health }
        var tenants: [String: Any] = [:]
        for tn in g.tenants {
            var o: [String: Any] = ["allowed_models": tn.allowedModels]
            if let v = tn.requestsPerMinute { o["requests_per_minute"] = v }
            if let v = tn.tokensPerMinute { o["tokens_per_minute"] = v }
            if let v = tn.maxConcurrent { o["max_concurrent"] = v }
            if let v = tn.cacheSalt { o["cache_salt"] = v }
            tenants[tn.name] = o
        }
        config["tenants"] = tenants
        config["models"] = t.models.map { m -> [String: Any] in
            var o: [String: Any] = ["name": m.name]
            if !m.aliases.isEmpty { o["aliases"] = m.aliases }
            if let p = m.placement, let endpoint = LaunchPlanner.coordinatorEndpoint(t, placement: p) {
                var d: [String: Any] = ["url": "http://\(LaunchPlanner.urlHost(endpoint.url)):\(p.port)", "kind": "coordinator"]
                if let c = p.maxConcurrent { d["max_concurrent"] = c }
                if let k = secrets.internalKeyFiles[m.name] { d["internal_key_file"] = k }
                o["deployments"] = [d]
            } else if let e = m.external {
                var d: [String: Any] = ["url": e.url, "kind": "external"]
                if let v = e.upstreamModel { d["upstream_model"] = v }
                if let v = e.apiKeyEnv { d["api_key_env"] = v }
                o["deployments"] = [d]
            }
            if let rs = m.reasoning {
                o["reasoning"] = true
                if let f = rs.tokenFloor {
                    o["reasoning_token_floor"] = f
                    o["reasoning_floor_action"] = rs.floorAction.rawValue
                }
            }
            if let v = m.fallback { o["fallback"] = v }
            if let v = m.costPerToken { o["cost_per_token"] = v }
            if let v = m.expectedLatencyMs { o["expected_latency_ms"] = v }
            if let v = m.maxPromptTokens { o["max_prompt_tokens"] = v }
            if let v = m.defaultMaxTokens { o["default_max_tokens"] = v }
            return o
        }
        var routing: [String: Any] = [:]
        if let v = t.router.affinityPrefixChars { routing["affinity_prefix_chars"] = v }
        if let v = t.router.maxLoadImbalance { routing["max_load_imbalance"] = v }
        var policies: [String: Any] = [:]
        for p in t.router.policies {
            var o: [String: Any] = ["default": p.defaultModel]
            if let c = p.candidates { o["candidates"] = c }
            o["rules"] = p.rules.map { rule -> [String: Any] in
                var when: [String: Any] = [:]
                if let v = rule.keywords { when["keywords"] = v }
                if let v = rule.minPromptTokens { when["min_prompt_tokens"] = v }
                if let v = rule.maxPromptTokens { when["max_prompt_tokens"] = v }
                if let v = rule.headers { when["headers"] = v }
                return ["name": rule.name, "model": rule.model, "when": when]
            }
            policies[p.name] = o
        }
        if !policies.isEmpty { routing["policies"] = policies }
        if !routing.isEmpty { config["routing"] = routing }
        return config
    }

    /// Pretty-printed with sorted keys (stable output for diffs and tests).
    public static func json(_ r: ResolvedTopology, secrets: Secrets = Secrets()) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object(r, secrets: secrets), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
