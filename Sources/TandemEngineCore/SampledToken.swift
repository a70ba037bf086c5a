import TandemCore

/// A token with its log-probability under the processed distribution.
public struct TokenLogprob: Hashable, Sendable {
    public var token: TokenID
    public var logprob: Float

    public init(token: TokenID, logprob: Float) {
        self.token = token
        self.logprob = logprob
    }
}

/// The sampler's choice for one step.
public struct SampledToken: Hashable, Sendable {
    public var token: TokenID
    /// Log-probability of `token` (nil unless `topLogprobs` was requested).
    public var logprob: Float?
    /// The most likely tokens, best first (ties: lower id first).
    public var topLogprobs: [TokenLogprob]

    public init(token: TokenID, logprob: Float?, topLogprobs: [TokenLogprob]) {
        self.token = token
        self.logprob = logprob
        self.topLogprobs = topLogprobs
    }
}
