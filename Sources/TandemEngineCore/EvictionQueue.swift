/// Orders the pool's evictable blocks (cached, refcount 0) for reuse under an `EvictionPolicy`.
///
/// Two lazy-deletion min-heaps keyed by (last access, block id): one over every evictable block
/// (LRU) and one over evictable leaves (prefix-aware). Entries go stale when a block is acquired,
/// re-released with a newer access time or stops being a leaf; stale entries are skipped when
/// popped and dropped wholesale when a heap outgrows the pool.
struct EvictionQueue: Sendable {
    struct Candidate: Comparable, Sendable {
        var lastAccess: UInt64
        var block: Int

        static func < (lhs: Candidate, rhs: Candidate) -> Bool {
            (lhs.lastAccess, lhs.block) < (rhs.lastAccess, rhs.block)
        }
    }

    let policy: EvictionPolicy
    /// Per block: its last-access tick while evictable, nil otherwise.
    private var evictableAccess: [UInt64?]
    /// Per block: whether it is cached with no cached child (maintained by the pool).
    private var leaf: [Bool]
    private var all = MinHeap<Candidate>()
    private var leaves = MinHeap<Candidate>()
    private(set) var count = 0

    init(blockCount: Int, policy: EvictionPolicy) {
        self.policy = policy
        evictableAccess = Array(repeating: nil, count: blockCount)
        leaf = Array(repeating: false, count: blockCount)
    }

    func contains(_ block: Int) -> Bool { evictableAccess[block] != nil }

    mutating func insert(_ block: Int, lastAccess: UInt64) {
        guard evictableAccess[block] == nil else { return }
        evictableAccess[block] = lastAccess
        count += 1
        all.insert(Candidate(lastAccess: lastAccess, block: block))
        if leaf[block] { leaves.insert(Candidate(lastAccess: lastAccess, block: block)) }
        compactIfNeeded()
    }

    mutating func remove(_ block: Int) {
        guard evictableAccess[block] != nil else { return }
        evictableAccess[block] = nil
        count -= 1
    }

    mutating func setLeaf(_ block: Int, _ isLeaf: Bool) {
        guard leaf[block] != isLeaf else { return }
        leaf[block] = isLeaf
        if isLeaf, let access = evictableAccess[block] {
            leaves.insert(Candidate(lastAccess: access, block: block))
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
        guard evictableAccess[candidate.block] == candidate.lastAccess,
              !requireLeaf || leaf[candidate.block] else { return false }
        evictableAccess[candidate.block] = nil
        count -= 1
        return true
    }

    private mutating func compactIfNeeded() {
        let limit = 2 * evictableAccess.count + 64
        guard all.count > limit || leaves.count > limit else { return }
        var live: [Candidate] = []
        var liveLeaves: [Candidate] = []
        for (block, access) in evictableAccess.enumerated() {
            guard let access else { continue }
            live.append(Candidate(lastAccess: access, block: block))
            if leaf[block] { liveLeaves.append(Candidate(lastAccess: access, block: block)) }
        }
        all = MinHeap(live)
        leaves = MinHeap(liveLeaves)
    }
}
