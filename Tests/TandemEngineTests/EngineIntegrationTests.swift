import Foundation
import Testing
import TandemCore
import TandemEngineCore
import TandemModel
@testable import TandemEngine
import TandemTestSupport

/// The engine with the real stories260K model: batching, paging, prefix reuse, preemption.
@Suite("engine on stories260K")
struct EngineIntegrationTests {
    static let storiesDir = ProcessInfo.processInfo.environment["TANDEM_STORIES260K_DIR"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/../shared/models/stories260K"
    static let model: LoadedModel = try! ModelLoader.load(path: storiesDir + "/stories260K.bin")

    static func engine(blocks: Int = 256, blockSize: Int = 4, budget: Int = 64, maxRunning: Int = 16,
                       chunk: Int? = nil, policy: EvictionPolicy = .prefixAware, prefixCaching: Bool = true,
                       kvDType: KVCacheDType = .f32) throws -> Engine {
        let exec = try LocalStepExecutor(model: model, blockCount: blocks, blockSize: blockSize, kvDType: kvDType)
        let e = try Engine(model: model, executor: exec, configuration: EngineConfiguration(
            scheduler: SchedulerConfiguration(maxBatchedTokens: budget, maxRunningSequences: maxRunning,
                                              maxPrefillChunk: chunk, maxModelLength: 256, enablePrefixCaching: prefixCaching),
            evictionPolicy: policy, seed: 1))
        e.start()
        return e
    }

    static let prompts: [String] = [
        "Once upon a time", "The dog ran to the", "Lily and Ben were friends", "One day, a little bird",
        "Tom had a big red ball. He", "The sun was", "Mom said", "There was a cat named Tim who liked to play in the garden with his",
    ]

    static func referenceGreedy(_ prompt: [TokenID], count: Int) throws -> [TokenID] {
        let s = LlamaSession(model: model.model)
        var logits = try s.prefill(prompt)
        var out: [TokenID] = []
        for _ in 0..<count {
            let next = TokenID(logits.indices.max { logits[$0] < logits[$1] }!)
            out.append(next)
            if model.tokenizer.vocabulary.stopTokens.contains(next) { break }
            logits = try s.prefill([next])
        }
        return out
    }

    @Test("many concurrent requests with chunked prefill and preemption equal one-at-a-time greedy")
    func batchedEqualsSequential() async throws {
        // 24 blocks of 4 tokens cannot hold 8 sequences of ~40 tokens: preemption must happen.
        let engine = try Self.engine(blocks: 24, blockSize: 4, budget: 16, maxRunning: 8, chunk: 8)
        defer { engine.shutdown() }
        let ids = Self.prompts.map { Self.model.tokenizer.encode($0) }
        let results = try await withThrowingTaskGroup(of: (Int, [TokenID]).self) { group in
            for (i, p) in ids.enumerated() {
                group.addTask {
                    let r = try await engine.generate(EngineRequest(id: RequestID("r\(i)"), promptTokens: p, maxTokens: 24))
                    return (i, r.tokens)
                }
            }
            var out = [[TokenID]](repeating: [], count: ids.count)
            for try await (i, t) in group { out[i] = t }
            return out
        }
        for (i, p) in ids.enumerated() {
            let expected = try Self.referenceGreedy(p, count: 24).filter { !Self.model.tokenizer.vocabulary.stopTokens.contains($0) }
            #expect(results[i] == expected, "prompt \(i): \(Self.prompts[i])")
        }
        #expect(engine.statistics.steps > 8)
        #expect(engine.statistics.preemptions > 0)
    }

    @Test("cached prompt tokens never exceed the prompt, also for requests resumed after preemption")
    func cachedTokensStayWithinThePromptUnderPreemption() async throws {
        // 20 blocks of 4 for 8 sequences of up to 60 tokens: preempted sequences come back with
        // their own prompt and output blocks cached.
        let engine = try Self.engine(blocks: 20, blockSize: 4, budget: 32, maxRunning: 8, chunk: 16)
        defer { engine.shutdown() }
        let ids = Self.prompts.map { Self.model.tokenizer.encode($0) }
        let usages = try await withThrowingTaskGroup(of: EngineUsage.self) { group in
            for (i, p) in ids.enumerated() {
                group.addTask {
                    try await engine.generate(EngineRequest(id: RequestID("c\(i)"), promptTokens: p, maxTokens: 40)).usage
                }
            }
            var out: [EngineUsage] = []
            for try await u in group { out.append(u) }
            return out
        }
        #expect(engine.statistics.preemptions > 0)
        for u in usages {
            #expect(u.cachedPromptTokens <= u.promptTokens, "\(u)")
        }
        #expect(engine.statistics.prefixHitTokens <= engine.statistics.prefixQueriedTokens)
    }

    /// Greedy completions of every prompt, run together on `engine`.
    static func greedyAll(_ engine: Engine, _ prompts: [[TokenID]], maxTokens: Int) async throws -> [[TokenID]] {
        try await withThrowingTaskGroup(of: (Int, [TokenID]).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask {
                    let r = try await engine.generate(EngineRequest(id: RequestID("g\(i)"), promptTokens: p, maxTokens: maxTokens,
                                                                    ignoreEndOfSequence: true))
                    return (i, r.tokens)
                }
            }
            var out = [[TokenID]](repeating: [], count: prompts.count)
            for try await (i, t) in group { out[i] = t }
            return out
        }
    }

    /// Greedy ids of `prompts` with FP8 K/V from the independent float64 NumPy reference
    /// (`python3 tools/reference/fp8_kv_greedy.py`: the same per-(token, KV head) E4M3
    /// quantisation of K after RoPE and of V, the rest of the forward pass in float64).
    static let fp8Golden: [[TokenID]] = [
        [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426],  // Once upon a time
        [282, 295, 433, 335, 345, 357, 426, 342, 397, 355, 267, 337, 335, 265, 315, 267, 422, 419, 426, 342, 397, 355, 267, 337, 335, 265, 315, 267, 422, 419, 426, 342, 397, 355, 267, 337, 267, 428, 316, 386],  // The dog ran to the
        [426, 342, 397, 355, 267, 337, 322, 265, 282, 295, 433, 426, 385, 328, 432, 366, 394, 261, 370, 268, 414, 444, 426, 342, 391, 266, 267, 337, 335, 265, 268, 414, 444, 426, 342, 391, 266, 267, 337, 267],  // Lily and Ben were friends
        [395, 368, 414, 430, 414, 286, 337, 299, 322, 265, 262, 433, 422, 426, 346, 394, 261, 370, 432, 262, 415, 271, 422, 268, 388, 426, 291, 268, 388, 286, 399, 262, 423, 388, 269, 381, 261, 370, 268, 388],  // One day, a little bird
        [397, 355, 267, 337, 335, 345, 267, 422, 419, 269, 352, 379, 261, 420, 277, 264, 426, 346, 394, 261, 370, 268, 388, 426, 346, 391, 266, 267, 337, 335, 312, 426, 346, 391, 266, 267, 337, 335, 312, 426],  // Tom had a big red ball. He
        [262, 415, 271, 299, 322, 265, 262, 379, 426, 359, 413, 286, 261, 370, 432, 352, 266, 268, 388, 426, 291, 262, 379, 286, 262, 415, 271, 299, 269, 262, 415, 271, 422, 426, 359, 413, 286, 261, 370, 432],  // The sun was
        [432, 313, 438, 316, 439, 419, 298, 414, 267, 265, 282, 295, 433, 426, 410, 448, 411, 280, 303, 272, 417, 264, 261, 370, 268, 414, 444, 426, 436, 13, 446, 287, 336, 432, 313, 452, 406, 432, 392, 287],  // Mom said
        [374, 419, 426, 342, 397, 355, 267, 337, 267, 428, 316, 386, 322, 265, 262, 379, 426, 385, 328, 432, 366, 394, 261, 370, 432, 352, 266, 268, 388, 426, 291, 268, 388, 286, 399, 262, 423, 388, 269, 381],  // There was a cat named Tim who liked to play in the garden with his
    ]

    /// FP8 K/V does not keep stories260K's greedy text: over 40 tokens 2 of these 8 prompts
    /// match FP32 K/V and the others part after 0 to 30 tokens (head_dim 8: one scale per 8
    /// values; teacher-forced top-1 agreement 0.977, FP8KVCacheTests). So the engine is held to
    /// the independent NumPy run of the same quantisation, id for id, which a kernel reading a
    /// scale, head or block wrongly does not meet; and to FP32 where the two agree.
    @Test("FP8 K/V: greedy generation of 40 tokens, batched, paged and chunked, equals the NumPy FP8 reference")
    func fp8GreedyEqualsTheReference() async throws {
        let ids = Self.prompts.map { Self.model.tokenizer.encode($0) }
        var results: [KVCacheDType: [[TokenID]]] = [:]
        for dtype in KVCacheDType.allCases {
            let engine = try Self.engine(blocks: 160, blockSize: 4, budget: 32, maxRunning: 8, chunk: 8, kvDType: dtype)
            defer { engine.shutdown() }
            results[dtype] = try await Self.greedyAll(engine, ids, maxTokens: 40)
        }
        for i in ids.indices {
            #expect(results[.fp8]![i] == Self.fp8Golden[i], "prompt \(i): \(Self.prompts[i])")
        }
        let same = ids.indices.filter { results[.fp8]![$0] == results[.f32]![$0] }
        #expect(same.count >= 2, "prompts whose FP8 text equals FP32: \(same) (measured: [0, 3])")
    }

    @Test("statistics count prefix-cache hits and lookups; with prefix caching off nothing is reused", arguments: [true, false])
    func prefixStatistics(caching: Bool) async throws {
        let engine = try Self.engine(blocks: 128, blockSize: 4, prefixCaching: caching)
        defer { engine.shutdown() }
        let p = Self.model.tokenizer.encode("There was a cat named Tim who liked to play in the garden with his friends every day")
        let first = try await engine.generate(EngineRequest(id: "p1", promptTokens: p, maxTokens: 4)).usage
        let second = try await engine.generate(EngineRequest(id: "p2", promptTokens: p, maxTokens: 4)).usage
        let s = engine.statistics
        #expect(first.cachedPromptTokens == 0)
        #expect(s.promptTokens == 2 * p.count)
        #expect(s.running == 0 && s.waiting == 0)
        #expect(s.kvBlocksTotal == 128)
        if caching {
            #expect(second.cachedPromptTokens > 0)
            #expect(s.prefixHitTokens == second.cachedPromptTokens)
            #expect(s.prefixQueriedTokens == 2 * p.count)
        } else {
            #expect(second.cachedPromptTokens == 0)
            #expect(s.prefixHitTokens == 0)
            #expect(s.prefixQueriedTokens == 0)
        }
        let text = s.prometheusText(model: "stories")
        #expect(text.contains("tandem_engine_prefix_cache_hit_tokens_total{model=\"stories\"} \(s.prefixHitTokens)\n"))
    }

    @Test func statisticsRenderAsPrometheusText() {
        var s = EngineStats()
        s.running = 2; s.waiting = 3; s.kvBlocksTotal = 10; s.kvBlocksUsed = 4; s.prefixHitTokens = 32
        s.prefixQueriedTokens = 64; s.preemptions = 1
        let text = s.prometheusText(model: "a\"b")
        #expect(text.contains("# TYPE tandem_engine_running_sequences gauge\ntandem_engine_running_sequences{model=\"a\\\"b\"} 2\n"))
        #expect(text.contains("tandem_engine_waiting_sequences{model=\"a\\\"b\"} 3\n"))
        #expect(text.contains("tandem_engine_kv_usage_ratio{model=\"a\\\"b\"} 0.4\n"))
        #expect(text.contains("# TYPE tandem_engine_prefix_cache_queried_tokens_total counter\n"))
        #expect(text.contains("tandem_engine_preemptions_total{model=\"a\\\"b\"} 1\n"))
    }

    @Test("the same tenant's second request reuses the prefix; another tenant shares nothing")
    func tenantIsolation() async throws {
        let engine = try Self.engine(blocks: 128, blockSize: 4)
        defer { engine.shutdown() }
        let p = Self.model.tokenizer.encode("There was a cat named Tim who liked to play in the garden with his friends every day")
        func run(_ id: String, _ tenant: String) async throws -> EngineUsage {
            try await engine.generate(EngineRequest(id: RequestID(id), promptTokens: p, maxTokens: 4,
                                                    cacheSalt: CacheSalt(tenant: tenant))).usage
        }
        let first = try await run("a1", "alpha")
        #expect(first.cachedPromptTokens == 0)
        let second = try await run("a2", "alpha")
        #expect(second.cachedPromptTokens == (p.count - 1) / 4 * 4)
        #expect(second.cachedPromptTokens > 0)
        let other = try await run("b1", "beta")
        #expect(other.cachedPromptTokens == 0)
    }

    @Test func stopStringsEndTheTextBeforeTheStop() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let r = try await engine.generate(EngineRequest(id: "s", promptTokens: [1], maxTokens: 60, stopStrings: ["Lily"]))
        #expect(r.text == "Once upon a time, there was a little girl named ")
        #expect(r.reason == .stopString("Lily"))
    }

    @Test("a stop string found by the text front ends the request in the engine and frees its sequence")
    func stopStringEndsTheRequestInTheEngine() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let r = try await engine.generate(EngineRequest(id: "s2", promptTokens: [1], maxTokens: 200, stopStrings: ["girl"],
                                                        ignoreEndOfSequence: true))
        #expect(r.reason == .stopString("girl"))
        #expect(r.usage.completionTokens == r.tokens.count)
        for _ in 0..<1000 where engine.statistics.running != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(engine.statistics.running == 0)
        // Far fewer than 200 tokens were generated: the engine stopped at the text's stop.
        #expect(engine.statistics.generatedTokens < 40)
    }

    @Test("the token stream carries exactly the tokens the text stream reports, and the scheduler's counts")
    func tokenStreamMatchesTextStream() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let p = Self.model.tokenizer.encode("Lily and Ben were friends")
        let text = try await engine.generate(EngineRequest(id: "t1", promptTokens: p, maxTokens: 30, ignoreEndOfSequence: true))
        var tokens: [TokenID] = []
        var usage: EngineUsage?
        for try await e in try engine.submitTokens(EngineRequest(id: "t2", promptTokens: p, maxTokens: 30, ignoreEndOfSequence: true)) {
            switch e {
            case .tokens(let t, _, let cached): tokens += t; #expect(cached <= p.count)
            case .finished(let reason, let u): usage = u; #expect(reason == .length)
            }
        }
        #expect(tokens == text.tokens && tokens.count == 30)
        #expect(usage?.completionTokens == 30 && usage?.promptTokens == p.count)
        #expect(usage?.cachedPromptTokens == text.usage.cachedPromptTokens + (p.count - 1) / 4 * 4)
    }

    @Test("n choices: the prompt is prefilled once, choice i is what seed + i gives alone")
    func choicesForkFromOnePrefill() async throws {
        let engine = try Self.engine(budget: 256)
        defer { engine.shutdown() }
        let p = Self.model.tokenizer.encode("Lily and Ben were friends who liked to play in the park")
        let sampling = SamplingConfiguration(parameters: SamplingParameters(temperature: 1, seed: 7))
        let streams = try engine.submit(EngineRequest(id: "n", promptTokens: p, maxTokens: 12, sampling: sampling, ignoreEndOfSequence: true),
                                        choices: 3)
        var texts: [[TokenID]] = []
        for stream in streams {
            var tokens: [TokenID] = []
            for try await e in stream { if case .delta(_, _, let t, _) = e { tokens += t } }
            texts.append(tokens)
        }
        #expect(texts.allSatisfy { $0.count == 12 })
        #expect(Set(texts).count == 3)
        #expect(engine.statistics.prefillTokens == p.count)
        // Alone, with the prefix cache off so nothing is shared: the same tokens.
        let solo = try Self.engine(budget: 256, prefixCaching: false)
        defer { solo.shutdown() }
        for i in [0, 2] {
            var alone = sampling
            alone.parameters.seed = 7 + UInt64(i)
            let r = try await solo.generate(EngineRequest(id: RequestID("solo\(i)"), promptTokens: p, maxTokens: 12, sampling: alone,
                                                          ignoreEndOfSequence: true))
            #expect(r.tokens == texts[i], "choice \(i)")
        }
    }

    @Test("a reasoning budget forces the close tag through the token engine; the answer follows it")
    func reasoningBudgetForcesTheCloseTag() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let budget = 6
        let r = try await engine.generate(EngineRequest(
            id: "rb", promptTokens: Self.model.tokenizer.encode("Once upon a time"), maxTokens: 60, ignoreEndOfSequence: true,
            reasoning: ReasoningConfiguration(startsInReasoning: true, budgetTokens: budget)))
        #expect(!r.reasoning.isEmpty)
        #expect(!r.text.isEmpty, "no answer after the forced close tag")
        #expect(!r.text.contains("</think>") && !r.reasoning.contains("</think>"))
        // The text front sees the budget reached and forces the tag at a later step: within a
        // few steps (it runs beside the step thread, not on it).
        #expect(r.usage.reasoningTokens >= budget && r.usage.reasoningTokens <= budget + 16, "\(r.usage.reasoningTokens)")
    }

    @Test func overCapacityIsRefusedAtSubmission() throws {
        let exec = try LocalStepExecutor(model: Self.model, blockCount: 16, blockSize: 4)
        let engine = try Engine(model: Self.model, executor: exec, configuration: EngineConfiguration(
            scheduler: SchedulerConfiguration(maxRunningSequences: 1, maxWaitingRequests: 1, maxModelLength: 64), seed: 1))
        // Not started: nothing is admitted, so the queue fills. (Keep the stream: dropping it cancels.)
        let first = try engine.submit(EngineRequest(id: "q1", promptTokens: [1, 2], maxTokens: 4))
        do {
            _ = try engine.submit(EngineRequest(id: "q2", promptTokens: [1, 2], maxTokens: 4))
            Issue.record("a second request was queued past the limit")
        } catch let e as EngineError {
            #expect(e.kind == .rejected)
            #expect(e.code == .overCapacity)
        }
        engine.shutdown()
        withExtendedLifetime(first) {}
    }

    @Test func cancellingFreesTheBlocks() async throws {
        let engine = try Self.engine(blocks: 64, blockSize: 4)
        defer { engine.shutdown() }
        let stream = try engine.submit(EngineRequest(id: "c", promptTokens: [1], maxTokens: 200, ignoreEndOfSequence: true))
        var n = 0
        for try await e in stream {
            if case .delta = e { n += 1 }
            if n == 5 { engine.cancel("c"); break }
        }
        // The step thread applies the cancellation at its next step: wait for it (bounded).
        for _ in 0..<1000 where engine.statistics.running != 0 { try await Task.sleep(for: .milliseconds(10)) }
        let s = engine.statistics
        #expect(s.running == 0)
        // Only prefix-cached (unreferenced, evictable) blocks may remain counted as used.
        #expect(s.kvBlocksUsed <= 64)
    }

    @Test("seeded sampling is reproducible and differs across seeds")
    func seeded() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        func run(_ id: String, _ seed: UInt64) async throws -> [TokenID] {
            try await engine.generate(EngineRequest(id: RequestID(id), promptTokens: [1], maxTokens: 30,
                sampling: SamplingConfiguration(parameters: SamplingParameters(temperature: 1.0, topP: 0.95, seed: seed)))).tokens
        }
        let a = try await run("x1", 42), b = try await run("x2", 42), c = try await run("x3", 43)
        #expect(a == b)
        #expect(a != c)
    }
}

/// The constrained-decoding vocabulary (token trie) built at start instead of on the first
/// constrained request.
@Suite struct GrammarWarmUpTests {
    @Test func warmUpBuildsTheVocabularyInTheBackground() async throws {
        let cache = GrammarCache(tokenizer: EngineIntegrationTests.model.tokenizer)
        #expect(!cache.isWarm)
        cache.warmUp()
        let deadline = ContinuousClock.now + .seconds(20)
        while !cache.isWarm && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(cache.isWarm)
        #expect(cache.vocabulary.size == EngineIntegrationTests.model.tokenizer.vocabulary.count)
        _ = try cache.constraint(for: .regex("[a-z]+"))
    }
}
