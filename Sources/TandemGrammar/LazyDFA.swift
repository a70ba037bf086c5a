/// The deterministic automaton of a `ByteNFA`, built state by state as matching reaches it
/// (subset construction on demand, the way RE2 runs). A state is a set of configurations: a
/// live NFA state with byte edges (or the accepting state) and the character count of the
/// counted string it is in (0 outside strings). Transitions are filled in on first use.
/// Not thread-safe: `CompiledGrammar` serialises access.
final class LazyDFA {
    let nfa: ByteNFA
    private var sets: [[Int64]] = []
    private var index: [[Int64]: Int32] = [:]
    /// 256 entries per state: −2 not computed yet, −1 dead, else the target state.
    private var transitions: [Int32] = []
    private(set) var accepting: [Bool] = []
    /// Fewest bytes to acceptance (the smallest over the state's configurations).
    private(set) var distance: [Int32] = []
    private(set) var start: Int32 = 0

    static let unknown: Int32 = -2
    static let dead: Int32 = -1

    init(_ nfa: ByteNFA) {
        self.nfa = nfa
        start = intern(closure([Self.pack(nfa.start, 0)]))
    }

    var stateCount: Int { sets.count }

    @inline(__always) static func pack(_ state: Int32, _ count: Int32) -> Int64 { Int64(state) << 32 | Int64(UInt32(bitPattern: count)) }
    @inline(__always) static func state(_ c: Int64) -> Int32 { Int32(truncatingIfNeeded: c >> 32) }
    @inline(__always) static func count(_ c: Int64) -> Int32 { Int32(truncatingIfNeeded: c) }

    /// Whether a configuration can still reach acceptance.
    @inline(__always) func viable(_ s: Int32, _ c: Int32) -> Bool {
        guard nfa.isLive(s) else { return false }
        let f = nfa.fragmentOf[Int(s)]
        guard f >= 0 else { return true }
        let bounds = nfa.fragments[Int(f)]
        return bounds.maxLength == Int32.max || nfa.charsToExit[Int(s)] <= bounds.maxLength - c
    }

    /// The configurations reachable from `seeds` over ε-edges that matter for matching: those
    /// with a byte edge, and the accepting state. Sorted, so equal sets compare equal.
    private func closure(_ seeds: [Int64]) -> [Int64] {
        var seen = Set<Int64>()
        var stack: [Int64] = []
        var result: [Int64] = []
        for c in seeds where viable(Self.state(c), Self.count(c)) && seen.insert(c).inserted { stack.append(c) }
        while let config = stack.popLast() {
            let s = Self.state(config), count = Self.count(config)
            if !nfa.edges[Int(s)].isEmpty || s == nfa.accept { result.append(config) }
            for e in nfa.epsilon[Int(s)] {
                var next = count
                switch e.action {
                case .none: break
                case .enter: next = 0
                case .exit:
                    guard count >= nfa.fragments[Int(nfa.fragmentOf[Int(s)])].minLength else { continue }
                    next = 0
                }
                let c = Self.pack(e.target, next)
                if viable(e.target, next), seen.insert(c).inserted { stack.append(c) }
            }
        }
        result.sort()
        return result
    }

    private func intern(_ set: [Int64]) -> Int32 {
        if set.isEmpty { return Self.dead }
        if let s = index[set] { return s }
        let id = Int32(sets.count)
        sets.append(set)
        index[set] = id
        transitions.append(contentsOf: repeatElement(Self.unknown, count: 256))
        accepting.append(set.contains(Self.pack(nfa.accept, 0)))
        distance.append(set.map { configurationDistance($0) }.min() ?? 0)
        return id
    }

    /// Bytes to acceptance ignoring counts, plus the characters a string still lacks.
    private func configurationDistance(_ config: Int64) -> Int32 {
        let s = Self.state(config), c = Self.count(config)
        var d = nfa.distance[Int(s)]
        let f = nfa.fragmentOf[Int(s)]
        if f >= 0 { d += max(0, nfa.fragments[Int(f)].minLength - c - nfa.charsToExit[Int(s)]) }
        return d
    }

    /// The state after byte `b` from `state`, or `dead`.
    @inline(__always)
    func step(_ state: Int32, _ b: UInt8) -> Int32 {
        let slot = Int(state) &* 256 &+ Int(b)
        let t = transitions[slot]
        if t != Self.unknown { return t }
        return computeStep(slot: slot, state: state, byte: b)
    }

    private func computeStep(slot: Int, state: Int32, byte b: UInt8) -> Int32 {
        var seeds: [Int64] = []
        for config in sets[Int(state)] {
            let s = Self.state(config), c = Self.count(config)
            for e in nfa.edges[Int(s)] where e.set.contains(b) {
                if e.counts {
                    guard let next = nfa.counted(c, fragment: nfa.fragmentOf[Int(s)], target: e.target) else { continue }
                    seeds.append(Self.pack(e.target, next))
                } else {
                    seeds.append(Self.pack(e.target, c))
                }
            }
        }
        let target = intern(closure(seeds))
        transitions[slot] = target
        return target
    }

    /// What the allowed tokens of `state` depend on: its configurations with each count cut to
    /// what a token of at most `longestToken` bytes can tell apart (the count below the minimum,
    /// and the room left up to the fragment's longest way out plus `longestToken + 1`), so the
    /// long middle of a bounded string shares one mask.
    func maskSignature(_ state: Int32, longestToken: Int32) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(sets[Int(state)].count)
        for config in sets[Int(state)] {
            let s = Self.state(config), c = Self.count(config)
            let f = nfa.fragmentOf[Int(s)]
            guard f >= 0 else { out.append(config); continue }
            let bounds = nfa.fragments[Int(f)]
            let low = min(c, bounds.minLength)
            let room = bounds.maxLength == Int32.max ? 0 : min(bounds.maxLength - c, bounds.longestExit + longestToken + 1)
            out.append(Self.pack(s, low &* 65_537 &+ room))
        }
        out.sort()
        return out
    }
}
