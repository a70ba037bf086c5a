import TandemCore
import TandemKernels

/// The weights of one decoder layer. Matrices are (out, in).
public struct LlamaLayerWeights: Sendable {
    public var attentionNorm: [Float]   // (dim)
    public var wq: WeightMatrix          // (n_heads * head_dim, dim)
    public var wk: WeightMatrix          // (n_kv_heads * head_dim, dim)
    public var wv: WeightMatrix          // (n_kv_heads * head_dim, dim)
    public var wo: WeightMatrix          // (dim, n_heads * head_dim)
    public var ffnNorm: [Float]          // (dim)
    public var gate: WeightMatrix        // w1 (hidden, dim)
    public var down: WeightMatrix        // w2 (dim, hidden)
    public var up: WeightMatrix          // w3 (hidden, dim)
    /// Q/K/V biases (`attentionBias`): (n_heads * head_dim), (n_kv_heads * head_dim) twice.
    public var qBias: [Float]? = nil
    public var kBias: [Float]? = nil
    public var vBias: [Float]? = nil
    /// Per-head Q and K RMSNorm weights (`queryKeyNorm`): (head_dim) each, shared by every head.
    public var qNorm: [Float]? = nil
    public var kNorm: [Float]? = nil
    /// RMSNorm weights applied to the attention and FFN outputs before the residual add (Gemma 2).
    public var postAttentionNorm: [Float]? = nil
    public var postFFNNorm: [Float]? = nil
    /// The layer's mixture of experts (`ModelConfiguration.experts`); then `gate`, `up` and
    /// `down` are empty (0 rows) and the FFN is this.
    public var experts: ExpertLayerWeights? = nil
    /// The attention output's bias (dim; `attentionOutputBias`) and the query heads' attention
    /// sinks (n_heads; `attentionSinks`).
    public var oBias: [Float]? = nil
    public var sinks: [Float]? = nil
}

/// One layer's mixture of experts. A rank holds the experts `ids` (all of them, or its share
/// under expert parallelism), each possibly a column slice (tensor parallelism).
public struct ExpertLayerWeights: Sendable {
    /// (count, dim): a score per expert; every rank holds all of it and routes alike.
    public var router: WeightMatrix
    /// The experts held, global numbers.
    public var ids: Range<Int>
    /// Per held expert (in `ids` order): gate and up (ffn, dim), down (dim, ffn).
    public var gate: [WeightMatrix]
    public var up: [WeightMatrix]
    public var down: [WeightMatrix]
    /// The shared expert (Qwen2-MoE): run for every token, column-split like a dense FFN.
    public var sharedGate: WeightMatrix? = nil
    public var sharedUp: WeightMatrix? = nil
    public var sharedDown: WeightMatrix? = nil
    /// (dim): the shared expert's output is scaled by sigmoid(x · sharedGateInput).
    public var sharedGateInput: [Float]? = nil
    /// Biases (`ExpertConfiguration.biases`): the router's (count), and per held expert its gate
    /// and up biases (its columns) and its down bias (dim), which only `addsDownBias` ranks add
    /// (under tensor parallelism the partial outputs are summed, the bias must count once).
    public var routerBias: [Float]? = nil
    public var gateBias: [[Float]]? = nil
    public var upBias: [[Float]]? = nil
    public var downBias: [[Float]]? = nil
    public var addsDownBias = true

    /// Bytes a token reads: the router, `perToken` of the experts, the shared expert.
    func bytesPerToken(perToken: Int) -> Int {
        let one = gate.first.map { $0.storageBytes + up[0].storageBytes + down[0].storageBytes } ?? 0
        return router.storageBytes + one * min(perToken, gate.count)
            + (sharedGate?.storageBytes ?? 0) + (sharedUp?.storageBytes ?? 0) + (sharedDown?.storageBytes ?? 0)
    }

    /// Bytes of every matrix held.
    var storageBytes: Int {
        router.storageBytes + (gate + up + down).reduce(0) { $0 + $1.storageBytes }
            + (sharedGate?.storageBytes ?? 0) + (sharedUp?.storageBytes ?? 0) + (sharedDown?.storageBytes ?? 0)
    }
}

extension WeightMatrix {
    /// A matrix of no rows (the dense FFN slots of an MoE layer).
    static func empty(cols: Int) -> WeightMatrix {
        WeightMatrix(dtype: .f32, rows: 0, cols: cols, base: UnsafeRawPointer(bitPattern: 0x10)!, owner: nil)
    }
}

/// All weights of a Llama-family decoder, pointing into the checkpoint's mapping where possible.
public struct LlamaWeights: Sendable {
    public var tokenEmbedding: WeightMatrix  // (vocab, dim)
    public var layers: [LlamaLayerWeights]
    public var finalNorm: [Float]            // (dim)
    public var output: WeightMatrix          // (vocab, dim); the embedding when tied
    /// Experts each token runs (MoE models; what `bytesPerToken` counts of each layer's experts).
    public var expertsPerToken = 0

    /// Bytes of weight data the forward pass reads per token (matrices with their scale planes;
    /// the embedding is a row lookup, so counted once only when it is also the output head).
    public var bytesPerToken: Int {
        var total = output.storageBytes
        for l in layers {
            total += l.wq.storageBytes + l.wk.storageBytes + l.wv.storageBytes + l.wo.storageBytes
            total += l.gate.storageBytes + l.down.storageBytes + l.up.storageBytes
            if let e = l.experts { total += e.bytesPerToken(perToken: expertsPerToken) }
        }
        return total
    }
}

/// Where a loader finds named tensors; each checkpoint format implements it.
public protocol TensorSource {
    /// The file the tensors come from, for messages.
    var path: String { get }
    /// The tensor `name` as a (rows, cols) matrix.
    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix
    /// The 1-D tensor `name` of `count` values, converted to FP32.
    func vector(_ name: String, count: Int) throws -> [Float]
    /// `count` (rows, cols) matrices stacked in the 3-D tensor `name` ([cols, rows, count] in
    /// GGUF's order), as row views of it.
    func stackedMatrices(_ name: String, count: Int, rows: Int, cols: Int) throws -> [WeightMatrix]
}

extension TensorSource {
    public func stackedMatrices(_ name: String, count: Int, rows: Int, cols: Int) throws -> [WeightMatrix] {
        throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)",
                             "this format stores no stacked expert tensors; expected one tensor per expert")
    }

    /// Experts `ids` of a stacked tensor, or of per-expert tensors where `name` has `{e}`.
    func experts(_ name: String, ids: Range<Int>, count: Int, rows: Int, cols: Int) throws -> [WeightMatrix] {
        if name.contains("{e}") {
            return try ids.map { try matrix(name.replacing("{e}", with: String($0)), rows: rows, cols: cols) }
        }
        return Array(try stackedMatrices(name, count: count, rows: rows, cols: cols)[ids])
    }

    public func vector(_ name: String, count: Int) throws -> [Float] {
        let m = try matrix(name, rows: 1, cols: count)
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { m.row(0, into: $0.baseAddress!) }
        return out
    }
}

/// Tensor names of one checkpoint family; `{l}` stands for the layer index.
public struct LlamaTensorNames: Sendable {
    public var embedding: String
    public var output: String
    public var finalNorm: String
    public var attentionNorm, wq, wk, wv, wo, ffnNorm, gate, down, up: String
    public var qBias, kBias, vBias, qNorm, kNorm: String
    /// Fused projections (`fusedProjections`): Q/K/V rows in one matrix, gate/up rows in another.
    public var qkv, gateUp: String
    /// Gemma 2's norms after attention and after the FFN.
    public var postAttentionNorm, postFFNNorm: String
    /// Mixture of experts: the router, the experts' matrices (stacked in one tensor, or one
    /// tensor per expert where the name has `{e}`), the shared expert and its gate vector.
    public var router = "blk.{l}.ffn_gate_inp.weight"
    public var expertGate = "blk.{l}.ffn_gate_exps.weight"
    public var expertUp = "blk.{l}.ffn_up_exps.weight"
    public var expertDown = "blk.{l}.ffn_down_exps.weight"
    public var sharedGate = "blk.{l}.ffn_gate_shexp.weight"
    public var sharedUp = "blk.{l}.ffn_up_shexp.weight"
    public var sharedDown = "blk.{l}.ffn_down_shexp.weight"
    public var sharedGateInput = "blk.{l}.ffn_gate_inp_shexp.weight"
    /// Biases (gpt-oss): attention output, sinks, router and stacked expert biases.
    public var oBias = "blk.{l}.attn_output.bias"
    public var sinks = "blk.{l}.attn_sinks.weight"
    public var routerBias = "blk.{l}.ffn_gate_inp.bias"
    public var expertGateBias = "blk.{l}.ffn_gate_exps.bias"
    public var expertUpBias = "blk.{l}.ffn_up_exps.bias"
    public var expertDownBias = "blk.{l}.ffn_down_exps.bias"

    public static let gguf = LlamaTensorNames(
        embedding: "token_embd.weight", output: "output.weight", finalNorm: "output_norm.weight",
        attentionNorm: "blk.{l}.attn_norm.weight", wq: "blk.{l}.attn_q.weight", wk: "blk.{l}.attn_k.weight",
        wv: "blk.{l}.attn_v.weight", wo: "blk.{l}.attn_output.weight", ffnNorm: "blk.{l}.ffn_norm.weight",
        gate: "blk.{l}.ffn_gate.weight", down: "blk.{l}.ffn_down.weight", up: "blk.{l}.ffn_up.weight",
        qBias: "blk.{l}.attn_q.bias", kBias: "blk.{l}.attn_k.bias", vBias: "blk.{l}.attn_v.bias",
        qNorm: "blk.{l}.attn_q_norm.weight", kNorm: "blk.{l}.attn_k_norm.weight",
        qkv: "blk.{l}.attn_qkv.weight", gateUp: "blk.{l}.ffn_up.weight",
        postAttentionNorm: "blk.{l}.post_attention_norm.weight", postFFNNorm: "blk.{l}.post_ffw_norm.weight")

    public static let huggingFace = LlamaTensorNames(
        embedding: "model.embed_tokens.weight", output: "lm_head.weight", finalNorm: "model.norm.weight",
        attentionNorm: "model.layers.{l}.input_layernorm.weight", wq: "model.layers.{l}.self_attn.q_proj.weight",
        wk: "model.layers.{l}.self_attn.k_proj.weight", wv: "model.layers.{l}.self_attn.v_proj.weight",
        wo: "model.layers.{l}.self_attn.o_proj.weight", ffnNorm: "model.layers.{l}.post_attention_layernorm.weight",
        gate: "model.layers.{l}.mlp.gate_proj.weight", down: "model.layers.{l}.mlp.down_proj.weight",
        up: "model.layers.{l}.mlp.up_proj.weight",
        qBias: "model.layers.{l}.self_attn.q_proj.bias", kBias: "model.layers.{l}.self_attn.k_proj.bias",
        vBias: "model.layers.{l}.self_attn.v_proj.bias", qNorm: "model.layers.{l}.self_attn.q_norm.weight",
        kNorm: "model.layers.{l}.self_attn.k_norm.weight",
        qkv: "model.layers.{l}.self_attn.qkv_proj.weight", gateUp: "model.layers.{l}.mlp.gate_up_proj.weight",
        // Gemma 2 only (`huggingFaceGemma2`): here post_attention_layernorm is the FFN's input norm.
        postAttentionNorm: "", postFFNNorm: "")

    /// Gemma 2's safetensors names: a norm before and after both attention and the FFN.
    public static let huggingFaceGemma2: LlamaTensorNames = {
        var n = huggingFace
        n.ffnNorm = "model.layers.{l}.pre_feedforward_layernorm.weight"
        n.postAttentionNorm = "model.layers.{l}.post_attention_layernorm.weight"
        n.postFFNNorm = "model.layers.{l}.post_feedforward_layernorm.weight"
        return n
    }()

    /// gpt-oss GGUF: the FFN's input norm is `post_attention_norm`.
    public static let ggufGPTOSS: LlamaTensorNames = {
        var n = gguf
        n.ffnNorm = "blk.{l}.post_attention_norm.weight"
        return n
    }()

    /// Qwen2-MoE and Qwen3-MoE safetensors: `mlp.gate` routes, `mlp.experts.{e}.*_proj` and
    /// `mlp.shared_expert.*_proj` are the experts, `mlp.shared_expert_gate` the shared gate.
    public static let huggingFaceQwenMoE: LlamaTensorNames = {
        var n = huggingFace
        n.router = "model.layers.{l}.mlp.gate.weight"
        n.expertGate = "model.layers.{l}.mlp.experts.{e}.gate_proj.weight"
        n.expertUp = "model.layers.{l}.mlp.experts.{e}.up_proj.weight"
        n.expertDown = "model.layers.{l}.mlp.experts.{e}.down_proj.weight"
        n.sharedGate = "model.layers.{l}.mlp.shared_expert.gate_proj.weight"
        n.sharedUp = "model.layers.{l}.mlp.shared_expert.up_proj.weight"
        n.sharedDown = "model.layers.{l}.mlp.shared_expert.down_proj.weight"
        n.sharedGateInput = "model.layers.{l}.mlp.shared_expert_gate.weight"
        return n
    }()

    /// gpt-oss safetensors: `mlp.router` routes, `self_attn.sinks`, `self_attn.o_proj.bias`
    /// (the experts themselves: `GPTOSSExperts`).
    public static let huggingFaceGPTOSS: LlamaTensorNames = {
        var n = huggingFace
        n.router = "model.layers.{l}.mlp.router.weight"
        n.routerBias = "model.layers.{l}.mlp.router.bias"
        n.sinks = "model.layers.{l}.self_attn.sinks"
        n.oBias = "model.layers.{l}.self_attn.o_proj.bias"
        return n
    }()

    /// Llama 4 safetensors (`Llama4ForConditionalGeneration`): the text model under
    /// `language_model.`, `feed_forward.*` for dense layers, the router and the shared expert
    /// (the fused experts themselves: `Llama4Experts`).
    public static let huggingFaceLlama4: LlamaTensorNames = {
        var n = huggingFace
        let l = "language_model.model.layers.{l}."
        n.embedding = "language_model.model.embed_tokens.weight"
        n.output = "language_model.lm_head.weight"
        n.finalNorm = "language_model.model.norm.weight"
        n.attentionNorm = l + "input_layernorm.weight"
        n.ffnNorm = l + "post_attention_layernorm.weight"
        n.wq = l + "self_attn.q_proj.weight"
        n.wk = l + "self_attn.k_proj.weight"
        n.wv = l + "self_attn.v_proj.weight"
        n.wo = l + "self_attn.o_proj.weight"
        n.gate = l + "feed_forward.gate_proj.weight"
        n.up = l + "feed_forward.up_proj.weight"
        n.down = l + "feed_forward.down_proj.weight"
        n.router = l + "feed_forward.router.weight"
        n.sharedGate = l + "feed_forward.shared_expert.gate_proj.weight"
        n.sharedUp = l + "feed_forward.shared_expert.up_proj.weight"
        n.sharedDown = l + "feed_forward.shared_expert.down_proj.weight"
        return n
    }()

    /// Mixtral safetensors: `block_sparse_moe.gate` routes; experts' w1 (gate), w3 (up), w2 (down).
    public static let huggingFaceMixtral: LlamaTensorNames = {
        var n = huggingFace
        n.router = "model.layers.{l}.block_sparse_moe.gate.weight"
        n.expertGate = "model.layers.{l}.block_sparse_moe.experts.{e}.w1.weight"
        n.expertUp = "model.layers.{l}.block_sparse_moe.experts.{e}.w3.weight"
        n.expertDown = "model.layers.{l}.block_sparse_moe.experts.{e}.w2.weight"
        return n
    }()

    func name(_ template: String, layer: Int) -> String {
        template.replacing("{l}", with: String(layer))
    }
}

extension LlamaWeights {
    /// Every RMSNorm weight plus one: Gemma's checkpoints store w for a norm that scales by 1 + w
    /// (llama.cpp's converter adds the one when it writes GGUF).
    public func addingOneToNorms() -> LlamaWeights {
        func plus(_ v: [Float]) -> [Float] { v.map { $0 + 1 } }
        var out = self
        out.finalNorm = plus(finalNorm)
        for l in out.layers.indices {
            out.layers[l].attentionNorm = plus(layers[l].attentionNorm)
            out.layers[l].ffnNorm = plus(layers[l].ffnNorm)
            out.layers[l].postAttentionNorm = layers[l].postAttentionNorm.map(plus)
            out.layers[l].postFFNNorm = layers[l].postFFNNorm.map(plus)
            out.layers[l].qNorm = layers[l].qNorm.map(plus)
            out.layers[l].kNorm = layers[l].kNorm.map(plus)
        }
        return out
    }

    /// Loads every tensor a Llama decoder needs from `source`, checking shapes against `config`.
    /// `experts`: a loader for checkpoints whose experts are not the tensors `names` gives
    /// (gpt-oss's MXFP4 blocks); nil: the named tensors.
    public static func load(from source: some TensorSource, names: LlamaTensorNames, config c: ModelConfiguration,
                            experts expertLoader: ((Int, ExpertConfiguration) throws -> ExpertLayerWeights)? = nil) throws -> LlamaWeights {
        let qDim = c.headCount * c.headDim
        var layers: [LlamaLayerWeights] = []
        for l in 0..<c.layerCount {
            func n(_ t: String) -> String { names.name(t, layer: l) }
            let wq, wk, wv, gate, up: WeightMatrix
            if c.fusedProjections {
                // Row slices of the stored matrices: no copy.
                let qkv = try source.matrix(n(names.qkv), rows: qDim + 2 * c.kvDim, cols: c.dim)
                wq = qkv.slicingRows(0..<qDim)
                wk = qkv.slicingRows(qDim..<(qDim + c.kvDim))
                wv = qkv.slicingRows((qDim + c.kvDim)..<(qDim + 2 * c.kvDim))
                let gateUp = try source.matrix(n(names.gateUp), rows: 2 * c.hiddenDim, cols: c.dim)
                gate = gateUp.slicingRows(0..<c.hiddenDim)
                up = gateUp.slicingRows(c.hiddenDim..<(2 * c.hiddenDim))
            } else {
                wq = try source.matrix(n(names.wq), rows: qDim, cols: c.dim)
                wk = try source.matrix(n(names.wk), rows: c.kvDim, cols: c.dim)
                wv = try source.matrix(n(names.wv), rows: c.kvDim, cols: c.dim)
                if !(c.experts?.isExpertLayer(l) ?? false) {
                    gate = try source.matrix(n(names.gate), rows: c.hiddenDim, cols: c.dim)
                    up = try source.matrix(n(names.up), rows: c.hiddenDim, cols: c.dim)
                } else {
                    gate = .empty(cols: c.dim)
                    up = .empty(cols: c.dim)
                }
            }
            var layer = LlamaLayerWeights(
                attentionNorm: try source.vector(n(names.attentionNorm), count: c.dim),
                wq: wq, wk: wk, wv: wv,
                wo: try source.matrix(n(names.wo), rows: c.dim, cols: qDim),
                ffnNorm: try source.vector(n(names.ffnNorm), count: c.dim),
                gate: gate,
                down: !(c.experts?.isExpertLayer(l) ?? false) ? try source.matrix(n(names.down), rows: c.dim, cols: c.hiddenDim)
                    : .empty(cols: c.hiddenDim),
                up: up)
            if let e = c.experts, e.isExpertLayer(l) {
                layer.experts = try expertLoader?(l, e) ?? loadExperts(from: source, names: names, layer: l, config: c, experts: e)
            }
            if c.attentionBias {
                layer.qBias = try source.vector(n(names.qBias), count: qDim)
                layer.kBias = try source.vector(n(names.kBias), count: c.kvDim)
                layer.vBias = try source.vector(n(names.vBias), count: c.kvDim)
            }
            if c.gemmaStyle {
                layer.postAttentionNorm = try source.vector(n(names.postAttentionNorm), count: c.dim)
                layer.postFFNNorm = try source.vector(n(names.postFFNNorm), count: c.dim)
            }
            if c.queryKeyNorm {
                layer.qNorm = try source.vector(n(names.qNorm), count: c.headDim)
                layer.kNorm = try source.vector(n(names.kNorm), count: c.headDim)
            }
            if c.attentionOutputBias { layer.oBias = try source.vector(n(names.oBias), count: c.dim) }
            if c.attentionSinks { layer.sinks = try source.vector(n(names.sinks), count: c.headCount) }
            layers.append(layer)
        }
        let embedding = try source.matrix(names.embedding, rows: c.vocabSize, cols: c.dim)
        let output = c.tiedEmbeddings ? embedding : try source.matrix(names.output, rows: c.vocabSize, cols: c.dim)
        return LlamaWeights(tokenEmbedding: embedding, layers: layers,
                            finalNorm: try source.vector(names.finalNorm, count: c.dim), output: output,
                            expertsPerToken: c.experts?.perToken ?? 0)
    }

    static func loadExperts(from source: some TensorSource, names: LlamaTensorNames, layer l: Int,
                            config c: ModelConfiguration, experts e: ExpertConfiguration) throws -> ExpertLayerWeights {
        func n(_ t: String) -> String { names.name(t, layer: l) }
        let all = 0..<e.count
        var w = ExpertLayerWeights(
            router: try source.matrix(n(names.router), rows: e.count, cols: c.dim), ids: all,
            gate: try source.experts(n(names.expertGate), ids: all, count: e.count, rows: e.hiddenDim, cols: c.dim),
            up: try source.experts(n(names.expertUp), ids: all, count: e.count, rows: e.hiddenDim, cols: c.dim),
            down: try source.experts(n(names.expertDown), ids: all, count: e.count, rows: c.dim, cols: e.hiddenDim))
        if e.sharedHiddenDim > 0 {
            w.sharedGate = try source.matrix(n(names.sharedGate), rows: e.sharedHiddenDim, cols: c.dim)
            w.sharedUp = try source.matrix(n(names.sharedUp), rows: e.sharedHiddenDim, cols: c.dim)
            w.sharedDown = try source.matrix(n(names.sharedDown), rows: c.dim, cols: e.sharedHiddenDim)
            if e.sharedGated { w.sharedGateInput = try source.vector(n(names.sharedGateInput), count: c.dim) }
        }
        if e.biases {
            // Stacked as (count, width): row e is expert e's bias.
            func rows(_ name: String, width: Int) throws -> [[Float]] {
                let m = try source.matrix(n(name), rows: e.count, cols: width)
                return (0..<e.count).map { r in
                    var v = [Float](repeating: 0, count: width)
                    v.withUnsafeMutableBufferPointer { m.row(r, into: $0.baseAddress!) }
                    return v
                }
            }
            w.routerBias = try source.vector(n(names.routerBias), count: e.count)
            w.gateBias = try rows(names.expertGateBias, width: e.hiddenDim)
            w.upBias = try rows(names.expertUpBias, width: e.hiddenDim)
            w.downBias = try rows(names.expertDownBias, width: c.dim)
        }
        return w
    }
}
