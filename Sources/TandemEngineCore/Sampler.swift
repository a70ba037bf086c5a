import TandemCore
import TandemGrammar

/// Chooses the next tokens of one request from the model's logits, and keeps what that needs
/// between steps (the seeded random source, token counts for penalties).
///
/// Pipeline, in the order vLLM and Hugging Face apply it:
/// 0. the output constraint's mask (tokens that would leave the grammar become −∞; end tokens
///    only where the output is complete), so nothing below can bring a masked token back; with a
///    `ConstraintGate`, none inside a reasoning block;
/// 1. logit bias;
/// 2. repetition penalty (CTRL, Keskar et al. 2019; HF semantics) over prompt and output tokens:
///    `l > 0 ? l / r : l * r`;
/// 3. frequency and presence penalties (OpenAI semantics) over output tokens:
///    `l − count·frequency − (count > 0 ? presence : 0)`;
/// 4. temperature 0: argmax, lowest id on exact ties, no random draw; otherwise
///    `l / temperature`, then top-k, top-p (nucleus, Holtzman et al. 2020) and min-p masks, and
///    one uniform draw from xoshiro256** walked over the kept tokens in ascending id order.
///
/// Log-probabilities are the log-softmax of that processed distribution: over the kept tokens
/// when sampling, over all tokens at temperature 1 when greedy.
public struct Sampler: Sendable {
    public let configuration: SamplingConfiguration
    /// The seed in effect: the request's, else the engine-supplied default.
    public let seed: UInt64
    public private(set) var random: Xoshiro256StarStar
    private var outputCounts: [TokenID: Int] = [:]
    private var contextTokens: Set<TokenID>
    /// Where the output stands in the request's constraint (nil: unconstrained).
    public private(set) var matcher: GrammarMatcher?
    /// Where the output stands relative to a reasoning block (`SamplingConfiguration.constraintGate`).
    public enum GatePhase: Sendable, Equatable {
        /// First token: the open tag or a token the constraint allows.
        case awaitingOpen
        /// Inside the reasoning block: unconstrained until the close tag.
        case reasoning
        /// The constraint applies (also: no gate).
        case constrained
    }

    public private(set) var gatePhase = GatePhase.constrained

    /// `defaultSeed` is used when the request set none; the engine draws it from its own random
    /// source, which keeps this type deterministic.
    public init(configuration: SamplingConfiguration, promptTokens: [TokenID], defaultSeed: UInt64) throws(EngineCoreError) {
        if let problem = configuration.validationProblem() {
            throw EngineCoreError(.invalidRequest, problem)
        }
        self.configuration = configuration
        seed = configuration.parameters.seed ?? defaultSeed
        random = Xoshiro256StarStar(seed: seed)
        contextTokens = Set(promptTokens)
        matcher = configuration.constraint.map { GrammarMatcher($0.grammar) }
        if matcher != nil, let gate = configuration.constraintGate {
            gatePhase = gate.startsInReasoning ? .reasoning : gate.openToken != nil ? .awaitingOpen : .constrained
        }
    }

    /// The tokens allowed at this step (nil: any): the constraint's mask, none inside a reasoning
    /// block, the mask plus the open tag before the first token of a gated constraint.
    private func currentMask() -> TokenMask? {
        guard let matcher else { return nil }
        switch gatePhase {
        case .constrained: return matcher.allowedTokens()
        case .reasoning: return nil
        case .awaitingOpen:
            let mask = matcher.allowedTokens()
            return configuration.constraintGate?.openToken.map { mask.inserting($0) } ?? mask
        }
    }

    /// Picks the next token and records it for the penalties.
    public mutating func sample(logits: [Float]) throws(EngineCoreError) -> SampledToken {
        guard !logits.isEmpty else { throw EngineCoreError(.emptyLogits, "no logits to sample from") }
        // The constraint's mask, fetched once for this step.
        let mask = currentMask()
        if let mask, mask.isEmpty {
            throw EngineCoreError(.emptyLogits, "the output constraint allows no token here")
        }
        let processed = penalizedLogits(logits, mask: mask)
        let token: Int
        var distribution: [TokenLogprob] = []
        if configuration.isGreedy {
            token = Self.argmax(processed)
            if configuration.topLogprobs != nil { distribution = Self.logSoftmax(processed) }
        } else {
            distribution = samplingDistribution(processed)
            token = draw(from: distribution) ?? Self.argmax(processed)
        }
        record(TokenID(token))
        guard let count = configuration.topLogprobs else {
            return SampledToken(token: TokenID(token), logprob: nil, topLogprobs: [])
        }
        let logprob = distribution.first { $0.token == TokenID(token) }?.logprob ?? -.infinity
        return SampledToken(token: TokenID(token), logprob: logprob, topLogprobs: Self.best(count, of: distribution))
    }

    /// Counts a token the sampler did not choose (forced by the engine) toward the penalties.
    public mutating func record(_ token: TokenID) {
        outputCounts[token, default: 0] += 1
        contextTokens.insert(token)
        guard matcher != nil else { return }
        switch gatePhase {
        case .constrained:
            matcher?.accept(token)
        case .awaitingOpen:
            if token == configuration.constraintGate?.openToken {
                gatePhase = .reasoning
            } else {
                gatePhase = .constrained
                matcher?.accept(token)
            }
        case .reasoning:
            if token == configuration.constraintGate?.closeToken { gatePhase = .constrained }
        }
    }

    /// Steps 0–3 of the pipeline; NaN logits become −∞.
    public func penalizedLogits(_ logits: [Float]) -> [Float] {
        penalizedLogits(logits, mask: currentMask())
    }

    private func penalizedLogits(_ logits: [Float], mask: TokenMask?) -> [Float] {
        var result = logits.map { $0.isNaN ? -Float.infinity : $0 }
        mask?.apply(to: &result)
        for (token, bias) in configuration.logitBias where Int(token) >= 0 && Int(token) < result.count {
            result[Int(token)] += bias
        }
        let r = configuration.repetitionPenalty
        if r != 1 {
            for token in contextTokens where Int(token) >= 0 && Int(token) < result.count {
                let l = result[Int(token)]
                result[Int(token)] = l > 0 ? l / r : l * r
            }
        }
        let frequency = configuration.frequencyPenalty
        let presence = configuration.presencePenalty
        if frequency != 0 || presence != 0 {
            for (token, count) in outputCounts where Int(token) >= 0 && Int(token) < result.count {
                result[Int(token)] -= Float(count) * frequency + presence
            }
        }
        return result
    }

    /// The processed distribution for these raw logits: the tokens that may be chosen, in
    /// ascending id order, with their log-probabilities.
    public func distribution(forLogits logits: [Float]) -> [TokenLogprob] {
        let processed = penalizedLogits(logits)
        return configuration.isGreedy ? Self.logSoftmax(processed) : samplingDistribution(processed)
    }

    private func samplingDistribution(_ processed: [Float]) -> [TokenLogprob] {
        let p = configuration.parameters
        let scaled = processed.map { $0 / p.temperature }
        let kept = Self.keptTokens(scaled, topK: p.topK, topP: p.topP, minP: p.minP)
        return Self.logSoftmax(scaled, over: kept)
    }

    private mutating func draw(from distribution: [TokenLogprob]) -> Int? {
        guard let last = distribution.last else { return nil }
        let u = random.nextUnitDouble()
        var cumulative = 0.0
        for entry in distribution {
            cumulative += naturalExp(Double(entry.logprob))
            if u < cumulative { return Int(entry.token) }
        }
        return Int(last.token)
    }
}
