import TandemCore

/// What the model runner reports after executing a `SchedulerOutput`.
public struct StepResult: Sendable, Equatable {
    /// Per sequence with `samplesToken`: the token(s) to append, normally one. More than one
    /// appends them all (e.g. a forced reasoning close tag); they are prefilled next step.
    public var sampledTokens: [RequestID: [TokenID]]
    /// Per sequence that carried draft tokens: how many leading tokens of `sampledTokens` are
    /// draft tokens the target model accepted (their K/V was computed in this step; the last
    /// sampled token is the target's own and is computed next step). Absent: 0.
    public var acceptedDraftTokens: [RequestID: Int]

    public init(sampledTokens: [RequestID: [TokenID]], acceptedDraftTokens: [RequestID: Int] = [:]) {
        self.sampledTokens = sampledTokens
        self.acceptedDraftTokens = acceptedDraftTokens
    }

    /// One sampled token per sequence.
    public init(tokens: [RequestID: TokenID]) {
        self.sampledTokens = tokens.mapValues { [$0] }
        self.acceptedDraftTokens = [:]
    }
}
