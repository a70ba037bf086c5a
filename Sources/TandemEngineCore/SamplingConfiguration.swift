import TandemCore
import TandemGrammar

/// Everything that shapes how one request's next token is chosen: the core
/// `SamplingParameters` plus penalties, logit bias and log-probability reporting.
public struct SamplingConfiguration: Sendable, Equatable {
    public var parameters: SamplingParameters
    /// OpenAI `presence_penalty`: subtracted once from every token already generated.
    public var presencePenalty: Float
    /// OpenAI `frequency_penalty`: subtracted per occurrence among generated tokens.
    public var frequencyPenalty: Float
    /// CTRL / Hugging Face repetition penalty over prompt and output tokens: positive logits are
    /// divided by it, negative ones multiplied (1 = off).
    public var repetitionPenalty: Float
    /// Added to the logits of the given tokens before anything else (OpenAI `logit_bias`).
    public var logitBias: [TokenID: Float]
    /// nil: no log-probabilities; n: the sampled token's plus the n most likely alternatives.
    public var topLogprobs: Int?
    /// The output must stay inside this grammar (JSON Schema, regex, GBNF): tokens that would
    /// leave it are masked before anything else, end tokens are allowed only once it is complete.
    public var constraint: OutputConstraint?
    /// A reasoning model's answer follows its reasoning block: the constraint then applies from
    /// the token after the block's close tag (nil: from the first token).
    public var constraintGate: ConstraintGate?

    public init(parameters: SamplingParameters = .greedy, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                repetitionPenalty: Float = 1, logitBias: [TokenID: Float] = [:], topLogprobs: Int? = nil,
                constraint: OutputConstraint? = nil) {
        self.parameters = parameters
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repetitionPenalty = repetitionPenalty
        self.logitBias = logitBias
        self.topLogprobs = topLogprobs
        self.constraint = constraint
    }

    public static let greedy = SamplingConfiguration()

    /// Temperature 0 picks the argmax and draws no random numbers.
    public var isGreedy: Bool { parameters.temperature <= 0 }

    /// The reason the configuration is unusable, or nil.
    public func validationProblem() -> String? {
        let p = parameters
        if !(p.temperature >= 0) || !p.temperature.isFinite { return "temperature must be a finite value ≥ 0" }
        if !(p.topP > 0 && p.topP <= 1) { return "top_p must be in (0, 1]" }
        if p.topK < 0 { return "top_k must be ≥ 0" }
        if !(p.minP >= 0 && p.minP <= 1) { return "min_p must be in [0, 1]" }
        if !(repetitionPenalty > 0) || !repetitionPenalty.isFinite { return "repetition penalty must be a finite value > 0" }
        if !presencePenalty.isFinite || !frequencyPenalty.isFinite { return "penalties must be finite" }
        if let n = topLogprobs, n < 0 { return "top_logprobs must be ≥ 0" }
        return nil
    }
}

/// Where a constraint starts in a reasoning model's output, in tokens (each tag one token, as the
/// special tokens of Qwen3, DeepSeek-R1 and Nemotron are):
/// * `startsInReasoning`: the prompt already opened the block; unconstrained until `closeToken`;
/// * else the first token may be `openToken` (then unconstrained until `closeToken`) or any
///   token the constraint allows (then constrained from it on: a model that answers without
///   reasoning, as with Qwen3's `enable_thinking: false`).
/// The tags themselves are not fed to the constraint.
public struct ConstraintGate: Sendable, Equatable {
    public var openToken: TokenID?
    public var closeToken: TokenID
    public var startsInReasoning: Bool

    public init(openToken: TokenID?, closeToken: TokenID, startsInReasoning: Bool) {
        self.openToken = openToken
        self.closeToken = closeToken
        self.startsInReasoning = startsInReasoning
    }
}

/// A compiled grammar a request's output must follow, shared by every request with the same
/// constraint (equal when it is the same compiled grammar).
public struct OutputConstraint: Sendable, Equatable {
    public let grammar: CompiledGrammar
    /// How the client asked for it, for logs and errors (`json_schema`, `guided_regex`, ...).
    public let kind: String

    public init(_ grammar: CompiledGrammar, kind: String) {
        self.grammar = grammar
        self.kind = kind
    }

    public static func == (a: OutputConstraint, b: OutputConstraint) -> Bool { a.grammar === b.grammar && a.kind == b.kind }
}
