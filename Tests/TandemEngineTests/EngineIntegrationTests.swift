import Foundation
import Testing
import TandemCore
import TandemEngineCore
import TandemModel
@testable import TandemEngine

/// The engine with the real stories260K model: batching, paging, prefix reuse, preemption.
@Suite("engine on stories260K")
struct EngineIntegrationTests {
    static let storiesDir = ProcessInfo.processInfo.environment["TANDEM_STORIES260K_DIR"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/../shared/models/stories260K"
    static let model: LoadedModel = try! ModelLoader.load(path: storiesDir + "/stories260K.bin")

    static func engine(blocks: Int = 256, blockSize: Int = 4, budget: Int = 64, maxRunning: Int = 16,
                       chunk: Int? = nil, policy: EvictionPolicy = .prefixAware, prefixCaching: Bool = true) throws -> Engine {
        let exec = try LocalStepExecutor(model: model, blockCount: blocks, blockSize: blockSize)
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
        try await Task.sleep(for: .milliseconds(50))
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
