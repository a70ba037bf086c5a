/// Element formats of stored tensors. Block formats pack `blockSize` values into `blockBytes`.
///
/// FP8 and NVFP4 keep scales outside the row bytes (a per-tensor or per-row FP32 scale; an E4M3
/// block-scale plane plus an FP32 tensor scale): `blockBytes` counts the row bytes only and
/// `scaleBytes(rows:cols:)` the rest. Bit layouts: `tandem_formats.h`.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16
    /// GGML Q8_0: FP16 scale + 32 int8.
    case q8_0
    /// GGML Q4_0: FP16 scale + 16 bytes of nibbles, value = (q - 8)·d.
    case q4_0
    /// GGML Q4_1: FP16 scale d, FP16 min m + 16 bytes of nibbles, value = q·d + m.
    case q4_1
    /// GGML Q5_0 (GGUF type 6): FP16 scale + 32 high bits + 16 bytes of nibbles, value = (q - 16)·d.
    case q5_0
    /// GGML Q5_1 (GGUF type 7): FP16 d and m + 32 high bits + 16 bytes of nibbles, value = q·d + m.
    case q5_1
    /// FP8 E4M3 ("e4m3fn") codes, one byte per value; value = e4m3 × FP32 scale (per tensor,
    /// optionally times a per-row scale). ModelOpt `quant_algo: FP8`.
    case fp8_e4m3
    /// NVFP4 (ModelOpt `quant_algo: NVFP4`): E2M1 pairs, even column in the low nibble; one E4M3
    /// block scale per 16 values in a separate plane; one FP32 tensor scale.
    case nvfp4
    /// MXFP4 as ggml stores it (GGUF type 39): per 32 values one E8M0 scale byte + 16 bytes of nibbles.
    case mxfp4
    /// GGML Q4_K (GGUF type 12): super-blocks of 256 values in 144 bytes: FP16 d and dmin, 6-bit
    /// scale and min per 32 values, 4-bit q; value = d·scale·q − dmin·min.
    case q4_k
    /// GGML Q5_K (GGUF type 13): as Q4_K with a fifth bit per value; 256 values in 176 bytes.
    case q5_k
    /// GGML Q6_K (GGUF type 14): 256 values in 210 bytes: 6-bit q − 32, an int8 scale per 16
    /// values and one FP16 d; value = d·scale·q.
    case q6_k
    /// GGML Q2_K (GGUF type 10): 256 values in 84 bytes: 2-bit q, a 4-bit scale and min per 16
    /// values, FP16 d and dmin; value = d·scale·q − dmin·min.
    case q2_k
    /// GGML Q3_K (GGUF type 11): 256 values in 110 bytes: 3-bit q − 4, a 6-bit scale per 16 values,
    /// one FP16 d; value = d·scale·q.
    case q3_k
    /// GGML IQ4_NL (GGUF type 20): per 32 values an FP16 d + 16 bytes of nibbles indexing a fixed
    /// non-linear table of 16 int8 values; value = d·table[q].
    case iq4_nl

    /// Values per block (1 for scalar formats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .fp8_e4m3: 1
        case .nvfp4: 16
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .mxfp4, .iq4_nl: 32
        case .q2_k, .q3_k, .q4_k, .q5_k, .q6_k: 256
        }
    }

    /// Bytes per block in the row data (scales kept outside the rows not included).
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .fp8_e4m3: 1
        case .nvfp4: 8
        case .q8_0: 34
        case .q4_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .mxfp4: 17
        case .q4_k: 144
        case .q5_k: 176
        case .q6_k: 210
        case .q2_k: 84
        case .q3_k: 110
        case .iq4_nl: 18
        }
    }

    /// Bytes needed for `count` values of row data; nil when `count` is not a whole number of blocks.
    public func byteCount(elements count: Int) -> Int? {
        guard count % blockSize == 0 else { return nil }
        return count / blockSize * blockBytes
    }

    /// Whether the format's scales live outside the row bytes (FP8's FP32 scale, NVFP4's planes).
    public var hasSeparateScales: Bool { self == .fp8_e4m3 || self == .nvfp4 }

    /// Bytes of scales stored outside the rows of a (rows, cols) matrix with a per-tensor scale:
    /// FP8 4 (one FP32), NVFP4 rows·cols/16 + 4; 0 for the other formats.
    public func scaleBytes(rows: Int, cols: Int) -> Int {
        switch self {
        case .fp8_e4m3: 4
        case .nvfp4: rows * (cols / 16) + 4
        default: 0
        }
    }

    /// Storage bits per value, scales included (for sizes and bandwidth figures).
    public var bitsPerValue: Double {
        switch self {
        case .nvfp4: 4.5
        default: Double(blockBytes * 8) / Double(blockSize)
        }
    }

    /// Whether values are stored below 16 bits (a quantised format).
    public var isQuantized: Bool {
        switch self {
        case .f32, .f16, .bf16: false
        default: true
        }
    }
}
