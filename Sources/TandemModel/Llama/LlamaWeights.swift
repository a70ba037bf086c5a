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
}

/// All weights of a Llama-family decoder, pointing into the checkpoint's mapping where possible.
public struct LlamaWeights: Sendable {
    public var tokenEmbedding: WeightMatrix  // (vocab, dim)
    public var layers: [LlamaLayerWeights]
    public var finalNorm: [Float]            // (dim)
    public var output: WeightMatrix          // (vocab, dim); the embedding when tied

    /// Bytes of weight data the forward pass reads per token (matrices with their scale planes;
    /// the embedding is a row lookup, so counted once only when it is also the output head).
    public var bytesPerToken: Int {
        var total = output.storageBytes
        for l in layers {
            total += l.wq.storageBytes + l.wk.storageBytes + l.wv.storageBytes + l.wo.storageBytes
            total += l.gate.storageBytes + l.down.storageBytes + l.up.storageBytes
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
}

extension TensorSource {
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
    public static func load(from source: some TensorSource, names: LlamaTensorNames,
                            config c: ModelConfiguration) throws -> LlamaWeights {
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
                gate = try source.matrix(n(names.gate), rows: c.hiddenDim, cols: c.dim)
                up = try source.matrix(n(names.up), rows: c.hiddenDim, cols: c.dim)
            }
            var layer = LlamaLayerWeights(
                attentionNorm: try source.vector(n(names.attentionNorm), count: c.dim),
                wq: wq, wk: wk, wv: wv,
                wo: try source.matrix(n(names.wo), rows: c.dim, cols: qDim),
                ffnNorm: try source.vector(n(names.ffnNorm), count: c.dim),
                gate: gate,
                down: try source.matrix(n(names.down), rows: c.dim, cols: c.hiddenDim),
                up: up)
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
            layers.append(layer)
        }
        let embedding = try source.matrix(names.embedding, rows: c.vocabSize, cols: c.dim)
        let output = c.tiedEmbeddings ? embedding : try source.matrix(names.output, rows: c.vocabSize, cols: c.dim)
        return LlamaWeights(tokenEmbedding: embedding, layers: layers,
                            finalNorm: try source.vector(names.finalNorm, count: c.dim), output: output)
    }
}
