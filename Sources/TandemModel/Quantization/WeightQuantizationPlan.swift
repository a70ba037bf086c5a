import TandemCore
import TandemKernels

/// Which tensors of a Llama model are converted to which format.
public struct WeightQuantizationPlan: Sendable, Equatable {
    /// Every attention and feed-forward projection (wq, wk, wv, wo, gate, up, down).
    public var linear: WeightFormat
    /// The token embedding and the output head (one matrix when tied). Default: as stored.
    public var embedding: WeightFormat
    /// FP8 scales per tensor (ModelOpt's default) or per output row.
    public var fp8Scaling: FP8Scaling

    public init(linear: WeightFormat, embedding: WeightFormat = .native, fp8Scaling: FP8Scaling = .perTensor) {
        self.linear = linear
        self.embedding = embedding
        self.fp8Scaling = fp8Scaling
    }

    /// Nothing converted.
    public static let native = WeightQuantizationPlan(linear: .native)

    public var isNative: Bool { linear == .native && embedding == .native }
}
