import CTandemKernels
import TandemCore
import TandemKernels

/// The largest |activation| entering each linear layer over a calibration text: ModelOpt's
/// "max" calibration, from which a checkpoint's `input_scale` is derived (FP8: amax / 448;
/// NVFP4: amax / (6 · 448)). Tandem itself keeps activations in FP32 and never reads these
/// scales; they are written so that engines quantising activations (vLLM, TensorRT-LLM) can.
public struct ActivationRanges: Sendable, Equatable {
    /// Per layer: input of q/k/v (normalised residual), of o_proj (attention output),
    /// of gate/up (normalised residual), of down_proj (SwiGLU output).
    public struct Layer: Sendable, Equatable {
        public var attentionInput: Float = 0
        public var attentionOutput: Float = 0
        public var ffnInput: Float = 0
        public var ffnHidden: Float = 0
    }
    public var layers: [Layer]
    /// Positions observed.
    public var tokenCount = 0
}

/// Runs the reference forward pass (the same kernels, in the same order, as `LlamaSession`) over
/// calibration tokens, recording `ActivationRanges`.
public final class ActivationCalibrator {
    public let model: LlamaModel
    public let maxPositions: Int
    public private(set) var ranges: ActivationRanges
    private var position = 0
    // Activations and cache, as in LlamaSession.
    private let x, xb, q, att, proj, hb, hb2, scores, logits: FloatBuffer
    private let keys, values: [FloatBuffer]  // per layer (max_positions, kv_dim)

    public init(model: LlamaModel, maxPositions: Int) {
        let c = model.configuration
        self.model = model
        self.maxPositions = maxPositions
        ranges = ActivationRanges(layers: Array(repeating: .init(), count: c.layerCount))
        let qDim = c.headCount * c.headDim
        x = FloatBuffer(count: c.dim); xb = FloatBuffer(count: c.dim); proj = FloatBuffer(count: c.dim)
        q = FloatBuffer(count: qDim); att = FloatBuffer(count: qDim)
        hb = FloatBuffer(count: c.hiddenDim); hb2 = FloatBuffer(count: c.hiddenDim)
        scores = FloatBuffer(count: maxPositions); logits = FloatBuffer(count: c.vocabSize)
        keys = (0..<c.layerCount).map { _ in FloatBuffer(count: maxPositions * c.kvDim) }
        values = (0..<c.layerCount).map { _ in FloatBuffer(count: maxPositions * c.kvDim) }
    }

    /// Runs `tokens` from position 0 (earlier positions are forgotten); returns the last logits.
    /// `progress(done)` after each position.
    @discardableResult
    public func observe(_ tokens: [TokenID], progress: ((Int) -> Void)? = nil) throws -> [Float] {
        position = 0
        for (i, t) in tokens.enumerated() {
            try step(t)
            progress?(i + 1)
        }
        return logits.array
    }

    /// One position; mirrors `LlamaSession.forward` and records the ranges on the way.
    private func step(_ token: TokenID) throws {
        let s = self
        let c = model.configuration, w = model.weights
        guard token >= 0, Int(token) < c.vocabSize else { throw ModelRuntimeError.tokenOutOfRange(token: token, vocabSize: c.vocabSize) }
        guard position < maxPositions else { throw ModelRuntimeError.contextFull(limit: maxPositions) }
        let pos = position, hd = c.headDim, kvDim = c.kvDim, qDim = c.headCount * hd
        func amax(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float { tk_amax(p, Int64(n)) }
        w.tokenEmbedding.row(Int(token), into: s.x.pointer)
        for (l, layer) in w.layers.enumerated() {
            tk_rmsnorm(s.xb.pointer, s.x.pointer, layer.attentionNorm, Int64(c.dim), c.rmsNormEpsilon)
            ranges.layers[l].attentionInput = max(ranges.layers[l].attentionInput, amax(s.xb.pointer, c.dim))
            let kRow = s.keys[l].pointer + pos * kvDim, vRow = s.values[l].pointer + pos * kvDim
            layer.wq.multiply(s.xb.pointer, into: s.q.pointer)
            layer.wk.multiply(s.xb.pointer, into: kRow)
            layer.wv.multiply(s.xb.pointer, into: vRow)
            c.applyRoPE(s.q.pointer, heads: c.headCount, position: pos)
            c.applyRoPE(kRow, heads: c.kvHeadCount, position: pos)
            for h in 0..<c.headCount {
                let kvh = h / c.queriesPerKVHead
                tk_attention_head(s.att.pointer + h * hd, s.q.pointer + h * hd, s.keys[l].pointer + kvh * hd,
                                  s.values[l].pointer + kvh * hd, Int64(kvDim), Int64(pos + 1), Int64(hd), s.scores.pointer)
            }
            ranges.layers[l].attentionOutput = max(ranges.layers[l].attentionOutput, amax(s.att.pointer, qDim))
            layer.wo.multiply(s.att.pointer, into: s.proj.pointer)
            tk_add(s.x.pointer, s.proj.pointer, Int64(c.dim))
            tk_rmsnorm(s.xb.pointer, s.x.pointer, layer.ffnNorm, Int64(c.dim), c.rmsNormEpsilon)
            ranges.layers[l].ffnInput = max(ranges.layers[l].ffnInput, amax(s.xb.pointer, c.dim))
            layer.gate.multiply(s.xb.pointer, into: s.hb.pointer)
            layer.up.multiply(s.xb.pointer, into: s.hb2.pointer)
            tk_swiglu(s.hb.pointer, s.hb2.pointer, Int64(c.hiddenDim))
            ranges.layers[l].ffnHidden = max(ranges.layers[l].ffnHidden, amax(s.hb.pointer, c.hiddenDim))
            layer.down.multiply(s.hb.pointer, into: s.proj.pointer)
            tk_add(s.x.pointer, s.proj.pointer, Int64(c.dim))
        }
        tk_rmsnorm(s.x.pointer, s.x.pointer, w.finalNorm, Int64(c.dim), c.rmsNormEpsilon)
        w.output.multiply(s.x.pointer, into: s.logits.pointer)
        position += 1
        ranges.tokenCount += 1
    }
}
