import TandemCore
import TandemEngineCore

/// One generation request as callers hand it to the `Engine`.
public struct EngineRequest: Sendable {
    public var id: RequestID
    public var promptTokens: [TokenID]
    public var maxTokens: Int
    /// The client set no limit: `maxTokens` is capped at what the K/V pool can hold.
    public var capToPool: Bool
    public var sampling: SamplingConfiguration
    /// Stop strings matched on the decoded text (never emitted).
    public var stopStrings: [String]
    /// Extra stop token ids beyond the model's own end-of-turn tokens.
    public var stopTokenIDs: Set<TokenID>
    /// Do not stop at the model's end-of-turn tokens (benchmarks that need fixed lengths).
    public var ignoreEndOfSequence: Bool
    /// Prefix-cache isolation (the tenant's salt, set by the gateway).
    public var cacheSalt: CacheSalt
    public var priority: Int
    /// Split `<think>…</think>`-style text into reasoning and answer; optional budget.
    public var reasoning: ReasoningConfiguration?
    /// Let the engine draft and verify tokens for this request when the deployment speculates
    /// (false: one token per step, as without speculation). Either way the tokens are the same.
    public var speculative = true
    /// Tokens the answer is expected to repeat (OpenAI's `prediction`): drafted from beside the
    /// prompt when the deployment speculates.
    public var predictedTokens: [TokenID] = []

    public init(id: RequestID, promptTokens: [TokenID], maxTokens: Int, sampling: SamplingConfiguration = .greedy,
                stopStrings: [String] = [], stopTokenIDs: Set<TokenID> = [], ignoreEndOfSequence: Bool = false,
                cacheSalt: CacheSalt = .shared, priority: Int = 0, reasoning: ReasoningConfiguration? = nil,
                capToPool: Bool = false) {
        self.id = id
        self.capToPool = capToPool
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopTokenIDs = stopTokenIDs
        self.ignoreEndOfSequence = ignoreEndOfSequence
        self.cacheSalt = cacheSalt
        self.priority = priority
        self.reasoning = reasoning
    }
}

/// Token counts of one request (OpenAI `usage`).
public struct EngineUsage: Sendable, Equatable {
    public var promptTokens: Int
    /// Prompt tokens whose K/V came from the prefix cache (`prompt_tokens_details.cached_tokens`).
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    public var reasoningTokens: Int
    /// Speculative decoding: draft tokens the model accepted (counted in `completionTokens`) and
    /// rejected (`completion_tokens_details.accepted_prediction_tokens` / `rejected_prediction_tokens`).
    public var acceptedDraftTokens = 0
    public var rejectedDraftTokens = 0

    public init(promptTokens: Int, cachedPromptTokens: Int, completionTokens: Int, reasoningTokens: Int,
                acceptedDraftTokens: Int = 0, rejectedDraftTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.completionTokens = completionTokens
        self.reasoningTokens = reasoningTokens
        self.acceptedDraftTokens = acceptedDraftTokens
        self.rejectedDraftTokens = rejectedDraftTokens
    }
}

/// What the engine streams for one request, in order: text deltas, then exactly one `.finished`.
/// An error (e.g. a failed step) is thrown from the stream instead of `.finished`.
public enum EngineEvent: Sendable, Equatable {
    /// New text (answer and/or reasoning) and the tokens that produced it.
    case delta(content: String, reasoning: String, tokens: [TokenID], logprobs: [SampledToken])
    case finished(reason: FinishReason, usage: EngineUsage)
}

/// Errors the engine reports for a request or for itself.
public struct EngineError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// Rejected at submission (queue full, prompt too long, bad parameters).
        case rejected
        /// A step failed (a worker died, the link broke); the engine is unhealthy.
        case stepFailed
        /// The engine is shutting down or stopped.
        case shutDown
    }
    public let kind: Kind
    public let message: String
    /// The scheduler's code for `.rejected` (over capacity, prompt too long, ...).
    public let code: EngineCoreError.Code?

    public init(_ kind: Kind, _ message: String, code: EngineCoreError.Code? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Where a mixture of experts' traffic went: tokens routed to each expert (summed over layers)
/// and the experts each rank holds.
public struct ExpertLoad: Sendable, Equatable {
    public var tokens: [Int]
    public var rankExperts: [Range<Int>]

    public init(tokens: [Int], rankExperts: [Range<Int>]) {
        self.tokens = tokens
        self.rankExperts = rankExperts
    }

    /// Tokens per rank: each rank's experts' tokens. Under tensor parallelism every rank holds
    /// every expert, so every rank counts them all.
    public var rankTokens: [Int] {
        rankExperts.map { r in r.reduce(0) { $0 + (tokens.indices.contains($1) ? tokens[$1] : 0) } }
    }

    /// The busiest rank and its share of the expert work when the ranks hold different experts
    /// and it has more than `threshold` times its fair share (1/ranks); nil otherwise.
    public func skew(threshold: Double = 1.5) -> (rank: Int, share: Double)? {
        let per = rankTokens
        let total = per.reduce(0, +)
        guard per.count > 1, total > 0, Set(rankExperts).count > 1 else { return nil }
        let busiest = per.indices.max { per[$0] < per[$1] }!
        let share = Double(per[busiest]) / Double(total)
        return share > threshold / Double(per.count) ? (busiest, share) : nil
    }
}

/// A snapshot of the engine for metrics and routing.
public struct EngineStats: Sendable, Equatable {
    public var running = 0
    public var waiting = 0
    public var kvBlocksTotal = 0
    public var kvBlocksUsed = 0
    /// Prompt tokens whose K/V came from the prefix cache, over all admissions.
    public var prefixHitTokens = 0
    /// Prompt tokens looked up in the prefix cache (every new admission's prompt while prefix
    /// caching is on), the denominator of the hit rate.
    public var prefixQueriedTokens = 0
    /// Running sequences preempted (blocks freed, recomputed later) to make room.
    public var preemptions = 0
    public var promptTokens = 0
    /// Prompt tokens whose K/V was computed (not from the prefix cache, not shared by a fork).
    public var prefillTokens = 0
    public var generatedTokens = 0
    public var steps = 0
    /// Speculative decoding: draft tokens scored, and those the target model accepted.
    public var specProposedTokens = 0
    public var specAcceptedTokens = 0
    /// Verifications by how many draft tokens were accepted (index 0 ... maxDraftTokens).
    public var specAcceptedLengths: [Int] = []
    /// Steps that had drafts but ran without them because the cost model said drafting would not pay.
    public var specSkippedSteps = 0
    public var healthy = true
    public var lastError: String?
    /// MoE models: tokens routed per expert and per rank (nil for dense models).
    public var expertLoad: ExpertLoad?

    public var kvUsage: Double { kvBlocksTotal > 0 ? Double(kvBlocksUsed) / Double(kvBlocksTotal) : 0 }
}

extension EngineStats {
    /// The statistics as Prometheus text (exposition format 0.0.4), one family per value, each
    /// labelled with `model`: gauges for the state now, `_total` counters since start.
    public func prometheusText(model: String) -> String {
        let label = "{model=\"\(Self.escape(model))\"}"
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name)\(label) \(value)\n"
        }
        family("tandem_engine_running_sequences", "gauge", "Sequences holding KV blocks (being prefilled or decoded).", "\(running)")
        family("tandem_engine_waiting_sequences", "gauge", "Requests queued for admission.", "\(waiting)")
        family("tandem_engine_kv_blocks_used", "gauge", "KV blocks referenced by running sequences.", "\(kvBlocksUsed)")
        family("tandem_engine_kv_blocks_total", "gauge", "KV blocks in the pool (per rank).", "\(kvBlocksTotal)")
        family("tandem_engine_kv_usage_ratio", "gauge", "kv_blocks_used / kv_blocks_total.", "\(kvUsage)")
        family("tandem_engine_healthy", "gauge", "1 while every step succeeds, 0 after a failed step.", healthy ? "1" : "0")
        family("tandem_engine_prefix_cache_hit_tokens_total", "counter", "Prompt tokens served from the prefix cache.", "\(prefixHitTokens)")
        family("tandem_engine_prefix_cache_queried_tokens_total", "counter", "Prompt tokens looked up in the prefix cache.", "\(prefixQueriedTokens)")
        family("tandem_engine_preemptions_total", "counter", "Sequences preempted (KV freed, recomputed later).", "\(preemptions)")
        family("tandem_engine_prompt_tokens_total", "counter", "Prompt tokens submitted.", "\(promptTokens)")
        family("tandem_engine_prefill_tokens_total", "counter", "Prompt tokens whose K/V was computed (prefix-cache hits and forked choices excluded).", "\(prefillTokens)")
        family("tandem_engine_generation_tokens_total", "counter", "Tokens generated.", "\(generatedTokens)")
        family("tandem_engine_steps_total", "counter", "Engine steps run.", "\(steps)")
        family("tandem_spec_proposed_tokens_total", "counter", "Draft tokens verified by the target model (speculative decoding).", "\(specProposedTokens)")
        family("tandem_spec_accepted_tokens_total", "counter", "Draft tokens the target model accepted.", "\(specAcceptedTokens)")
        family("tandem_spec_skipped_steps_total", "counter", "Steps run without their drafts because the measured cost of verifying them would not pay.", "\(specSkippedSteps)")
        // One observation per verification: how many of its draft tokens were accepted.
        let name = "tandem_spec_acceptance_length"
        out += "# HELP \(name) Draft tokens accepted per verification.\n# TYPE \(name) histogram\n"
        var cumulative = 0, sum = 0
        for (accepted, n) in specAcceptedLengths.enumerated() {
            cumulative += n
            sum += accepted * n
            out += "\(name)_bucket{model=\"\(Self.escape(model))\",le=\"\(accepted)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{model=\"\(Self.escape(model))\",le=\"+Inf\"} \(cumulative)\n"
        out += "\(name)_sum\(label) \(sum)\n\(name)_count\(label) \(cumulative)\n"
        if let load = expertLoad {
            let m = Self.escape(model)
            out += "# HELP tandem_moe_expert_tokens_total Tokens routed to each expert, summed over layers.\n# TYPE tandem_moe_expert_tokens_total counter\n"
            for (e, n) in load.tokens.enumerated() { out += "tandem_moe_expert_tokens_total{model=\"\(m)\",expert=\"\(e)\"} \(n)\n" }
            out += "# HELP tandem_moe_rank_tokens_total Tokens routed to the experts each rank holds, summed over layers.\n# TYPE tandem_moe_rank_tokens_total counter\n"
            for (r, n) in load.rankTokens.enumerated() { out += "tandem_moe_rank_tokens_total{model=\"\(m)\",rank=\"\(r)\"} \(n)\n" }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
