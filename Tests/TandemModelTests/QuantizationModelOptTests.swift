import Foundation
import Testing
import TandemCore
import TandemKernels
@testable import TandemModel
import TandemTestSupport

/// `tandem quantize` output: NVIDIA ModelOpt checkpoint directories, written and read back.
@Suite("ModelOpt checkpoints: export and load")
struct QuantizationModelOptTests {
    static func export(_ model: LoadedModel, _ format: WeightFormat, _ name: String) throws -> (String, ModelOptExport.Summary) {
        let dir = temporaryPath(name)
        try? FileManager.default.removeItem(atPath: dir)
        var e = try ModelOptExport(model: model, format: format)
        e.calibrationTokens = 24
        return (dir, try e.write(to: dir))
    }

    struct Interrupted: Error {}

    @Test("an export that fails part-way leaves the earlier export whole and no partial files")
    func failedExportKeepsTheOldOne() throws {
        let (dir, _) = try Self.export(TestModels.stories, .fp8, "modelopt-atomic")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors"))
        var e = try ModelOptExport(model: TestModels.stories, format: .nvfp4)
        e.calibrationTokens = 8
        // Fails after the first tensor is on disk, as a full disk would.
        #expect(throws: Interrupted.self) {
            try e.write(to: dir) { phase, done, _ in if phase == "write" && done > 0 { throw Interrupted() } }
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors"))
        #expect(after == before)
        #expect(try ModelOptCheckpoint.quantConfig(directory: dir).algorithm == ModelOptExport.algorithmName(.fp8))
        let parent = URL(fileURLWithPath: dir).deletingLastPathComponent().path
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: parent).filter { $0.contains("modelopt-atomic.") }
        #expect(leftovers.isEmpty, "\(leftovers)")
        // A completed export replaces the old one.
        try e.write(to: dir)
        #expect(try ModelOptCheckpoint.quantConfig(directory: dir).algorithm == ModelOptExport.algorithmName(.nvfp4))
    }

    @Test("a directory holding other files is refused, not replaced")
    func foreignDirectoryIsRefused() throws {
        let dir = temporaryPath("modelopt-foreign")
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        var e = try ModelOptExport(model: TestModels.stories, format: .fp8)
        e.calibrationTokens = 8
        #expect(throws: ModelExportError.self) { try e.write(to: dir) }
        #expect(try String(contentsOfFile: dir + "/notes.txt", encoding: .utf8) == "keep me")
    }

    @Test("stories260K round trip: same logits as load-time quantisation, half-split RoPE", arguments: [WeightFormat.fp8, .nvfp4, .mxfp4])
    func storiesRoundTrip(format: WeightFormat) throws {
        let stories = TestModels.stories
        let (dir, summary) = try Self.export(stories, format, "modelopt-stories-\(format.rawValue)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(summary.quantized.count == (format == .fp8 ? 35 : 30))
        let loaded = try ModelLoader.load(path: dir)
        #expect(loaded.configuration.ropeStyle == .halfSplit)
        #expect(loaded.formatDescription.contains("ModelOpt"))
        #expect(loaded.model.weights.layers[0].wq.dtype == format.dtype)
        #expect(loaded.model.weights.layers[0].down.dtype == (format == .fp8 ? .fp8_e4m3 : .f32))
        let (reference, _) = try stories.quantized(with: WeightQuantizationPlan(linear: format))
        let prompt: [TokenID] = [1, 403, 407, 261, 378, 300, 280]
        let a = try LlamaSession(model: reference.model).prefill(prompt)
        let b = try LlamaSession(model: loaded.model).prefill(prompt)
        let maxDiff = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(maxDiff < 1e-4, "\(format): max |Δlogit| \(maxDiff) between the export and load-time quantisation")
        #expect(loaded.tokenizer.encode("Once upon a time", addBOS: true, parseSpecial: false)
                == stories.tokenizer.encode("Once upon a time", addBOS: true, parseSpecial: false))
        let quant = try ModelOptCheckpoint.quantConfig(directory: dir)
        #expect(quant.algorithm == ModelOptExport.algorithmName(format))
        #expect(quant.groupSize == (format == .nvfp4 ? 16 : format == .mxfp4 ? 32 : nil))
        #expect(quant.excludedModules.contains("lm_head"))
        if format != .fp8 { #expect(quant.excludedModules.contains("model.layers.0.mlp.down_proj")) }
    }

    @Test("tensor names, dtypes and shapes follow ModelOpt's layout")
    func layout() throws {
        let stories = TestModels.stories
        let (dir, _) = try Self.export(stories, .nvfp4, "modelopt-stories-layout")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try RawSafetensors(path: dir + "/model.safetensors")
        let c = stories.configuration
        func entry(_ n: String) throws -> RawSafetensors.Entry { try #require(f.entries[n], "missing \(n)") }
        let q = "model.layers.0.self_attn.q_proj"
        #expect(try entry(q + ".weight").dtype == "U8" && entry(q + ".weight").shape == [c.dim, c.dim / 2])
        #expect(try entry(q + ".weight_scale").dtype == "F8_E4M3" && entry(q + ".weight_scale").shape == [c.dim, c.dim / 16])
        #expect(try entry(q + ".weight_scale_2").shape == [] && entry(q + ".input_scale").shape == [])
        #expect(try entry("model.layers.0.mlp.down_proj.weight").dtype == "F32")
        #expect(f.entries["model.layers.0.mlp.down_proj.weight_scale"] == nil)
        #expect(try entry("model.embed_tokens.weight").shape == [c.vocabSize, c.dim])
        #expect(f.entries["lm_head.weight"] == nil)  // tied
        // Every F32 tensor is 4-byte aligned in the file; no holes between tensors.
        let sorted = f.entries.values.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) { #expect(a.offset + a.byteCount == b.offset) }
        for e in f.entries.values where e.dtype == "F32" { #expect(e.offset % 4 == 0) }
        // input_scale = calibrated amax / (6 · 448): positive and finite.
        let s = try f.floats(q + ".input_scale", entry(q + ".input_scale"))[0]
        #expect(s > 0 && s.isFinite)
        let hf = try SafetensorsModel.readJSON(dir + "/hf_quant_config.json")
        let producer = try #require(hf["producer"] as? [String: Any])
        #expect(producer["rope_layout"] as? String == "half_split")
        let config = try SafetensorsModel.readJSON(dir + "/config.json")
        #expect((config["quantization_config"] as? [String: Any])?["quant_method"] as? String == "modelopt")
    }

    @Test("half-split order un-permutes interleaved Q/K rows")
    func halfSplitOrder() {
        #expect(ModelOptExport.halfSplitOrder(heads: 1, headDim: 4) == [0, 2, 1, 3])
        #expect(ModelOptExport.halfSplitOrder(heads: 2, headDim: 4) == [0, 2, 1, 3, 4, 6, 5, 7])
    }

    @Test("SmolLM2 FP8 export: tokenizer.json round trip, chat template, Paris")
    func smolFP8() throws {
        let smol = TestModels.smol
        let (dir, summary) = try Self.export(smol, .fp8, "modelopt-smol-fp8")  // ~220 MB, removed after
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(summary.sourceTypes == [.q4_1])
        let hf = try SafetensorsModel.readJSON(dir + "/hf_quant_config.json")
        #expect(((hf["producer"] as? [String: Any])?["note"] as? String)?.contains("dequantised") == true)
        let loaded = try ModelLoader.load(path: dir)
        #expect(loaded.model.weights.layers[0].wq.dtype == .fp8_e4m3)
        let fx = try Fixtures.json("smollm2_tokenizer")
        for c in try #require(fx["cases"] as? [[String: Any]]) {
            let text = try #require(c["text"] as? String)
            #expect(loaded.tokenizer.encode(text) == smol.tokenizer.encode(text), "\(text.debugDescription)")
        }
        #expect(loaded.chatTemplate != nil)
        let ids = loaded.tokenizer.encode("The capital of France is")
        let out = try greedy(loaded, prompt: ids, count: 3)
        #expect(loaded.tokenizer.decode(out).hasPrefix(" Paris"))
    }

    @Test func rejectsOtherAlgorithms() throws {
        let dir = temporaryPath("modelopt-bad")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"quantization": {"quant_algo": "W4A8_AWQ"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/hf_quant_config.json"))
        #expect(ModelOptCheckpoint.isCheckpoint(directory: dir))
        #expect(throws: ModelLoadError.self) { try ModelLoader.load(path: dir) }
        #expect(throws: (any Error).self) { try ModelOptExport(model: TestModels.stories, format: .f32) }
    }
}
