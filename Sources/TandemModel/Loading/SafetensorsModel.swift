import Foundation
import TandemCore
import TandemKernels

/// Hugging Face checkpoints: `config.json` + one or more `*.safetensors` (8-byte little-endian
/// header length, JSON header of name → dtype/shape/offsets, raw data) + `tokenizer.json`.
public final class SafetensorsFile: TensorSource, @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        public let offset: Int
        public let byteCount: Int
    }

    public let file: MappedFile
    public let entries: [String: Entry]
    /// U8 tensors (gpt-oss's MXFP4 `*_blocks` and `*_scales`): shape and bytes, read as they are.
    public let byteEntries: [String: (shape: [Int], offset: Int)]
    public var path: String { file.path }

    public init(path: String) throws {
        file = try MappedFile(path: path)
        var entries: [String: Entry] = [:]
        var bytes: [String: (shape: [Int], offset: Int)] = [:]
        try SafetensorsHeader.parse(file, elementBytes: { dt in dt == "U8" ? 1 : DType(safetensorsName: dt)?.blockBytes }) { name, dt, shape, offset, byteCount in
            if dt == "U8" {
                bytes[name] = (shape, offset)
            } else {
                entries[name] = Entry(dtype: DType(safetensorsName: dt)!, shape: shape, offset: offset, byteCount: byteCount)
            }
        }
        self.entries = entries
        byteEntries = bytes
    }

    public func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        guard let e = entries[name] else {
            throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)", "no tensor \"\(name)\" (expected shape [\(rows), \(cols)])")
        }
        let flat = e.shape.count == 1 ? [1, e.shape[0]] : e.shape
        guard flat == [rows, cols] else {
            throw ModelLoadError(.shapeMismatch, file: path, place: "tensor \(name)", "shape \(e.shape) does not match the expected [\(rows), \(cols)]")
        }
        return WeightMatrix(dtype: e.dtype, rows: rows, cols: cols, base: file.base + e.offset, owner: file)
    }
}

extension DType {
    /// The dtypes a plain float safetensors checkpoint may hold.
    init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        default: return nil
        }
    }
}

/// The safetensors header: 8-byte little-endian length, a JSON object of name → dtype, shape and
/// data offsets. Shared by the plain and the quantised (ModelOpt) readers, which differ only in
/// the dtypes they accept (`elementBytes` returns nil for the others).
enum SafetensorsHeader {
    static func parse(_ file: MappedFile, elementBytes: (String) -> Int?,
                      entry: (_ name: String, _ dtype: String, _ shape: [Int], _ offset: Int, _ byteCount: Int) throws -> Void) throws {
        let path = file.path
        var r = ByteReader(file)
        let n = try r.read(UInt64.self, "the header length")
        guard n > 1, n < 100_000_000 else {
            throw ModelLoadError(.badMagic, file: path, place: "byte 0", "header length \(n) is not plausible: not a safetensors file")
        }
        let headerBytes = try r.readBytes(Int(n), "the JSON header")
        let dataStart = 8 + Int(n)
        guard let json = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw ModelLoadError(.badMetadata, file: path, place: "header (bytes 8-\(dataStart))", "the header is not a JSON object")
        }
        for (name, value) in json where name != "__metadata__" {
            guard let t = value as? [String: Any], let dt = t["dtype"] as? String,
                  let shape = t["shape"] as? [Int], let offs = t["data_offsets"] as? [Int], offs.count == 2 else {
                throw ModelLoadError(.badMetadata, file: path, place: "tensor \(name)", "entry needs dtype, shape and data_offsets")
            }
            guard let size = elementBytes(dt) else {
                let known = ["F32", "F16", "BF16", "F8_E4M3", "U8", "I8"].filter { elementBytes($0) != nil }
                throw ModelLoadError(.unknownTensorType, file: path, place: "tensor \(name)",
                                     "dtype \(dt) is not supported (supported: \(known.joined(separator: ", ")))")
            }
            let count = shape.reduce(1, *)
            guard offs[0] >= 0, offs[1] - offs[0] == count * size else {
                throw ModelLoadError(.shapeMismatch, file: path, place: "tensor \(name)",
                                     "data_offsets span \(offs[1] - offs[0]) bytes, shape \(shape) of \(dt) needs \(count * size)")
            }
            guard dataStart + offs[1] <= file.size else {
                throw ModelLoadError(.truncated, file: path, place: "tensor \(name)",
                                     "data ends at byte \(dataStart + offs[1]) but the file has \(file.size): it is truncated")
            }
            try entry(name, dt, shape, dataStart + offs[0], offs[1] - offs[0])
        }
    }
}

/// A set of safetensors shards seen as one source.
struct ShardedTensorSource: TensorSource {
    let shards: [SafetensorsFile]
    let path: String

    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        for s in shards where s.entries[name] != nil { return try s.matrix(name, rows: rows, cols: cols) }
        throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)",
                             "no shard has tensor \"\(name)\" (expected shape [\(rows), \(cols)])")
    }

    /// The tensor `name` of shape `stacked` seen as a (rows, cols) matrix (rows: the product of
    /// all but the last dimension).
    func matrix(_ name: String, rows: Int, cols: Int, stacked: [Int]) throws -> WeightMatrix {
        for s in shards {
            guard let e = s.entries[name] else { continue }
            guard e.shape == stacked else {
                throw ModelLoadError(.shapeMismatch, file: s.path, place: "tensor \(name)", "shape \(e.shape) does not match the expected \(stacked)")
            }
            return WeightMatrix(dtype: e.dtype, rows: rows, cols: cols, base: s.file.base + e.offset, owner: s.file)
        }
        throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)", "no shard has tensor \"\(name)\" (expected shape \(stacked))")
    }

    /// The U8 tensor `name` of `shape`, its bytes in the mapping.
    func bytes(_ name: String, shape: [Int]) throws -> UnsafeRawPointer {
        for s in shards {
            guard let e = s.byteEntries[name] else { continue }
            guard e.shape == shape else {
                throw ModelLoadError(.shapeMismatch, file: s.path, place: "tensor \(name)", "shape \(e.shape) does not match the expected \(shape)")
            }
            return s.file.base + e.offset
        }
        throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)",
                             "no shard has the U8 tensor \"\(name)\" (expected shape \(shape))")
    }
}

/// Llama 4's experts as Meta ships them: `experts.gate_up_proj` (experts, hidden, 2·width), gate
/// columns then up columns, and `experts.down_proj` (experts, width, hidden), i.e. transposed
/// against the (out, in) matrices the kernels read; transposed into F32 at load. The router and
/// the shared expert are ordinary tensors.
enum Llama4Experts {
    static func load(from source: ShardedTensorSource, names: LlamaTensorNames, layer l: Int, config c: ModelConfiguration,
                     experts e: ExpertConfiguration) throws -> ExpertLayerWeights {
        let p = "language_model.model.layers.\(l).feed_forward.experts."
        let n = e.count, ff = e.hiddenDim, dim = c.dim
        // (experts · rows, cols) views of the 3-D tensors; row r of expert x is row x·rows + r.
        let gateUp = try source.matrix(p + "gate_up_proj", rows: n * dim, cols: 2 * ff, stacked: [n, dim, 2 * ff])
        let down = try source.matrix(p + "down_proj", rows: n * ff, cols: dim, stacked: [n, ff, dim])
        // out[x][o][i] = in[x][i][o + offset]: the transposed slice, one expert at a time.
        func transposed(_ m: WeightMatrix, inRows: Int, outRows: Int, offset: Int) -> [WeightMatrix] {
            let buffer = RawBuffer(count: n * outRows * inRows * 4)
            let dst = buffer.pointer.assumingMemoryBound(to: Float.self)
            var row = [Float](repeating: 0, count: m.cols)
            for x in 0..<n {
                for i in 0..<inRows {
                    row.withUnsafeMutableBufferPointer { m.row(x * inRows + i, into: $0.baseAddress!) }
                    for o in 0..<outRows { dst[(x * outRows + o) * inRows + i] = row[o + offset] }
                }
            }
            let all = WeightMatrix(dtype: .f32, rows: n * outRows, cols: inRows, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
            return (0..<n).map { all.slicingRows(($0 * outRows)..<(($0 + 1) * outRows)) }
        }
        func n2(_ t: String) -> String { names.name(t, layer: l) }
        var w = ExpertLayerWeights(
            router: try source.matrix(n2(names.router), rows: n, cols: dim), ids: 0..<n,
            gate: transposed(gateUp, inRows: dim, outRows: ff, offset: 0),
            up: transposed(gateUp, inRows: dim, outRows: ff, offset: ff),
            down: transposed(down, inRows: ff, outRows: dim, offset: 0))
        if e.sharedHiddenDim > 0 {
            w.sharedGate = try source.matrix(n2(names.sharedGate), rows: e.sharedHiddenDim, cols: dim)
            w.sharedUp = try source.matrix(n2(names.sharedUp), rows: e.sharedHiddenDim, cols: dim)
            w.sharedDown = try source.matrix(n2(names.sharedDown), rows: dim, cols: e.sharedHiddenDim)
        }
        return w
    }
}

/// gpt-oss's experts as OpenAI ships them: MXFP4 in `gate_up_proj_blocks` / `_scales` (gate and
/// up rows interleaved) and `down_proj_blocks` / `_scales`, two E2M1 codes per byte (the even
/// column in the low nibble) and an E8M0 exponent per 32 values; biases beside them. Repacked at
/// load into GGUF's MXFP4 blocks (exponent first, then value j and j + 16 in one byte), which
/// the kernels read, with gate and up in matrices of their own.
enum GPTOSSExperts {
    static func load(from source: ShardedTensorSource, layer l: Int, config c: ModelConfiguration,
                     experts e: ExpertConfiguration) throws -> ExpertLayerWeights {
        let p = "model.layers.\(l).mlp."
        let n = e.count, ff = e.hiddenDim, dim = c.dim
        guard dim % 32 == 0, ff % 32 == 0 else {
            throw ModelLoadError(.shapeMismatch, file: source.path, place: "tensor \(p)experts",
                                 "MXFP4 experts need widths that are multiples of 32 (hidden \(dim), expert \(ff))")
        }
        let gateUpBlocks = try source.bytes(p + "experts.gate_up_proj_blocks", shape: [n, 2 * ff, dim / 32, 16])
        let gateUpScales = try source.bytes(p + "experts.gate_up_proj_scales", shape: [n, 2 * ff, dim / 32])
        let downBlocks = try source.bytes(p + "experts.down_proj_blocks", shape: [n, dim, ff / 32, 16])
        let downScales = try source.bytes(p + "experts.down_proj_scales", shape: [n, dim, ff / 32])
        // Rows (expert, row) of the checkpoint's (experts, rows) into GGUF MXFP4 rows; `pick`
        // maps an output row to its source row.
        func repack(_ blocks: UnsafeRawPointer, _ scales: UnsafeRawPointer, sourceRows: Int, rows: Int, cols: Int,
                    pick: (Int) -> Int) -> [WeightMatrix] {
            let perRow = cols / 32, rowBytes = perRow * 17
            let buffer = RawBuffer(count: n * rows * rowBytes)
            let src = blocks.assumingMemoryBound(to: UInt8.self), exps = scales.assumingMemoryBound(to: UInt8.self)
            let dst = buffer.pointer.assumingMemoryBound(to: UInt8.self)
            var v = [UInt8](repeating: 0, count: 32)
            for x in 0..<n {
                for r in 0..<rows {
                    let from = x * sourceRows + pick(r), to = (x * rows + r) * rowBytes
                    for b in 0..<perRow {
                        let codes = src + (from * perRow + b) * 16
                        for k in 0..<16 { v[2 * k] = codes[k] & 15; v[2 * k + 1] = codes[k] >> 4 }
                        let out = dst + to + b * 17
                        out[0] = exps[from * perRow + b]
                        for j in 0..<16 { out[1 + j] = v[j] | (v[j + 16] << 4) }
                    }
                }
            }
            let all = WeightMatrix(dtype: .mxfp4, rows: n * rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
            return (0..<n).map { all.slicingRows(($0 * rows)..<(($0 + 1) * rows)) }
        }
        func rows(_ name: String, width: Int) throws -> [[Float]] {
            let m = try source.matrix(name, rows: n, cols: width)
            return (0..<n).map { r in
                var v = [Float](repeating: 0, count: width)
                v.withUnsafeMutableBufferPointer { m.row(r, into: $0.baseAddress!) }
                return v
            }
        }
        let gateUpBias = try rows(p + "experts.gate_up_proj_bias", width: 2 * ff)
        var w = ExpertLayerWeights(
            router: try source.matrix(p + "router.weight", rows: n, cols: dim), ids: 0..<n,
            gate: repack(gateUpBlocks, gateUpScales, sourceRows: 2 * ff, rows: ff, cols: dim) { 2 * $0 },
            up: repack(gateUpBlocks, gateUpScales, sourceRows: 2 * ff, rows: ff, cols: dim) { 2 * $0 + 1 },
            down: repack(downBlocks, downScales, sourceRows: dim, rows: dim, cols: ff) { $0 })
        w.routerBias = try source.vector(p + "router.bias", count: n)
        w.gateBias = gateUpBias.map { b in stride(from: 0, to: 2 * ff, by: 2).map { b[$0] } }
        w.upBias = gateUpBias.map { b in stride(from: 1, to: 2 * ff, by: 2).map { b[$0] } }
        w.downBias = try rows(p + "experts.down_proj_bias", width: dim)
        return w
    }
}

/// Loads a Hugging Face Llama directory.
public enum SafetensorsModel {
    public static func load(directory: String) throws -> LoadedModel {
        let configPath = directory + "/config.json"
        let config = try configuration(path: configPath)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?
            .filter { $0.hasSuffix(".safetensors") }.sorted() ?? []
        guard !files.isEmpty else {
            throw ModelLoadError(.cannotOpen, file: directory, place: "directory", "no *.safetensors files in the directory")
        }
        let source = ShardedTensorSource(shards: try files.map { try SafetensorsFile(path: directory + "/" + $0) }, path: directory)
        let names: LlamaTensorNames = config.gemmaStyle ? .huggingFaceGemma2
            : config.experts == nil ? .huggingFace : config.architecture == "llama" ? .huggingFaceMixtral
            : config.architecture == "gpt-oss" ? .huggingFaceGPTOSS : config.architecture == "llama4" ? .huggingFaceLlama4
            : .huggingFaceQwenMoE
        var experts: ((Int, ExpertConfiguration) throws -> ExpertLayerWeights)?
        if config.architecture == "gpt-oss" {
            experts = { l, e in try GPTOSSExperts.load(from: source, layer: l, config: config, experts: e) }
        } else if config.architecture == "llama4" {
            experts = { l, e in try Llama4Experts.load(from: source, names: names, layer: l, config: config, experts: e) }
        }
        var weights = try LlamaWeights.load(from: source, names: names, config: config, experts: experts)
        if config.gemmaStyle { weights = weights.addingOneToNorms() }
        let json = try readJSON(configPath)
        let tokenizer = try HFTokenizerFile.load(path: directory + "/tokenizer.json",
                                                 bos: (json["bos_token_id"] as? Int).flatMap { TokenID(exactly: $0) },
                                                 eos: (json["eos_token_id"] as? Int).flatMap { TokenID(exactly: $0) })
        var template: ChatTemplate?, problem: String?
        if let tc = try? readJSON(directory + "/tokenizer_config.json"), let jinja = tc["chat_template"] as? String {
            (template, problem) = ChatTemplate.fromModelReporting(jinja: jinja, tokenizer: tokenizer)
        }
        let types = Set(source.shards.flatMap { $0.entries.values.map(\.dtype.rawValue) }).sorted()
        return LoadedModel(model: LlamaModel(configuration: config, weights: weights), tokenizer: tokenizer,
                           chatTemplate: template,
                           chatTemplateProblem: problem.map { "\(directory)/tokenizer_config.json: chat_template: \($0)" }, path: directory,
                           formatDescription: "safetensors (\(types.joined(separator: ", ")))")
    }

    static func readJSON(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelLoadError(.cannotOpen, file: path, place: "open", "cannot read the file")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelLoadError(.badMetadata, file: path, place: "byte 0", "not a JSON object")
        }
        return obj
    }

    /// The experts of a Mixtral, gpt-oss or Llama 4 (`num_local_experts`), Qwen2-MoE or
    /// Qwen3-MoE (`num_experts`) config; nil for a dense one. Qwen's dense layers between expert
    /// layers (`decoder_sparse_step` > 1, `mlp_only_layers`) are refused rather than run as
    /// experts; Llama 4's `interleave_moe_layer_step` is honoured.
    static func expertConfiguration(_ j: [String: Any], family: String, path: String) throws -> ExpertConfiguration? {
        let count = (j["num_local_experts"] as? Int) ?? (j["num_experts"] as? Int) ?? 0
        guard count > 0 else {
            if family.hasSuffix("moe") {
                throw ModelLoadError(.badMetadata, file: path, place: "key num_experts", "a \(family) model needs a positive num_experts")
            }
            return nil
        }
        guard let perToken = j["num_experts_per_tok"] as? Int else {
            throw ModelLoadError(.badMetadata, file: path, place: "key num_experts_per_tok", "required integer key is missing")
        }
        if let step = j["decoder_sparse_step"] as? Int, step != 1 {
            throw ModelLoadError(.badMetadata, file: path, place: "key decoder_sparse_step",
                                 "dense layers between expert layers (decoder_sparse_step \(step)) are not supported")
        }
        if let dense = j["mlp_only_layers"] as? [Any], !dense.isEmpty {
            throw ModelLoadError(.badMetadata, file: path, place: "key mlp_only_layers",
                                 "dense layers among expert layers (mlp_only_layers) are not supported")
        }
        let hiddenKey = ["llama", "gpt-oss", "llama4"].contains(family) ? "intermediate_size" : "moe_intermediate_size"
        guard let hidden = j[hiddenKey] as? Int else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(hiddenKey)", "required integer key is missing")
        }
        let shared = family == "qwen2moe" ? (j["shared_expert_intermediate_size"] as? Int) ?? 0 : 0
        var e = ExpertConfiguration(count: count, perToken: perToken, hiddenDim: hidden,
                                    normalizeWeights: family == "llama" ? true : (j["norm_topk_prob"] as? Bool) ?? false,
                                    sharedHiddenDim: shared, sharedGated: shared > 0)
        if family == "llama4" {
            // Sigmoid weights on the expert input, a shared expert as wide as the others, experts on
            // every interleave_moe_layer_step-th layer (moe_layers, where given, must say the same).
            e.gating = .sigmoid
            e.weightBeforeFFN = true
            e.sharedHiddenDim = hidden
            e.layerStep = max(1, (j["interleave_moe_layer_step"] as? Int) ?? 1)
            let layers = (j["num_hidden_layers"] as? Int) ?? 0
            if let moe = j["moe_layers"] as? [Int], moe != (0..<layers).filter({ e.isExpertLayer($0) }) {
                throw ModelLoadError(.badMetadata, file: path, place: "key moe_layers",
                                     "expert layers \(moe) are not one layer in every \(e.layerStep) (interleave_moe_layer_step); not supported")
            }
        }
        if family == "gpt-oss" {
            // A softmax over the chosen experts' scores (the renormalised softmax), biases, clamped SwiGLU.
            e.normalizeWeights = true
            e.biases = true
            e.activation = .swigluClamped
        }
        if let problem = e.validationProblem() {
            throw ModelLoadError(.badMetadata, file: path, place: "key num_experts", problem)
        }
        return e
    }

    /// `config.json` of a `LlamaForCausalLM`.
    public static func configuration(path: String) throws -> ModelConfiguration {
        var j = try readJSON(path)
        // Llama 4 (and other multimodal releases) keep the text model's configuration apart.
        if (j["model_type"] as? String) == "llama4", var text = j["text_config"] as? [String: Any] {
            text["architectures"] = ["Llama4ForCausalLM"]
            j = text
        }
        let arch = (j["architectures"] as? [String])?.first ?? (j["model_type"] as? String ?? "?")
        // Families on the Llama forward pass: what differs is configuration data.
        let families = ["LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "MixtralForCausalLM": "llama",
                        "GptOssForCausalLM": "gpt-oss", "Llama4ForCausalLM": "llama4",
                        "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3", "Phi3ForCausalLM": "phi3",
                        "Gemma2ForCausalLM": "gemma2", "Gemma3ForCausalLM": "gemma3",
                        "Qwen2MoeForCausalLM": "qwen2moe", "Qwen3MoeForCausalLM": "qwen3moe"]
        let modelTypes = ["llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
                          "phi3": "phi3", "gemma2": "gemma2", "gemma3_text": "gemma3", "qwen2_moe": "qwen2moe", "qwen3_moe": "qwen3moe",
                          "gpt_oss": "gpt-oss", "llama4_text": "llama4"]
        guard let family = families[arch] ?? (j["model_type"] as? String).flatMap({ modelTypes[$0] }) else {
            throw ModelLoadError(.unknownArchitecture, file: path, place: "key architectures",
                                 "architecture \(arch) is not supported (supported: \(families.keys.sorted().joined(separator: ", ")))")
        }
        let window = (j["use_sliding_window"] as? Bool) == false ? nil : j["sliding_window"] as? Int
        func int(_ key: String) throws -> Int {
            guard let v = j[key] as? Int else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "required integer key \"\(key)\" is missing")
            }
            return v
        }
        let heads = try int("num_attention_heads")
        let experts = try expertConfiguration(j, family: family, path: path)
        // Llama 4's dense layers use intermediate_size_mlp (intermediate_size is the experts').
        let denseKey = family == "llama4" ? "intermediate_size_mlp" : "intermediate_size"
        var c = ModelConfiguration(
            architecture: "llama", dim: try int("hidden_size"),
            hiddenDim: experts != nil && j[denseKey] == nil ? experts!.hiddenDim : try int(denseKey),
            layerCount: try int("num_hidden_layers"), headCount: heads,
            kvHeadCount: (j["num_key_value_heads"] as? Int) ?? heads, vocabSize: try int("vocab_size"),
            contextLength: (j["max_position_embeddings"] as? Int) ?? 2048,
            ropeTheta: Float((j["rope_theta"] as? Double) ?? 10000),
            rmsNormEpsilon: Float((j["rms_norm_eps"] as? Double) ?? 1e-5),
            ropeStyle: .halfSplit, tiedEmbeddings: (j["tie_word_embeddings"] as? Bool) ?? family.hasPrefix("gemma"))
        c.architecture = family
        c.slidingWindow = window
        c.experts = experts
        c.attentionBias = family == "qwen2" || family == "qwen2moe" || family == "gpt-oss"
        if family == "llama4" {
            // Meta's rotary embedding turns adjacent pairs (llama.cpp keeps its Q/K rows); the
            // local layers are those with RoPE, attending within attention_chunk_size; the others
            // take the attention temperature.
            c.ropeStyle = .interleaved
            let layers = c.layerCount
            if let rope = j["no_rope_layers"] as? [Int], rope != (0..<layers).map({ ($0 + 1) % 4 != 0 ? 1 : 0 }),
               rope != [Int](repeating: 1, count: layers) {
                throw ModelLoadError(.badMetadata, file: path, place: "key no_rope_layers",
                                     "Llama 4 with RoPE left out on layers other than every fourth is not supported")
            }
            if (j["no_rope_layers"] as? [Int]).map({ $0.contains(0) }) ?? true {
                c.noRoPELayerStep = 4
                c.slidingWindowPattern = 4
                c.attentionChunk = (j["attention_chunk_size"] as? Int) ?? 8192
                if (j["attn_temperature_tuning"] as? Bool) ?? true {
                    c.attentionTemperatureFloorScale = (j["floor_scale"] as? Int) ?? 8192
                    c.attentionTemperatureScale = Float((j["attn_scale"] as? Double) ?? 0.1)
                }
            }
            c.queryKeyL2Norm = (j["use_qk_norm"] as? Bool) ?? true
        }
        if family == "gpt-oss" {
            // Sinks, output bias; sliding layers as layer_types says, which must alternate from a
            // sliding first layer (every gpt-oss release does); the clamped SwiGLU at 7.
            c.attentionOutputBias = true
            c.attentionSinks = true
            c.slidingWindow = j["sliding_window"] as? Int
            c.slidingWindowPattern = 2
            if let types = j["layer_types"] as? [String],
               types != (0..<types.count).map({ $0 % 2 == 0 ? "sliding_attention" : "full_attention" }) {
                throw ModelLoadError(.badMetadata, file: path, place: "key layer_types",
                                     "gpt-oss with layer types other than alternating sliding and full attention (from a sliding first layer) is not supported")
            }
            if let limit = j["swiglu_limit"] as? Double, limit != 7 {
                throw ModelLoadError(.badMetadata, file: path, place: "key swiglu_limit", "swiglu_limit \(limit) is not supported (7 is)")
            }
        }
        if !c.attentionBias, (j["attention_bias"] as? Bool) == true {
            throw ModelLoadError(.badMetadata, file: path, place: "key attention_bias",
                                 "attention biases on \(arch) (q/k/v and o_proj) are not supported")
        }
        c.queryKeyNorm = family == "qwen3" || family == "qwen3moe" || family == "gemma3"
        c.fusedProjections = family == "phi3"
        if let h = j["head_dim"] as? Int, heads > 0, h != c.dim / heads { c.explicitHeadDim = h }
        if family == "gemma2" || family == "gemma3" {
            let activation = (j["hidden_activation"] as? String) ?? (j["hidden_act"] as? String) ?? "gelu_pytorch_tanh"
            guard activation == "gelu_pytorch_tanh" else {
                throw ModelLoadError(.badMetadata, file: path, place: "key hidden_activation",
                                     "\(arch) with \(activation) is not supported (gelu_pytorch_tanh is)")
            }
            c.gemmaStyle = true
            c.slidingWindowPattern = family == "gemma2" ? 2 : (j["sliding_window_pattern"] as? Int) ?? 6
            if family == "gemma3" { c.localRoPETheta = Float((j["rope_local_base_freq"] as? Double) ?? 10000) }
            c.attentionSoftcap = (j["attn_logit_softcapping"] as? Double).map(Float.init)
            c.finalLogitSoftcap = (j["final_logit_softcapping"] as? Double).map(Float.init)
            if let s = j["query_pre_attn_scalar"] as? Double, Float(s) != Float(c.headDim) { c.queryScaleBase = Float(s) }
        }
        if let scaling = j["rope_scaling"], !(scaling is NSNull) {
            guard let object = scaling as? [String: Any], c.headCount > 0, c.explicitHeadDim != nil || c.dim % c.headCount == 0 else {
                throw ModelLoadError(.badMetadata, file: path, place: "key rope_scaling", "rope_scaling must be an object")
            }
            do {
                let r = try RoPEScaling.scaling(object, headDim: c.headDim, theta: Double(c.ropeTheta), maxPositions: c.contextLength,
                                                original: j["original_max_position_embeddings"] as? Int)
                c.ropeFrequencyFactors = r.factors
                c.ropeAttentionFactor = r.attentionFactor
            } catch {
                throw ModelLoadError(.badMetadata, file: path, place: "key rope_scaling", error.message + "; use a model without it")
            }
        }
        if let problem = c.validationProblem() {
            throw ModelLoadError(.badMetadata, file: path, place: "hyper-parameters", problem)
        }
        return c
    }
}

/// `tokenizer.json` of a byte-level BPE model.
enum HFTokenizerFile {
    static func load(path: String, bos: TokenID?, eos: TokenID?) throws -> any Tokenizer {
        let j = try SafetensorsModel.readJSON(path)
        guard let model = j["model"] as? [String: Any], (model["type"] as? String) == "BPE",
              let vocab = model["vocab"] as? [String: Int] else {
            throw ModelLoadError(.unknownTokenizer, file: path, place: "key model", "only BPE tokenizers with a vocab are supported")
        }
        let rawMerges = model["merges"] as? [Any] ?? []
        let merges: [String] = rawMerges.compactMap {
            if let s = $0 as? String { return s }
            if let pair = $0 as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
            return nil
        }
        var size = (vocab.values.max() ?? -1) + 1
        let added = j["added_tokens"] as? [[String: Any]] ?? []
        for a in added { if let id = a["id"] as? Int { size = max(size, id + 1) } }
        var pieces = [String](repeating: "", count: size)
        var kinds = [TokenKind](repeating: .unused, count: size)
        for (p, id) in vocab { pieces[id] = p; kinds[id] = .normal }
        for a in added {
            guard let id = a["id"] as? Int, let content = a["content"] as? String else { continue }
            pieces[id] = content
            kinds[id] = (a["special"] as? Bool ?? false) ? .control : .userDefined
        }
        let pre = j["pre_tokenizer"] as? [String: Any]
        let description = String(describing: pre ?? [:])
        guard description.contains("ByteLevel") else {
            throw ModelLoadError(.unknownTokenizer, file: path, place: "key pre_tokenizer",
                                 "only ByteLevel pre-tokenizers (optionally with Digits) are supported")
        }
        // A Split with Llama 3's or Qwen2's pattern before the ByteLevel step names that pre-tokenizer.
        var preTokenizer: PreTokenizer = description.contains("Digits") ? .smollm : .gpt2
        let steps = (pre?["pretokenizers"] as? [[String: Any]]) ?? []
        if let split = steps.first(where: { ($0["type"] as? String) == "Split" }) {
            let regex = (split["pattern"] as? [String: Any])?["Regex"] as? String ?? ""
            if regex.contains("\\p{N}{1,3}") && regex.contains("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+") {
                preTokenizer = .llama3
            } else if regex.contains("|\\p{N}|") && regex.contains("[^\\r\\n\\p{L}\\p{N}]?\\p{L}+") {
                preTokenizer = .qwen2
            } else {
                throw ModelLoadError(.unknownTokenizer, file: path, place: "key pre_tokenizer",
                                     "the Split pattern \(regex) is not one Tandem knows (Llama 3, Qwen2)")
            }
        }
        for (name, id) in [("bos_token_id", bos), ("eos_token_id", eos)] {
            if let id, id < 0 || Int(id) >= pieces.count {
                throw ModelLoadError(.badMetadata, file: path, place: "config.json key \(name)",
                                     "\(id) is not a token id of the \(pieces.count)-token vocabulary")
            }
        }
        return ByteLevelBPETokenizer(vocabulary: Vocabulary(pieces: pieces, kinds: kinds, bos: bos, eos: eos),
                                     merges: merges, preTokenizer: preTokenizer)
    }
}
