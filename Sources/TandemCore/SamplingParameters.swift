/// How the next token is chosen from the logits.
public struct SamplingParameters: Sendable, Codable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float
    /// Nucleus sampling: keep the smallest set of tokens whose probability sum reaches `topP`.
    public var topP: Float
    /// Keep only the `topK` most likely tokens (0 = no limit).
    public var topK: Int
    /// Drop tokens whose probability is below `minP` × the top probability (0 = off).
    public var minP: Float
    /// Seed of the request's random source; nil picks one.
    public var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case temperature
        case topP = "top_p"
        case topK = "top_k"
        case minP = "min_p"
        case seed
    }

    public init(temperature: Float = 0, topP: Float = 1, topK: Int = 0, minP: Float = 0, seed: UInt64? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.seed = seed
    }

    public static let greedy = SamplingParameters()
}

/// A model's recommended sampling settings (Hugging Face `generation_config.json`, a topology's
/// `defaults:`): what a request that leaves a field out gets. nil fields fall back to OpenAI's
/// defaults: temperature 1, top_p 1, no top-k, min-p or repetition penalty.
public struct SamplingDefaults: Sendable, Codable, Equatable {
    public var temperature: Float?
    public var topP: Float?
    /// 0 (or −1, as vLLM and Hugging Face spell it) = off.
    public var topK: Int?
    public var minP: Float?
    public var repetitionPenalty: Float?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case temperature
        case topP = "top_p"
        case topK = "top_k"
        case minP = "min_p"
        case repetitionPenalty = "repetition_penalty"
    }

    /// The keys of the JSON form, in a fixed order.
    public static let keys = CodingKeys.allCases.map(\.rawValue)

    public init(temperature: Float? = nil, topP: Float? = nil, topK: Int? = nil, minP: Float? = nil,
                repetitionPenalty: Float? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }

    /// OpenAI's defaults, every field set.
    public static let openAI = SamplingDefaults(temperature: 1, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1)

    public var isEmpty: Bool { self == SamplingDefaults() }

    /// Each field of `self`, else of `fallback`.
    public func merged(over fallback: SamplingDefaults) -> SamplingDefaults {
        SamplingDefaults(temperature: temperature ?? fallback.temperature, topP: topP ?? fallback.topP,
                         topK: topK ?? fallback.topK, minP: minP ?? fallback.minP,
                         repetitionPenalty: repetitionPenalty ?? fallback.repetitionPenalty)
    }

    /// Every field set: `self` over OpenAI's defaults, top-k −1 written as 0.
    public var resolved: SamplingDefaults {
        var r = merged(over: .openAI)
        if r.topK == -1 { r.topK = 0 }
        return r
    }

    /// The first field outside the range a request may ask for (the request's rules), or nil.
    public func validationProblem() -> String? {
        if let t = temperature, !(t >= 0 && t <= 2) { return "temperature must be in [0, 2], got \(t)" }
        if let p = topP, !(p > 0 && p <= 1) { return "top_p must be in (0, 1], got \(p)" }
        if let k = topK, k < -1 { return "top_k must be -1, 0 (off) or a positive integer, got \(k)" }
        if let m = minP, !(m >= 0 && m <= 1) { return "min_p must be in [0, 1], got \(m)" }
        if let r = repetitionPenalty, !(r > 0 && r <= SamplingDefaults.maxRepetitionPenalty) {
            return "repetition_penalty must be in (0, \(Int(SamplingDefaults.maxRepetitionPenalty))], got \(r)"
        }
        return nil
    }

    /// Largest accepted repetition penalty (requests and defaults alike).
    public static let maxRepetitionPenalty: Float = 100
}
