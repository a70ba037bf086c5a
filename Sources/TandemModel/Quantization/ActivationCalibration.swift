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

    public init(layers: [Layer]) { self.layers = layers }

    /// Raises the range of `site` in `layer` to `amax` if that is larger.
    public mutating func record(_ layer: Int, _ site: ActivationSite, _ amax: Float) {
        switch site {
        case .attentionInput: layers[layer].attentionInput = max(layers[layer].attentionInput, amax)
        case .attentionOutput: layers[layer].attentionOutput = max(layers[layer].attentionOutput, amax)
        case .ffnInput: layers[layer].ffnInput = max(layers[layer].ffnInput, amax)
        case .ffnHidden: layers[layer].ffnHidden = max(layers[layer].ffnHidden, amax)
        }
    }
}

/// Runs the model's forward pass (`ModelRunner`, one rank) over calibration tokens, recording
/// `ActivationRanges` through the runner's activation observer.
public final class ActivationCalibrator {
    public let model: LlamaModel
    public let maxPositions: Int
    public private(set) var ranges: ActivationRanges
    /// Tokens per step: the calibration text runs as prefill chunks of this many tokens.
    public let chunkSize: Int
    private let runner: ModelRunner

    public init(model: LlamaModel, maxPositions: Int, chunkSize: Int = 256) throws {
        self.model = model
        self.maxPositions = maxPositions
        self.chunkSize = max(1, chunkSize)
        ranges = ActivationRanges(layers: Array(repeating: .init(), count: model.configuration.layerCount))
        runner = try ModelRunner(model: model, blocks: .positions(max(maxPositions, 1)))
    }

    /// Runs `tokens` from position 0 (earlier positions are forgotten); returns the last logits.
    /// `progress(done)` after each chunk.
    @discardableResult
    public func observe(_ tokens: [TokenID], progress: ((Int) -> Void)? = nil) throws -> [Float] {
        guard tokens.count <= maxPositions else { throw ModelRuntimeError.contextFull(limit: maxPositions) }
        var found = ranges
        runner.observer = { layer, site, values, count in found.record(layer, site, tk_amax(values, Int64(count))) }
        defer { runner.observer = nil }
        let sequence = runner.sequence()
        var logits: [Float] = []
        var done = 0
        while done < tokens.count {
            let end = min(done + chunkSize, tokens.count)
            let out = try sequence.run(Array(tokens[done..<end]), wantsLogits: end == tokens.count)
            if let out { logits = out }
            found.tokenCount += end - done
            done = end
            progress?(done)
        }
        ranges = found
        return logits
    }
}
