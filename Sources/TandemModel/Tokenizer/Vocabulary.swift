import TandemCore

/// What a vocabulary entry is (GGUF `tokenizer.ggml.token_type` numbering).
public enum TokenKind: Int32, Sendable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// A model's vocabulary: pieces, merge scores, kinds and the special ids.
public struct Vocabulary: Sendable {
    public let pieces: [String]
    public let scores: [Float]
    public let kinds: [TokenKind]
    public let bos: TokenID?
    public let eos: TokenID?
    /// Tokens that end a generation: EOS plus end-of-turn markers such as `<|im_end|>`.
    public let stopTokens: Set<TokenID>
    let index: [String: TokenID]
    /// Control and user-defined pieces matched whole in input text, longest first.
    let specialPieces: [(bytes: [UInt8], id: TokenID)]
    let specialFirstBytes: Set<UInt8>

    public var count: Int { pieces.count }

    public init(pieces: [String], scores: [Float]? = nil, kinds: [TokenKind]? = nil, bos: TokenID?, eos: TokenID?,
                extraStopPieces: [String] = ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>"]) {
        self.pieces = pieces
        self.scores = scores ?? [Float](repeating: 0, count: pieces.count)
        let kinds = kinds ?? [TokenKind](repeating: .normal, count: pieces.count)
        self.kinds = kinds
        self.bos = bos
        self.eos = eos
        var index: [String: TokenID] = [:]
        index.reserveCapacity(pieces.count)
        for (i, p) in pieces.enumerated() where index[p] == nil { index[p] = TokenID(i) }
        self.index = index
        var stops = Set<TokenID>()
        if let eos { stops.insert(eos) }
        for p in extraStopPieces { if let id = index[p], kinds[Int(id)] == .control { stops.insert(id) } }
        stopTokens = stops
        specialPieces = pieces.enumerated()
            .filter { kinds[$0.offset] == .control || kinds[$0.offset] == .userDefined }
            .filter { !$0.element.isEmpty }
            .map { (Array($0.element.utf8), TokenID($0.offset)) }
            .sorted { $0.bytes.count > $1.bytes.count }
        specialFirstBytes = Set(specialPieces.compactMap(\.bytes.first))
    }

    public func id(of piece: String) -> TokenID? { index[piece] }

    /// A part of the input: plain text, or a special token matched whole.
    enum Segment: Equatable {
        case text([UInt8])
        case special(TokenID)
    }

    /// Splits `text` around special pieces (when `parseSpecial`), longest match first.
    func segments(_ text: [UInt8], parseSpecial: Bool) -> [Segment] {
        segments(text, specialRanges: parseSpecial ? [0..<text.count] : [])
    }

    /// Splits `text` around special pieces that lie wholly inside one of `specialRanges`
    /// (ascending, non-overlapping), longest match first. Outside them every byte is plain text,
    /// and plain text on both sides of a range boundary stays one segment, so a prompt without
    /// special pieces tokenizes exactly as the same string would.
    func segments(_ text: [UInt8], specialRanges: [Range<Int>]) -> [Segment] {
        guard !specialPieces.isEmpty, !specialRanges.isEmpty else { return text.isEmpty ? [] : [.text(text)] }
        var out: [Segment] = []
        var start = 0
        for range in specialRanges {
            var i = max(range.lowerBound, start)
            let end = min(range.upperBound, text.count)
            outer: while i < end {
                if specialFirstBytes.contains(text[i]) {
                    for sp in specialPieces where sp.bytes.count <= end - i && sp.bytes.first == text[i] {
                        if text[i..<(i + sp.bytes.count)].elementsEqual(sp.bytes) {
                            if i > start { out.append(.text(Array(text[start..<i]))) }
                            out.append(.special(sp.id))
                            i += sp.bytes.count
                            start = i
                            continue outer
                        }
                    }
                }
                i += 1
            }
        }
        if start < text.count { out.append(.text(Array(text[start...]))) }
        return out
    }
}
