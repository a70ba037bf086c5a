import TandemCore

/// How many K/V blocks a runner's store holds.
public enum KVBlockCount: Sendable, Equatable {
    /// Exactly this many.
    case blocks(Int)
    /// As many as fit in `bytes` on the rank with the most KV heads (every rank of a deployment
    /// must agree on the count), at least `minimum`.
    case budget(bytes: Int, minimum: Int)
    /// Enough for one sequence of this many positions (tools that run one sequence).
    case positions(Int)
}

/// The one way from token ids to logits: the sharding plan, this rank's slice of the weights,
/// the paged K/V store and the tensor-parallel group, behind `execute`. `serve` (rank 0 and the
/// workers, through `ClusterRank`), `generate` (through the engine), `accuracy`, `bench-model`
/// and `quantize`'s calibration all build one here, so what the tools measure is what `serve` runs.
///
/// Not thread-safe: one thread drives a runner.
public final class ModelRunner {
    public let model: LlamaModel
    /// The split over the group's ranks (computed once, here).
    public let plan: ShardingPlan
    public let kv: PagedKVStore
    public let group: TensorParallelGroup
    let forward: ShardForward

    /// Slices `model` for `group.rank` of `group.size` ranks and allocates its K/V store.
    public init(model: LlamaModel, group: TensorParallelGroup = SingleRank(), blockSize: Int = 16,
                blocks: KVBlockCount, kvDType: KVCacheDType = .f32, experts: ExpertParallelism = .tensor) throws {
        guard blockSize > 0 else { throw ShardingError(message: "K/V block size must be positive (got \(blockSize))") }
        let c = model.configuration
        let plan = try ShardingPlan.make(model: model, ranks: group.size, experts: experts)
        let count: Int
        switch blocks {
        case .blocks(let n):
            count = n
        case .budget(let bytes, let minimum):
            count = max(minimum, PagedKVStore.blocks(budgetBytes: bytes, layers: c.layerCount, blockSize: blockSize,
                                                     kvHeads: plan.shards.map(\.kvHeads.count).max() ?? c.kvHeadCount,
                                                     headDim: c.headDim, dtype: kvDType))
        case .positions(let n):
            count = max(1, (n + blockSize - 1) / blockSize)
        }
        guard count > 0 else { throw ShardingError(message: "K/V store needs at least one block (got \(count))") }
        let shard = try LlamaShard(model: model, spec: plan.shards[group.rank])
        self.model = model
        self.plan = plan
        rankExperts = plan.shards.map(\.experts)
        self.group = group
        kv = PagedKVStore(layers: c.layerCount, blockCount: count, blockSize: blockSize,
                          kvHeads: shard.spec.kvHeads.count, headDim: c.headDim, dtype: kvDType)
        forward = ShardForward(shard: shard, kv: kv, group: group)
    }

    /// Tokens routed to each expert (index: global expert number, held here or not), summed over
    /// layers since the runner was made; empty for dense models.
    public var expertLoad: [Int] { forward.expertLoad }
    /// The experts each rank holds (the plan's, kept so a per-step snapshot does not rebuild it).
    public let rankExperts: [Range<Int>]

    /// This rank's part of the plan.
    public var spec: ShardSpec { forward.shard.spec }
    public var blockSize: Int { kv.blockSize }
    public var blockCount: Int { kv.blockCount }

    /// Runs one scheduled step: copy-on-write block copies first, then the forward pass over
    /// every chunk. Returns, on rank 0, the full-vocabulary logits of each chunk that wants them
    /// (in chunk order); other ranks get an empty array. Every rank of the group runs the same
    /// step (rank 0 broadcasts it; see `ClusterRank`).
    public func execute(_ chunks: [SequenceChunk], copies: [(source: Int, destination: Int)] = []) throws -> [[Float]] {
        for c in copies {
            guard c.source >= 0, c.source < kv.blockCount, c.destination >= 0, c.destination < kv.blockCount else {
                throw ShardingError(message: "block copy \(c.source) → \(c.destination) outside the store's \(kv.blockCount) blocks")
            }
            kv.copyBlock(from: c.source, to: c.destination)
        }
        return try forward.forward(chunks)
    }

    /// Called with each activation the forward pass produces at `site` (all of a step's tokens,
    /// row after row); nil (the default) costs nothing. Calibration reads ranges through it.
    public var observer: ActivationObserver? {
        get { forward.observer }
        set { forward.observer = newValue }
    }

    /// A single sequence from position 0 with blocks 0, 1, 2, ... as its table: the tools that
    /// run one sequence at a time (`accuracy`, `bench-model`, calibration, warm-up).
    public func sequence() -> Sequence { Sequence(runner: self) }

    /// One sequence on a runner (blocks 0..<blockCount in order). Not thread-safe.
    public final class Sequence {
        public let runner: ModelRunner
        /// Positions run so far (the next position).
        public private(set) var position = 0
        private let table: [Int32]

        init(runner: ModelRunner) {
            self.runner = runner
            table = (0..<Int32(runner.kv.blockCount)).map { $0 }
        }

        /// Capacity in positions.
        public var capacity: Int { runner.kv.blockCount * runner.kv.blockSize }

        /// Runs `tokens` at the next positions as one chunk; returns the logits after the last
        /// one (rank 0; nil when `wantsLogits` is false or on other ranks).
        @discardableResult
        public func run(_ tokens: [TokenID], wantsLogits: Bool = true) throws -> [Float]? {
            guard !tokens.isEmpty else { return nil }
            guard position + tokens.count <= capacity else {
                throw ModelRuntimeError.contextFull(limit: capacity)
            }
            let out = try runner.execute([SequenceChunk(tokens: tokens, startPosition: position, blockTable: table,
                                                        wantsLogits: wantsLogits)])
            position += tokens.count
            return out.first
        }

        /// Forgets the positions run (the K/V is overwritten by the next run).
        public func reset() { position = 0 }

        /// Forgets the positions from `position` on (earlier K/V stays valid).
        public func rewind(to position: Int) {
            precondition(position >= 0 && position <= self.position, "rewind within the positions run")
            self.position = position
        }
    }
}

/// Where in a layer an activation was observed (the inputs of the linear layers).
public enum ActivationSite: Sendable {
    /// Normalised residual entering q/k/v.
    case attentionInput
    /// Attention output entering o_proj.
    case attentionOutput
    /// Normalised residual entering gate/up.
    case ffnInput
    /// SwiGLU output entering down_proj.
    case ffnHidden
}

/// Sees the `count` floats at `site` of `layer`: one row per token of the step.
public typealias ActivationObserver = (_ layer: Int, _ site: ActivationSite, _ values: UnsafePointer<Float>, _ count: Int) -> Void
