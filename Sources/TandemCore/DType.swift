/// Element formats of stored tensors. Block formats pack `blockSize` values into `blockBytes`.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16
    /// GGML Q8_0: FP16 scale + 32 int8.
    case q8_0
    /// GGML Q4_0: FP16 scale + 16 bytes of nibbles, value = (q - 8)·d.
    case q4_0
    /// GGML Q4_1: FP16 scale d, FP16 min m + 16 bytes of nibbles, value = q·d + m.
    case q4_1

    /// Values per block (1 for scalar formats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q8_0, .q4_0, .q4_1: 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q8_0: 34
        case .q4_0: 18
        case .q4_1: 20
        }
    }

    /// Bytes needed for `count` values; nil when `count` is not a whole number of blocks.
    public func byteCount(elements count: Int) -> Int? {
        guard count % blockSize == 0 else { return nil }
        return count / blockSize * blockBytes
    }
}
