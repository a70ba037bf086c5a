import CTandemKernels
import TandemCore

extension ModelConfiguration {
    /// Rotates `heads` heads of `x` (each `headDim` floats) for `position`, with the model's RoPE
    /// layout, base and scaling (`ropeFrequencyFactors`). Both forward passes call this.
    @inline(__always)
    func applyRoPE(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let interleaved: Int32 = ropeStyle == .interleaved ? 1 : 0
        if let factors = ropeFrequencyFactors {
            tk_rope_scaled(x, Int64(heads), Int64(headDim), Int64(position), ropeTheta, interleaved, factors)
        } else {
            tk_rope(x, Int64(heads), Int64(headDim), Int64(position), ropeTheta, interleaved)
        }
    }
}
