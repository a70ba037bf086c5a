/// Orders the pool's evictable blocks (cached, refcount 0) for reuse under an `EvictionPolicy`.
///
/// Two lazy-deletion min-heaps keyed by (last use, block id): one over every evictable block
/// (LRU) and one over evictable leaves (prefix-aware). Entries go stale when a block is acquired,
/// re-released with a newer use time or stops being a leaf; stale entries are skipped when
/// popped and dropped wholesale when a heap outgrows the pool.
struct EvictionQueue: Sendable {
    struct Candidate: Comparable, Sendable {
        var lastUse: UInt64
        var block: Int

        static func < (lhs: Candidate, rhs: Candidate) -> Bool {
            (lhs.lastUse, lhs.block) < (rhs.lastUse, rhs.block)
        }
    }

    let policy: EvictionPolicy
    /// Per block: its last-use tick while evictable, nil otherwise.
    private var evictableUse: [UInt64?]
    /// Per block: whether it is cached with no cached child (maintained by the pool).
    private var leaf: [Bool]
    private var all = MinHeap<Candidate>()
    private var leaves = MinHeap<Candidate>()
    private(set) var count = 0

    init(blockCount: Int, policy: EvictionPolicy) {
        self.policy = policy
        evictableUse = Array(repeating: nil, count: blockCount)
        leaf = Array(repeating: false, count: blockCount)
    }

    func contains(_ block: Int) -> Bool { evictableUse[block] != nil }

    mutating func insert(_ block: Int, lastUse: UInt64) {
        guard evictableUse[block] == nil else { return }
        evictableUse[block] = lastUse
        count += 1
        all.insert(Candidate(lastUse: lastUse, block: block))
        if leaf[block] { leaves.insert(Candidate(lastUse: lastUse, block: block)) }
        compactIfNeeded()
    }

    mutating func remove(_ block: Int) {
        guard evictableUse[block] != nil else { return }
        evictableUse[block] = nil
        count -= 1
    }

    mutating func setLeaf(_ block: Int, _ isLeaf: Bool) {
        guard leaf[block] != isLeaf else { return }
        leaf[block] = isLeaf
        if isLeaf, let access = evictableUse[block] {
            leaves.insert(Candidate(lastUse: access, block: block))
            compactIfNeeded()
        }
    }

    /// Removes and returns the block to reuse next, or nil when nothing is evictable.
    mutating func popVictim() -> Int? {
        if policy == .prefixAware {
            while let candidate = leaves.popMin() {
                if take(candidate, requireLeaf: true) { return candidate.block }
            }
        }
        while let candidate = all.popMin() {
            if take(candidate, requireLeaf: false) { return candidate.block }
        }
        return nil
    }

    /// Claims `candidate` if its heap entry is still current.
    private mutating func take(_ candidate: Candidate, requireLeaf: Bool) -> Bool {
        guard evictableUse[candidate.block] == candidate.lastUse,
              !requireLeaf || leaf[candidate.block] else { return false }
        evictableUse[candidate.block] = nil
        count -= 1
        return true
    }

    private mutating func compactIfNeeded() {
        let limit = 2 * evictableUse.count + 64
        guard all.count > limit || leaves.count > limit else { return }
        var live: [Candidate] = []
        var liveLeaves: [Candidate] = []
        for (block, access) in evictableUse.enumerated() {
            guard let access else { continue }
            live.append(Candidate(lastUse: access, block: block))
            if leaf[block] { liveLeaves.append(Candidate(lastUse: access, block: block)) }
        }
        all = MinHeap(live)
        leaves = MinHeap(liveLeaves)
    }
}
