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
