import Foundation
import TandemKernels
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

/// Mixtures of experts on the one forward pass. Expected logits come from
/// tools/reference/make_family_fixtures.py --moe: the float64 NumPy forward pass with the MoE
/// layer (llama_ref.moe_ffn) of tiny random-weight GGUF files written with the `gguf` package,
/// on prompts whose router scores have no near-tie at the top-k boundary.
@Suite("Mixture of experts: Mixtral, Qwen3-MoE, Qwen2-MoE, gpt-oss, Llama 4")
struct ExpertModelTests {
    /// mixtral_q4k: Mixtral's layout at width 256 with every expert matrix Q4_K (`--kquant-moe`).
    static let families = ["mixtral", "qwen3moe", "qwen2moe", "gptoss", "llama4", "mixtral_q4k"]

    @Test("the configuration carries the experts each family defines")
    func configuration() throws {
        let (mx, _) = try ModelFamilyTests.fixture("mixtral")
        #expect(mx.configuration.architecture == "llama" && mx.configuration.ropeStyle == .interleaved)
        #expect(mx.configuration.experts == ExpertConfiguration(count: 8, perToken: 2, hiddenDim: 96, normalizeWeights: true))
        let l0 = mx.model.weights.layers[0]
        #expect(l0.gate.rows == 0 && l0.down.rows == 0)
        let e = try #require(l0.experts)
        #expect(e.ids == 0..<8 && e.gate.count == 8 && e.gate[3].rows == 96 && e.down[7].rows == 64 && e.down[7].cols == 96)
        // Row views of the one stacked tensor: expert e starts e matrices after expert 0.
        #expect(e.gate[1].base == e.gate[0].base + e.gate[0].byteCount && e.up[7].base == e.up[0].base + 7 * e.up[0].byteCount)
        let (q3, _) = try ModelFamilyTests.fixture("qwen3moe")
        #expect(q3.configuration.experts == ExpertConfiguration(count: 8, perToken: 3, hiddenDim: 64, normalizeWeights: true))
        #expect(q3.configuration.queryKeyNorm && q3.configuration.headDim == 24 && q3.configuration.ropeStyle == .halfSplit)
        let (q2, _) = try ModelFamilyTests.fixture("qwen2moe")
        #expect(q2.configuration.experts == ExpertConfiguration(count: 6, perToken: 2, hiddenDim: 64, normalizeWeights: false,
                                                                sharedHiddenDim: 96, sharedGated: true))
        #expect(q2.configuration.attentionBias)
        #expect(q2.model.weights.layers[1].experts?.sharedGateInput?.count == 64)
        let (oss, _) = try ModelFamilyTests.fixture("gptoss")
        let oc = oss.configuration
        #expect(oc.architecture == "gpt-oss" && oc.attentionSinks && oc.attentionOutputBias && oc.attentionBias)
        #expect(oc.experts == ExpertConfiguration(count: 8, perToken: 4, hiddenDim: 64, normalizeWeights: true, biases: true,
                                                  activation: .swigluClamped))
        // Even layers slide; YaRN's divisors and magnitude scale.
        #expect((0..<3).map(oc.isSlidingLayer) == [true, false, true] && oc.slidingWindow == 16)
        #expect(oc.ropeFrequencyFactors != nil && abs((oc.ropeAttentionFactor ?? 0) - Float(0.1 * log(4.0) + 1)) < 1e-6)
        #expect(oss.model.weights.layers[2].sinks?.count == 4 && oss.model.weights.layers[0].experts?.downBias?[7].count == 64)
        let (l4, _) = try ModelFamilyTests.fixture("llama4")
        let c4 = l4.configuration
        #expect(c4.architecture == "llama4" && c4.ropeStyle == .interleaved && c4.queryKeyL2Norm)
        #expect(c4.experts == ExpertConfiguration(count: 8, perToken: 1, hiddenDim: 64, normalizeWeights: false, sharedHiddenDim: 64,
                                                  gating: .sigmoid, weightBeforeFFN: true, layerStep: 2))
        // Experts on layers 1 and 3, dense FFNs on 0 and 2; chunks on 0-2; no RoPE on 3.
        #expect(l4.model.weights.layers.map { $0.experts != nil } == [false, true, false, true])
        #expect(l4.model.weights.layers[0].gate.rows == 128)
        #expect((0..<4).map(c4.attentionChunk(layer:)) == [8192, 8192, 8192, 0] && (0..<4).map(c4.usesRoPE(layer:)) == [true, true, true, false])
        #expect(c4.attentionTemperature(position: 8190) == 1 && c4.attentionTemperature(position: 8191) > 1.06)
        let (kq, _) = try ModelFamilyTests.fixture("mixtral_q4k")
        let ke = try #require(kq.model.weights.layers[1].experts)
        #expect(ke.gate.allSatisfy { $0.dtype == .q4_k } && ke.up[3].dtype == .q4_k && ke.down[0].dtype == .q4_k && ke.down[0].cols == 256)
        #expect(kq.model.weights.layers[0].wq.dtype == .f32)
        // Bytes a token reads count the experts it runs, not all of them.
        let all = q2.model.weights.layers.compactMap(\.experts).reduce(0) { $0 + $1.storageBytes }
        #expect(q2.model.weights.bytesPerToken < all)
    }

    @Test("the paged forward pass matches the NumPy reference", arguments: families)
    func logitsMatchReference(arch: String) throws {
        let (m, fx) = try ModelFamilyTests.fixture(arch)
        let prompts = try #require(fx["prompts"] as? [[Int]])
        let expected = try #require(fx["last_logits"] as? [[Double]])
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        for (i, ids) in prompts.enumerated() {
            let table = (0..<Int32((ids.count + 15) / 16)).map { $0 }
            let got = try f.execute([SequenceChunk(tokens: ids.map { TokenID($0) }, startPosition: 0, blockTable: table, wantsLogits: true)])[0]
            ModelFamilyTests.expectClose(got, expected[i], "\(arch) prompt \(i)")
        }
        // Every expert saw tokens (the routing is not stuck on a few).
        #expect(f.expertLoad.count == m.configuration.experts!.count && f.expertLoad.allSatisfy { $0 > 0 }, "\(f.expertLoad)")
    }

    @Test("config.json + safetensors load to the same logits (one tensor per expert; Llama 4's fused, transposed ones)",
          arguments: ["mixtral", "qwen3moe", "qwen2moe", "llama4"])
    func safetensorsMatchReference(arch: String) throws {
        let (gguf, fx) = try ModelFamilyTests.fixture(arch)
        let dir = try #require(Bundle.module.url(forResource: "family_\(arch)_hf", withExtension: nil, subdirectory: "Fixtures"))
        let m = try ModelLoader.load(path: dir.path)
        #expect(m.configuration.experts == gguf.configuration.experts)
        #expect(m.configuration.architecture == (arch == "mixtral" ? "llama" : arch))
        // Hugging Face's layout rotates halves, except Llama 4 (adjacent pairs, as its GGUF).
        #expect(m.configuration.ropeStyle == (arch == "llama4" ? .interleaved : .halfSplit))
        #expect(m.configuration.attentionChunk == gguf.configuration.attentionChunk
                && m.configuration.noRoPELayerStep == gguf.configuration.noRoPELayerStep
                && m.configuration.queryKeyL2Norm == gguf.configuration.queryKeyL2Norm
                && m.configuration.hiddenDim == gguf.configuration.hiddenDim)
        let prompts = try #require(fx["prompts"] as? [[Int]])
        let expected = try #require(fx["last_logits"] as? [[Double]])
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        let got = try f.execute([SequenceChunk(tokens: prompts[1].map { TokenID($0) }, startPosition: 0, blockTable: [0, 1, 2], wantsLogits: true)])[0]
        ModelFamilyTests.expectClose(got, expected[1], "\(arch) safetensors")
    }

    /// Llama 4's chunks (8192) and temperature floor (8192) do not bite in the fixture's 256
    /// positions; with both at 16 the 100-token prompt crosses six chunk starts and the
    /// temperature steps up on the layer without RoPE.
    @Test("Llama 4 chunked attention and attention temperature match the NumPy reference")
    func llama4LocalAttention() throws {
        let (m, fx) = try ModelFamilyTests.fixture("llama4")
        let prompts = try #require(fx["prompts"] as? [[Int]])
        let expected = try #require(fx["local16_last_logits"] as? [Double])
        var c = m.configuration
        c.attentionChunk = 16
        c.attentionTemperatureFloorScale = 16
        let f = try ModelRunner(model: LlamaModel(configuration: c, weights: m.model.weights), blockSize: 16, blocks: .blocks(8))
        let table = (0..<Int32(7)).map { $0 }
        let got = try f.execute([SequenceChunk(tokens: prompts[2].map { TokenID($0) }, startPosition: 0, blockTable: table, wantsLogits: true)])[0]
        ModelFamilyTests.expectClose(got, expected, "chunks of 16")
        let plain = try #require(fx["last_logits"] as? [[Double]])[2]
        #expect(zip(got, plain).map { abs(Double($0) - $1) }.max()! > 0.1, "chunks of 16 changed nothing")
    }

    /// gpt-oss as OpenAI ships it on Hugging Face (MXFP4 `*_blocks`/`*_scales`, interleaved
    /// gate/up, YaRN without truncation), repacked at load: the NumPy logits of the model the
    /// codes stand for (make_family_fixtures.py's write_gptoss_hf).
    @Test("gpt-oss from config.json + MXFP4 safetensors matches the NumPy reference")
    func gptOSSSafetensors() throws {
        let dir = try #require(Bundle.module.url(forResource: "family_gptoss_hf", withExtension: nil, subdirectory: "Fixtures"))
        let m = try ModelLoader.load(path: dir.path)
        let (gguf, _) = try ModelFamilyTests.fixture("gptoss")
        #expect(m.configuration.experts == gguf.configuration.experts)
        #expect(m.configuration.attentionSinks && m.configuration.attentionOutputBias && m.configuration.slidingWindowPattern == 2)
        #expect(m.configuration.ropeAttentionFactor == gguf.configuration.ropeAttentionFactor)
        // (Truncation makes no difference at this head width; RoPEScalingTests checks gpt-oss's own.)
        #expect(m.configuration.ropeFrequencyFactors != nil)
        let e = try #require(m.model.weights.layers[2].experts)
        #expect(e.gate[5].dtype == .mxfp4 && e.up[5].rows == 64 && e.down[7].cols == 64)
        let data = try Data(contentsOf: dir.appendingPathComponent("expected.json"))
        let fx = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ids = try #require(fx["ids"] as? [Int])
        let expected = try #require(fx["last_logits"] as? [Double])
        // On the exact kernels: the reference is the model the codes stand for, and the GEMM's
        // int8 activations (bounded in GEMMTests) move these random-weight logits by about 0.3.
        let f = try ShardForwardTests.runner(m, blocks: 8, blockSize: 16)
        let got = try GEMVPath.portable.whileSelectedOnThisThread {
            try f.execute([SequenceChunk(tokens: ids.map { TokenID($0) }, startPosition: 0, blockTable: [0, 1, 2], wantsLogits: true)])[0]
        }
        ModelFamilyTests.expectClose(got, expected, "gpt-oss safetensors")
    }

    /// One step over three sequences groups their tokens by expert (one GEMM per expert); each
    /// sequence's logits are what it gets alone.
    @Test("three sequences in one step equal each alone", arguments: families)
    func batchedEqualsAlone(arch: String) throws {
        let (m, fx) = try ModelFamilyTests.fixture(arch)
        let prompts = try #require(fx["prompts"] as? [[Int]]).map { $0.map { TokenID($0) } }
        let tables: [[Int32]] = [[0], [1, 2, 3], [4, 5, 6, 7, 8, 9, 10]]
        let together = try ShardForwardTests.runner(m, blocks: 16).execute(
            zip(prompts, tables).map { SequenceChunk(tokens: $0, startPosition: 0, blockTable: $1, wantsLogits: true) })
        for (i, p) in prompts.enumerated() {
            let alone = try ShardForwardTests.runner(m, blocks: 16).execute(
                [SequenceChunk(tokens: p, startPosition: 0, blockTable: tables[i], wantsLogits: true)])[0]
            let err = zip(alone, together[i]).map { abs($0 - $1) }.max()!
            #expect(err < 1e-3, "\(arch) sequence \(i): max |Δlogit| \(err)")
        }
    }

    /// Experts in FP8, NVFP4 and MXFP4 (`--weights` at load): every expert matrix converted and
    /// multiplying as its original does within the format's rounding, and the logits still shaped
    /// like the reference's.
    @Test("experts re-quantised at load stay close to the reference", arguments: [WeightFormat.fp8, .nvfp4, .mxfp4])
    func quantisedExperts(format: WeightFormat) throws {
        let (m, fx) = try ModelFamilyTests.fixture("qwen3moe")
        let (q, report) = try m.quantized(with: WeightQuantizationPlan(linear: format))
        var rng = SplitMix64(seed: 7)
        for (l, layer) in q.model.weights.layers.enumerated() {
            let e = try #require(layer.experts), original = try #require(m.model.weights.layers[l].experts)
            #expect(e.router.dtype == .f32)
            for (a, b) in zip(e.gate + e.up + e.down, original.gate + original.up + original.down) {
                #expect(a.dtype == format.dtype, "\(format): \(report)")
                let x = (0..<a.cols).map { _ in Float.random(in: -1...1, using: &rng) }
                var ya = [Float](repeating: 0, count: a.rows), yb = ya
                a.multiply(x, into: &ya)
                b.multiply(x, into: &yb)
                // Relative RMS error of W·x: E4M3 about 2-3%, the 4-bit formats about 10-15%.
                let num = zip(ya, yb).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
                let den = yb.reduce(0) { $0 + Double($1 * $1) }
                #expect((num / den).squareRoot() < (format == .fp8 ? 0.05 : 0.25), "\(format) layer \(l)")
            }
        }
        let prompts = try #require(fx["prompts"] as? [[Int]])
        let expected = try #require(fx["last_logits"] as? [[Double]])[1]
        let f = try ShardForwardTests.runner(q, blocks: 8, blockSize: 16)
        let got = try f.execute([SequenceChunk(tokens: prompts[1].map { TokenID($0) }, startPosition: 0, blockTable: [0, 1, 2], wantsLogits: true)])[0]
        // The correlation of the logits with the reference's: 4-bit random weights also move the
        // routing, so the MoE model drifts further than a dense one (MXFP4 measured 0.72 here,
        // NVFP4 above 0.9, FP8 above 0.99); a mis-read expert drops it towards 0.
        let n = Double(got.count)
        let mg = got.reduce(0) { $0 + Double($1) } / n, me = expected.reduce(0, +) / n
        let cov = zip(got, expected).reduce(0) { $0 + (Double($1.0) - mg) * ($1.1 - me) }
        let vg = got.reduce(0) { $0 + (Double($1) - mg) * (Double($1) - mg) }, ve = expected.reduce(0) { $0 + ($1 - me) * ($1 - me) }
        let r = cov / (vg * ve).squareRoot()
        #expect(r > [WeightFormat.fp8: 0.99, .nvfp4: 0.85, .mxfp4: 0.6][format]!, "\(format): correlation \(r) with the reference's logits")
    }

    /// The ModelOpt export writes dense Llama checkpoints: an MoE model is refused by name rather
    /// than written with its (empty) dense FFN slots.
    @Test("the ModelOpt export refuses a mixture of experts", arguments: ["mixtral", "llama4"])
    func modelOptExportRefusesExperts(arch: String) throws {
        let (m, _) = try ModelFamilyTests.fixture(arch)
        #expect { _ = try ModelOptExport(model: m, format: .fp8) } throws: { "\($0)".contains("experts") }
    }

    @Test("routing: softmax, the top k, renormalised or not")
    func routing() {
        // Scores ln 1, ln 2, ln 4, ln 1: probabilities 1/8, 2/8, 4/8, 1/8.
        let logits: [Float] = [0, log(2), log(4), 0]
        let normalised = ExpertRouting.route(logits: logits, tokens: 1, experts: ExpertConfiguration(count: 4, perToken: 2, hiddenDim: 8, normalizeWeights: true))
        #expect(normalised.choices[0].map(\.expert) == [2, 1])
        #expect(abs(normalised.choices[0][0].weight - 2.0 / 3) < 1e-6 && abs(normalised.choices[0][1].weight - 1.0 / 3) < 1e-6)
        let raw = ExpertRouting.route(logits: logits, tokens: 1, experts: ExpertConfiguration(count: 4, perToken: 3, hiddenDim: 8, normalizeWeights: false))
        // Ties go to the lower number.
        #expect(raw.choices[0].map(\.expert) == [2, 1, 0])
        #expect(abs(raw.choices[0][0].weight - 0.5) < 1e-6 && abs(raw.choices[0][2].weight - 0.125) < 1e-6)
    }

    @Test("expert placement over ranks: whole experts or column slices, and what cannot be placed")
    func placement() throws {
        let (q2, _) = try ModelFamilyTests.fixture("qwen2moe")
        let ep = try ShardingPlan.make(model: q2.model, ranks: 2, experts: .expert)
        #expect(ep.expertParallelism == .expert)
        #expect(ep.shards.map(\.experts) == [0..<3, 3..<6] && ep.shards.allSatisfy { $0.expertColumns == 0..<64 })
        #expect(ep.shards.map(\.sharedExpertColumns) == [0..<48, 48..<96])
        let tp = try ShardingPlan.make(model: q2.model, ranks: 2, experts: .tensor)
        #expect(tp.shards.allSatisfy { $0.experts == 0..<6 } && tp.shards.map(\.expertColumns) == [0..<32, 32..<64])
        #expect(tp.describe(q2.configuration).contains("experts (tensor-parallel): 6 per layer, 2 per token"))
        // Each rank's shard holds its experts only.
        let shard = try LlamaShard(model: q2.model, spec: ep.shards[1])
        #expect(shard.layers[0].experts?.ids == 3..<6 && shard.layers[0].experts?.gate.count == 3)
        #expect(shard.layers[0].experts?.sharedDown?.cols == 48)
        // Fewer experts than ranks cannot be expert-parallel.
        var c = q2.configuration
        c.experts!.count = 2
        c.experts!.perToken = 1
        #expect(throws: ShardingError.self) { try ShardingPlan.make(c, ranks: 3, alignment: 1, experts: .expert) }
        // Weight bytes fall with expert parallelism much as with column slices.
        #expect(ep.shards[0].weightBytes < (try ShardingPlan.make(model: q2.model, ranks: 1)).shards[0].weightBytes)
    }

    @Test("a model with a broken expert tensor is refused, naming it")
    func missingExpertTensor() throws {
        let url = try #require(Bundle.module.url(forResource: "family_qwen3moe", withExtension: "gguf", subdirectory: "Fixtures"))
        var bytes = try Data(contentsOf: url)
        // Rename blk.1.ffn_up_exps.weight's name (same length) so the layer misses it.
        let from = Data("blk.1.ffn_up_exps".utf8), to = Data("blk.1.ffn_up_expX".utf8)
        let r = try #require(bytes.range(of: from))
        bytes.replaceSubrange(r, with: to)
        let path = NSTemporaryDirectory() + "tandem-moe-missing-\(getpid()).gguf"
        try bytes.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { _ = try ModelLoader.load(path: path) } throws: {
            "\($0)".contains("blk.1.ffn_up_exps.weight") && "\($0)".contains("per expert")
        }
    }
}
