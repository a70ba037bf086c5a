import Foundation
import Logging
import TandemCore
import TandemEngine
import TandemEngineCore
import TandemModel
import TandemTransport

/// Everything one rank of a tensor-parallel deployment holds: its shard, its K/V pages and the
/// group it all-reduces with. Rank 0 is also the coordinator (it owns the engine, the
/// tokenizer and the scheduler, and broadcasts step plans); the other ranks run `serveWorker`.
///
/// Coordinator-as-rank (rather than an MPMD coordinator process) keeps the step plan one
/// broadcast away from every worker and lets rank 0's cores compute its own shard.
/// Not thread-safe: one thread drives a rank (`@unchecked Sendable` only to hand it to that thread).
public final class ClusterRank: @unchecked Sendable {
    public let model: LoadedModel
    /// This rank's shard, K/V store and group: the forward pass every step runs.
    public let runner: ModelRunner
    public let communicator: Communicator
    public let hello: RankHello
    let logger: Logger

    public var plan: ShardingPlan { runner.plan }

    public init(model: LoadedModel, communicator: Communicator, blocks: KVBlockCount, blockSize: Int, kvDType: KVCacheDType = .f32,
                experts: ExpertParallelism = .tensor, host: String, logger: Logger = Logger(label: "tandem.cluster")) throws {
        self.model = model
        self.communicator = communicator
        self.logger = logger
        runner = try ModelRunner(model: model.model, group: CommunicatorGroup(communicator), blockSize: blockSize,
                                 blocks: blocks, kvDType: kvDType, experts: experts)
        let spec = runner.spec
        let blockCount = runner.blockCount
        var h = RankHello()
        h.modelName = model.path.split(separator: "/").last.map(String.init) ?? model.path
        h.modelFingerprint = Self.fingerprint(model)
        h.rank = communicator.rank
        h.worldSize = communicator.size
        h.kvHeads = spec.kvHeads
        h.ffnColumns = spec.ffnColumns
        h.vocabRows = spec.vocabRows
        h.blockSize = blockSize
        h.blockCount = blockCount
        h.kvDType = kvDType
        if model.configuration.experts != nil {
            h.expertParallelism = runner.plan.expertParallelism.rawValue
            h.experts = spec.experts
        }
        h.host = host
        h.transport = communicator.transportName
        h.weightBytes = UInt64(spec.weightBytes)
        h.residentBytes = UInt64(ResidentMemory.bytes())
        hello = h
    }

    /// A rank whose store holds exactly `blockCount` blocks.
    public convenience init(model: LoadedModel, communicator: Communicator, blockCount: Int, blockSize: Int, kvDType: KVCacheDType = .f32,
                            experts: ExpertParallelism = .tensor, host: String, logger: Logger = Logger(label: "tandem.cluster")) throws {
        try self.init(model: model, communicator: communicator, blocks: .blocks(blockCount), blockSize: blockSize, kvDType: kvDType,
                      experts: experts, host: host, logger: logger)
    }

    /// A cheap identity of the model: configuration plus a sample of the weights' bytes.
    static func fingerprint(_ m: LoadedModel) -> String {
        let c = m.configuration
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { hash = (hash ^ v) &* 0x100_0000_01b3 }
        for v in [c.dim, c.hiddenDim, c.layerCount, c.headCount, c.kvHeadCount, c.vocabSize, c.headDim,
                  c.attentionBias ? 1 : 0, c.queryKeyNorm ? 1 : 0, c.ropeStyle == .interleaved ? 1 : 0] { mix(UInt64(v)) }
        for b in c.architecture.utf8 { mix(UInt64(b)) }
        let e = m.model.weights.tokenEmbedding
        let bytes = UnsafeRawBufferPointer(start: e.base, count: min(e.byteCount, 4096))
        for b in bytes { mix(UInt64(b)) }
        return String(hash, radix: 16)
    }

    /// Connect: rank 0 sends its hello, every worker answers with its own; any mismatch is
    /// refused on every rank with both sides named.
    public func handshake() throws -> [RankHello] {
        let mine = WireCodec.encode(.hello(hello))
        var all: [RankHello] = []
        for r in 0..<communicator.size {
            let bytes = try communicator.broadcastMessage(r == communicator.rank ? mine : [], root: r)
            guard case .hello(let h) = try WireCodec.decode(bytes) else { throw WireError(message: "rank \(r) sent something other than a hello") }
            all.append(h)
        }
        for w in all.dropFirst() {
            if let problem = RankHello.incompatibility(coordinator: all[0], worker: w) {
                throw WireError(message: "connect refused: \(problem)")
            }
        }
        return all
    }

    /// Every rank, in lockstep after the handshake: one token through every layer (so each rank
    /// touches all of its weights once), then each rank's resident set size gathered on rank 0.
    /// The K/V written to block 0 is overwritten by the first real request.
    public func warmUpAndMeasureResident() throws -> [UInt64] {
        _ = try runner.execute([SequenceChunk(tokens: [0], startPosition: 0, blockTable: [0], wantsLogits: true)])
        let mine = [UInt64(ResidentMemory.bytes())]
        var all = [UInt64](repeating: 0, count: communicator.rank == 0 ? communicator.size : 0)
        try mine.withUnsafeBytes { contribution in
            if communicator.rank == 0 {
                try all.withUnsafeMutableBytes { try communicator.gather(contribution, into: $0, root: 0) }
            } else {
                try communicator.gather(contribution, into: nil, root: 0)
            }
        }
        return all
    }

    /// Worker ranks: run every step rank 0 broadcasts until it says shut down.
    public func serveWorker() throws {
        precondition(communicator.rank != 0, "rank 0 coordinates")
        while true {
            let bytes = try communicator.broadcastMessage([], root: 0)
            switch try WireCodec.decode(bytes) {
            case .step(_, let chunks, let copies):
                _ = try runner.execute(chunks, copies: copies)
            case .shutdown(let reason):
                logger.info("worker rank \(communicator.rank) shutting down: \(reason)")
                return
            case .hello:
                throw WireError(message: "unexpected hello after connect")
            }
        }
    }

    /// Rank 0's step executor: broadcast the plan, then run rank 0's own shard.
    public func coordinatorExecutor() -> StepExecutor { ClusterStepExecutor(rank: self) }

    /// Rank 0: tells every worker to stop.
    public func shutdownWorkers(reason: String) throws {
        _ = try communicator.broadcastMessage(WireCodec.encode(.shutdown(reason: reason)), root: 0)
    }
}

/// Broadcasts each step plan to the worker ranks, then runs rank 0's shard with them: the same
/// `ModelRunner.execute` every worker runs on the broadcast plan.
final class ClusterStepExecutor: StepExecutor {
    let rank: ClusterRank
    var stepIndex: UInt64 = 0

    init(rank: ClusterRank) { self.rank = rank }

    var blockSize: Int { rank.runner.blockSize }
    var blockCount: Int { rank.runner.blockCount }
    var expertLoad: ExpertLoad? { rank.runner.expertLoadSnapshot }

    func execute(_ chunks: [SequenceChunk], copies: [BlockCopy]) throws -> [[Float]] {
        stepIndex += 1
        let pairs = copies.map { (source: $0.source.rawValue, destination: $0.destination.rawValue) }
        if rank.communicator.size > 1 {
            _ = try rank.communicator.broadcastMessage(WireCodec.encode(.step(index: stepIndex, chunks: chunks, copies: pairs)), root: 0)
        }
        return try rank.runner.execute(chunks, copies: pairs)
    }
}

/// This process's resident set size (from /proc/self/statm), 0 where unavailable.
public enum ResidentMemory {
    public static func bytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = s.split(separator: " ")
        guard parts.count > 1, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
