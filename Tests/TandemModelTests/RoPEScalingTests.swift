import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

/// Llama 3.x and YaRN RoPE scaling. Expected values come from tools/reference/make_rope_scaling_fixture.py:
/// the float64 NumPy forward pass of a tiny random-weight model whose GGUF carries
/// `rope_freqs.weight`, and the llama3 divisors written from the transformers formula.
@Suite("RoPE scaling (Llama 3.x, YaRN)")
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

    /// YaRN: a qwen2 GGUF with llama.cpp's keys (factor 4 over an original context of 32); the
    /// 60-token prompt runs past 32 positions, where the divisors and the magnitude scale bite.
    @Test("YaRN from GGUF keys: divisors and magnitude scale, logits as the NumPy reference")
    func ggufYarnMatchesReference() throws {
        let fx = try Fixtures.json("rope_yarn")
        let url = try #require(Bundle.module.url(forResource: "rope_yarn", withExtension: "gguf", subdirectory: "Fixtures"))
        let m = try ModelLoader.load(path: url.path)
        let factors = try #require(m.configuration.ropeFrequencyFactors)
        let expectedFactors = Fixtures.floats(fx["factors"])
        #expect(zip(factors, expectedFactors).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(factors) vs \(expectedFactors)")
        let mscale = try #require(fx["mscale"] as? Double)
        #expect(abs(Double(m.configuration.ropeAttentionFactor ?? 1) - mscale) < 1e-6)
        #expect(try #require(fx["max_gap_without_mscale"] as? Double) > 0.5)
        let ids = Fixtures.ids(fx["ids"])
        let expected = Fixtures.floats(fx["last_logits"])
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        let got = try f.execute([SequenceChunk(tokens: ids, startPosition: 0, blockTable: [0, 1, 2, 3], wantsLogits: true)])[0]
        let err = zip(got, expected).map { abs($0 - $1) }.max()!
        #expect(err < 2e-3, "paged forward with YaRN: max |Δlogit| \(err)")
    }

    @Test("config.json rope_scaling yarn gives the transformers divisors (Qwen2.5 long context, gpt-oss without truncation)")
    func configYarnFactors() throws {
        let fx = try Fixtures.json("rope_yarn")
        let qwen = try RoPEScaling.scaling(["rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768],
                                           headDim: 128, theta: 1_000_000, maxPositions: 131072)
        let gptOSS = try RoPEScaling.scaling(["rope_type": "yarn", "factor": 32.0, "original_max_position_embeddings": 4096,
                                              "beta_fast": 32.0, "beta_slow": 1.0, "truncate": false],
                                             headDim: 64, theta: 150000, maxPositions: 131072)
        for (got, key) in [(qwen.factors, "qwen25_factors"), (gptOSS.factors, "gpt_oss_factors")] {
            let expected = Fixtures.floats(fx[key])
            #expect(got.count == expected.count && zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(key): \(got) vs \(expected)")
        }
        let m = try #require(fx["gpt_oss_mscale"] as? Double)
        #expect(abs(Double(gptOSS.attentionFactor ?? 1) - m) < 1e-6)
        // An explicit attention_factor wins.
        let explicit = try RoPEScaling.scaling(["rope_type": "yarn", "factor": 4.0, "attention_factor": 1.5], headDim: 8, theta: 10000, maxPositions: 64)
        #expect(explicit.attentionFactor == 1.5)
    }

    @Test("unsupported scaling types are refused by name, and LongRoPE without its factors")
    func unsupportedScalingIsRefused() {
        #expect(throws: RoPEScaling.Unsupported.self) {
            try RoPEScaling.scaling(["rope_type": "longrope", "original_max_position_embeddings": 16], headDim: 8, theta: 10000, maxPositions: 64)
        }
        #expect(throws: RoPEScaling.Unsupported.self) {
            try RoPEScaling.scaling(["rope_type": "longrope", "long_factor": [1, 2, 3, 4], "short_factor": [1, 1, 1, 1]],
                                    headDim: 8, theta: 10000, maxPositions: 64)
        }
        // With them: the long factors past the original context, the short ones within it.
        let long = try? RoPEScaling.scaling(["rope_type": "longrope", "long_factor": [1, 2, 3, 4], "short_factor": [1, 1.5, 1, 1],
                                             "original_max_position_embeddings": 16], headDim: 8, theta: 10000, maxPositions: 64)
        #expect(long?.factors == [1, 2, 3, 4] && long?.attentionFactor == RoPEScaling.longRoPEAttentionFactor(context: 64, original: 16))
        let short = try? RoPEScaling.scaling(["rope_type": "longrope", "long_factor": [1, 2, 3, 4], "short_factor": [1, 1.5, 1, 1]],
                                             headDim: 8, theta: 10000, maxPositions: 16, original: 16)
        #expect(short?.factors == [1, 1.5, 1, 1] && short?.attentionFactor == nil)
        do {
            _ = try RoPEScaling.factors(["rope_type": "dynamic", "factor": 2.0], headDim: 8, theta: 10000)
        } catch {
            #expect(error.message.contains("'dynamic'"))
        }
    }
}
