import TandemCore

/// A tokenizer's vocabulary as the grammar engine sees it, built once per model: the bytes of
/// every token in a trie (shared prefixes walked once when a mask is computed), and the tokens
/// that end a generation (allowed exactly when the constraint is complete).
public final class TokenVocabulary: Sendable {
    /// Number of token ids (the logits' length).
    public let size: Int
    /// Tokens that end the output (end of turn / end of sequence).
    public let endTokens: [Int32]
    let tokenBytes: [[UInt8]]
    // The trie, flattened: node n's edges are edgeByte/edgeNode[edgeStart[n] ..< edgeStart[n + 1]];
    // the tokens spelled exactly by the path to n are tokens[tokenStart[n] ..< tokenStart[n + 1]].
    let edgeStart: [Int32]
    let edgeByte: [UInt8]
    let edgeNode: [Int32]
    let tokenStart: [Int32]
    let tokens: [Int32]

    /// `tokenBytes[id]`: the bytes token `id` adds to the text in mid-text position (empty for
    /// control tokens, which a constraint never allows); `endTokens` leave the trie.
    public init(tokenBytes: [[UInt8]], endTokens: Set<TokenID>) {
        size = tokenBytes.count
        self.tokenBytes = tokenBytes
        self.endTokens = endTokens.filter { $0 >= 0 && Int($0) < tokenBytes.count }.map { Int32($0) }.sorted()
        // Build with per-node child lists, then flatten breadth-first.
        var children: [[(UInt8, Int32)]] = [[]]
        var ending: [[Int32]] = [[]]
        for (id, bytes) in tokenBytes.enumerated() where !bytes.isEmpty && !endTokens.contains(TokenID(id)) {
            var node = 0
            for b in bytes {
                if let next = children[node].first(where: { $0.0 == b })?.1 {
                    node = Int(next)
                } else {
                    let next = Int32(children.count)
                    children.append([])
                    ending.append([])
                    children[node].append((b, next))
                    node = Int(next)
                }
            }
            ending[node].append(Int32(id))
        }
        var edgeStart: [Int32] = [0]
        var edgeByte: [UInt8] = []
        var edgeNode: [Int32] = []
        var tokenStart: [Int32] = [0]
        var tokens: [Int32] = []
        edgeStart.reserveCapacity(children.count + 1)
        for n in children.indices {
            for (b, c) in children[n].sorted(by: { $0.0 < $1.0 }) {
                edgeByte.append(b)
                edgeNode.append(c)
            }
            edgeStart.append(Int32(edgeByte.count))
            tokens += ending[n]
            tokenStart.append(Int32(tokens.count))
        }
        self.edgeStart = edgeStart
        self.edgeByte = edgeByte
        self.edgeNode = edgeNode
        self.tokenStart = tokenStart
        self.tokens = tokens
    }

    /// Bytes of the longest token.
    public var longestToken: Int { tokenBytes.map(\.count).max() ?? 0 }

    /// Trie nodes (the root included).
    public var nodeCount: Int { edgeStart.count - 1 }

    public func bytes(of token: TokenID) -> [UInt8] {
        token >= 0 && Int(token) < size ? tokenBytes[Int(token)] : []
    }
}

/// The tokens a constraint allows at one step, as a bit set over the vocabulary.
public struct TokenMask: Sendable, Equatable {
    public private(set) var words: [UInt64]
    public let size: Int

    public init(size: Int) {
        self.size = size
        words = [UInt64](repeating: 0, count: (size + 63) / 64)
    }

    @inline(__always)
    public func contains(_ token: TokenID) -> Bool {
        let t = Int(token)
        guard t >= 0 && t < size else { return false }
        return words[t >> 6] & (UInt64(1) << UInt64(t & 63)) != 0
    }

    @inline(__always)
    mutating func insert(_ t: Int32) {
        words[Int(t) >> 6] |= UInt64(1) << UInt64(t & 63)
    }

    public var allowedCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// This mask with `token` allowed too (ids outside the vocabulary change nothing).
    public func inserting(_ token: TokenID) -> TokenMask {
        var m = self
        if token >= 0 && Int(token) < size { m.insert(token) }
        return m
    }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Sets every logit of a token outside the mask to −∞ (logits past `size` too).
    public func apply(to logits: inout [Float]) {
        logits.withUnsafeMutableBufferPointer { l in
            let n = l.count
            var w = 0
            while w < words.count && w * 64 < n {
                let bits = words[w]
                if bits != ~0 {
                    let base = w * 64
                    let end = Swift.min(base + 64, n)
                    for i in base..<end where bits & (UInt64(1) << UInt64(i - base)) == 0 { l[i] = -.infinity }
                }
                w += 1
            }
            if size < n { for i in size..<n { l[i] = -.infinity } }
        }
    }

    /// The allowed token ids, ascending.
    public var tokens: [TokenID] {
        var out: [TokenID] = []
        for (w, bits) in words.enumerated() where bits != 0 {
            var b = bits
            while b != 0 {
                let i = b.trailingZeroBitCount
                out.append(TokenID(w * 64 + i))
                b &= b - 1
            }
        }
        return out
    }
}
