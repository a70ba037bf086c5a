import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

/// Families beyond Llama on the one forward pass. Expected logits come from
/// tools/reference/make_family_fixtures.py: the float64 NumPy forward pass (llama_ref.forward,
/// with each family's biases, Q/K norms, head width and RoPE layout) of tiny random-weight GGUF
/// files written with the `gguf` package.
@Suite("Model families: Qwen2, Qwen3, Phi-3, Gemma 2, Gemma 3")
struct ModelFamilyTests {
    static func fixture(_ arch: String) throws -> (LoadedModel, [String: Any]) {
        let fx = try Fixtures.json("family_\(arch)")
        let url = try #require(Bundle.module.url(forResource: "family_\(arch)", withExtension: "gguf", subdirectory: "Fixtures"))
        return (try ModelLoader.load(path: url.path), fx)
    }

    /// Logits within 1e-4 of the reference's, relative to their largest magnitude.
    static func expectClose(_ got: [Float], _ expected: [Double], _ what: String,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let scale = expected.map(abs).max()!
        let err = zip(got, expected).map { abs(Double($0) - $1) }.max()!
        #expect(err < 1e-4 * scale + 1e-4, "\(what): max |Δlogit| \(err) (logits up to \(scale))", sourceLocation: sourceLocation)
    }

    @Test("the configuration carries what the family changes")
    func configuration() throws {
        let (q2, _) = try Self.fixture("qwen2")
        #expect(q2.configuration.architecture == "qwen2")
        #expect(q2.configuration.attentionBias && !q2.configuration.queryKeyNorm)
        #expect(q2.configuration.ropeStyle == .halfSplit && q2.configuration.headDim == 16)
        #expect(q2.model.weights.layers[0].qBias?.count == 64 && q2.model.weights.layers[0].kBias?.count == 32)
        let (q3, _) = try Self.fixture("qwen3")
        #expect(q3.configuration.queryKeyNorm && !q3.configuration.attentionBias)
        #expect(q3.configuration.headDim == 24 && q3.configuration.explicitHeadDim == 24)
        #expect(q3.model.weights.layers[1].qNorm?.count == 24)
        let (p3, _) = try Self.fixture("phi3")
        #expect(p3.configuration.fusedProjections && p3.configuration.ropeStyle == .halfSplit)
        // Q/K/V and gate/up are row views of the two stored matrices.
        let l0 = p3.model.weights.layers[0]
        #expect(l0.wq.rows == 64 && l0.wk.rows == 32 && l0.wv.rows == 32 && l0.gate.rows == 128 && l0.up.rows == 128)
        #expect(l0.wk.base == l0.wq.base + l0.wq.byteCount && l0.up.base == l0.gate.base + l0.gate.byteCount)
        // A sliding window of 64 tokens under a 256-token context, on every layer.
        #expect(p3.configuration.contextLength == 256 && p3.configuration.slidingWindow == 64)
        #expect(p3.configuration.attentionWindow(layer: 1) == 64 && q2.configuration.attentionWindow(layer: 1) == 0)
        // LongRoPE: the long divisors (context 256 over an original 64) and sqrt(1 + ln 4 / ln 64).
        let (lr, _) = try Self.fixture("phi3longrope")
        #expect(lr.configuration.ropeFrequencyFactors?.count == 8 && lr.configuration.ropeFrequencyFactors!.contains { $0 > 1.5 })
        #expect(abs((lr.configuration.ropeAttentionFactor ?? 1) - Float((1 + log(4.0) / log(64.0)).squareRoot())) < 1e-6)
        let (g2, _) = try Self.fixture("gemma2")
        #expect(g2.configuration.gemmaStyle && g2.configuration.attentionSoftcap == 5 && g2.configuration.finalLogitSoftcap == 3)
        #expect(g2.configuration.headDim == 32 && g2.configuration.tiedEmbeddings)
        // Even layers slide, odd ones see everything.
        #expect(g2.configuration.attentionWindow(layer: 0) == 16 && g2.configuration.attentionWindow(layer: 1) == 0
                && g2.configuration.attentionWindow(layer: 2) == 16)
        #expect(g2.model.weights.layers[2].postFFNNorm?.count == 64)
        let (g3, _) = try Self.fixture("gemma3")
        #expect(g3.configuration.gemmaStyle && g3.configuration.queryKeyNorm && g3.configuration.attentionSoftcap == nil)
        // Five sliding layers to one global (layer 5), the sliding ones on their own RoPE base.
        #expect((0..<7).map(g3.configuration.isSlidingLayer) == [true, true, true, true, true, false, true])
        #expect(g3.configuration.localRoPETheta == 10000 && g3.configuration.ropeTheta == 1_000_000)
    }

    @Test("the paged forward pass matches the NumPy reference", arguments: ["qwen2", "qwen3", "phi3", "phi3longrope", "gemma2", "gemma3"])
    func logitsMatchReference(arch: String) throws {
        let (m, fx) = try Self.fixture(arch)
        let prompts = try #require(fx["prompts"] as? [[Int]])
        let expected = try #require(fx["last_logits"] as? [[Double]])
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        for (i, ids) in prompts.enumerated() {
            let table = (0..<Int32((ids.count + 15) / 16)).map { $0 }
            let got = try f.execute([SequenceChunk(tokens: ids.map { TokenID($0) }, startPosition: 0, blockTable: table, wantsLogits: true)])[0]
            Self.expectClose(got, expected[i], "\(arch) prompt \(i)")
        }
    }

    @Test("the Hugging Face layout (config.json + safetensors) loads to the same logits", arguments: ["qwen2", "qwen3", "phi3", "phi3longrope", "gemma2", "gemma3"])
    func safetensorsMatchReference(arch: String) throws {
        let (gguf, fx) = try Self.fixture(arch)
        let dir = try #require(Bundle.module.url(forResource: "family_\(arch)_hf", withExtension: nil, subdirectory: "Fixtures"))
        let m = try ModelLoader.load(path: dir.path)
        #expect(m.configuration.architecture == gguf.configuration.architecture)
        #expect(m.configuration.ropeFrequencyFactors == gguf.configuration.ropeFrequencyFactors)
        #expect(m.configuration.ropeAttentionFactor == gguf.configuration.ropeAttentionFactor)
        #expect(m.configuration.attentionBias == gguf.configuration.attentionBias)
        #expect(m.configuration.queryKeyNorm == gguf.configuration.queryKeyNorm)
        #expect(m.configuration.headDim == gguf.configuration.headDim && m.configuration.ropeStyle == .halfSplit)
        #expect(m.configuration.fusedProjections == gguf.configuration.fusedProjections)
        #expect(m.configuration.contextLength == gguf.configuration.contextLength)
        #expect(m.configuration.slidingWindow == gguf.configuration.slidingWindow)
        #expect(m.configuration.slidingWindowPattern == gguf.configuration.slidingWindowPattern)
        #expect(m.configuration.localRoPETheta == gguf.configuration.localRoPETheta)
        #expect(m.configuration.attentionSoftcap == gguf.configuration.attentionSoftcap)
        #expect(m.configuration.finalLogitSoftcap == gguf.configuration.finalLogitSoftcap)
        // tokenizer.json's Split pattern is Qwen's.
        #expect((m.tokenizer as? ByteLevelBPETokenizer)?.preTokenizer == .qwen2)
        let prompts = try #require(fx["prompts"] as? [[Int]])
        let expected = try #require(fx["last_logits"] as? [[Double]])
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        let got = try f.execute([SequenceChunk(tokens: prompts[1].map { TokenID($0) }, startPosition: 0, blockTable: [0, 1, 2], wantsLogits: true)])[0]
        Self.expectClose(got, expected[1], "\(arch) safetensors")
    }

    @Test("a llama file with Qwen tensors is refused, naming them")
    func llamaWithBiasesIsRefused() throws {
        let url = try #require(Bundle.module.url(forResource: "family_qwen2", withExtension: "gguf", subdirectory: "Fixtures"))
        var bytes = try Data(contentsOf: url)
        // Rename the architecture string "qwen2" → "llama" (same length) in the metadata.
        let from = Data("qwen2".utf8), to = Data("llama".utf8)
        var at = bytes.startIndex
        var replaced = 0
        while let r = bytes.range(of: from, in: at..<bytes.endIndex), replaced < 64 {
            bytes.replaceSubrange(r, with: to)
            at = r.upperBound
            replaced += 1
        }
        let path = NSTemporaryDirectory() + "tandem-llama-with-bias-\(getpid()).gguf"
        try bytes.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try ModelLoader.load(path: path)
            Issue.record("loaded")
        } catch let e as ModelLoadError {
            #expect(e.description.contains("attn_q.bias"), "\(e)")
        }
    }
}
