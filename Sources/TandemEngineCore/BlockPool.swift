/// The paged KV cache's block manager (PagedAttention block tables; the shape of vLLM v1's
/// `BlockPool` + `KVCacheManager`): a fixed set of blocks, reference counts, per-sequence block
/// tables, copy-on-write, and a prefix index over full blocks with policy-driven eviction.
///
/// Every block is in exactly one state:
/// * free: refcount 0 and not cached; handed out lowest id first;
/// * evictable: refcount 0 but cached in the `PrefixIndex`, so a later prompt may still hit it;
///   reused (and dropped from the index) only when no free block is left, in the order of the
///   configured `EvictionPolicy`;
/// * in use: refcount > 0 (held by one or more sequences' tables).
///
/// Cached blocks are immutable: a write into a block that is shared or cached is redirected to a
/// fresh block and returned as a `BlockCopy` directive for the workers. Pure value type: no
/// clocks (recency is a logical counter bumped every time a block's last reference is released,
/// i.e. when it was last in use; see `EvictionPolicy`), no I/O.
public struct BlockPool: Sendable {
    struct SequenceBlocks: Sendable {
        var table: BlockTable
        /// Leading blocks of `table` already offered to the prefix index.
        var registeredBlockCount: Int
    }

    public let configuration: BlockPoolConfiguration
    var refCounts: [Int]
    /// Logical time each block was last in use: when its refcount last dropped to 0.
    var lastUse: [UInt64]
    var freeBlocks: MinHeap<Int>
    var evictable: EvictionQueue
    public internal(set) var index = PrefixIndex()
    var sequences: [RequestID: SequenceBlocks] = [:]
    var useClock: UInt64 = 0

    public init(configuration: BlockPoolConfiguration) throws(EngineCoreError) {
        if let problem = configuration.validationProblem() {
            throw EngineCoreError(.invalidConfiguration, problem)
        }
        self.configuration = configuration
        refCounts = Array(repeating: 0, count: configuration.blockCount)
        lastUse = Array(repeating: 0, count: configuration.blockCount)
        freeBlocks = MinHeap(0..<configuration.blockCount)
        evictable = EvictionQueue(blockCount: configuration.blockCount, policy: configuration.evictionPolicy)
    }

    public var blockSize: Int { configuration.blockSize }
    public var totalBlockCount: Int { configuration.blockCount }
    /// Blocks neither held nor cached.
    public var freeBlockCount: Int { freeBlocks.count }
    /// Cached blocks no sequence holds (reusable after eviction).
    public var evictableBlockCount: Int { evictable.count }
    /// Blocks an allocation can obtain: free plus evictable.
    public var availableBlockCount: Int { freeBlocks.count + evictable.count }
    /// Blocks held by at least one sequence.
    public var usedBlockCount: Int { totalBlockCount - availableBlockCount }
    /// Blocks in the prefix index (held or evictable).
    public var cachedBlockCount: Int { index.count }
    /// Sequences with a block table.
    public var sequenceCount: Int { sequences.count }

    public func refCount(of block: BlockID) -> Int { refCounts[block.rawValue] }

    public func isCached(_ block: BlockID) -> Bool { index.contains(block) }

    public func blockTable(for sequence: RequestID) -> BlockTable? { sequences[sequence]?.table }

    /// Releases every block of `sequence` at once (finish, cancel, preemption), in table order:
    /// blocks that become unreferenced together get consecutive use ticks, the first block of the
    /// table oldest (the order plain LRU breaks the tie in). Returns false for an unknown sequence.
    @discardableResult
    public mutating func free(_ sequence: RequestID) -> Bool {
        guard let entry = sequences.removeValue(forKey: sequence) else { return false }
        for block in entry.table.blockIDs { release(block.rawValue) }
        return true
    }

    // MARK: Block life cycle

    /// Takes a reference on an existing (cached or in-use) block; an evictable block stops being
    /// a candidate until it is released again.
    mutating func acquire(_ block: Int) {
        if refCounts[block] == 0 { evictable.remove(block) }
        refCounts[block] += 1
    }

    /// Drops a reference; the last one stamps the block's use time (it was in use until now).
    mutating func release(_ block: Int) {
        refCounts[block] -= 1
        guard refCounts[block] == 0 else { return }
        lastUse[block] = useClock
        useClock += 1
        if index.contains(BlockID(block)) {
            evictable.insert(block, lastUse: lastUse[block])
        } else {
            freeBlocks.insert(block)
        }
    }

    /// A block with refcount 1 for a new owner: the lowest free id, else the eviction victim.
    /// Callers check `availableBlockCount` first.
    mutating func takeFreshBlock() -> Int {
        let block: Int
        if let free = freeBlocks.popMin() {
            block = free
        } else if let victim = evictable.popVictim() {
            evict(victim)
            block = victim
        } else {
            preconditionFailure("BlockPool accounting: no block available after a successful check")
        }
        refCounts[block] = 1
        return block
    }

    /// Drops an evictable block from the prefix index; its parent may become a leaf.
    private mutating func evict(_ block: Int) {
        evictable.setLeaf(block, false)
        guard let parent = index.remove(block: BlockID(block)), index.childCount(of: parent) == 0,
              let parentBlock = index.block(for: parent) else { return }
        evictable.setLeaf(parentBlock.rawValue, true)
    }
}
