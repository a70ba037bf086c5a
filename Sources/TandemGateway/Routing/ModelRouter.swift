import TandemAPI

/// What the model router knows about a model: its price and speed.
public struct ModelProfile: Sendable, Equatable {
    public var name: String
    public var costPerToken: Double
    public var expectedLatencyMs: Int
    public var defaultMaxTokens: Int

    public init(name: String, costPerToken: Double = 0, expectedLatencyMs: Int = 1000, defaultMaxTokens: Int = 512) {
        self.name = name
        self.costPerToken = costPerToken
        self.expectedLatencyMs = expectedLatencyMs
        self.defaultMaxTokens = defaultMaxTokens
    }

    /// Estimated dollars for a request of `promptTokens` asking for `maxTokens`.
    public func estimatedCost(promptTokens: Int, maxTokens: Int?) -> Double {
        Double(promptTokens + (maxTokens ?? defaultMaxTokens)) * costPerToken
    }
}

/// The features of a request a policy decides on, extracted once from the request and its headers.
public struct RequestFeatures: Sendable, Equatable {
    public var promptTokens: Int
    public var maxTokens: Int?
    /// Lower-cased text the keyword classifier looks at (the last user message).
    public var classifierText: String
    /// Request headers with lower-cased names.
    public var headers: [String: String]
    /// `X-Tandem-Max-Cost`: most dollars this request may cost.
    public var maxCost: Double?
    /// `X-Tandem-Max-Latency-Ms`.
    public var maxLatencyMs: Int?

    public init(promptTokens: Int, maxTokens: Int? = nil, classifierText: String = "", headers: [String: String] = [:],
                maxCost: Double? = nil, maxLatencyMs: Int? = nil) {
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.classifierText = classifierText.lowercased()
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, b in b })
        self.maxCost = maxCost
        self.maxLatencyMs = maxLatencyMs
    }

    /// Reads the constraint headers; a malformed value is a 400 naming the header.
    public static func make(request: CompletionRequest, headers: [String: String]) throws(APIError) -> RequestFeatures {
        let lower = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, b in b })
        var maxCost: Double?
        if let raw = lower[TandemHeader.maxCost.lowercased()] {
            guard let v = Double(raw.trimmingSpaces), v.isFinite, v >= 0 else {
                throw .invalidField(TandemHeader.maxCost, "Header \(TandemHeader.maxCost) must be a non-negative number of dollars, got '\(raw)'.")
            }
            maxCost = v
        }
        var maxLatency: Int?
        if let raw = lower[TandemHeader.maxLatencyMs.lowercased()] {
            guard let v = Int(raw.trimmingSpaces), v > 0 else {
                throw .invalidField(TandemHeader.maxLatencyMs, "Header \(TandemHeader.maxLatencyMs) must be a positive integer, got '\(raw)'.")
            }
            maxLatency = v
        }
        return RequestFeatures(promptTokens: request.estimatedPromptTokens, maxTokens: request.maxTokens,
                               classifierText: request.lastUserText, headers: lower, maxCost: maxCost, maxLatencyMs: maxLatency)
    }
}

/// The model a policy chose and why.
public struct ModelDecision: Sendable, Equatable {
    public var model: String
    /// `rule:<name>`, `default`, or `constraint`.
    public var reason: String
}

/// Why a policy could not choose.
public enum ModelDecisionError: Error, Sendable, Equatable {
    /// The constraint headers exclude every candidate.
    case noCandidateMeetsConstraints
    /// The tenant may use none of the candidates.
    case noPermittedCandidate
}

/// Model choice for policy names like `auto`: a pure function of the policy, the model
/// profiles, the tenant's permissions and the request's features.
public enum ModelRouter {
    public static func decide(policy: RoutingPolicy, profiles: [String: ModelProfile],
                              permitted: (String) -> Bool, features: RequestFeatures) -> Result<ModelDecision, ModelDecisionError> {
        let permittedCandidates = policy.candidateModels.filter { profiles[$0] != nil && permitted($0) }
        guard !permittedCandidates.isEmpty else { return .failure(.noPermittedCandidate) }
        let eligible = permittedCandidates.filter { meets(profiles[$0]!, features) }
        guard !eligible.isEmpty else { return .failure(.noCandidateMeetsConstraints) }

        for rule in policy.rules where eligible.contains(rule.model) && matches(rule.when, features) {
            return .success(ModelDecision(model: rule.model, reason: "rule:\(rule.name)"))
        }
        if eligible.contains(policy.default) {
            return .success(ModelDecision(model: policy.default, reason: "default"))
        }
        // The default is excluded: the cheapest eligible model (the fastest under a latency-only constraint).
        let byPreference = eligible.map { profiles[$0]! }.sorted { a, b in
            if features.maxCost == nil, features.maxLatencyMs != nil, a.expectedLatencyMs != b.expectedLatencyMs {
                return a.expectedLatencyMs < b.expectedLatencyMs
            }
            if a.costPerToken != b.costPerToken { return a.costPerToken < b.costPerToken }
            return a.expectedLatencyMs < b.expectedLatencyMs
        }
        return .success(ModelDecision(model: byPreference[0].name, reason: "constraint"))
    }

    /// Whether a model satisfies the request's cost and latency headers.
    public static func meets(_ profile: ModelProfile, _ f: RequestFeatures) -> Bool {
        if let maxCost = f.maxCost, profile.estimatedCost(promptTokens: f.promptTokens, maxTokens: f.maxTokens) > maxCost { return false }
        if let maxLatency = f.maxLatencyMs, profile.expectedLatencyMs > maxLatency { return false }
        return true
    }

    public static func matches(_ c: RuleCondition, _ f: RequestFeatures) -> Bool {
        if let min = c.minPromptTokens, f.promptTokens < min { return false }
        if let max = c.maxPromptTokens, f.promptTokens > max { return false }
        if let keywords = c.keywords, !keywords.contains(where: { f.classifierText.contains($0.lowercased()) }) { return false }
        if let headers = c.headers {
            for (name, expected) in headers {
                guard let actual = f.headers[name.lowercased()] else { return false }
                if expected != "*" && actual != expected { return false }
            }
        }
        return true
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
