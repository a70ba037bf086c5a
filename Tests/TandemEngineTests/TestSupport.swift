import TandemCore
import TandemEngineCore
import Testing

func makePool(blocks: Int, blockSize: Int = 4, policy: EvictionPolicy = .prefixAware) throws -> BlockPool {
    try BlockPool(configuration: BlockPoolConfiguration(blockCount: blocks, blockSize: blockSize, evictionPolicy: policy))
}

/// Token ids `range` as a prompt.
func tokens(_ range: ClosedRange<Int>) -> [TokenID] { range.map { TokenID($0) } }

extension BlockPool {
    /// Allocates `tokens` for a new sequence, reusing whatever prefix is cached, and registers its
    /// full blocks as if a prefill had computed them.
    mutating func prefill(_ id: RequestID, _ tokens: [TokenID], salt: CacheSalt = .shared) throws -> [BlockCopy] {
        let chain = BlockHashChain(tokens: tokens, blockSize: blockSize, salt: salt)
        let prefix = cachedPrefix(for: chain, tokens: tokens)
        let start = min(prefix.count * blockSize, tokens.count - 1)
        let copies = try allocateSlots(for: id, writing: start..<tokens.count, cachedPrefix: prefix)
        cacheFullBlocks(of: id, tokens: tokens, chain: chain, computedTokenCount: tokens.count)
        return copies
    }

    func ids(_ id: RequestID) -> [Int] { blockTable(for: id)?.blockIDs.map(\.rawValue) ?? [] }

    func refCounts(_ blocks: [Int]) -> [Int] { blocks.map { refCount(of: BlockID($0)) } }
}

func makeScheduler(blocks: Int = 64, blockSize: Int = 4, budget: Int = 64, maxRunning: Int = 8, maxWaiting: Int = 16,
                   chunk: Int? = nil, maxModelLength: Int = 1024, policy: SchedulingPolicy = .fcfs,
                   maxQueueWait: Duration? = nil, eviction: EvictionPolicy = .prefixAware) throws -> Scheduler {
    try Scheduler(
        configuration: SchedulerConfiguration(maxBatchedTokens: budget, maxRunningSequences: maxRunning,
                                              maxWaitingRequests: maxWaiting, maxPrefillChunk: chunk,
                                              maxModelLength: maxModelLength, policy: policy, maxQueueWait: maxQueueWait),
        pool: BlockPoolConfiguration(blockCount: blocks, blockSize: blockSize, evictionPolicy: eviction))
}

func request(_ id: RequestID, _ prompt: [TokenID], maxTokens: Int = 8, stop: Set<TokenID> = [],
             salt: CacheSalt = .shared, priority: Int = 0, arrival: Duration = .zero) -> GenerationRequest {
    GenerationRequest(id: id, promptTokens: prompt, maxTokens: maxTokens, stopTokenIDs: stop, cacheSalt: salt,
                      priority: priority, arrivalTime: arrival)
}

extension SchedulerOutput {
    /// (request, first position, token count) per scheduled sequence, in plan order.
    var shape: [String] {
        sequences.map { "\($0.requestID)@\($0.startPosition)+\($0.tokens.count)\($0.samplesToken ? "*" : "")" }
    }
}

extension Scheduler {
    func blocks(_ id: RequestID) -> [Int] { pool.ids(id) }
}

extension Error {
    var engineCode: EngineCoreError.Code? { (self as? EngineCoreError)?.code }
}
