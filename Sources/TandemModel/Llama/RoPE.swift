import CTandemKernels
import TandemCore

extension ModelConfiguration {
    /// Rotates `heads` heads of `x` (each `headDim` floats) for `position`, with the model's RoPE
    /// layout, base and scaling (`ropeFrequencyFactors`). Both forward passes call this.
    /// `layer`: a sliding layer of a model with its own local base (Gemma 3) rotates with that
    /// base and no scaling.
    @inline(__always)
    func applyRoPE(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int, layer: Int? = nil) {
        let interleaved: Int32 = ropeStyle == .interleaved ? 1 : 0
        if let local = localRoPETheta, let layer, isSlidingLayer(layer) {
            tk_rope(x, Int64(heads), Int64(headDim), Int64(position), local, interleaved)
        } else if let factors = ropeFrequencyFactors {
            tk_rope_scaled(x, Int64(heads), Int64(headDim), Int64(position), ropeTheta, interleaved, factors)
        } else {
            tk_rope(x, Int64(heads), Int64(headDim), Int64(position), ropeTheta, interleaved)
        }
    }
}
