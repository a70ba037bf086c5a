/// A model the gateway serves: its names, where it runs, what it costs, how it behaves.
public struct GatewayModelConfiguration: Codable, Sendable, Equatable {
    public var name: String
    /// Other names that select this model directly.
    public var aliases: [String]
    public var deployments: [DeploymentConfiguration]
    /// Blended price per token (prompt and generated) in dollars, for `X-Tandem-Max-Cost`.
    public var costPerToken: Double
    /// Typical end-to-end latency, for `X-Tandem-Max-Latency-Ms`.
    public var expectedLatencyMs: Int
    /// Whether the model thinks before answering (`reasoning_content`).
    public var reasoning: Bool
    /// Smallest `max_tokens` that leaves room to reason; 0 = no floor.
    public var reasoningTokenFloor: Int
    /// What a request below the floor gets: `warn` (an `X-Tandem-Warning` header) or `reject` (400).
    public var reasoningFloorAction: FloorAction
    /// Model to answer instead when every deployment of this one is unavailable. Without it an
    /// unavailable model is a 503.
    public var fallback: String?
    /// Longest prompt accepted, in (estimated) tokens; 413 above. nil: the upstream decides.
    public var maxPromptTokens: Int?
    /// `max_tokens` assumed for cost and rate-limit estimates when the request gives none.
    public var defaultMaxTokens: Int
    /// What a request costs by kind of token (`prices`); nil: `cost_per_token` for every token.
    public var prices: TokenPrices?

    /// Dollars a request with these token counts costs (usage records, spend metrics).
    public func cost(promptTokens: Int, cachedTokens: Int, completionTokens: Int) -> Double {
        guard let p = prices else { return costPerToken * Double(promptTokens + completionTokens) }
        return p.cost(promptTokens: promptTokens, cachedTokens: cachedTokens, completionTokens: completionTokens)
    }

    /// What happens to a request whose `max_tokens` is below the reasoning floor.
    public enum FloorAction: String, Codable, Sendable, Equatable, CaseIterable {
        case warn, reject
    }

    enum CodingKeys: String, CodingKey {
        case name, aliases, deployments, reasoning, fallback
        case costPerToken = "cost_per_token"
        case expectedLatencyMs = "expected_latency_ms"
        case reasoningTokenFloor = "reasoning_token_floor"
        case reasoningFloorAction = "reasoning_floor_action"
        case maxPromptTokens = "max_prompt_tokens"
        case defaultMaxTokens = "default_max_tokens"
        case prices
    }

    public init(name: String, aliases: [String] = [], deployments: [DeploymentConfiguration],
                costPerToken: Double = 0, expectedLatencyMs: Int = 1000, reasoning: Bool = false,
                reasoningTokenFloor: Int = 0, reasoningFloorAction: FloorAction = .warn,
                fallback: String? = nil, maxPromptTokens: Int? = nil, defaultMaxTokens: Int = 512) {
        self.name = name
        self.aliases = aliases
        self.deployments = deployments
        self.costPerToken = costPerToken
        self.expectedLatencyMs = expectedLatencyMs
        self.reasoning = reasoning
        self.reasoningTokenFloor = reasoningTokenFloor
        self.reasoningFloorAction = reasoningFloorAction
        self.fallback = fallback
        self.maxPromptTokens = maxPromptTokens
        self.defaultMaxTokens = defaultMaxTokens
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        aliases = try c.decodeIfPresent([String].self, forKey: .aliases) ?? []
        deployments = try c.decode([DeploymentConfiguration].self, forKey: .deployments)
        costPerToken = try c.decodeIfPresent(Double.self, forKey: .costPerToken) ?? 0
        expectedLatencyMs = try c.decodeIfPresent(Int.self, forKey: .expectedLatencyMs) ?? 1000
        reasoning = try c.decodeIfPresent(Bool.self, forKey: .reasoning) ?? false
        reasoningTokenFloor = try c.decodeIfPresent(Int.self, forKey: .reasoningTokenFloor) ?? 0
        reasoningFloorAction = try c.decodeIfPresent(FloorAction.self, forKey: .reasoningFloorAction) ?? .warn
        fallback = try c.decodeIfPresent(String.self, forKey: .fallback)
        maxPromptTokens = try c.decodeIfPresent(Int.self, forKey: .maxPromptTokens)
        defaultMaxTokens = try c.decodeIfPresent(Int.self, forKey: .defaultMaxTokens) ?? 512
        prices = try c.decodeIfPresent(TokenPrices.self, forKey: .prices)
    }
}

/// Dollars per million tokens, by kind: prompt tokens computed, prompt tokens served from the
/// prefix cache (default: the input price), generated tokens (reasoning included).
public struct TokenPrices: Codable, Sendable, Equatable {
    public var inputPerMillion: Double
    public var cachedInputPerMillion: Double?
    public var outputPerMillion: Double

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inputPerMillion = "input_per_million"
        case cachedInputPerMillion = "cached_input_per_million"
        case outputPerMillion = "output_per_million"
    }

    public init(inputPerMillion: Double, cachedInputPerMillion: Double? = nil, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.cachedInputPerMillion = cachedInputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    /// Dollars for these token counts: cached prompt tokens at the cached price (the input price
    /// when there is none), reasoning tokens among the completion tokens at the output price.
    public func cost(promptTokens: Int, cachedTokens: Int, completionTokens: Int) -> Double {
        let cached = min(cachedTokens, promptTokens)
        return (Double(promptTokens - cached) * inputPerMillion + Double(cached) * (cachedInputPerMillion ?? inputPerMillion)
                + Double(completionTokens) * outputPerMillion) / 1_000_000
    }

}

/// One replica of a model: a coordinator of ours, or an OpenAI-compatible upstream the
/// configuration names explicitly.
public struct DeploymentConfiguration: Codable, Sendable, Equatable {
    /// What sits behind the URL.
    public enum Kind: String, Codable, Sendable, Equatable {
        /// A Tandem coordinator: receives the tenant and cache-salt headers.
        case coordinator
        /// Any other OpenAI-compatible server: receives neither, but may get an API key.
        case external
    }

    /// Base URL, e.g. `http://10.0.0.2:8001` (the `/v1/...` paths are appended).
    public var url: String
    public var kind: Kind
    /// The model name to send upstream (default: the gateway's model name).
    public var upstreamModel: String?
    /// Environment variable holding the bearer token for an external upstream.
    public var apiKeyEnv: String?
    /// Most requests in flight at once on this replica (nil: unlimited); beyond it the router
    /// picks another replica or answers 503.
    public var maxConcurrent: Int?
    /// File holding the coordinator's internal key (`tandem serve --internal-key-file`), sent as
    /// `Authorization: Bearer <key>` on every call to it; relative to the configuration file.
    public var internalKeyFile: String?
    /// The key read from `internalKeyFile` by the loader (never decoded from the configuration).
    public var internalKey: String?

    enum CodingKeys: String, CodingKey {
        case url, kind
        case upstreamModel = "upstream_model"
        case apiKeyEnv = "api_key_env"
        case maxConcurrent = "max_concurrent"
        case internalKeyFile = "internal_key_file"
    }

    public init(url: String, kind: Kind = .coordinator, upstreamModel: String? = nil, apiKeyEnv: String? = nil,
                maxConcurrent: Int? = nil) {
        self.url = url
        self.kind = kind
        self.upstreamModel = upstreamModel
        self.apiKeyEnv = apiKeyEnv
        self.maxConcurrent = maxConcurrent
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? .coordinator
        upstreamModel = try c.decodeIfPresent(String.self, forKey: .upstreamModel)
        apiKeyEnv = try c.decodeIfPresent(String.self, forKey: .apiKeyEnv)
        maxConcurrent = try c.decodeIfPresent(Int.self, forKey: .maxConcurrent)
        internalKeyFile = try c.decodeIfPresent(String.self, forKey: .internalKeyFile)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(url, forKey: .url)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(upstreamModel, forKey: .upstreamModel)
        try c.encodeIfPresent(apiKeyEnv, forKey: .apiKeyEnv)
        try c.encodeIfPresent(maxConcurrent, forKey: .maxConcurrent)
        try c.encodeIfPresent(internalKeyFile, forKey: .internalKeyFile)
    }
}
