/// A configuration (or keys file) the gateway refuses, with every problem found.
public struct GatewayConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var problems: [String]

    public init(file: String, problems: [String]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        "invalid gateway configuration \(file):\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

extension GatewayConfiguration {
    /// Every problem with this configuration and keys file; empty when it can be served.
    public func problems(keys: KeysFile) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { problems.append(message()) } }

        for (section, found) in [("listen", listen.problems), ("limits", limits.problems), ("upstream", upstream.problems),
                                 ("health", health.problems), ("routing", routing.problems),
                                 ("tracing", tracing?.problems ?? [])] {
            problems += found.map { "\(section).\($0)" }
        }
        check(!models.isEmpty, "models: at least one model is required")

        // Names: models, aliases and policies share one namespace.
        var owner: [String: String] = [:]
        func claim(_ name: String, by who: String) {
            if name.isEmpty { problems.append("\(who): empty name"); return }
            if let previous = owner[name] { problems.append("name '\(name)' is used by both \(previous) and \(who)") }
            else { owner[name] = who }
        }
        for m in models {
            claim(m.name, by: "model '\(m.name)'")
            for a in m.aliases { claim(a, by: "alias of model '\(m.name)'") }
        }
        for name in routing.policies.keys.sorted() { claim(name, by: "routing policy '\(name)'") }
        let modelNames = Set(models.map(\.name))

        for m in models {
            let at = "model '\(m.name)'"
            check(!m.deployments.isEmpty, "\(at): at least one deployment is required")
            check(m.costPerToken >= 0 && m.costPerToken.isFinite, "\(at): cost_per_token must be >= 0")
            check(m.expectedLatencyMs >= 0, "\(at): expected_latency_ms must be >= 0")
            check(m.reasoningTokenFloor >= 0, "\(at): reasoning_token_floor must be >= 0")
            check(m.defaultMaxTokens > 0, "\(at): default_max_tokens must be positive")
            if let p = m.prices { problems += p.problems.map { "\(at): prices.\($0)" } }
            if let p = m.maxPromptTokens { check(p > 0, "\(at): max_prompt_tokens must be positive") }
            if let f = m.fallback {
                check(modelNames.contains(f), "\(at): fallback '\(f)' is not a model")
                check(f != m.name, "\(at): a model cannot be its own fallback")
            }
            var urls = Set<String>()
            for (i, d) in m.deployments.enumerated() {
                let dat = "\(at) deployment \(i)"
                check(UpstreamURL(d.url) != nil, "\(dat): url '\(d.url)' must be http(s)://host[:port][/path]")
                check(urls.insert(d.url).inserted, "\(dat): url '\(d.url)' is listed twice")
                if let c = d.maxConcurrent { check(c > 0, "\(dat): max_concurrent must be positive") }
                if d.kind == .coordinator { check(d.apiKeyEnv == nil, "\(dat): api_key_env is only for external upstreams") }
            }
        }
        for (name, policy) in routing.policies.sorted(by: { $0.key < $1.key }) {
            let at = "routing policy '\(name)'"
            check(modelNames.contains(policy.default), "\(at): default '\(policy.default)' is not a model")
            for rule in policy.rules {
                check(modelNames.contains(rule.model), "\(at) rule '\(rule.name)': model '\(rule.model)' is not a model")
                check(!rule.name.isEmpty, "\(at): every rule needs a name")
            }
            for c in policy.candidates ?? [] { check(modelNames.contains(c), "\(at): candidate '\(c)' is not a model") }
        }
        check(!tenants.isEmpty, "tenants: at least one tenant is required")
        for (name, t) in tenants.sorted(by: { $0.key < $1.key }) {
            let at = "tenant '\(name)'"
            problems += t.problems.map { "\(at): \($0)" }
            for m in t.allowedModels where m != "*" {
                check(owner[m] != nil, "\(at): allowed model '\(m)' is not a model, alias or policy")
            }
        }
        var hashes = Set<String>()
        for (i, k) in keys.keys.enumerated() {
            let at = "key \(k.id ?? String(i))"
            check(tenants[k.tenant] != nil, "\(at): tenant '\(k.tenant)' is not configured")
            check(k.sha256.count == 64 && k.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }),
                  "\(at): sha256 must be 64 lower-case hex digits")
            check(hashes.insert(k.sha256).inserted, "\(at): the same key hash is listed twice")
            if let e = k.expires {
                check(k.expiryDate != nil, "\(at): expires '\(e)' is not an ISO 8601 date (2027-01-31) or date and time (2027-01-31T12:00:00Z)")
            }
        }
        return problems
    }
}
