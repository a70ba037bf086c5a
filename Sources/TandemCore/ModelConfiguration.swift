import Foundation

/// How rotary position embeddings pair up the dimensions of a head.
///
/// llama.cpp's GGUF conversion and llama2.c checkpoints permute Q/K rows so that RoPE rotates
/// adjacent pairs `(2i, 2i+1)`; Hugging Face checkpoints rotate the two halves `(i, i + d/2)`.
public enum RoPEStyle: String, Sendable, Codable, Equatable {
    /// Adjacent pairs (GGUF `llama`, llama2.c).
    case interleaved
    /// First half against second half (Hugging Face / GPT-NeoX layout).
    case halfSplit = "half_split"
}

/// Hyper-parameters of a Llama-family decoder.
public struct ModelConfiguration: Sendable, Codable, Equatable {
    public var architecture: String
    /// Model width (embedding length).
    public var dim: Int
    /// FFN inner width.
    public var hiddenDim: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var vocabSize: Int
    public var contextLength: Int
    public var ropeTheta: Float
    public var rmsNormEpsilon: Float
    public var ropeStyle: RoPEStyle
    /// Whether the output head reuses the token embedding matrix.
    public var tiedEmbeddings: Bool
    /// RoPE scaling as a divisor per frequency pair (headDim/2 values; nil: none): GGUF
    /// `rope_freqs.weight`, or computed from `config.json`'s `rope_scaling` (`RoPEScaling`).
    public var ropeFrequencyFactors: [Float]?
    /// YaRN's magnitude scale m of cos and sin (queries and keys each scaled by m, so scores by
    /// m²); nil: 1.
    public var ropeAttentionFactor: Float?
    /// The Q, K and V projections carry biases (Qwen2, Qwen2.5).
    public var attentionBias = false
    /// Each query and key head is RMS-normalised with a learned `headDim` weight before RoPE (Qwen3).
    public var queryKeyNorm = false
    /// Q, K and V are one stored matrix (rows q, k, v), and gate and up another (rows gate, up),
    /// split at load without a copy (Phi-3 `attn_qkv`, `ffn_up`; `qkv_proj`, `gate_up_proj`).
    public var fusedProjections = false
    /// The head width where it is not `dim / headCount` (Qwen3 `attention.key_length`, `head_dim`).
    public var explicitHeadDim: Int?

    /// A mixture of experts in place of each layer's dense FFN (Mixtral, Qwen2-MoE, Qwen3-MoE,
    /// gpt-oss); nil: dense. `hiddenDim` is then unused by the FFN.
    public var experts: ExpertConfiguration?
    /// The attention output projection carries a bias (gpt-oss), added once after the all-reduce.
    public var attentionOutputBias = false
    /// Each query head has an attention sink: a learned logit that joins its softmax's
    /// normalisation without a value (gpt-oss `attn_sinks`).
    public var attentionSinks = false
    /// Llama 4: the local layers (`slidingWindowPattern`) attend within aligned chunks of this many
    /// positions instead of a sliding window; nil: no chunking.
    public var attentionChunk: Int?
    /// Llama 4: layer l has no RoPE when (l + 1) % step == 0; there queries are scaled by
    /// log(floor((p + 1) / floorScale) + 1) · scale + 1 (`attentionTemperature`).
    public var noRoPELayerStep: Int?
    public var attentionTemperatureFloorScale: Int?
    public var attentionTemperatureScale: Float?
    /// Llama 4: queries and keys RMS-normalised without a weight after RoPE, on the RoPE layers.
    public var queryKeyL2Norm = false

    public var headDim: Int { explicitHeadDim ?? dim / headCount }
    public var kvDim: Int { kvHeadCount * headDim }
    /// Query heads served by each KV head (grouped-query attention).
    public var queriesPerKVHead: Int { headCount / kvHeadCount }

    enum CodingKeys: String, CodingKey {
        case architecture
        case dim
        case hiddenDim = "hidden_dim"
        case layerCount = "n_layers"
        case headCount = "n_heads"
        case kvHeadCount = "n_kv_heads"
        case vocabSize = "vocab_size"
        case contextLength = "context_length"
        case ropeTheta = "rope_theta"
        case rmsNormEpsilon = "rms_norm_eps"
        case ropeStyle = "rope_style"
        case tiedEmbeddings = "tied_embeddings"
        case ropeFrequencyFactors = "rope_frequency_factors"
        case ropeAttentionFactor = "rope_attention_factor"
        case attentionBias = "attention_bias"
        case queryKeyNorm = "query_key_norm"
        case explicitHeadDim = "head_dim"
        case slidingWindow = "sliding_window"
        case slidingWindowPattern = "sliding_window_pattern"
        case localRoPETheta = "local_rope_theta"
        case gemmaStyle = "gemma_style"
        case attentionSoftcap = "attention_softcap"
        case finalLogitSoftcap = "final_logit_softcap"
        case queryScaleBase = "query_scale_base"
        case fusedProjections = "fused_projections"
        case experts
        case attentionOutputBias = "attention_output_bias"
        case attentionSinks = "attention_sinks"
        case attentionChunk = "attention_chunk"
        case noRoPELayerStep = "no_rope_layer_step"
        case attentionTemperatureFloorScale = "attention_temperature_floor_scale"
        case attentionTemperatureScale = "attention_temperature_scale"
        case queryKeyL2Norm = "query_key_l2_norm"
    }

    public init(architecture: String = "llama", dim: Int, hiddenDim: Int, layerCount: Int,
                headCount: Int, kvHeadCount: Int, vocabSize: Int, contextLength: Int,
                ropeTheta: Float = 10000, rmsNormEpsilon: Float = 1e-5,
                ropeStyle: RoPEStyle = .interleaved, tiedEmbeddings: Bool) {
        self.architecture = architecture
        self.dim = dim
        self.hiddenDim = hiddenDim
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.ropeTheta = ropeTheta
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeStyle = ropeStyle
        self.tiedEmbeddings = tiedEmbeddings
    }

    /// Sliding-window attention (Mistral 7B v0.1, Phi-3, Qwen with `use_sliding_window`, Gemma 2
    /// and 3): a position attends to the last `slidingWindow` positions, itself included.
    /// nil, or a window as long as the context: full causal attention.
    public var slidingWindow: Int?
    /// Which layers slide: every layer (nil), or, as llama.cpp counts, layer l when
    /// l % pattern < pattern - 1 (Gemma 2: 2, the even layers; Gemma 3: 6, five of every six).
    public var slidingWindowPattern: Int?
    /// The RoPE base of the sliding layers where it differs from `ropeTheta` (Gemma 3: 10000);
    /// there `ropeFrequencyFactors` (the global layers' scaling) do not apply either.
    public var localRoPETheta: Float?

    /// Gemma 2 and 3: token embeddings scaled by sqrt(dim), GeGLU (tanh GELU) instead of SwiGLU,
    /// RMSNorm after attention and after the FFN as well as before them, attention scores and
    /// final logits soft-capped (cap * tanh(x / cap); Gemma 2 only), queries scaled by
    /// 1/sqrt(queryScaleBase) (nil: 1/sqrt(headDim)).
    public var gemmaStyle = false
    public var attentionSoftcap: Float?
    public var finalLogitSoftcap: Float?
    public var queryScaleBase: Float?

    /// Whether layer `layer` is a local layer: a sliding window, or Llama 4's chunks.
    public func isSlidingLayer(_ layer: Int) -> Bool {
        guard (slidingWindow ?? 0) > 0 || (attentionChunk ?? 0) > 0 else { return false }
        guard let n = slidingWindowPattern, n > 0 else { return true }
        return layer % n < n - 1
    }

    /// The window layer `layer` attends through (0: all earlier positions).
    public func attentionWindow(layer: Int) -> Int {
        guard attentionChunk == nil, isSlidingLayer(layer), let w = slidingWindow, w < contextLength else { return 0 }
        return w
    }

    /// The chunk layer `layer` attends within (0: none).
    public func attentionChunk(layer: Int) -> Int {
        guard let c = attentionChunk, c > 0, isSlidingLayer(layer) else { return 0 }
        return c
    }

    /// Whether layer `layer` applies RoPE (Llama 4 leaves every `noRoPELayerStep`-th out).
    public func usesRoPE(layer: Int) -> Bool {
        guard let n = noRoPELayerStep, n > 0 else { return true }
        return (layer + 1) % n != 0
    }

    /// Llama 4's query scale on the layers without RoPE at `position` (1 where not configured).
    public func attentionTemperature(position: Int) -> Float {
        guard let f = attentionTemperatureFloorScale, f > 0, let s = attentionTemperatureScale else { return 1 }
        return Float(log(Double((position + 1) / f) + 1)) * s + 1
    }

    /// Checks the relations the forward pass relies on; returns a reason for the first that fails.
    public func validationProblem() -> String? {
        if dim <= 0 || hiddenDim <= 0 || layerCount <= 0 || headCount <= 0 || kvHeadCount <= 0 || vocabSize <= 0 {
            return "all sizes must be positive (dim \(dim), hidden \(hiddenDim), layers \(layerCount), heads \(headCount), kv heads \(kvHeadCount), vocab \(vocabSize))"
        }
        // Far above any real model, low enough that products of sizes cannot overflow.
        if dim > 1 << 20 || hiddenDim > 1 << 22 || layerCount > 1 << 12 || headCount > 1 << 12 || vocabSize > 1 << 24
            || contextLength > 1 << 24 {
            return "a size is not plausible (dim \(dim), hidden \(hiddenDim), layers \(layerCount), heads \(headCount), vocab \(vocabSize), context \(contextLength))"
        }
        if let h = explicitHeadDim {
            if h <= 0 || h > 1 << 12 { return "head dimension \(h) is not plausible" }
        } else if dim % headCount != 0 {
            return "dim \(dim) is not a multiple of the head count \(headCount)"
        }
        if headCount % kvHeadCount != 0 { return "head count \(headCount) is not a multiple of the KV head count \(kvHeadCount)" }
        if headDim % 2 != 0 { return "head dimension \(headDim) must be even for RoPE" }
        if let e = experts, let problem = e.validationProblem() { return problem }
        if let m = ropeAttentionFactor, !(m.isFinite && m > 0 && m < 100) { return "RoPE attention factor \(m) is not plausible" }
        if let f = ropeFrequencyFactors {
            if f.count != headDim / 2 { return "RoPE frequency factors: \(f.count) values for head dimension \(headDim) (expected \(headDim / 2))" }
            if !f.allSatisfy({ $0.isFinite && $0 > 0 }) { return "RoPE frequency factors must be positive and finite" }
        }
        return nil
    }
}

/// The mixture-of-experts FFN of every layer: a router scores `count` experts per token, the
/// `perToken` best run (each a SwiGLU FFN of width `hiddenDim`) and their outputs are summed,
/// weighted by the router's softmax probabilities (renormalised over the chosen ones when
/// `normalizeWeights`), plus an always-on shared expert where the family has one.
///
/// Families (as llama.cpp's `build_moe_ffn` runs them): Mixtral (`llama` with experts) and
/// Qwen3-MoE normalise; Qwen2-MoE does not, and adds a shared expert scaled by
/// sigmoid(x · shared gate).
public struct ExpertConfiguration: Sendable, Codable, Equatable {
    /// Experts per layer.
    public var count: Int
    /// Experts each token runs (top-k).
    public var perToken: Int
    /// Each expert's FFN width.
    public var hiddenDim: Int
    /// Renormalise the chosen experts' probabilities to sum to one.
    public var normalizeWeights: Bool
    /// The shared expert's FFN width (0: none).
    public var sharedHiddenDim: Int
    /// The shared expert's output is scaled by sigmoid(x · w) with a learned (dim) vector w.
    public var sharedGated: Bool
    /// The router and each expert's gate, up and down projections carry biases (gpt-oss).
    public var biases = false
    /// The experts' gated activation.
    public var activation: ExpertActivation = .swiglu
    /// How the router's scores become weights: softmax over all experts, or a sigmoid of each
    /// chosen one (Llama 4).
    public var gating: ExpertGating = .softmax
    /// Llama 4: the router's weight scales the expert's input rather than its output.
    public var weightBeforeFFN = false
    /// Layer l has experts when (l + 1) % layerStep == 0, the others a dense FFN of `hiddenDim`
    /// (Llama 4 Maverick: 2); 1: every layer.
    public var layerStep = 1

    enum CodingKeys: String, CodingKey {
        case count
        case perToken = "per_token"
        case hiddenDim = "hidden_dim"
        case normalizeWeights = "normalize_weights"
        case sharedHiddenDim = "shared_hidden_dim"
        case sharedGated = "shared_gated"
        case biases
        case activation
        case gating
        case weightBeforeFFN = "weight_before_ffn"
        case layerStep = "layer_step"
    }

    /// Whether layer `layer` is a mixture of experts (else a dense FFN).
    public func isExpertLayer(_ layer: Int) -> Bool { layerStep <= 1 || (layer + 1) % layerStep == 0 }

    public init(count: Int, perToken: Int, hiddenDim: Int, normalizeWeights: Bool,
                sharedHiddenDim: Int = 0, sharedGated: Bool = false, biases: Bool = false,
                activation: ExpertActivation = .swiglu, gating: ExpertGating = .softmax, weightBeforeFFN: Bool = false,
                layerStep: Int = 1) {
        self.count = count
        self.perToken = perToken
        self.hiddenDim = hiddenDim
        self.normalizeWeights = normalizeWeights
        self.sharedHiddenDim = sharedHiddenDim
        self.sharedGated = sharedGated
        self.biases = biases
        self.activation = activation
        self.gating = gating
        self.weightBeforeFFN = weightBeforeFFN
        self.layerStep = layerStep
    }

    /// Why the numbers cannot describe a mixture, or nil.
    public func validationProblem() -> String? {
        if count < 1 || count > 1 << 12 { return "expert count \(count) is not plausible (1 to 4096)" }
        if perToken < 1 || perToken > count { return "experts per token \(perToken) must be between 1 and the expert count \(count)" }
        if hiddenDim < 1 || hiddenDim > 1 << 20 { return "expert FFN width \(hiddenDim) is not plausible" }
        if sharedHiddenDim < 0 || sharedHiddenDim > 1 << 20 { return "shared expert FFN width \(sharedHiddenDim) is not plausible" }
        if sharedGated && sharedHiddenDim == 0 { return "a shared-expert gate without a shared expert" }
        if layerStep < 1 || layerStep > 1 << 12 { return "expert layer step \(layerStep) is not plausible" }
        return nil
    }
}

/// How router scores become expert weights.
public enum ExpertGating: String, Sendable, Codable, Equatable {
    case softmax
    case sigmoid
}

/// The gated activation of an expert's FFN.
public enum ExpertActivation: String, Sendable, Codable, Equatable {
    /// silu(gate) · up (Mixtral, Qwen).
    case swiglu
    /// gpt-oss: g · sigmoid(1.702 g) · (u + 1) with g = min(gate, 7), u = clamp(up, -7, 7).
    case swigluClamped = "swiglu_clamped"
}

/// How a mixture of experts is split over tensor-parallel ranks (`serve --parallel`, topology
/// `parallel:`). Attention is tensor-parallel either way.
public enum ExpertParallelism: String, Sendable, Codable, CaseIterable {
    /// Every rank holds a column slice of every expert (as a dense FFN is split).
    case tensor
    /// Every rank holds whole experts, its share of them; the shared expert is column-split.
    case expert
}
