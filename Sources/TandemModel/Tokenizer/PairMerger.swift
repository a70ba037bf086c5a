/// Greedy pairwise merging for BPE tokenizers in O(n log n): repeatedly merge the adjacent pair
/// with the best (lowest) key, leftmost on ties, until no pair merges. Symbols form a linked
/// list; candidate pairs wait in a heap keyed by (key, left position) and are checked when
/// popped (a pair whose symbols changed since it was pushed is skipped). This is the order Hugging
/// Face `tokenizers` and llama.cpp use; rescanning the whole word for the best pair after every
/// merge is quadratic, which a long run of text without spaces turns into minutes.
struct PairMerger<Symbol> {
    /// The merged symbol of `left` + `right` and its key (lower merges first), or nil.
    typealias Rule = (_ left: Symbol, _ right: Symbol) -> (key: Double, merged: Symbol)?

    private struct Candidate: Comparable {
        var key: Double
        var left: Int
        var leftVersion: Int
        var rightVersion: Int
        static func < (a: Candidate, b: Candidate) -> Bool { a.key != b.key ? a.key < b.key : a.left < b.left }
        static func == (a: Candidate, b: Candidate) -> Bool { a.key == b.key && a.left == b.left }
    }

    static func merge(_ symbols: [Symbol], rule: Rule) -> [Symbol] {
        let n = symbols.count
        guard n > 1 else { return symbols }
        var value = symbols
        var next = Array(1...n)           // n: end
        var prev = Array(-1..<(n - 1))    // -1: start
        var alive = [Bool](repeating: true, count: n)
        var version = [Int](repeating: 0, count: n)
        var heap: [Candidate] = []
        heap.reserveCapacity(n)

        func push(_ i: Int) {
            let j = next[i]
            guard j < n, let r = rule(value[i], value[j]) else { return }
            heap.append(Candidate(key: r.key, left: i, leftVersion: version[i], rightVersion: version[j]))
            var c = heap.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                guard heap[c] < heap[p] else { break }
                heap.swapAt(c, p)
                c = p
            }
        }
        func pop() -> Candidate? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var p = 0
                while true {
                    let l = 2 * p + 1, r = l + 1
                    var m = p
                    if l < heap.count && heap[l] < heap[m] { m = l }
                    if r < heap.count && heap[r] < heap[m] { m = r }
                    if m == p { break }
                    heap.swapAt(p, m)
                    p = m
                }
            }
            return top
        }

        for i in 0..<(n - 1) { push(i) }
        while let c = pop() {
            let i = c.left
            guard alive[i], version[i] == c.leftVersion else { continue }
            let j = next[i]
            guard j < n, alive[j], version[j] == c.rightVersion, let r = rule(value[i], value[j]) else { continue }
            value[i] = r.merged
            version[i] += 1
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0 { push(prev[i]) }
            push(i)
        }
        var out: [Symbol] = []
        var i = 0
        while i < n { out.append(value[i]); i = next[i] }
        return out
    }
}
