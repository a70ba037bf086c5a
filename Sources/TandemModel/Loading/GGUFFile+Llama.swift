import TandemCore
import TandemKernels

extension GGUFFile: TensorSource {}

extension GGUFFile {
    func require(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "required metadata key \"\(key)\" is missing")
        }
        return v
    }

    func requireInt(_ key: String) throws -> Int {
        guard let v = try require(key).intValue else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "\"\(key)\" must be an integer")
        }
        return v
    }

    /// The architectures the forward pass implements: what differs from `llama` is data in
    /// `ModelConfiguration` (RoPE layout, attention biases, Q/K norms, head width, fused
    /// projections, sliding windows and chunks, Gemma's norms and soft-capping, sinks, experts),
    /// not another pass.
    public static let supportedArchitectures = ["llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3", "qwen2moe", "qwen3moe", "gpt-oss", "llama4"]

    /// Architectures whose experts have their own width (`expert_feed_forward_length`).
    static let expertArchitectures: Set<String> = ["qwen2moe", "qwen3moe", "gpt-oss", "llama4"]

    /// The model configuration from `general.architecture` and its hyper-parameter keys.
    public func llamaConfiguration() throws -> ModelConfiguration {
        guard let arch = metadata["general.architecture"]?.stringValue else {
            throw ModelLoadError(.badMetadata, file: path, place: "key general.architecture", "required key is missing")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw ModelLoadError(.unknownArchitecture, file: path, place: "key general.architecture",
                                 "architecture \"\(arch)\" is not supported (supported: \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        let heads = try requireInt("\(arch).attention.head_count")
        let vocab = metadata["\(arch).vocab_size"]?.intValue
            ?? metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? tensors["token_embd.weight"]?.dims.last ?? 0
        var config = ModelConfiguration(
            architecture: arch,
            dim: try requireInt("\(arch).embedding_length"),
            hiddenDim: Self.expertArchitectures.contains(arch) ? metadata["\(arch).feed_forward_length"]?.intValue ?? 0
                : try requireInt("\(arch).feed_forward_length"),
            layerCount: try requireInt("\(arch).block_count"),
            headCount: heads,
            kvHeadCount: metadata["\(arch).attention.head_count_kv"]?.intValue ?? heads,
            vocabSize: vocab,
            contextLength: metadata["\(arch).context_length"]?.intValue ?? 2048,
            ropeTheta: Float(metadata["\(arch).rope.freq_base"]?.doubleValue ?? 10000),
            rmsNormEpsilon: Float(metadata["\(arch).attention.layer_norm_rms_epsilon"]?.doubleValue ?? 1e-5),
            // llama.cpp's converter permutes Q/K rows of `llama` files for adjacent-pair RoPE;
            // qwen2, qwen3, phi3 and gemma2 files keep Hugging Face's layout and rotate halves
            // (llama.cpp's NEOX RoPE type).
            ropeStyle: arch == "llama" || arch == "llama4" ? .interleaved : .halfSplit,
            tiedEmbeddings: tensors["output.weight"] == nil)
        config.slidingWindow = metadata["\(arch).attention.sliding_window"]?.intValue
        if arch == "gemma2" {
            // llama.cpp's converter stores Gemma's RMSNorm weights as 1 + w, so the norms are
            // the ordinary ones here. Even layers slide; the odd ones attend to everything.
            config.gemmaStyle = true
            config.slidingWindowPattern = 2
            config.attentionSoftcap = metadata["gemma2.attn_logit_softcapping"]?.doubleValue.map(Float.init)
            config.finalLogitSoftcap = metadata["gemma2.final_logit_softcapping"]?.doubleValue.map(Float.init)
            // As llama.cpp: queries scaled by 1/sqrt(head width), except Gemma 2 27B (46 layers),
            // whose query_pre_attn_scalar is dim / heads.
            if config.layerCount == 46, heads > 0 { config.queryScaleBase = Float(config.dim / heads) }
        }
        if arch == "gemma3" {
            // Gemma 3 (text): Gemma 2's embedding scale, GeGLU and post-norms, no soft-capping,
            // Q/K norms, five sliding layers to one global, the sliding ones on RoPE base 10000
            // (llama.cpp's rope_freq_base_train_swa); norms stored as 1 + w in GGUF as for Gemma 2.
            config.gemmaStyle = true
            config.slidingWindowPattern = 6
            config.localRoPETheta = 10000
            // As llama.cpp: 1/sqrt(head width), except the 27B (62 layers): 1/sqrt(dim / heads).
            if config.layerCount == 62, heads > 0 { config.queryScaleBase = Float(config.dim / heads) }
        }
        config.experts = try expertConfiguration(arch: arch, dim: config.dim)
        if let e = config.experts, config.hiddenDim <= 0 {
            guard e.layerStep == 1 else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).feed_forward_length",
                                     "dense layers between the expert layers need their FFN width")
            }
            config.hiddenDim = e.hiddenDim
        }
        if arch == "gpt-oss" {
            // Even layers slide (llama.cpp: swa pattern 2), on the same RoPE as the others.
            config.slidingWindowPattern = 2
        }
        if arch == "llama4" {
            // As llama.cpp: without `attention.sliding_window = 0`, three of every four layers
            // attend within chunks of 8192 positions and rotate; the fourth attends to everything,
            // without RoPE, its queries scaled by log(floor((p + 1) / 8192) + 1) · 0.1 + 1. With
            // it, no chunks, and RoPE on every layer but the last (llama.cpp's step n_layer).
            if config.slidingWindow == 0 {
                config.slidingWindow = nil
                config.noRoPELayerStep = config.layerCount
            } else {
                config.slidingWindow = nil
                config.attentionChunk = 8192
                config.slidingWindowPattern = 4
                config.noRoPELayerStep = 4
                config.attentionTemperatureFloorScale = 8192
                config.attentionTemperatureScale = 0.1
            }
            // L2-normalised Q and K on the RoPE layers, except for the 128-expert model.
            config.queryKeyL2Norm = config.experts?.count != 128
        }
        config.attentionOutputBias = tensors["blk.0.attn_output.bias"] != nil
        config.attentionSinks = tensors["blk.0.attn_sinks.weight"] != nil
        config.attentionBias = tensors["blk.0.attn_q.bias"] != nil
        config.fusedProjections = tensors["blk.0.attn_qkv.weight"] != nil
        config.queryKeyNorm = tensors["blk.0.attn_q_norm.weight"] != nil
        if arch == "llama", config.attentionBias || config.queryKeyNorm {
            throw ModelLoadError(.badMetadata, file: path, place: "tensor blk.0.attn_q.bias / attn_q_norm.weight",
                                 "a llama file with attention biases or Q/K norms; convert the model with its own architecture (qwen2, qwen3)")
        }
        if let keyLength = metadata["\(arch).attention.key_length"]?.intValue {
            let valueLength = metadata["\(arch).attention.value_length"]?.intValue ?? keyLength
            guard valueLength == keyLength else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).attention.value_length",
                                     "value heads of \(valueLength) and key heads of \(keyLength) values are not supported (they must be equal)")
            }
            if heads <= 0 || keyLength != config.dim / heads { config.explicitHeadDim = keyLength }
        }
        if let ropeDims = metadata["\(arch).rope.dimension_count"]?.intValue, heads > 0, ropeDims != config.headDim {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.dimension_count",
                                 "partial rotary embedding (\(ropeDims) of \(config.headDim) head dimensions) is not supported")
        }
        if heads > 0, config.explicitHeadDim != nil || config.dim % heads == 0 {
            if tensors["rope_freqs.weight"] == nil, tensors["rope_factors_long.weight"] != nil || tensors["rope_factors_short.weight"] != nil {
                let (factors, attention) = try longRoPE(arch: arch, headDim: config.headDim, contextLength: config.contextLength)
                config.ropeFrequencyFactors = factors
                config.ropeAttentionFactor = attention
            } else {
                config.ropeFrequencyFactors = try ropeFrequencyFactors(arch: arch, headDim: config.headDim)
                if metadata["\(arch).rope.scaling.type"]?.stringValue == "yarn", tensors["rope_freqs.weight"] == nil {
                    config.ropeAttentionFactor = try yarnAttentionFactor(arch: arch)
                }
            }
        }
        if let problem = config.validationProblem() {
            throw ModelLoadError(.badMetadata, file: path, place: "\(arch).* hyper-parameters", problem)
        }
        return config
    }

    /// The mixture of experts from `ARCH.expert_count` and its companions, as llama.cpp reads
    /// them: Mixtral (`llama` with experts) and `qwen3moe` renormalise the chosen experts'
    /// weights; `qwen2moe` does not and adds a gated shared expert; `gpt-oss` adds biases and the
    /// clamped SwiGLU; `llama4` weighs the expert input by a sigmoid, adds a shared expert and
    /// may leave dense layers between expert layers. nil for a dense model.
    func expertConfiguration(arch: String, dim: Int) throws -> ExpertConfiguration? {
        let count = metadata["\(arch).expert_count"]?.intValue ?? 0
        let isMoEArch = Self.expertArchitectures.contains(arch)
        guard count > 0 else {
            if isMoEArch {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).expert_count",
                                     "a \(arch) model needs a positive expert count")
            }
            return nil
        }
        guard arch == "llama" || isMoEArch else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).expert_count",
                                 "experts on \(arch) are not supported (supported: llama (Mixtral), qwen2moe, qwen3moe, gpt-oss, llama4)")
        }
        let perToken = try requireInt("\(arch).expert_used_count")
        let hidden = isMoEArch ? try requireInt("\(arch).expert_feed_forward_length") : try requireInt("\(arch).feed_forward_length")
        var e = ExpertConfiguration(count: count, perToken: perToken, hiddenDim: hidden, normalizeWeights: arch != "qwen2moe")
        if let norm = metadata["\(arch).expert_weights_norm"]?.boolValue { e.normalizeWeights = norm }
        if arch == "qwen2moe" {
            e.sharedHiddenDim = metadata["qwen2moe.expert_shared_feed_forward_length"]?.intValue ?? 0
            e.sharedGated = e.sharedHiddenDim > 0 && tensors["blk.0.ffn_gate_inp_shexp.weight"] != nil
        }
        if arch == "llama4" {
            // A sigmoid of each chosen expert's score scales its input; a shared expert as wide
            // as the others on every expert layer; `interleave_moe_layer_step` spaces the layers.
            e.normalizeWeights = false
            e.gating = .sigmoid
            e.weightBeforeFFN = true
            e.sharedHiddenDim = tensors["blk.\(max(0, (metadata["llama4.interleave_moe_layer_step"]?.intValue ?? 1) - 1)).ffn_gate_shexp.weight"] != nil ? hidden : 0
            e.layerStep = max(1, metadata["llama4.interleave_moe_layer_step"]?.intValue ?? 1)
        }
        if arch == "gpt-oss" {
            // llama.cpp's SOFTMAX_WEIGHT gating (a softmax over the chosen experts' scores) is the
            // renormalised softmax; biases everywhere; the clamped SwiGLU.
            e.normalizeWeights = true
            e.activation = .swigluClamped
        }
        e.biases = tensors["blk.0.ffn_gate_inp.bias"] != nil
        if let gating = metadata["\(arch).expert_gating_func"]?.intValue, gating != 1, !(arch == "gpt-oss" && gating == 3),
           !(arch == "llama4" && gating == 2) {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).expert_gating_func",
                                 "expert gating function #\(gating) is not supported here (softmax, 1; gpt-oss's 3; Llama 4's sigmoid, 2)")
        }
        if let problem = e.validationProblem() {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).expert_*", problem)
        }
        return e
    }

    /// LongRoPE (Phi-3 128k, Phi-3.5, Phi-4-mini): `rope_factors_long.weight` and
    /// `rope_factors_short.weight` (one divisor per frequency pair each) and
    /// `ARCH.rope.scaling.original_context_length`. The long divisors serve when the model's context
    /// exceeds the original one, as llama.cpp picks them from its context size (transformers
    /// switches per sequence length, so prompts shorter than the original context differ slightly
    /// from it); cos and sin are scaled by `ARCH.rope.scaling.attn_factor`, else by
    /// sqrt(1 + ln(context / original) / ln(original)).
    func longRoPE(arch: String, headDim: Int, contextLength: Int) throws -> (factors: [Float], attention: Float?) {
        guard let original = metadata["\(arch).rope.scaling.original_context_length"]?.intValue, original > 0 else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.scaling.original_context_length",
                                 "LongRoPE factors need the original context length; convert the model again with llama.cpp's converter")
        }
        let name = contextLength > original ? "rope_factors_long.weight" : "rope_factors_short.weight"
        guard let info = tensors[name], info.ggmlType == 0, info.dims == [headDim / 2] else {
            throw ModelLoadError(.shapeMismatch, file: path, place: "tensor \(name)",
                                 "expected F32 of shape [\(headDim / 2)] (one divisor per RoPE frequency pair)")
        }
        let factors = (0..<(headDim / 2)).map { i in
            Float(bitPattern: UInt32(littleEndian: file.base.loadUnaligned(fromByteOffset: info.fileOffset + 4 * i, as: UInt32.self)))
        }
        let attention = metadata["\(arch).rope.scaling.attn_factor"]?.doubleValue.map(Float.init)
            ?? RoPEScaling.longRoPEAttentionFactor(context: contextLength, original: original)
        return (factors, attention == 1 ? nil : attention)
    }

    /// RoPE scaling: `rope_freqs.weight` (Llama 3.1+ files from llama.cpp's converter: one divisor
    /// per frequency pair), else `ARCH.rope.scaling.type` linear or yarn (its divisors here, its
    /// magnitude scale in `yarnAttentionFactor`). Other types are refused rather than served with
    /// wrong logits.
    func ropeFrequencyFactors(arch: String, headDim: Int) throws -> [Float]? {
        let type = metadata["\(arch).rope.scaling.type"]?.stringValue ?? "none"
        if let info = tensors["rope_freqs.weight"] {
            guard info.ggmlType == 0, info.dims == [headDim / 2] else {
                throw ModelLoadError(.shapeMismatch, file: path, place: "tensor rope_freqs.weight",
                                     "expected F32 of shape [\(headDim / 2)] (one factor per RoPE frequency pair), got type #\(info.ggmlType) shape \(info.dims)")
            }
            return (0..<(headDim / 2)).map { i in
                Float(bitPattern: UInt32(littleEndian: file.base.loadUnaligned(fromByteOffset: info.fileOffset + 4 * i, as: UInt32.self)))
            }
        }
        switch type {
        case "none", "":
            return nil
        case "linear":
            guard let factor = metadata["\(arch).rope.scaling.factor"]?.doubleValue, factor.isFinite, factor > 0 else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.scaling.factor", "linear RoPE scaling needs a positive factor")
            }
            return factor == 1 ? nil : [Float](repeating: Float(factor), count: headDim / 2)
        case "yarn":
            // As llama.cpp: the correction range floored and ceiled, β 32 and 1 unless the file
            // says otherwise, the original context from rope.scaling.original_context_length.
            guard let factor = metadata["\(arch).rope.scaling.factor"]?.doubleValue, factor.isFinite, factor > 0 else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.scaling.factor", "YaRN RoPE scaling needs a positive factor")
            }
            guard let original = metadata["\(arch).rope.scaling.original_context_length"]?.intValue, original > 0 else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.scaling.original_context_length",
                                     "YaRN RoPE scaling needs the original context length")
            }
            let theta = metadata["\(arch).rope.freq_base"]?.doubleValue ?? 10000
            return RoPEScaling.yarn(headDim: headDim, theta: theta, factor: factor, originalContext: Double(original),
                                    betaFast: metadata["\(arch).rope.scaling.yarn_beta_fast"]?.doubleValue ?? 32,
                                    betaSlow: metadata["\(arch).rope.scaling.yarn_beta_slow"]?.doubleValue ?? 1)
        default:
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.scaling.type",
                                 "RoPE scaling '\(type)' is not supported (supported: rope_freqs.weight, linear, yarn); use a model without it")
        }
    }

    /// YaRN's magnitude scale as llama.cpp derives it: 0.1·ln(factor) + 1, or with
    /// `rope.scaling.yarn_log_multiplier` (DeepSeek) the ratio llama.cpp uses there.
    func yarnAttentionFactor(arch: String) throws -> Float? {
        guard let factor = metadata["\(arch).rope.scaling.factor"]?.doubleValue else { return nil }
        if let mul = metadata["\(arch).rope.scaling.yarn_log_multiplier"]?.doubleValue, mul != 0 {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(arch).rope.scaling.yarn_log_multiplier",
                                 "YaRN with a log multiplier (DeepSeek's mscale_all_dim) is not supported")
        }
        let m = RoPEScaling.yarnAttentionFactor(factor: factor)
        return m == 1 ? nil : m
    }
}
