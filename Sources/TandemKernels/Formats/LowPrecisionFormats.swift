import CTandemKernels

// Thin Swift names for the C number formats in tandem_formats.h. The rules (rounding, saturation,
// NaN, block layouts, scale choice) are documented there; these wrappers add nothing to them.

/// FP8 E4M3 ("e4m3fn"): bias 7, no infinities, NaN only 0x7F/0xFF, largest finite ±448.
public enum FP8E4M3 {
    public static let maxFinite: Float = 448
    /// Round to nearest even; saturates to ±448 (±inf too); NaN → 0x7F with the sign kept.
    public static func encode(_ x: Float) -> UInt8 { tk_f32_to_e4m3(x) }
    public static func decode(_ code: UInt8) -> Float { tk_e4m3_to_f32(code) }
}

/// FP8 E5M2: bias 15, IEEE-like infinities and NaNs, largest finite ±57344.
public enum FP8E5M2 {
    public static let maxFinite: Float = 57344
    /// Round to nearest even; overflow gives ±inf; NaN → 0x7E with the sign kept.
    public static func encode(_ x: Float) -> UInt8 { tk_f32_to_e5m2(x) }
    /// As `encode`, but finite overflow and ±inf clamp to ±57344.
    public static func encodeSaturating(_ x: Float) -> UInt8 { tk_f32_to_e5m2_sat(x) }
    public static func decode(_ code: UInt8) -> Float { tk_e5m2_to_f32(code) }
}

/// FP4 E2M1: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}; codes 0...15.
public enum FP4E2M1 {
    public static let maxFinite: Float = 6
    /// Round to nearest even; saturates to ±6; NaN → 0.
    public static func encode(_ x: Float) -> UInt8 { tk_f32_to_e2m1(x) }
    /// Decodes the low four bits.
    public static func decode(_ code: UInt8) -> Float { tk_e2m1_to_f32(code) }
}

/// E8M0 scale: 2^(e-127), 0xFF is NaN.
public enum E8M0 {
    /// Nearest power of two, ties up; zero, negatives, inf and NaN → 0xFF.
    public static func encode(_ x: Float) -> UInt8 { tk_f32_to_e8m0(x) }
    public static func decode(_ code: UInt8) -> Float { tk_e8m0_to_f32(code) }
}

/// MXFP4 rows, byte-compatible with ggml's `block_mxfp4` (GGUF type 39): 32 values per 17 bytes.
public enum MXFP4 {
    public static let ggufType = Int(TK_MXFP4.rawValue)
    public static let blockValues = Int(TK_MXFP4_BLOCK_VALUES)
    public static let blockBytes = Int(TK_MXFP4_BLOCK_BYTES)

    /// Bytes for `count` values (a multiple of 32).
    public static func byteCount(values count: Int) -> Int {
        precondition(count % blockValues == 0, "MXFP4 rows hold whole blocks of 32 values")
        return count / blockValues * blockBytes
    }

    /// ggml's reference quantisation of `values` (count a multiple of 32).
    public static func quantize(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount(values: values.count))
        let status = tk_quantize_row_mxfp4(values, &out, Int64(values.count))
        precondition(status == 0)
        return out
    }

    public static func dequantize(_ bytes: [UInt8], count: Int) -> [Float] {
        precondition(bytes.count >= byteCount(values: count))
        var out = [Float](repeating: 0, count: count)
        let status = tk_dequantize_row_mxfp4(bytes, &out, Int64(count))
        precondition(status == 0)
        return out
    }
}

/// NVFP4 as NVIDIA ModelOpt stores it: packed E2M1 pairs (even column in the low nibble), one E4M3
/// block scale per 16 values, one FP32 tensor scale; value = e2m1 × (block scale × tensor scale).
public enum NVFP4 {
    public static let blockValues = Int(TK_NVFP4_BLOCK_VALUES)

    /// ModelOpt's `weight_scale_2`: amax / (6 · 448).
    public static func tensorScale(amax: Float) -> Float { tk_nvfp4_tensor_scale(amax) }
    /// The tensor scale for `values` (NaN ignored).
    public static func tensorScale(of values: [Float]) -> Float {
        tk_nvfp4_tensor_scale(tk_amax(values, Int64(values.count)))
    }

    /// Quantises one row (count a multiple of 16): `packed` has count/2 bytes, `blockScales` count/16.
    public static func quantize(_ values: [Float], tensorScale: Float) -> (packed: [UInt8], blockScales: [UInt8]) {
        precondition(values.count % blockValues == 0, "NVFP4 rows hold whole blocks of 16 values")
        var packed = [UInt8](repeating: 0, count: values.count / 2)
        var scales = [UInt8](repeating: 0, count: values.count / blockValues)
        let status = tk_quantize_row_nvfp4(values, &packed, &scales, tensorScale, Int64(values.count))
        precondition(status == 0)
        return (packed, scales)
    }

    public static func dequantize(packed: [UInt8], blockScales: [UInt8], tensorScale: Float, count: Int) -> [Float] {
        precondition(count % blockValues == 0 && packed.count >= count / 2 && blockScales.count >= count / blockValues)
        var out = [Float](repeating: 0, count: count)
        let status = tk_dequantize_row_nvfp4(packed, blockScales, tensorScale, &out, Int64(count))
        precondition(status == 0)
        return out
    }
}

/// FP8 E4M3 weights with an FP32 scale (ModelOpt `quant_algo: FP8`): value = e4m3 × scale.
public enum FP8Scaled {
    /// ModelOpt's per-tensor (or per-row) scale: amax / 448.
    public static func scale(amax: Float) -> Float { tk_fp8_e4m3_scale(amax) }
    /// The scale for `values` (NaN ignored).
    public static func scale(of values: [Float]) -> Float { tk_fp8_e4m3_scale(tk_amax(values, Int64(values.count))) }

    public static func quantize(_ values: [Float], scale: Float) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count)
        tk_quantize_row_fp8_e4m3(values, &out, Int64(values.count), scale)
        return out
    }

    public static func dequantize(_ codes: [UInt8], scale: Float) -> [Float] {
        var out = [Float](repeating: 0, count: codes.count)
        tk_dequantize_row_fp8_e4m3(codes, &out, Int64(codes.count), scale)
        return out
    }
}
