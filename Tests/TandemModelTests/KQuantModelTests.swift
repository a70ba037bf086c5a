import Foundation
import Testing
import TandemCore
import TandemKernels
@testable import TandemModel
import TandemTestSupport

/// A GGUF llama whose weights are K-quant super-blocks. Fixtures/kquant_llama.gguf and .json come
/// from tools/reference/make_kquant_fixture.py: dim 256, FFN 512, 2 layers, 4 query heads of 64,
/// 2 KV heads, vocab 64; embedding Q4_K, layer 0 Q4_K (V, down Q6_K), layer 1 Q5_K (V, down Q6_K),
/// output head Q6_K; expected logits from the float64 NumPy forward pass (llama_ref.py, weights
/// dequantised by gguf-py).
@Suite("K-quant GGUF model (Q4_K, Q5_K, Q6_K)")
struct KQuantModelTests {
    static func fixture(_ name: String = "kquant_llama") throws -> (LoadedModel, [String: Any]) {
        let fx = try Fixtures.json(name)
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "gguf", subdirectory: "Fixtures"))
        return (try ModelLoader.load(path: url.path), fx)
    }

    /// The fixture's prompt through both forward passes against its float64 NumPy logits: token by
    /// token through tk_matvec, and the whole prompt in one step through the blocked GEMM (panels
    /// via tk_dequantize_row).
    static func expectReferenceLogits(_ m: LoadedModel, _ fx: [String: Any]) throws {
        let ids = Fixtures.ids(fx["ids"])
        let expected = Fixtures.floats(fx["last_logits"])
        #expect(ids.count == 20 && expected.count == 64)
        let session = try LlamaSession(model: m.model).prefill(ids)
        let sessionError = zip(session, expected).map { abs($0 - $1) }.max()!
        #expect(sessionError < 2e-3, "reference session: max |Δlogit| \(sessionError)")
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        let paged = try f.execute([SequenceChunk(tokens: ids, startPosition: 0, blockTable: [0, 1], wantsLogits: true)])[0]
        let pagedError = zip(paged, expected).map { abs($0 - $1) }.max()!
        #expect(pagedError < 2e-3, "paged forward: max |Δlogit| \(pagedError)")
    }

    @Test("tensors load as Q4_K/Q5_K/Q6_K and both forward passes match the NumPy reference")
    func logitsMatchReference() throws {
        let (m, fx) = try Self.fixture()
        let w = m.model.weights
        #expect(w.tokenEmbedding.dtype == .q4_k && w.output.dtype == .q6_k)
        #expect(w.layers[0].wq.dtype == .q4_k && w.layers[0].wv.dtype == .q6_k && w.layers[0].down.dtype == .q6_k)
        #expect(w.layers[1].wq.dtype == .q5_k && w.layers[1].gate.dtype == .q5_k && w.layers[1].wo.dtype == .q5_k)
        try Self.expectReferenceLogits(m, fx)
    }

    /// Fixtures/lowbit_llama.gguf (same script, same shape): Q2_K, Q3_K and IQ4_NL on every weight,
    /// the types llama-quantize's Q2_K and Q3_K_* mixes write (IQ4_NL where rows are not whole
    /// super-blocks).
    @Test("Q2_K, Q3_K and IQ4_NL tensors load as themselves and both forward passes match the NumPy reference")
    func lowBitLogitsMatchReference() throws {
        let (m, fx) = try Self.fixture("lowbit_llama")
        let w = m.model.weights
        #expect(w.tokenEmbedding.dtype == .iq4_nl && w.output.dtype == .q3_k)
        #expect(w.layers[0].wq.dtype == .q3_k && w.layers[0].wv.dtype == .iq4_nl && w.layers[0].wo.dtype == .q2_k)
        #expect(w.layers[1].wq.dtype == .iq4_nl && w.layers[1].wk.dtype == .q2_k && w.layers[1].down.dtype == .q2_k)
        try Self.expectReferenceLogits(m, fx)
    }

    @Test("TP=2 that would cut an attn_output super-block is refused with a message")
    func tensorParallelSplitIsRefused() throws {
        let (m, _) = try Self.fixture()
        // 2 query heads of 64 per KV head: a rank's attn_output slice is 128 columns, half a
        // 256-value super-block.
        do {
            _ = try ShardingPlan.make(model: m.model, ranks: 2)
            Issue.record("a split through K-quant super-blocks was accepted")
        } catch let e as ShardingError {
            #expect(e.message.contains("attn_output") && e.message.contains("256-value blocks"), "\(e.message)")
        }
        // One rank needs no split.
        #expect(try ShardingPlan.make(model: m.model, ranks: 1).shards.count == 1)
    }

    @Test("a 256-aligned split works (Llama 3.1 8B shape) and the FFN split stays whole super-blocks")
    func alignedPlan() throws {
        let c = ModelConfiguration(dim: 4096, hiddenDim: 14336, layerCount: 32, headCount: 32, kvHeadCount: 8,
                                   vocabSize: 128256, contextLength: 8192, tiedEmbeddings: false)
        for ranks in [2, 4, 8] {
            let plan = try ShardingPlan.make(c, ranks: ranks, alignment: 256, attentionAlignment: 256, bytesPerElement: 0.5625)
            for s in plan.shards {
                #expect(s.ffnColumns.lowerBound % 256 == 0 && s.ffnColumns.upperBound % 256 == 0)
                #expect((s.queryHeads.lowerBound * c.headDim) % 256 == 0)
            }
        }
    }

    @Test("re-quantised to FP8 at load from K-quants: TP=2 equals TP=1 and stays near the reference")
    func requantisedTensorParallel() throws {
        let (source, fx) = try Self.fixture()
        let (m, report) = try source.quantized(with: WeightQuantizationPlan(linear: .fp8))
        #expect(Set(report.sourceTypes) == [.q4_k, .q5_k, .q6_k])
        #expect(m.model.weights.layers.allSatisfy { $0.wo.dtype == .fp8_e4m3 && $0.down.dtype == .fp8_e4m3 })
        let ids = Array(Fixtures.ids(fx["ids"]).prefix(16))  // one 16-position cache block
        let one = try QuantizationShardTests.logits(m, ranks: 1, prompt: ids, path: .portable)
        let two = try QuantizationShardTests.logits(m, ranks: 2, prompt: ids, path: .portable)
        let tpDiff = zip(one, two).map { abs($0 - $1) }.max() ?? .infinity
        #expect(tpDiff < 2e-3, "max |Δlogit| TP=2 vs TP=1 \(tpDiff)")
        // FP8 E4M3 keeps 3 mantissa bits: on these random weights the logits (std ~3.7) move by up
        // to ~1, but keep their direction.
        let native = try QuantizationShardTests.logits(source, ranks: 1, prompt: ids, path: .portable)
        let dot = zip(one, native).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let norms = sqrt(one.reduce(0.0) { $0 + Double($1 * $1) } * native.reduce(0.0) { $0 + Double($1 * $1) })
        #expect(dot / norms > 0.99, "FP8 re-quantised vs K-quant: cosine \(dot / norms)")
    }
}

/// llama-quantize's Q4_K_M puts Q5_0 on matrices whose rows are not whole super-blocks; the
/// loader holds them as Q8_0, value for value (KQuantTests checks the Q5_0 dequantiser against
/// gguf-py bit for bit).
@Suite("Q5_0 held as Q8_0")
struct Q5_0RepackTests {
    @Test("every value survives the repack, and the Q8_0 kernels multiply it")
    func repackIsExact() throws {
        var rng = SplitMix64(seed: 11)
        let rows = 5, cols = 96, bytes = rows * cols / 32 * 22
        let buffer = RawBuffer(count: bytes)
        let p = buffer.pointer.assumingMemoryBound(to: UInt8.self)
        for i in 0..<bytes { p[i] = UInt8.random(in: 0...255, using: &rng) }
        // Finite FP16 scales of both signs (exponent field 31 would be inf/NaN).
        for b in 0..<(rows * cols / 32) { p[b * 22 + 1] &= 0xBB }
        let q5 = WeightMatrix(dtype: .q5_0, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
        let q8 = GGUFFile.q8_0(fromQ5_0: q5)
        #expect(q8.dtype == .q8_0 && q8.rows == rows && q8.cols == cols)
        var a = [Float](repeating: 0, count: cols), b = a
        for r in 0..<rows {
            q5.row(r, into: &a)
            q8.row(r, into: &b)
            #expect(zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }, "row \(r)")
        }
        let x = (0..<cols).map { Float(sin(Double($0))) }
        var y5 = [Float](repeating: 0, count: rows), y8 = y5
        q5.multiply(x, into: &y5)
        q8.multiply(x, into: &y8)
        #expect(zip(y5, y8).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($0)) }, "\(y5) vs \(y8)")
    }
}
