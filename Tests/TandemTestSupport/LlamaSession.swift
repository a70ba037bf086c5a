import CTandemKernels
import TandemCore
import TandemKernels
@testable import TandemModel

/// Tests only: a second forward pass, batch of one, FP32 activations, KV cache as plain arrays,
/// written for clarity (llama2.c's `forward`), one token at a time, with its own attention
/// (`tk_attention_head`, not the paged step kernel). The batched, paged and tensor-parallel
/// paths of `ModelRunner` are checked against it; the independent oracle for the numbers is the
/// float64 NumPy reference in tools/reference/.
public final class LlamaSession {
    public let model: LlamaModel
    public let maxPositions: Int
    /// Tokens processed so far (the next position).
    public private(set) var position = 0

    // Activations.
    let x: FloatBuffer        // (dim) residual stream
    let xb: FloatBuffer       // (dim) normalised input
    let q: FloatBuffer        // (n_heads * head_dim)
    let att: FloatBuffer      // (n_heads * head_dim) attention output
    let proj: FloatBuffer     // (dim) projection output
    let hb: FloatBuffer       // (hidden) gate
    let hb2: FloatBuffer      // (hidden) up
    let scores: FloatBuffer   // (max_positions)
    public let logits: FloatBuffer // (vocab)
    // KV cache.
    let keys: [FloatBuffer]   // per layer (max_positions, kv_dim)
    let values: [FloatBuffer] // per layer (max_positions, kv_dim)

    public init(model: LlamaModel, maxPositions: Int? = nil) {
        self.model = model
        let c = model.configuration
        let n = min(maxPositions ?? c.contextLength, c.contextLength)
        self.maxPositions = n
        let qDim = c.headCount * c.headDim
        x = FloatBuffer(count: c.dim)
        xb = FloatBuffer(count: c.dim)
        q = FloatBuffer(count: qDim)
        att = FloatBuffer(count: qDim)
        proj = FloatBuffer(count: c.dim)
        hb = FloatBuffer(count: c.hiddenDim)
        hb2 = FloatBuffer(count: c.hiddenDim)
        scores = FloatBuffer(count: n)
        logits = FloatBuffer(count: c.vocabSize)
        keys = (0..<c.layerCount).map { _ in FloatBuffer(count: n * c.kvDim, zeroed: false) }
        values = (0..<c.layerCount).map { _ in FloatBuffer(count: n * c.kvDim, zeroed: false) }
    }

    /// Forgets the cached positions.
    public func reset() { position = 0 }

    /// Runs `token` at the next position; returns the logits (vocab), valid until the next call.
    @discardableResult
    public func forward(_ token: TokenID, observe: ((Int, ActivationSite, Float) -> Void)? = nil) throws -> UnsafeMutablePointer<Float> {
        let c = model.configuration
        let w = model.weights
        guard token >= 0, Int(token) < c.vocabSize else {
            throw ModelRuntimeError.tokenOutOfRange(token: token, vocabSize: c.vocabSize)
        }
        guard position < maxPositions else {
            throw ModelRuntimeError.contextFull(limit: maxPositions)
        }
        let pos = position
        let hd = c.headDim, kvDim = c.kvDim
        w.tokenEmbedding.row(Int(token), into: x.pointer)

        for (l, layer) in w.layers.enumerated() {
            // Attention block.
            tk_rmsnorm(xb.pointer, x.pointer, layer.attentionNorm, Int64(c.dim), c.rmsNormEpsilon)
            observe?(l, .attentionInput, tk_amax(xb.pointer, Int64(c.dim)))
            let kRow = keys[l].pointer + pos * kvDim
            let vRow = values[l].pointer + pos * kvDim
            layer.wq.multiply(xb.pointer, into: q.pointer)
            layer.wk.multiply(xb.pointer, into: kRow)
            layer.wv.multiply(xb.pointer, into: vRow)
            c.applyRoPE(q.pointer, heads: c.headCount, position: pos)
            c.applyRoPE(kRow, heads: c.kvHeadCount, position: pos)
            for h in 0..<c.headCount {
                let kvh = h / c.queriesPerKVHead
                tk_attention_head(att.pointer + h * hd, q.pointer + h * hd,
                                  keys[l].pointer + kvh * hd, values[l].pointer + kvh * hd,
                                  Int64(kvDim), Int64(pos + 1), Int64(hd), scores.pointer)
            }
            observe?(l, .attentionOutput, tk_amax(att.pointer, Int64(c.headCount * hd)))
            layer.wo.multiply(att.pointer, into: proj.pointer)
            tk_add(x.pointer, proj.pointer, Int64(c.dim))
            // Feed-forward block (SwiGLU).
            tk_rmsnorm(xb.pointer, x.pointer, layer.ffnNorm, Int64(c.dim), c.rmsNormEpsilon)
            observe?(l, .ffnInput, tk_amax(xb.pointer, Int64(c.dim)))
            layer.gate.multiply(xb.pointer, into: hb.pointer)
            layer.up.multiply(xb.pointer, into: hb2.pointer)
            tk_swiglu(hb.pointer, hb2.pointer, Int64(c.hiddenDim))
            observe?(l, .ffnHidden, tk_amax(hb.pointer, Int64(c.hiddenDim)))
            layer.down.multiply(hb.pointer, into: proj.pointer)
            tk_add(x.pointer, proj.pointer, Int64(c.dim))
        }
        tk_rmsnorm(x.pointer, x.pointer, w.finalNorm, Int64(c.dim), c.rmsNormEpsilon)
        w.output.multiply(x.pointer, into: logits.pointer)
        position += 1
        return logits.pointer
    }

    /// Runs every token of `tokens` and returns the logits of the last one as an array.
    public func prefill(_ tokens: [TokenID]) throws -> [Float] {
        for t in tokens { try forward(t) }
        return logits.array
    }
}
