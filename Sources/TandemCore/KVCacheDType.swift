/// How the paged KV cache stores K and V (`serve --kv-dtype`, topology `placement.kv_dtype`).
///
/// `fp8`: each (token, KV head) vector of K and of V is `headDim` FP8 E4M3 codes (OCP e4m3fn,
/// round to nearest even, saturating) and one FP32 scale, amax / 448. One scale per written
/// vector rather than per block and head: a token's K/V is quantised once, when it is written,
/// and never again; a shared prefix block, a copy-on-write copy and a block filled over several
/// steps all keep the codes they were written with, and one outlier token widens only its own
/// scale. The price is 4 bytes per vector (6% at head_dim 64).
public enum KVCacheDType: String, Sendable, Codable, CaseIterable {
    case f32
    case fp8

    /// Bytes one K (or V) vector of `headDim` values takes, its scale included.
    public func bytesPerVector(headDim: Int) -> Int {
        switch self {
        case .f32: headDim * 4
        case .fp8: headDim + 4
        }
    }

    public var displayName: String {
        switch self {
        case .f32: "FP32"
        case .fp8: "FP8 E4M3 (scale per token and KV head)"
        }
    }
}
