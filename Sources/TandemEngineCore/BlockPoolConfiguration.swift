import TandemCore

/// Size and policy of a `BlockPool`.
public struct BlockPoolConfiguration: Sendable, Equatable {
    /// Number of blocks in the pool (ids `0 ..< blockCount`).
    public var blockCount: Int
    /// Tokens per block.
    public var blockSize: Int
    public var evictionPolicy: EvictionPolicy

    public init(blockCount: Int, blockSize: Int = 16, evictionPolicy: EvictionPolicy = .prefixAware) {
        self.blockCount = blockCount
        self.blockSize = blockSize
        self.evictionPolicy = evictionPolicy
    }

    /// A pool sized to a memory budget: as many whole blocks as `memoryBudgetBytes` holds.
    public init(memoryBudgetBytes: Int, bytesPerToken: Int, blockSize: Int = 16,
                evictionPolicy: EvictionPolicy = .prefixAware) {
        self.init(blockCount: Self.blockCount(memoryBudgetBytes: memoryBudgetBytes,
                                              bytesPerToken: bytesPerToken, blockSize: blockSize),
                  blockSize: blockSize, evictionPolicy: evictionPolicy)
    }

    /// Whole blocks of `blockSize` tokens that fit in `memoryBudgetBytes` (0 for non-positive inputs).
    public static func blockCount(memoryBudgetBytes: Int, bytesPerToken: Int, blockSize: Int) -> Int {
        guard memoryBudgetBytes > 0, bytesPerToken > 0, blockSize > 0 else { return 0 }
        let (bytesPerBlock, overflow) = bytesPerToken.multipliedReportingOverflow(by: blockSize)
        guard !overflow else { return 0 }
        return memoryBudgetBytes / bytesPerBlock
    }

    /// K/V bytes one token occupies on one rank: keys and values of every layer for
    /// `kvHeadCount` heads (pass the rank's share under tensor parallelism).
    ///
    /// `bytesPerElement` is 2 for FP16/BF16 caches, 1 for FP8.
    public static func kvBytesPerToken(model: ModelConfiguration, kvHeadCount: Int? = nil,
                                       bytesPerElement: Int) -> Int {
        2 * model.layerCount * (kvHeadCount ?? model.kvHeadCount) * model.headDim * bytesPerElement
    }

    /// The reason the configuration is unusable, or nil.
    public func validationProblem() -> String? {
        if blockCount <= 0 { return "block count must be positive (got \(blockCount))" }
        if blockSize <= 0 { return "block size must be positive (got \(blockSize))" }
        return nil
    }
}
