/// A Thompson-style automaton over bytes compiled from a `Pattern`: states with ε-edges and
/// byte-set edges. States that cannot reach the accepting state are pruned (`isLive`), and each
/// live state knows the fewest bytes to acceptance (`distance`), so every state a matcher can be
/// in has a way to finish.
///
/// JSON strings with length bounds are counted fragments: their states appear once, a register
/// counts the characters (edges with `counts`), set to 0 on the `enter` ε-edge and checked
/// against the fragment's bounds on increments and on the `exit` ε-edge. A matcher's
/// configuration is a state and a count (`LazyDFA`).
public struct ByteNFA: Sendable {
    struct Edge: Sendable {
        var set: ByteSet
        var target: Int32
        /// The byte starts a character of a counted string.
        var counts: Bool
    }

    enum Action: UInt8, Sendable { case none, enter, exit }

    struct Epsilon: Sendable {
        var target: Int32
        var action: Action
    }

    struct Fragment: Sendable {
        var minLength: Int32
        /// `Int32.max`: unbounded (the count then stops at `minLength`).
        var maxLength: Int32
        /// The largest finite `charsToExit` of the fragment's states.
        var longestExit: Int32 = 0
    }

    var edges: [[Edge]] = []
    var epsilon: [[Epsilon]] = []
    /// The counted fragment a state belongs to, or −1.
    var fragmentOf: [Int32] = []
    var fragments: [Fragment] = []
    /// Inside a fragment: the fewest characters from the state to the fragment's exit.
    var charsToExit: [Int32] = []
    public private(set) var start: Int32 = 0
    public private(set) var accept: Int32 = 0
    /// Fewest bytes from each state to acceptance; −1 for states that cannot accept.
    var distance: [Int32] = []

    public var stateCount: Int { edges.count }

    /// Largest automaton built (states): a schema or grammar above it is refused.
    public static let maxStates = 600_000

    init() {}

    /// Compiles `pattern`; `rules` resolves `.reference` names, each unrolled at most
    /// `recursionDepth` levels deep along any path.
    public init(_ pattern: Pattern, rules: [String: Pattern] = [:], recursionDepth: Int = 4) throws(GrammarError) {
        var builder = Builder(rules: rules, maxDepth: recursionDepth)
        let s = builder.newState()
        let a = builder.newState()
        try builder.build(pattern, from: s, to: a)
        self = builder.nfa
        start = s
        accept = a
        computeDistances()
        computeCharsToExit()
        guard distance[Int(start)] >= 0 else {
            throw GrammarError(keyword: "", path: "", "the constraint admits no output at all (contradictory bounds, or a required recursive part)")
        }
    }

    static func tooLarge() -> GrammarError {
        GrammarError(keyword: "", path: "", "the constraint is too large (over \(maxStates) automaton states): lower maxItems bounds, nesting or recursion", isSizeLimit: true)
    }

    struct Builder {
        var nfa = ByteNFA()
        let rules: [String: Pattern]
        let maxDepth: Int
        var depth: [String: Int] = [:]
        /// The counted fragment new states belong to (−1: none).
        var fragment: Int32 = -1

        init(rules: [String: Pattern], maxDepth: Int) {
            self.rules = rules
            self.maxDepth = maxDepth
        }

        mutating func newState() -> Int32 {
            nfa.edges.append([])
            nfa.epsilon.append([])
            nfa.fragmentOf.append(fragment)
            return Int32(nfa.edges.count - 1)
        }

        mutating func link(_ from: Int32, _ to: Int32, _ action: Action = .none) {
            nfa.epsilon[Int(from)].append(Epsilon(target: to, action: action))
        }

        mutating func edge(_ from: Int32, _ set: ByteSet, _ to: Int32, counts: Bool = false) {
            if !set.isEmpty { nfa.edges[Int(from)].append(Edge(set: set, target: to, counts: counts)) }
        }

        /// `bytes` in sequence from `from` to `to`.
        mutating func path(_ from: Int32, _ bytes: [UInt8], _ to: Int32) {
            var current = from
            for (i, b) in bytes.enumerated() {
                let next = i == bytes.count - 1 ? to : newState()
                edge(current, ByteSet([b]), next)
                current = next
            }
        }

        mutating func build(_ p: Pattern, from: Int32, to: Int32) throws(GrammarError) {
            guard nfa.edges.count < ByteNFA.maxStates else { throw ByteNFA.tooLarge() }
            switch p {
            case .empty:
                link(from, to)
            case .never:
                break
            case .bytes(let set):
                edge(from, set, to)
            case .sequence(let items):
                guard !items.isEmpty else { link(from, to); return }
                var current = from
                for (i, item) in items.enumerated() {
                    let next = i == items.count - 1 ? to : newState()
                    try build(item, from: current, to: next)
                    current = next
                }
            case .choice(let items):
                for item in items { try build(item, from: from, to: to) }
            case .repetition(let item, let min, let max, let separator):
                try repetition(item, min: min, max: max, separator: separator, from: from, to: to)
            case .members(let members, let separator):
                try self.members(members, separator: separator, from: from, to: to)
            case .reference(let name):
                guard let rule = rules[name] else {
                    throw GrammarError(keyword: name, path: "", "undefined rule or definition '\(name)'")
                }
                let level = depth[name, default: 0]
                // Past the recursion bound the reference matches nothing; branches through it are pruned.
                guard level < maxDepth else { return }
                depth[name] = level + 1
                defer { depth[name] = level }
                try build(rule, from: from, to: to)
            case .character(let ascii):
                character(ascii: ascii, from: from, to: to)
            case .jsonString(let inner, let minLength, let maxLength):
                try counted(inner, minLength: minLength, maxLength: maxLength, escaping: true, from: from, to: to)
            case .counted(let inner, let minLength, let maxLength):
                try counted(inner, minLength: minLength, maxLength: maxLength, escaping: false, from: from, to: to)
            }
        }

        /// ASCII from the set, or a well-formed multi-byte UTF-8 character: lead bytes go to
        /// states needing one, two or three more continuation bytes (with the second-byte limits
        /// that exclude overlongs, surrogates and values past U+10FFFF).
        mutating func character(ascii: ByteSet, from: Int32, to: Int32) {
            edge(from, ascii.subtracting(ByteSet(range: 0x80, 0xFF)), to)
            let cont = Pattern.continuation
            let need1 = newState(), need2 = newState(), need3 = newState()
            edge(need1, cont, to)
            edge(need2, cont, need1)
            edge(need3, cont, need2)
            edge(from, ByteSet(range: 0xC2, 0xDF), need1)
            let e0 = newState(), ed = newState(), f0 = newState(), f4 = newState()
            edge(from, ByteSet([0xE0]), e0); edge(e0, ByteSet(range: 0xA0, 0xBF), need1)
            edge(from, ByteSet(range: 0xE1, 0xEC).union(ByteSet(range: 0xEE, 0xEF)), need2)
            edge(from, ByteSet([0xED]), ed); edge(ed, ByteSet(range: 0x80, 0x9F), need1)
            edge(from, ByteSet([0xF0]), f0); edge(f0, ByteSet(range: 0x90, 0xBF), need2)
            edge(from, ByteSet(range: 0xF1, 0xF3), need3)
            edge(from, ByteSet([0xF4]), f4); edge(f4, ByteSet(range: 0x80, 0x8F), need2)
        }

        /// The inner pattern built apart, then copied in as a counted fragment: a byte that starts
        /// a character counts, a continuation byte does not. `escaping` (JSON string text): bytes
        /// JSON must escape become their escape sequences on the way.
        mutating func counted(_ inner: Pattern, minLength: Int, maxLength: Int?, escaping: Bool,
                              from: Int32, to: Int32) throws(GrammarError) {
            if let maxLength, maxLength < minLength { return }
            var sub = Builder(rules: rules, maxDepth: maxDepth)
            sub.depth = depth
            let s0 = sub.newState(), a0 = sub.newState()
            try sub.build(inner, from: s0, to: a0)
            guard sub.nfa.fragments.isEmpty else {
                throw GrammarError(keyword: "", path: "", "a counted string cannot contain another counted part")
            }
            let n = sub.nfa.stateCount
            guard nfa.edges.count + n * 3 < ByteNFA.maxStates else { throw ByteNFA.tooLarge() }
            let f = Int32(nfa.fragments.count)
            nfa.fragments.append(Fragment(minLength: Int32(minLength), maxLength: maxLength.map { Int32(clamping: $0) } ?? Int32.max))
            let outer = fragment
            fragment = f
            defer { fragment = outer }
            let base = Int32(nfa.edges.count)
            for _ in 0..<n { _ = newState() }
            let special = escaping ? ByteSet(range: 0, 0x1F).union(ByteSet("\"\\".utf8)) : ByteSet()
            let cont = Pattern.continuation
            for q in 0..<n {
                let state = base + Int32(q)
                for e in sub.nfa.epsilon[q] { link(state, base + e.target) }
                for e in sub.nfa.edges[q] {
                    let target = base + e.target
                    edge(state, e.set.intersection(cont), target)
                    let starting = e.set.subtracting(cont)
                    edge(state, starting.subtracting(special), target, counts: true)
                    let escaped = starting.intersection(special)
                    if !escaped.isEmpty { escapes(escaped, from: state, to: target) }
                }
            }
            link(from, base + s0, .enter)
            link(base + a0, to, .exit)
        }

        /// `\` then the escape of each byte in `bytes` (`\"`, `\\`, `\n`, ..., `\u00XX`).
        mutating func escapes(_ bytes: ByteSet, from: Int32, to: Int32) {
            let e = newState()
            edge(from, ByteSet([0x5C]), e, counts: true)
            var short = ByteSet()
            var long: [UInt8] = []
            for b in UInt8(0)...0x5C where bytes.contains(b) {
                let form = Self.escape(b)
                if form.count == 2 { short.insert(form[1]) } else { long.append(b) }
            }
            edge(e, short, to)
            guard !long.isEmpty else { return }
            let u1 = newState(), u2 = newState(), u3 = newState()
            edge(e, ByteSet("u".utf8), u1)
            edge(u1, ByteSet("0".utf8), u2)
            edge(u2, ByteSet("0".utf8), u3)
            let hex = Array("0123456789abcdef".utf8)
            for high in UInt8(0)...1 {
                let lows = ByteSet(long.filter { $0 >> 4 == high }.map { hex[Int($0 & 0xF)] })
                guard !lows.isEmpty else { continue }
                let h = newState()
                edge(u3, ByteSet([hex[Int(high)]]), h)
                edge(h, lows, to)
            }
        }

        /// How JSON text writes the byte `b` inside a string.
        static func escape(_ b: UInt8) -> [UInt8] {
            switch b {
            case 0x22: return Array("\\\"".utf8)
            case 0x5C: return Array("\\\\".utf8)
            case 0x0A: return Array("\\n".utf8)
            case 0x0D: return Array("\\r".utf8)
            case 0x09: return Array("\\t".utf8)
            case 0x08: return Array("\\b".utf8)
            case 0x0C: return Array("\\f".utf8)
            default:
                let hex = Array("0123456789abcdef".utf8)
                return Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            }
        }

        /// An item then the separator and an item, between `min` and `max` times in all.
        mutating func repetition(_ item: Pattern, min: Int, max: Int?, separator: Pattern?,
                                 from: Int32, to: Int32) throws(GrammarError) {
            if let max, max < min || max == 0 {
                if max == 0 && min == 0 { link(from, to) }
                return
            }
            if min == 0 { link(from, to) }
            var current = newState()
            try build(item, from: from, to: current)
            var count = 1
            func sepItem(_ a: Int32, _ b: Int32, _ builder: inout Builder) throws(GrammarError) {
                if let separator {
                    let mid = builder.newState()
                    try builder.build(separator, from: a, to: mid)
                    try builder.build(item, from: mid, to: b)
                } else {
                    try builder.build(item, from: a, to: b)
                }
            }
            while count < Swift.max(min, 1) {
                let next = newState()
                try sepItem(current, next, &self)
                current = next
                count += 1
            }
            link(current, to)
            guard let max else {
                try sepItem(current, current, &self)
                return
            }
            while count < max {
                let next = newState()
                try sepItem(current, next, &self)
                link(next, to)
                current = next
                count += 1
            }
        }

        /// `head[i]`: before member i with none written yet; `tail[i]`: before member i after at
        /// least one (so a separator comes first). Each member is built once, ending in `tail[i+1]`.
        mutating func members(_ members: [(Pattern, required: Bool)], separator: Pattern,
                              from: Int32, to: Int32) throws(GrammarError) {
            let n = members.count
            var head: [Int32] = [from]
            var tail: [Int32] = [-1]
            for _ in 0..<n { head.append(newState()); tail.append(newState()) }
            link(head[n], to)
            link(tail[n], to)
            for (i, member) in members.enumerated() {
                let entry = newState()
                try build(member.0, from: entry, to: tail[i + 1])
                link(head[i], entry)
                if !member.required { link(head[i], head[i + 1]) }
                if i > 0 {
                    try build(separator, from: tail[i], to: entry)
                    if !member.required { link(tail[i], tail[i + 1]) }
                }
            }
        }
    }

    /// Fewest bytes to acceptance from every state (a level-by-level 0–1 BFS backwards from
    /// `accept`: ε-predecessors join the current level, byte-predecessors the next).
    mutating func computeDistances() {
        let n = edges.count
        var reverseEpsilon = [[Int32]](repeating: [], count: n)
        var reverseByte = [[Int32]](repeating: [], count: n)
        for s in 0..<n {
            for t in epsilon[s] { reverseEpsilon[Int(t.target)].append(Int32(s)) }
            for e in edges[s] { reverseByte[Int(e.target)].append(Int32(s)) }
        }
        distance = [Int32](repeating: -1, count: n)
        distance[Int(accept)] = 0
        var current: [Int32] = [accept]
        var front: [Int32] = []
        var d: Int32 = 0
        while !current.isEmpty {
            var i = 0
            while i < current.count {
                let s = Int(current[i])
                i += 1
                for p in reverseEpsilon[s] where distance[Int(p)] < 0 || distance[Int(p)] > d {
                    distance[Int(p)] = d
                    current.append(p)
                }
            }
            front.removeAll(keepingCapacity: true)
            for s in current where distance[Int(s)] == d {
                for p in reverseByte[Int(s)] where distance[Int(p)] < 0 {
                    distance[Int(p)] = d + 1
                    front.append(p)
                }
            }
            d += 1
            swap(&current, &front)
        }
    }

    func isLive(_ s: Int32) -> Bool { distance[Int(s)] >= 0 }

    /// For states in counted fragments: the fewest characters to the fragment's exit (a 0–1 BFS
    /// backwards from the exits, counting edges cost 1, within one fragment).
    mutating func computeCharsToExit() {
        let n = edges.count
        charsToExit = [Int32](repeating: Int32.max, count: n)
        guard !fragments.isEmpty else { return }
        var reverse = [[(Int32, Int32)]](repeating: [], count: n)
        var deque: [Int32] = []
        for s in 0..<n where fragmentOf[s] >= 0 {
            for t in epsilon[s] {
                if t.action == .exit { charsToExit[s] = 0; deque.append(Int32(s)) }
                else if fragmentOf[Int(t.target)] == fragmentOf[s] { reverse[Int(t.target)].append((Int32(s), 0)) }
            }
            for e in edges[s] where fragmentOf[Int(e.target)] == fragmentOf[s] {
                reverse[Int(e.target)].append((Int32(s), e.counts ? 1 : 0))
            }
        }
        // Dijkstra with 0/1 weights via a simple bucket queue.
        var buckets: [[Int32]] = [deque]
        var d = 0
        while d < buckets.count {
            var i = 0
            while i < buckets[d].count {
                let s = Int(buckets[d][i])
                i += 1
                guard charsToExit[s] == Int32(d) else { continue }
                for (p, w) in reverse[s] {
                    let nd = Int32(d) + w
                    if nd < charsToExit[Int(p)] {
                        charsToExit[Int(p)] = nd
                        while buckets.count <= Int(nd) { buckets.append([]) }
                        buckets[Int(nd)].append(p)
                    }
                }
            }
            d += 1
        }
        for s in 0..<n where fragmentOf[s] >= 0 && charsToExit[s] < Int32.max {
            let f = Int(fragmentOf[s])
            fragments[f].longestExit = max(fragments[f].longestExit, charsToExit[s])
        }
    }

    /// The count after a counting edge from a state of fragment `f` at count `c`, or nil when
    /// the string would grow past its maximum (or could no longer end within it, from `target`).
    @inline(__always)
    func counted(_ c: Int32, fragment f: Int32, target: Int32) -> Int32? {
        let bounds = fragments[Int(f)]
        if bounds.maxLength == Int32.max { return min(c + 1, bounds.minLength) }
        let next = c + 1
        guard next <= bounds.maxLength, charsToExit[Int(target)] <= bounds.maxLength - next else { return nil }
        return next
    }
}
