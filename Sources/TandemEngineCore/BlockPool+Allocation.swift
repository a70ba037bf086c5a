/// Slot allocation, copy-on-write and forking of sequences' block tables.
extension BlockPool {
    private struct AllocationPlan {
        var newBlockCount: Int
        /// Table indices whose block must be copied before the write.
        var copyIndices: [Int]
        var freshBlocksNeeded: Int { newBlockCount + copyIndices.count }
    }

    /// Fresh blocks `allocateSlots` would take for this write (new blocks plus copy-on-write
    /// copies); throws for an invalid request.
    public func blocksNeeded(for sequence: RequestID, writing positions: Range<Int>,
                             cachedPrefix: [BlockID] = []) throws(EngineCoreError) -> Int {
        try plan(for: sequence, writing: positions, cachedPrefix: cachedPrefix).freshBlocksNeeded
    }

    /// Makes `sequence` able to write the K/V of `positions`, creating its table (starting with
    /// the cached blocks of `cachedPrefix`, whose refcounts it bumps) when it has none.
    ///
    /// Positions must start within the table (no gaps). Blocks touched by the write that are
    /// shared (refcount > 1) or cached are replaced by fresh copies; the returned directives tell
    /// the workers to copy them before the step. All-or-nothing: throws `outOfBlocks`, changing
    /// nothing, unless the fresh blocks fit with `reserve` blocks still available afterwards.
    @discardableResult
    public mutating func allocateSlots(for sequence: RequestID, writing positions: Range<Int>,
                                       cachedPrefix: [BlockID] = [],
                                       keepingAvailable reserve: Int = 0) throws(EngineCoreError) -> [BlockCopy] {
        let plan = try plan(for: sequence, writing: positions, cachedPrefix: cachedPrefix)
        let prefixEvictable = cachedPrefix.count(where: { refCounts[$0.rawValue] == 0 })
        let available = availableBlockCount - prefixEvictable
        guard plan.freshBlocksNeeded + max(0, reserve) <= available else {
            throw EngineCoreError(.outOfBlocks, "\(sequence) needs \(plan.freshBlocksNeeded) blocks"
                + (reserve > 0 ? " plus \(reserve) in reserve" : "") + "; \(available) available")
        }

        var entry = sequences[sequence]
            ?? SequenceBlocks(table: BlockTable(blockSize: blockSize), registeredBlockCount: 0)
        if sequences[sequence] == nil {
            for block in cachedPrefix { acquire(block.rawValue) }
            entry.table.blockIDs = cachedPrefix
            entry.registeredBlockCount = cachedPrefix.count
        }
        var copies: [BlockCopy] = []
        for position in plan.copyIndices {
            let source = entry.table.blockIDs[position]
            let destination = BlockID(takeFreshBlock())
            copies.append(BlockCopy(source: source, destination: destination))
            entry.table.blockIDs[position] = destination
            release(source.rawValue)
        }
        for _ in 0..<plan.newBlockCount {
            entry.table.blockIDs.append(BlockID(takeFreshBlock()))
        }
        sequences[sequence] = entry
        return copies
    }

    /// Gives `child` the same blocks as `parent` (all refcounts + 1), e.g. for parallel sampling;
    /// the first write either makes into a shared block is then copied on write.
    public mutating func fork(_ parent: RequestID, into child: RequestID) throws(EngineCoreError) {
        guard let entry = sequences[parent] else {
            throw EngineCoreError(.unknownSequence, "no block table for \(parent)")
        }
        guard sequences[child] == nil else {
            throw EngineCoreError(.duplicateRequest, "\(child) already has a block table")
        }
        for block in entry.table.blockIDs { acquire(block.rawValue) }
        sequences[child] = entry
    }

    /// Releases the blocks of `sequence` past those that hold its first `tokenCount` positions
    /// (speculative positions that were not accepted), last block first. Their contents were
    /// never offered to the prefix index. Returns how many blocks were released.
    @discardableResult
    public mutating func trim(_ sequence: RequestID, toTokenCount tokenCount: Int) -> Int {
        guard var entry = sequences[sequence] else { return 0 }
        let keep = BlockTable.blocksNeeded(tokenCount: max(0, tokenCount), blockSize: blockSize)
        guard entry.table.blockIDs.count > keep else { return 0 }
        let dropped = entry.table.blockIDs.count - keep
        for block in entry.table.blockIDs[keep...].reversed() { release(block.rawValue) }
        entry.table.blockIDs.removeLast(dropped)
        entry.registeredBlockCount = min(entry.registeredBlockCount, keep)
        sequences[sequence] = entry
        return dropped
    }

    private func plan(for sequence: RequestID, writing positions: Range<Int>,
                      cachedPrefix: [BlockID]) throws(EngineCoreError) -> AllocationPlan {
        let existing: [BlockID]
        if let entry = sequences[sequence] {
            guard cachedPrefix.isEmpty else {
                throw EngineCoreError(.invalidSlotRange, "\(sequence) already has a table; a cached prefix attaches only to a new sequence")
            }
            existing = entry.table.blockIDs
        } else {
            for block in cachedPrefix where !(0..<totalBlockCount).contains(block.rawValue) || !index.contains(block) {
                throw EngineCoreError(.invalidSlotRange, "prefix block \(block) is not cached")
            }
            guard Set(cachedPrefix).count == cachedPrefix.count else {
                throw EngineCoreError(.invalidSlotRange, "prefix repeats a block")
            }
            existing = cachedPrefix
        }
        let capacity = existing.count * blockSize
        guard positions.lowerBound >= 0, positions.lowerBound <= capacity else {
            throw EngineCoreError(.invalidSlotRange, "\(sequence) writes from position \(positions.lowerBound) but holds \(capacity) slots")
        }
        guard !positions.isEmpty else { return AllocationPlan(newBlockCount: 0, copyIndices: []) }

        let blocksAfter = BlockTable.blocksNeeded(tokenCount: positions.upperBound, blockSize: blockSize)
        let isNew = sequences[sequence] == nil
        var copyIndices: [Int] = []
        let firstTouched = positions.lowerBound / blockSize
        if firstTouched < min(existing.count, blocksAfter) {
            for position in firstTouched..<min(existing.count, blocksAfter) {
                let block = existing[position].rawValue
                let owners = refCounts[block] + (isNew ? 1 : 0)
                if owners > 1 || index.contains(BlockID(block)) { copyIndices.append(position) }
            }
        }
        return AllocationPlan(newBlockCount: max(0, blocksAfter - existing.count), copyIndices: copyIndices)
    }
}
