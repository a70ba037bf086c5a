import TandemCore

/// SentencePiece-style BPE with byte fallback, as llama2.c's `encode` and llama.cpp's SPM
/// vocab (GGUF `tokenizer.ggml.model == "llama"`) do it: optional dummy-prefix space, spaces
/// written as `spaceMarker`, one symbol per UTF-8 character (unknown characters fall back to
/// `<0xXX>` byte tokens), then repeatedly merge the adjacent pair whose concatenation is in the
/// vocabulary with the highest score (leftmost on ties).
public struct SentencePieceTokenizer: Tokenizer {
    public let vocabulary: Vocabulary
    public let addsBOS: Bool
    public let addDummyPrefix: Bool
    /// "▁" (U+2581) in SentencePiece vocabularies; llama2.c's tokenizer.bin stores plain spaces.
    public let spaceMarker: String
    private let byteTokens: [TokenID?]  // (256)

    public init(vocabulary: Vocabulary, addsBOS: Bool = true, addDummyPrefix: Bool = true, spaceMarker: String = "\u{2581}") {
        self.vocabulary = vocabulary
        self.addsBOS = addsBOS
        self.addDummyPrefix = addDummyPrefix
        self.spaceMarker = spaceMarker
        byteTokens = (0..<256).map { b in vocabulary.id(of: "<0x" + Self.hex2(UInt8(b)) + ">") }
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    public func encode(_ prompt: PromptText, addBOS: Bool?) -> [TokenID] {
        var out: [TokenID] = []
        if addBOS ?? addsBOS, let bos = vocabulary.bos { out.append(bos) }
        var first = true
        for seg in vocabulary.segments(prompt.bytes, specialRanges: prompt.specialRanges) {
            switch seg {
            case .special(let id):
                out.append(id)
            case .text(let bytes):
                var s = String(decoding: bytes, as: UTF8.self)
                if first && addDummyPrefix { s = " " + s }
                out += encodeText(s)
            }
            first = false
        }
        return out
    }

    private func encodeText(_ text: String) -> [TokenID] {
        let marked = spaceMarker == " " ? text : text.replacing(" ", with: spaceMarker)
        // One symbol per character; (piece text, id).
        var symbols: [(piece: String, id: TokenID)] = []
        for scalar in marked.unicodeScalars {
            let ch = String(scalar)
            if let id = vocabulary.id(of: ch) {
                symbols.append((ch, id))
            } else {
                for b in ch.utf8 {
                    if let id = byteTokens[Int(b)] { symbols.append((vocabulary.pieces[Int(id)], id)) }
                    else if let unk = vocabulary.kinds.firstIndex(of: .unknown) { symbols.append(("", TokenID(unk))) }
                }
            }
        }
        // Highest score first (leftmost on ties); a pair scored -inf or NaN never merges.
        symbols = PairMerger<(piece: String, id: TokenID)>.merge(symbols) { a, b in
            let piece = a.piece + b.piece
            guard let id = vocabulary.id(of: piece) else { return nil }
            let score = vocabulary.scores[Int(id)]
            guard score > -Float.infinity else { return nil }
            return (key: -Double(score), merged: (piece, id))
        }
        return symbols.map(\.id)
    }

    public func bytes(for token: TokenID, after previous: TokenID?) -> [UInt8] {
        guard token >= 0, Int(token) < vocabulary.count else { return [] }
        let kind = vocabulary.kinds[Int(token)]
        if kind == .control || kind == .unused { return [] }
        var piece = vocabulary.pieces[Int(token)]
        if let b = Self.byteValue(piece) { return [b] }
        if spaceMarker != " " { piece = piece.replacing(spaceMarker, with: " ") }
        // The dummy prefix: the first piece of a text (or right after BOS) drops its leading space.
        if addDummyPrefix, previous == nil || previous == vocabulary.bos, piece.hasPrefix(" ") { piece.removeFirst() }
        return Array(piece.utf8)
    }

    /// The byte of a `<0xXX>` piece.
    static func byteValue(_ piece: String) -> UInt8? {
        let u = Array(piece.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"), u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }
}
