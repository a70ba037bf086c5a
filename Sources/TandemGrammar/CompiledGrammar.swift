import Foundation
import TandemCore

/// A constraint compiled for one vocabulary: the byte automaton, and the allowed-token mask of
/// each automaton state, computed the first time a matcher reaches the state (one walk of the
/// token trie, pruned at dead bytes) and cached, so later requests with the same constraint pay
/// a dictionary look-up. Shared by every request with the same constraint; thread-safe.
public final class CompiledGrammar: @unchecked Sendable {
    public let vocabulary: TokenVocabulary
    private let lock = NSLock()
    private let dfa: LazyDFA
    /// Masks by signature (`LazyDFA.maskSignature`), and each state's signature once known.
    private var masks: [[Int64]: TokenMask] = [:]
    private var signatures: [Int32: [Int64]] = [:]
    private let longestToken: Int32
    /// Masks kept per grammar (each is vocabulary-size bits); past it they are recomputed.
    public static let maxCachedMasks = 4096

    public init(_ pattern: Pattern, rules: [String: Pattern] = [:], vocabulary: TokenVocabulary,
                recursionDepth: Int = 4) throws(GrammarError) {
        self.vocabulary = vocabulary
        longestToken = Int32(vocabulary.longestToken)
        dfa = LazyDFA(try ByteNFA(pattern, rules: rules, recursionDepth: recursionDepth))
    }

    public var startState: Int32 { dfa.start }

    /// States the automaton has been expanded to so far.
    public var expandedStates: Int { lock.withLock { dfa.stateCount } }

    public func isAccepting(_ state: Int32) -> Bool {
        state >= 0 && lock.withLock { dfa.accepting[Int(state)] }
    }

    /// Fewest bytes from `state` to a complete output (0 when accepting; −1 when dead).
    public func distance(_ state: Int32) -> Int {
        state >= 0 ? lock.withLock { Int(dfa.distance[Int(state)]) } : -1
    }

    /// The state after `bytes` from `state` (−1: the bytes leave the language).
    public func advance(_ state: Int32, bytes: [UInt8]) -> Int32 {
        guard state >= 0 else { return LazyDFA.dead }
        return lock.withLock {
            var s = state
            for b in bytes {
                s = dfa.step(s, b)
                if s < 0 { break }
            }
            return s
        }
    }

    /// The tokens allowed in `state`: those whose bytes keep the output inside the language, and
    /// the end tokens when the output so far is complete. A dead state allows only the end tokens.
    public func mask(_ state: Int32) -> TokenMask {
        lock.withLock {
            guard state >= 0 else { return computeMask(state) }
            let signature: [Int64]
            if let known = signatures[state] {
                signature = known
            } else {
                signature = dfa.maskSignature(state, longestToken: longestToken)
                signatures[state] = signature
            }
            if let m = masks[signature] { return m }
            let m = computeMask(state)
            if masks.count < Self.maxCachedMasks { masks[signature] = m }
            return m
        }
    }

    /// Starts computing `state`'s mask on another thread when it is not cached yet, so that a
    /// request's next mask is being built while the forward pass runs (`GrammarMatcher.accept`).
    /// The sampler's later `mask(_:)` then finds it, or waits for it under the lock.
    public func prefetch(_ state: Int32) {
        guard state >= 0 else { return }
        let known = lock.withLock { signatures[state].map { masks[$0] != nil } ?? false }
        guard !known else { return }
        DispatchQueue.global(qos: .userInitiated).async { [self] in _ = mask(state) }
    }

    private func computeMask(_ state: Int32) -> TokenMask {
        let v = vocabulary
        var mask = TokenMask(size: v.size)
        if state < 0 || dfa.accepting[Int(state)] {
            for t in v.endTokens { mask.insert(t) }
        }
        guard state >= 0 else { return mask }
        var nodes: [Int32] = [0]
        var states: [Int32] = [state]
        v.edgeStart.withUnsafeBufferPointer { edgeStart in
            v.edgeByte.withUnsafeBufferPointer { edgeByte in
                v.edgeNode.withUnsafeBufferPointer { edgeNode in
                    v.tokenStart.withUnsafeBufferPointer { tokenStart in
                        v.tokens.withUnsafeBufferPointer { tokens in
                            while let node = nodes.popLast(), let s = states.popLast() {
                                for e in Int(edgeStart[Int(node)])..<Int(edgeStart[Int(node) + 1]) {
                                    let t = dfa.step(s, edgeByte[e])
                                    if t < 0 { continue }
                                    let child = Int(edgeNode[e])
                                    for k in Int(tokenStart[child])..<Int(tokenStart[child + 1]) { mask.insert(tokens[k]) }
                                    if edgeStart[child] < edgeStart[child + 1] {
                                        nodes.append(Int32(child))
                                        states.append(t)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return mask
    }
}

/// One request's position in a `CompiledGrammar`: the masks to apply and the tokens taken.
public struct GrammarMatcher: Sendable {
    public let grammar: CompiledGrammar
    /// The automaton state (−1 once a token left the language; then only end tokens are allowed).
    public private(set) var state: Int32

    public init(_ grammar: CompiledGrammar) {
        self.grammar = grammar
        state = grammar.startState
    }

    /// The tokens allowed next.
    public func allowedTokens() -> TokenMask { grammar.mask(state) }

    /// Takes `token` (the sampler's choice, or one the engine forced). End tokens leave the state
    /// as it is. Returns false when the token was not allowed.
    @discardableResult
    public mutating func accept(_ token: TokenID) -> Bool {
        if grammar.vocabulary.endTokens.contains(token) { return grammar.isAccepting(state) }
        let bytes = grammar.vocabulary.bytes(of: token)
        guard !bytes.isEmpty else {
            state = LazyDFA.dead
            return false
        }
        state = grammar.advance(state, bytes: bytes)
        grammar.prefetch(state)
        return state >= 0
    }

    /// The text so far is a complete output.
    public var isComplete: Bool { grammar.isAccepting(state) }
}
