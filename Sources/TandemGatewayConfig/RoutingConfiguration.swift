/// Router settings: the policies behind names like `auto`, and replica choice parameters.
public struct RoutingConfiguration: Codable, Sendable, Equatable {
    /// Policies by the name a client sends as `model` (e.g. `"auto"`).
    public var policies: [String: RoutingPolicy]
    /// How many leading characters of the prompt (system message first) key replica affinity.
    public var affinityPrefixChars: Int
    /// How many more in-flight requests the affinity replica may have than the least-loaded one
    /// before the router gives up affinity for load.
    public var maxLoadImbalance: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case policies
        case affinityPrefixChars = "affinity_prefix_chars"
        case maxLoadImbalance = "max_load_imbalance"
    }
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(policies: [String: RoutingPolicy] = [:], affinityPrefixChars: Int = 512, maxLoadImbalance: Int = 4) {
        self.policies = policies
        self.affinityPrefixChars = affinityPrefixChars
        self.maxLoadImbalance = maxLoadImbalance
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        policies = try c.decodeIfPresent([String: RoutingPolicy].self, forKey: .policies) ?? [:]
        affinityPrefixChars = try c.decodeIfPresent(Int.self, forKey: .affinityPrefixChars) ?? 512
        maxLoadImbalance = try c.decodeIfPresent(Int.self, forKey: .maxLoadImbalance) ?? 4
    }
}

/// A model-choice policy written as data: ordered rules, first match wins, then a default.
///
/// Candidates are first filtered by the tenant's permissions and by the request's constraint
/// headers (`X-Tandem-Max-Cost`: dollars for this request; `X-Tandem-Max-Latency-Ms`); a rule
/// whose model was filtered out does not match. When neither a rule nor the default survives, the
/// cheapest (or, under a latency constraint only, the fastest) remaining candidate is chosen.
public struct RoutingPolicy: Codable, Sendable, Equatable {
    public var rules: [RoutingRule]
    public var `default`: String
    /// Models this policy may choose (default: the rules' models and the default).
    public var candidates: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rules, `default`, candidates
    }
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(rules: [RoutingRule] = [], default: String, candidates: [String]? = nil) {
        self.rules = rules
        self.default = `default`
        self.candidates = candidates
    }

    /// Every model the policy can end on.
    public var candidateModels: [String] {
        if let candidates { return candidates }
        var seen: [String] = []
        for m in rules.map(\.model) + [`default`] where !seen.contains(m) { seen.append(m) }
        return seen
    }
}

/// "When the request looks like this, use that model."
public struct RoutingRule: Codable, Sendable, Equatable {
    /// Reported as `rule:<name>` in `X-Tandem-Route-Reason` and metrics.
    public var name: String
    public var when: RuleCondition
    public var model: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, when, model
    }
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(name: String, when: RuleCondition, model: String) {
        self.name = name
        self.when = when
        self.model = model
    }
}

/// Conditions of a rule; all given ones must hold (an empty condition always holds).
public struct RuleCondition: Codable, Sendable, Equatable {
    public var minPromptTokens: Int?
    public var maxPromptTokens: Int?
    /// Case-insensitive substrings of the last user message; any one matches (keyword classifier).
    public var keywords: [String]?
    /// Request headers that must have these values (`"*"`: present with any value). Names are
    /// case-insensitive.
    public var headers: [String: String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case keywords, headers
        case minPromptTokens = "min_prompt_tokens"
        case maxPromptTokens = "max_prompt_tokens"
    }
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(minPromptTokens: Int? = nil, maxPromptTokens: Int? = nil, keywords: [String]? = nil,
                headers: [String: String]? = nil) {
        self.minPromptTokens = minPromptTokens
        self.maxPromptTokens = maxPromptTokens
        self.keywords = keywords
        self.headers = headers
    }
}
