import TandemCore

/// What the model runner reports after executing a `SchedulerOutput`.
public struct StepResult: Sendable, Equatable {
    /// Per sequence with `samplesToken`: the token(s) to append, normally one. More than one
    /// appends them all (e.g. a forced reasoning close tag); they are prefilled next step.
    public var sampledTokens: [RequestID: [TokenID]]

    public init(sampledTokens: [RequestID: [TokenID]]) {
        self.sampledTokens = sampledTokens
    }

    /// One sampled token per sequence.
    public init(tokens: [RequestID: TokenID]) {
        self.sampledTokens = tokens.mapValues { [$0] }
    }
}
