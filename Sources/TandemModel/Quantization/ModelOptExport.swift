import Foundation
import TandemCore
import TandemKernels

/// Writes a Llama model as an NVIDIA ModelOpt ("unified HF") checkpoint directory:
///
/// * `config.json` (LlamaForCausalLM, with `quantization_config`), `hf_quant_config.json`
///   (`quant_algo` FP8 or NVFP4, `group_size` 16 for NVFP4, `exclude_modules`);
/// * `model.safetensors` with Hugging Face tensor names; per quantised linear layer `weight`
///   (FP8: F8_E4M3 (out, in); NVFP4: U8 (out, in/2), even column in the low nibble),
///   `weight_scale` (FP8: F32 scalar; NVFP4: F8_E4M3 (out, in/16)), `weight_scale_2` (NVFP4:
///   F32 scalar) and `input_scale` (F32 scalar from a max calibration over a fixed text);
///   norms and the embedding in F32;
/// * a tokenizer the loader reads (`tokenizer.json`, or llama2.c's `tokenizer.bin` copied).
///
/// RoPE layout: GGUF and llama2.c store Q/K rows permuted for interleaved RoPE; the export
/// un-permutes them (HF row h·d + j·d/2 + i = source row h·d + 2i + j) so the directory has the
/// Hugging Face half-split layout every HF loader expects. Row permutation commutes with these
/// formats' per-row block scales and per-tensor scales, so rows are quantised first, then moved.
///
/// MXFP4 (not a ModelOpt algorithm vLLM loads) is written the same way with `quant_algo: MXFP4`,
/// `group_size` 32, `weight` U8 (out, in/2) and `weight_scale` U8 E8M0 (out, in/32): Tandem reads
/// it back; other engines will not.
public struct ModelOptExport {
    public let model: LoadedModel
    public let format: WeightFormat
    public var calibrationText: String = ModelOptExport.defaultCalibrationText
    /// Calibration positions at most (each costs one forward pass at full precision).
    public var calibrationTokens = 128

    public init(model: LoadedModel, format: WeightFormat) throws {
        guard [.fp8, .nvfp4, .mxfp4].contains(format) else {
            throw ModelExportError("a ModelOpt checkpoint holds fp8, nvfp4 or mxfp4 weights, not \(format.rawValue)")
        }
        // config.json can state llama3 or linear scaling, not arbitrary per-pair factors.
        guard model.configuration.ropeFrequencyFactors == nil else {
            throw ModelExportError("the model uses RoPE scaling, which the ModelOpt export does not write yet")
        }
        // The export writes a `llama` checkpoint: no attention biases, no Q/K norms, head width dim/heads.
        let c = model.configuration
        guard !c.attentionBias, !c.queryKeyNorm, c.explicitHeadDim == nil else {
            throw ModelExportError("the ModelOpt export writes Llama checkpoints; \(c.architecture) (attention biases, Q/K norms or its own head width) is not written yet")
        }
        // Nor experts, sinks, chunked attention or layers without RoPE (Mixtral, gpt-oss, Llama 4).
        guard c.experts == nil, !c.attentionSinks, !c.attentionOutputBias, c.attentionChunk == nil, c.noRoPELayerStep == nil,
              !c.queryKeyL2Norm else {
            throw ModelExportError("the ModelOpt export writes dense Llama checkpoints; \(c.architecture) (experts, attention sinks, chunked attention or layers without RoPE) is not written yet")
        }
        self.model = model
        self.format = format
    }

    /// A short, plain English text for the activation-range calibration.
    public static let defaultCalibrationText = """
        The library opened at nine in the morning. Children came in with their parents, picked \
        up books about animals, planets and trains, and sat on the carpet to read. At noon the \
        librarian counted 42 visitors; by the evening there were 117, and every chair was taken.
        """

    /// What the export did, for logs.
    public struct Summary: Sendable {
        public var quantized: [String] = []
        public var excluded: [String] = []
        public var bytes = 0
        public var sourceTypes: [DType] = []
    }

    /// Writes the export to `directory`. Everything is written into a new sibling directory
    /// first and renamed into place only when complete, so a failure (disk full, an error, a
    /// `progress` that throws to cancel) leaves an earlier export at `directory` as it was.
    /// An existing `directory` must be empty or an earlier export (config.json and
    /// model.safetensors); anything else is refused rather than replaced.
    /// `progress(phase, done, total)` reports "calibrate" (positions), "quantize" (matrices) and
    /// "write" (bytes).
    @discardableResult
    public func write(to directory: String, progress: ((String, Int, Int) throws -> Void)? = nil) throws -> Summary {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: directory).standardizedFileURL
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: target.path, isDirectory: &isDirectory)
        if exists {
            guard isDirectory.boolValue else {
                throw ModelExportError("\(directory) is a file; choose a directory path for the export")
            }
            let entries = try fm.contentsOfDirectory(atPath: target.path)
            let isExport = entries.contains("config.json") && entries.contains("model.safetensors")
            guard entries.isEmpty || isExport else {
                throw ModelExportError("\(directory) already holds other files (\(entries.sorted().prefix(3).joined(separator: ", "))); choose a new or empty directory")
            }
        }
        let parent = target.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        let summary: Summary
        do {
            summary = try writeFiles(to: staging.path, progress: progress)
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
        // Swap in: the old export moves aside, the new one takes its name, the old one goes.
        let previous = parent.appendingPathComponent(".\(target.lastPathComponent).previous-\(getpid())")
        if exists {
            try? fm.removeItem(at: previous)
            try fm.moveItem(at: target, to: previous)
        }
        do {
            try fm.moveItem(at: staging, to: target)
        } catch {
            if exists { try? fm.moveItem(at: previous, to: target) }
            try? fm.removeItem(at: staging)
            throw ModelExportError("cannot move the finished export into \(directory): \(error)")
        }
        if exists { try? fm.removeItem(at: previous) }
        return summary
    }

    private func writeFiles(to directory: String, progress: ((String, Int, Int) throws -> Void)?) throws -> Summary {
        let c = model.configuration
        let target = format.dtype!
        // 1. Calibrate activation ranges at full precision (the weights as stored).
        var tokens = model.tokenizer.encode(calibrationText, addBOS: true, parseSpecial: false)
        if tokens.count > calibrationTokens { tokens = Array(tokens.prefix(calibrationTokens)) }
        let calibrator = try ActivationCalibrator(model: model.model, maxPositions: max(tokens.count, 1))
        var cancelled: (any Error)?
        try calibrator.observe(tokens) { done in
            if cancelled == nil { do { try progress?("calibrate", done, tokens.count) } catch { cancelled = error } }
        }
        if let cancelled { throw cancelled }
        let ranges = calibrator.ranges

        // 2. Quantise every linear layer; un-permute Q/K rows into the half-split layout.
        let interleaved = c.ropeStyle == .interleaved
        let qOrder = Self.halfSplitOrder(heads: c.headCount, headDim: c.headDim)
        let kOrder = Self.halfSplitOrder(heads: c.kvHeadCount, headDim: c.headDim)
        var writer = SafetensorsWriter()
        writer.metadata["producer"] = "tandem"
        var summary = Summary()
        var sources = Set<DType>()
        let w = model.model.weights
        let total = w.layers.count * 7
        var done = 0
        for (l, layer) in w.layers.enumerated() {
            let p = "model.layers.\(l)."
            let r = ranges.layers[l]
            let linear: [(String, WeightMatrix, [Int]?, Float)] = [
                ("self_attn.q_proj", layer.wq, interleaved ? qOrder : nil, r.attentionInput),
                ("self_attn.k_proj", layer.wk, interleaved ? kOrder : nil, r.attentionInput),
                ("self_attn.v_proj", layer.wv, nil, r.attentionInput),
                ("self_attn.o_proj", layer.wo, nil, r.attentionOutput),
                ("mlp.gate_proj", layer.gate, nil, r.ffnInput),
                ("mlp.up_proj", layer.up, nil, r.ffnInput),
                ("mlp.down_proj", layer.down, nil, r.ffnHidden),
            ]
            for (name, m, order, inputAmax) in linear {
                let module = p + name
                if m.conversionProblem(to: target) != nil {
                    // Kept unquantised (e.g. 172 input columns is not a whole number of NVFP4 blocks).
                    let kept = order.map { m.permutingRows($0) } ?? m
                    Self.addDense(&writer, module + ".weight", kept)
                    summary.excluded.append(module)
                } else {
                    var q = try m.converted(to: target)
                    if let order { q = q.permutingRows(order) }
                    Self.addQuantized(&writer, module, q, inputAmax: inputAmax)
                    summary.quantized.append(module)
                    sources.insert(m.dtype)
                }
                done += 1
                try progress?("quantize", done, total)
            }
            writer.addF32(p + "input_layernorm.weight", shape: [c.dim]) { layer.attentionNorm }
            writer.addF32(p + "post_attention_layernorm.weight", shape: [c.dim]) { layer.ffnNorm }
        }
        writer.addF32("model.norm.weight", shape: [c.dim]) { w.finalNorm }
        Self.addDense(&writer, "model.embed_tokens.weight", w.tokenEmbedding)
        if !c.tiedEmbeddings { Self.addDense(&writer, "lm_head.weight", w.output) }
        summary.excluded.append("lm_head")
        summary.sourceTypes = sources.sorted { $0.rawValue < $1.rawValue }

        // 3. Metadata files, tokenizer, tensors.
        try writeJSON(configJSON(excluded: summary.excluded), to: directory + "/config.json")
        try writeJSON(quantConfigJSON(excluded: summary.excluded, sources: summary.sourceTypes), to: directory + "/hf_quant_config.json")
        try TokenizerExport.write(model, to: directory)
        try writer.write(to: directory + "/model.safetensors") { try progress?("write", $0, $1) }
        summary.bytes = writer.tensors.reduce(0) { $0 + $1.byteCount }
        return summary
    }

    /// Source row for each half-split row: row h·d + j·d/2 + i comes from h·d + 2i + j.
    public static func halfSplitOrder(heads: Int, headDim hd: Int) -> [Int] {
        var order = [Int](repeating: 0, count: heads * hd)
        let half = hd / 2
        for h in 0..<heads { for i in 0..<half { for j in 0..<2 { order[h * hd + j * half + i] = h * hd + 2 * i + j } } }
        return order
    }

    static func addDense(_ writer: inout SafetensorsWriter, _ name: String, _ m: WeightMatrix) {
        writer.addF32(name, shape: [m.rows, m.cols]) { m.dequantized() }
    }

    static func addQuantized(_ writer: inout SafetensorsWriter, _ module: String, _ q: WeightMatrix, inputAmax: Float) {
        let rows = q.rows, cols = q.cols
        let data = { Array(UnsafeRawBufferPointer(start: q.base, count: q.byteCount)) }
        switch (q.dtype, q.scales) {
        case (.fp8_e4m3, _):
            writer.add(.init(name: module + ".weight", dtype: "F8_E4M3", shape: [rows, cols], byteCount: rows * cols, bytes: data))
            let s = q.rowScale(0)
            writer.addF32(module + ".weight_scale", shape: []) { [s] }
            writer.addF32(module + ".input_scale", shape: []) { [FP8Scaled.scale(amax: inputAmax)] }
        case (.nvfp4, .blocks(let tensor, let blocks)):
            writer.add(.init(name: module + ".weight", dtype: "U8", shape: [rows, cols / 2], byteCount: rows * cols / 2, bytes: data))
            writer.add(.init(name: module + ".weight_scale", dtype: "F8_E4M3", shape: [rows, cols / 16],
                             byteCount: rows * cols / 16) { Array(UnsafeBufferPointer(start: blocks, count: rows * cols / 16)) })
            writer.addF32(module + ".weight_scale_2", shape: []) { [tensor] }
            writer.addF32(module + ".input_scale", shape: []) { [NVFP4.tensorScale(amax: inputAmax)] }
        case (.mxfp4, _):
            let planes = MXFP4Planes(ggml: q)
            writer.add(.init(name: module + ".weight", dtype: "U8", shape: [rows, cols / 2], byteCount: rows * cols / 2) { planes.packed })
            writer.add(.init(name: module + ".weight_scale", dtype: "U8", shape: [rows, cols / 32], byteCount: rows * cols / 32) { planes.scales })
        default:
            preconditionFailure("addQuantized: \(q.dtype) is not a ModelOpt format")
        }
    }

    func configJSON(excluded: [String]) -> [String: Any] {
        let c = model.configuration
        let bos = model.tokenizer.vocabulary.bos.map { Int($0) } ?? 1
        let eos = model.tokenizer.vocabulary.eos.map { Int($0) } ?? 2
        return [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "hidden_size": c.dim, "intermediate_size": c.hiddenDim, "num_hidden_layers": c.layerCount,
            "num_attention_heads": c.headCount, "num_key_value_heads": c.kvHeadCount, "head_dim": c.headDim,
            "vocab_size": c.vocabSize, "max_position_embeddings": c.contextLength,
            "rope_theta": Double(c.ropeTheta), "rms_norm_eps": Double(c.rmsNormEpsilon),
            "tie_word_embeddings": c.tiedEmbeddings, "bos_token_id": bos, "eos_token_id": eos,
            "torch_dtype": "float32",
            "quantization_config": quantizationSection(excluded: excluded).merging(["quant_method": "modelopt"]) { a, _ in a },
        ]
    }

    func quantizationSection(excluded: [String]) -> [String: Any] {
        var q: [String: Any] = ["quant_algo": Self.algorithmName(format), "kv_cache_quant_algo": NSNull(),
                                "exclude_modules": excluded]
        if format == .nvfp4 { q["group_size"] = 16 }
        if format == .mxfp4 { q["group_size"] = 32 }
        return q
    }

    func quantConfigJSON(excluded: [String], sources: [DType]) -> [String: Any] {
        [
            "producer": [
                "name": "tandem", "version": "0.1",
                "source": model.formatDescription,
                "source_dtypes": sources.map(\.rawValue),
                "note": sources.contains { $0.isQuantized }
                    ? "re-quantised from an already quantised checkpoint: its full precision is the dequantised source"
                    : "quantised from the source's full-precision weights",
                "rope_layout": "half_split",
            ] as [String: Any],
            "quantization": quantizationSection(excluded: excluded),
        ]
    }

    static func algorithmName(_ f: WeightFormat) -> String {
        switch f {
        case .fp8: "FP8"
        case .nvfp4: "NVFP4"
        default: "MXFP4"
        }
    }

    func writeJSON(_ object: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        guard FileManager.default.createFile(atPath: path, contents: data) else { throw ModelExportError("cannot write \(path)") }
    }
}

/// MXFP4 between ggml's blocks (17 bytes per 32 values: E8M0, then value j in the low nibble and
/// j+16 in the high nibble of byte j) and planar form (codes two per byte, even column low, as
/// NVFP4; one E8M0 byte per 32 values in a separate plane). The E2M1 codes are the same.
struct MXFP4Planes {
    var packed: [UInt8]  // (rows, cols/2)
    var scales: [UInt8]  // (rows, cols/32)

    init(ggml m: WeightMatrix) {
        let rows = m.rows, cols = m.cols, nb = cols / 32
        packed = [UInt8](repeating: 0, count: rows * cols / 2)
        scales = [UInt8](repeating: 0, count: rows * nb)
        let src = m.base.assumingMemoryBound(to: UInt8.self)
        for r in 0..<rows {
            for b in 0..<nb {
                let blk = src + (r * nb + b) * 17
                scales[r * nb + b] = blk[0]
                for v in 0..<32 {
                    let code = v < 16 ? blk[1 + v] & 0x0F : blk[1 + v - 16] >> 4
                    let c = b * 32 + v
                    packed[(r * cols + c) / 2] |= c % 2 == 0 ? code : code << 4
                }
            }
        }
    }

    /// The ggml block bytes for (rows, cols) from planar `packed` and `scales`.
    static func ggmlBlocks(packed: UnsafePointer<UInt8>, scales: UnsafePointer<UInt8>, rows: Int, cols: Int) -> RawBuffer {
        let nb = cols / 32
        let out = RawBuffer(count: rows * nb * 17)
        let dst = out.pointer.bindMemory(to: UInt8.self, capacity: rows * nb * 17)
        dst.initialize(repeating: 0, count: rows * nb * 17)
        for r in 0..<rows {
            for b in 0..<nb {
                let blk = dst + (r * nb + b) * 17
                blk[0] = scales[r * nb + b]
                for v in 0..<32 {
                    let c = b * 32 + v
                    let byte = packed[(r * cols + c) / 2]
                    let code = c % 2 == 0 ? byte & 0x0F : byte >> 4
                    if v < 16 { blk[1 + v] |= code } else { blk[1 + v - 16] |= code << 4 }
                }
            }
        }
        return out
    }
}
