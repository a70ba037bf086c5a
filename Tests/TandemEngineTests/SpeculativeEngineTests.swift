import Foundation
import Testing
import TandemCore
import TandemEngineCore
import TandemModel
@testable import TandemEngine

/// Speculative decoding through the engine with the real stories260K model: the tokens (greedy,
/// seeded sampling, logprobs) are those of decoding one token per step, while fewer steps run.
@Suite("speculative decoding on stories260K")
struct SpeculativeEngineTests {
    static let model = EngineIntegrationTests.model

    static func engine(speculative: Bool, blocks: Int = 256, budget: Int = 64, chunk: Int? = nil, batchInvariant: Bool = false) throws -> Engine {
        let exec = try LocalStepExecutor(model: model, blockCount: blocks, blockSize: 4)
        let e = try Engine(model: model, executor: exec, configuration: EngineConfiguration(
            scheduler: SchedulerConfiguration(maxBatchedTokens: budget, maxRunningSequences: 8, maxPrefillChunk: chunk,
                                              maxModelLength: 256),
            seed: 1, speculation: SpeculationConfiguration(method: speculative ? .promptLookup : .off, maxDraftTokens: 4, maxBatch: 0, costModel: false)))
        e.start()
        return e
    }

    /// Every prompt's completion, all submitted together.
    static func run(_ engine: Engine, _ requests: [EngineRequest]) async throws -> [(tokens: [TokenID], logprobs: [Float], usage: EngineUsage?)] {
        try await withThrowingTaskGroup(of: (Int, [TokenID], [Float], EngineUsage?).self) { group in
            for (i, r) in requests.enumerated() {
                group.addTask {
                    var tokens: [TokenID] = [], logprobs: [Float] = [], usage: EngineUsage?
                    for try await event in try engine.submitTokens(r) {
                        switch event {
                        case .tokens(let t, let lp, _):
                            tokens += t
                            logprobs += lp.compactMap(\.logprob)
                        case .finished(_, let u): usage = u
                        }
                    }
                    return (i, tokens, logprobs, usage)
                }
            }
            var out = [([TokenID], [Float], EngineUsage?)](repeating: ([], [], nil), count: requests.count)
            for try await (i, t, l, u) in group { out[i] = (t, l, u) }
            return out.map { (tokens: $0.0, logprobs: $0.1, usage: $0.2) }
        }
    }

    static let prompts = EngineIntegrationTests.prompts.map { model.tokenizer.encode($0) }

    @Test("greedy: the same tokens with prompt lookup as without, batched, through preemption, in fewer steps")
    func greedyTokensAreUnchanged() async throws {
        // 24 blocks of 4 cannot hold 8 sequences of ~50 tokens: preemption happens both ways.
        let requests = Self.prompts.enumerated().map { i, p in EngineRequest(id: RequestID("r\(i)"), promptTokens: p, maxTokens: 40) }
        let plain = try Self.engine(speculative: false, blocks: 24, budget: 24, chunk: 8)
        let expected = try await Self.run(plain, requests)
        plain.shutdown()
        let spec = try Self.engine(speculative: true, blocks: 24, budget: 24, chunk: 8)
        defer { spec.shutdown() }
        let got = try await Self.run(spec, requests)
        for i in requests.indices { #expect(got[i].tokens == expected[i].tokens, "prompt \(i)") }
        let s = spec.statistics
        #expect(s.preemptions > 0)
        #expect(s.specProposedTokens > 0 && s.specAcceptedTokens > 0, "\(s)")
        #expect(s.steps < plain.statistics.steps)
        // Each request's usage counts its own drafts; together they are the engine's.
        let usages = got.compactMap(\.usage)
        #expect(usages.count == requests.count)
        #expect(usages.reduce(0) { $0 + $1.acceptedDraftTokens } == s.specAcceptedTokens)
        #expect(usages.reduce(0) { $0 + $1.acceptedDraftTokens + $1.rejectedDraftTokens } == s.specProposedTokens)
        #expect(expected.allSatisfy { $0.usage?.acceptedDraftTokens == 0 && $0.usage?.rejectedDraftTokens == 0 })
    }

    @Test("seeded sampling and logprobs: the same tokens with prompt lookup as without")
    func seededSamplesAreUnchanged() async throws {
        let requests = Self.prompts.prefix(4).enumerated().map { i, p in
            EngineRequest(id: RequestID("s\(i)"), promptTokens: p, maxTokens: 48,
                          sampling: SamplingConfiguration(parameters: SamplingParameters(temperature: 0.8, topP: 0.95, seed: UInt64(40 + i)),
                                                          topLogprobs: 2))
        }
        let plain = try Self.engine(speculative: false)
        let expected = try await Self.run(plain, requests)
        plain.shutdown()
        let spec = try Self.engine(speculative: true)
        defer { spec.shutdown() }
        let got = try await Self.run(spec, requests)
        for i in requests.indices {
            #expect(got[i].tokens == expected[i].tokens, "request \(i)")
            #expect(got[i].logprobs.count == expected[i].logprobs.count)
            for (a, b) in zip(got[i].logprobs, expected[i].logprobs) { #expect(abs(a - b) < 1e-3) }
        }
        #expect(spec.statistics.specAcceptedTokens > 0)
    }

    @Test("a predicted output that is the answer: drafts from it are accepted, and the answer is unchanged")
    func predictedOutputIsDraftedFrom() async throws {
        let plain = try Self.engine(speculative: false)
        let base = EngineRequest(id: "p", promptTokens: Self.prompts[3], maxTokens: 40)
        let expected = try await Self.run(plain, [base])[0]
        plain.shutdown()
        let spec = try Self.engine(speculative: true)
        defer { spec.shutdown() }
        var r = base
        r.predictedTokens = expected.tokens
        let got = try await Self.run(spec, [r])[0]
        #expect(got.tokens == expected.tokens)
        let u = try #require(got.usage)
        #expect(u.acceptedDraftTokens >= expected.tokens.count / 2, "\(u)")
        // Without the prediction, the prompt alone drafts less.
        var alone = base
        alone.id = "q"
        let own = try await Self.run(spec, [alone])[0]
        #expect(own.tokens == expected.tokens)
        #expect((own.usage?.acceptedDraftTokens ?? 0) < u.acceptedDraftTokens)
    }

    @Test("a request that opts out is never drafted for")
    func optOut() async throws {
        let spec = try Self.engine(speculative: true)
        defer { spec.shutdown() }
        var r = EngineRequest(id: "o", promptTokens: Self.prompts[1], maxTokens: 40)
        r.speculative = false
        _ = try await Self.run(spec, [r])
        #expect(spec.statistics.specProposedTokens == 0)
    }
}

extension SpeculativeEngineTests {
    @Test("with the cost model on, the step costs are measured before the first request and the tokens are unchanged")
    func costModelMeasuresAndKeepsTheTokens() async throws {
        let exec = try LocalStepExecutor(model: Self.model, blockCount: 64, blockSize: 4)
        let e = try Engine(model: Self.model, executor: exec, configuration: EngineConfiguration(
            scheduler: SchedulerConfiguration(maxBatchedTokens: 64, maxRunningSequences: 8, maxModelLength: 256), seed: 1,
            speculation: SpeculationConfiguration(method: .promptLookup, maxDraftTokens: 4)))
        e.start()
        defer { e.shutdown() }
        let requests = Self.prompts.prefix(3).enumerated().map { i, p in EngineRequest(id: RequestID("c\(i)"), promptTokens: p, maxTokens: 32) }
        let got = try await Self.run(e, requests)
        let plain = try Self.engine(speculative: false)
        defer { plain.shutdown() }
        let expected = try await Self.run(plain, requests)
        #expect(got.map(\.tokens) == expected.map(\.tokens))
        // Measured before any request ran, on blocks the requests then took: the pool is consistent.
        let s = e.statistics
        #expect(s.kvBlocksUsed == 0)
        #expect(s.specProposedTokens > 0 || s.specSkippedSteps > 0, "\(s)")
    }
}
