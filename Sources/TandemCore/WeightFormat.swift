/// The weight format a model is run or exported in (`--weights`; a core type because the engine's
/// serve settings, `ServeSettings`, name it too).
///
/// `native` keeps each tensor as the checkpoint stores it. The others dequantise every linear
/// layer from the checkpoint's highest precision (its stored values) and re-quantise: a GGUF Q4_1
/// checkpoint's "full precision" is therefore the dequantised Q4_1, not the original BF16 model.
public enum WeightFormat: String, Sendable, CaseIterable, Codable {
    case native, f32, fp8, nvfp4, mxfp4

    /// The tensor dtype this format produces; nil for `native`.
    public var dtype: DType? {
        switch self {
        case .native: nil
        case .f32: .f32
        case .fp8: .fp8_e4m3
        case .nvfp4: .nvfp4
        case .mxfp4: .mxfp4
        }
    }

    /// How this format is written in tables and logs.
    public var displayName: String {
        switch self {
        case .native: "native"
        case .f32: "F32"
        case .fp8: "FP8 E4M3"
        case .nvfp4: "NVFP4"
        case .mxfp4: "MXFP4"
        }
    }
}
