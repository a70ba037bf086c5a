import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

/// Llama 3.x RoPE scaling. Expected values come from tools/reference/make_rope_scaling_fixture.py:
/// the float64 NumPy forward pass of a tiny random-weight model whose GGUF carries
/// `rope_freqs.weight`, and the llama3 divisors written from the transformers formula.
@Suite("RoPE scaling (Llama 3.x)")
struct RoPEScalingTests {
    static func fixture() throws -> (LoadedModel, [String: Any]) {
        let fx = try Fixtures.json("rope_llama3")
        let url = try #require(Bundle.module.url(forResource: "rope_llama3", withExtension: "gguf", subdirectory: "Fixtures"))
        return (try ModelLoader.load(path: url.path), fx)
    }

    @Test("rope_freqs.weight is read and both forward passes match the NumPy reference")
    func ggufRopeFreqsMatchReference() throws {
        let (m, fx) = try Self.fixture()
        let factors = Fixtures.floats(fx["factors"])
        #expect(m.configuration.ropeFrequencyFactors == factors)
        let ids = Fixtures.ids(fx["ids"])
        let expected = Fixtures.floats(fx["last_logits"])
        // A loader that ignored the factors would be off by this much (4.85 in the fixture).
        let gap = try #require(fx["max_gap_without_scaling"] as? Double)
        #expect(gap > 1)
        let session = try LlamaSession(model: m.model).prefill(ids)
        let sessionError = zip(session, expected).map { abs($0 - $1) }.max()!
        #expect(sessionError < 2e-3, "reference session: max |Δlogit| \(sessionError)")
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        let paged = try f.execute([SequenceChunk(tokens: ids, startPosition: 0, blockTable: [0, 1, 2], wantsLogits: true)])[0]
        let pagedError = zip(paged, expected).map { abs($0 - $1) }.max()!
        #expect(pagedError < 2e-3, "paged forward: max |Δlogit| \(pagedError)")
    }

    @Test("config.json rope_scaling llama3 gives the transformers divisors (Llama 3.1 8B shape)")
    func configLlama3Factors() throws {
        let fx = try Fixtures.json("rope_llama3")
        let expected = Fixtures.floats(fx["llama31_8b_factors"])
        let got = try RoPEScaling.factors(["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192],
                                          headDim: 128, theta: 500000)
        #expect(got.count == 64)
        #expect(zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(got) vs \(expected)")
        #expect(try RoPEScaling.factors(["type": "linear", "factor": 4.0], headDim: 8, theta: 10000) == [4, 4, 4, 4])
    }

    @Test("unsupported scaling types are refused by name")
    func unsupportedScalingIsRefused() {
        #expect(throws: RoPEScaling.Unsupported.self) {
            try RoPEScaling.factors(["rope_type": "yarn", "factor": 4.0], headDim: 8, theta: 10000)
        }
        do {
            _ = try RoPEScaling.factors(["rope_type": "dynamic", "factor": 2.0], headDim: 8, theta: 10000)
        } catch {
            #expect(error.message.contains("'dynamic'"))
        }
    }
}
