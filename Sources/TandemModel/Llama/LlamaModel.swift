import TandemCore
import TandemKernels
import CTandemKernels

/// A Llama-family decoder: configuration plus weights. Immutable and shareable; `ModelRunner`
/// slices it for a rank and runs it.
public struct LlamaModel: Sendable {
    public let configuration: ModelConfiguration
    public let weights: LlamaWeights

    public init(configuration: ModelConfiguration, weights: LlamaWeights) {
        self.configuration = configuration
        self.weights = weights
    }
}
