import TandemCore
import TandemEngineCore
import TandemModel

/// Runs one scheduled step on the model: the local shard, or (in a cluster) the plan broadcast
/// to every worker rank first. Returns the logits of each chunk that wants them.
public protocol StepExecutor: AnyObject {
    var blockSize: Int { get }
    var blockCount: Int { get }
    func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]]
}

/// The whole model in this process (tensor-parallel size 1, or rank 0's view when the group's
/// other ranks follow the same plan).
public final class LocalStepExecutor: StepExecutor {
    public let forward: ShardForward

    public init(forward: ShardForward) {
        self.forward = forward
    }

    /// A single-rank executor for `model` with `blockCount` blocks of `blockSize` tokens stored as `kvDType`.
    public convenience init(model: LoadedModel, blockCount: Int, blockSize: Int, kvDType: KVCacheDType = .f32) throws {
        let plan = try ShardingPlan.make(model: model.model, ranks: 1)
        let shard = try LlamaShard(model: model.model, spec: plan.shards[0])
        let kv = PagedKVStore(layers: model.configuration.layerCount, blockCount: blockCount, blockSize: blockSize,
                              kvHeads: shard.spec.kvHeads.count, headDim: model.configuration.headDim, dtype: kvDType)
        self.init(forward: ShardForward(shard: shard, kv: kv, group: SingleRank()))
    }

    public var blockSize: Int { forward.kv.blockSize }
    public var blockCount: Int { forward.kv.blockCount }

    public func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]] {
        for c in copies { forward.kv.copyBlock(from: c.source.rawValue, to: c.destination.rawValue) }
        return try forward.forward(chunks)
    }
}
