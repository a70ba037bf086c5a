import TandemCore
import TandemEngineCore
import TandemModel

/// Runs one scheduled step on the model: the `ModelRunner` of this process, after (in a
/// cluster) broadcasting the plan to every worker rank. Returns the logits of each chunk that
/// wants them.
public protocol StepExecutor: AnyObject {
    var blockSize: Int { get }
    var blockCount: Int { get }
    func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]]
    /// MoE models: tokens routed to each expert so far and the experts each rank holds; nil for
    /// dense models. Read on the thread that runs `execute`.
    var expertLoad: ExpertLoad? { get }
}

extension StepExecutor {
    public var expertLoad: ExpertLoad? { nil }
}

extension ModelRunner {
    /// The runner's expert counts with the plan's placement (nil for a dense model).
    public var expertLoadSnapshot: ExpertLoad? {
        guard model.configuration.experts != nil else { return nil }
        return ExpertLoad(tokens: expertLoad, rankExperts: rankExperts)
    }
}

extension ModelRunner {
    /// Runs a step whose block copies come from the engine's block manager.
    public func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]] {
        try execute(chunks, copies: copies.map { (source: $0.source.rawValue, destination: $0.destination.rawValue) })
    }
}

/// The whole model in this process: one rank, no broadcast.
public final class LocalStepExecutor: StepExecutor {
    public let runner: ModelRunner

    public var expertLoad: ExpertLoad? { runner.expertLoadSnapshot }

    public init(runner: ModelRunner) {
        precondition(runner.group.size == 1, "a local executor runs a one-rank runner; a group's rank 0 broadcasts (ClusterRank)")
        self.runner = runner
    }

    /// A single-rank executor for `model` with `blockCount` blocks of `blockSize` tokens stored as `kvDType`.
    public convenience init(model: LoadedModel, blockCount: Int, blockSize: Int, kvDType: KVCacheDType = .f32) throws {
        self.init(runner: try ModelRunner(model: model.model, blockSize: blockSize, blocks: .blocks(blockCount), kvDType: kvDType))
    }

    public var blockSize: Int { runner.blockSize }
    public var blockCount: Int { runner.blockCount }

    public func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]] {
        try runner.execute(chunks, copies: copies)
    }
}
