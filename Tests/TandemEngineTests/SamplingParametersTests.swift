import Foundation
import Testing
import TandemCore
import TandemEngineCore
@testable import TandemEngine

/// top-k, min-p, repetition penalty and logit bias against values computed independently with
/// NumPy (the one-liner beside each), and per-request seeds on the real stories260K engine.
@Suite("sampling parameters")
struct SamplingParametersTests {
    static func sampler(_ c: SamplingConfiguration, prompt: [TokenID] = []) throws -> Sampler {
        try Sampler(configuration: c, promptTokens: prompt, defaultSeed: 7)
    }

    @Test("min-p keeps the tokens with p ≥ min_p · p_max after temperature, renormalised (NumPy)")
    func minPAgainstNumPy() throws {
        // l=np.array([2,1,.5,-1,3,0])/0.7; p=np.exp(l-l.max()); p/=p.sum()
        // k=np.nonzero(p>=0.2*p.max())[0]; np.log(p[k]/p[k].sum())  → k=[0 4], [-1.643401, -0.21483]
        let s = try Self.sampler(SamplingConfiguration(parameters: SamplingParameters(temperature: 0.7, minP: 0.2)))
        let d = s.distribution(forLogits: [2, 1, 0.5, -1, 3, 0])
        #expect(d.map(\.token) == [0, 4])
        #expect(abs(d[0].logprob - -1.643401) < 1e-5)
        #expect(abs(d[1].logprob - -0.21483) < 1e-5)
    }

    @Test("logit bias is added first, then the repetition penalty over prompt tokens (NumPy)")
    func biasAndRepetitionPenaltyAgainstNumPy() throws {
        // l=np.array([2,-1,.5,3,-.25]); l[2]+=5; l[4]-=100
        // for t in [0,1,4]: l[t]=l[t]/1.5 if l[t]>0 else l[t]*1.5
        // → [1.3333333, -1.5, 5.5, 3.0, -150.375]
        let s = try Self.sampler(SamplingConfiguration(repetitionPenalty: 1.5, logitBias: [2: 5, 4: -100]), prompt: [0, 1, 4])
        let l = s.penalizedLogits([2, -1, 0.5, 3, -0.25])
        let expected: [Float] = [1.3333333, -1.5, 5.5, 3.0, -150.375]
        for (a, b) in zip(l, expected) { #expect(abs(a - b) < 1e-5) }
    }

    @Test("top_k 1 at temperature 1.5 picks the argmax whatever the seed")
    func topKOneIsGreedy() throws {
        let logits: [Float] = [0.3, 1.2, 1.1, -0.4, 1.19, 0.0]
        for seed in UInt64(1)...16 {
            var s = try Self.sampler(SamplingConfiguration(parameters: SamplingParameters(temperature: 1.5, topK: 1, seed: seed)))
            #expect(try s.sample(logits: logits).token == 1)
        }
    }

    @Test("the same seed gives the same tokens alone and among 7 other seeded requests, whatever the engine's own seed")
    func seedIsPerRequest() async throws {
        let prompts = EngineIntegrationTests.prompts.map { EngineIntegrationTests.model.tokenizer.encode($0) }
        func request(_ i: Int, seed: UInt64) -> EngineRequest {
            EngineRequest(id: RequestID("s\(i)-\(seed)"), promptTokens: prompts[i], maxTokens: 16, sampling: SamplingConfiguration(
                parameters: SamplingParameters(temperature: 1.0, topP: 0.95, seed: seed)), ignoreEndOfSequence: true)
        }
        let alone = try EngineIntegrationTests.engine()
        // Earlier requests move the engine's own random source: the seeded request must not care.
        _ = try await alone.generate(EngineRequest(id: RequestID("warm"), promptTokens: prompts[3], maxTokens: 4,
                                                   sampling: SamplingConfiguration(parameters: SamplingParameters(temperature: 1))))
        let reference = try await alone.generate(request(0, seed: 4242)).tokens
        alone.shutdown()
        #expect(reference.count == 16)

        let batched = try EngineIntegrationTests.engine(maxRunning: 8)
        defer { batched.shutdown() }
        let results = try await withThrowingTaskGroup(of: (Int, [TokenID]).self) { group in
            for i in 0..<8 {
                group.addTask { (i, try await batched.generate(request(i, seed: i == 0 ? 4242 : UInt64(100 + i))).tokens) }
            }
            var out = [[TokenID]](repeating: [], count: 8)
            for try await (i, t) in group { out[i] = t }
            return out
        }
        #expect(results[0] == reference)
        #expect(batched.statistics.steps < 8 * 16, "the requests shared steps")
        // Another seed gives another continuation (the seed is honoured at all).
        #expect(Set(results).count > 1)
    }
}
