/// Self-checks for tests and debug assertions.
extension BlockPool {
    /// The first broken bookkeeping invariant, or nil: every refcount equals the number of
    /// tables holding the block, and every block is exactly one of free, evictable or in use.
    public func consistencyProblem() -> String? {
        var holders = Array(repeating: 0, count: totalBlockCount)
        for (_, entry) in sequences {
            for block in entry.table.blockIDs { holders[block.rawValue] += 1 }
        }
        let free = Set(freeBlocks.elements)
        if free.count != freeBlocks.count { return "free list holds a block twice" }
        for block in 0..<totalBlockCount {
            if holders[block] != refCounts[block] {
                return "block \(block): refcount \(refCounts[block]) but held by \(holders[block]) tables"
            }
            let cached = index.contains(BlockID(block))
            let inFree = free.contains(block)
            let inEvictable = evictable.contains(block)
            switch (refCounts[block] > 0, cached) {
            case (true, _):
                if inFree || inEvictable { return "block \(block) is in use but listed as reusable" }
            case (false, true):
                if inFree || !inEvictable { return "block \(block) is cached and unreferenced but not evictable" }
            case (false, false):
                if !inFree || inEvictable { return "block \(block) is unreferenced and uncached but not free" }
            }
        }
        if evictable.count != (0..<totalBlockCount).count(where: { evictable.contains($0) }) {
            return "evictable count drifted"
        }
        return nil
    }
}
