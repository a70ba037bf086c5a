import TandemCore

/// GPT-2 byte-level BPE (GGUF `tokenizer.ggml.model == "gpt2"`, Hugging Face `ByteLevel`):
/// special pieces are matched whole, the rest is split into words by the pre-tokenizer, each
/// word's UTF-8 bytes are mapped to printable characters, and merges are applied by rank
/// (lowest first) until none applies.
public struct ByteLevelBPETokenizer: Tokenizer {
    public let vocabulary: Vocabulary
    public let addsBOS: Bool
    public let preTokenizer: PreTokenizer
    /// "a b" → rank.
    private let mergeRanks: [String: Int]
    private let byteToChar: [Character]     // (256)
    private let scalarToByte: [UInt32: UInt8]

    public init(vocabulary: Vocabulary, merges: [String], preTokenizer: PreTokenizer, addsBOS: Bool = false) {
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        self.addsBOS = addsBOS
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() where ranks[m] == nil { ranks[m] = i }
        mergeRanks = ranks
        let table = Self.byteTable()
        byteToChar = table
        var inverse: [UInt32: UInt8] = [:]
        for (b, c) in table.enumerated() { inverse[c.unicodeScalars.first!.value] = UInt8(b) }
        scalarToByte = inverse
    }

    /// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes map
    /// to themselves, the rest to U+0100 onwards in byte order.
    static func byteTable() -> [Character] {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let keep = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if keep { table[b] = Character(Unicode.Scalar(UInt32(b))!) } else {
                table[b] = Character(Unicode.Scalar(next)!)
                next += 1
            }
        }
        return table
    }

    public func encode(_ prompt: PromptText, addBOS: Bool?) -> [TokenID] {
        var out: [TokenID] = []
        if addBOS ?? addsBOS, let bos = vocabulary.bos { out.append(bos) }
        for seg in vocabulary.segments(prompt.bytes, specialRanges: prompt.specialRanges) {
            switch seg {
            case .special(let id): out.append(id)
            case .text(let bytes):
                let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
                for r in preTokenizer.split(scalars) {
                    var word = String.UnicodeScalarView()
                    word.append(contentsOf: scalars[r])
                    out += encodeWord(String(word))
                }
            }
        }
        return out
    }

    private func encodeWord(_ word: String) -> [TokenID] {
        let symbols = PairMerger<String>.merge(word.utf8.map { String(byteToChar[Int($0)]) }) { a, b in
            mergeRanks[a + " " + b].map { (key: Double($0), merged: a + b) }
        }
        var ids: [TokenID] = []
        for s in symbols {
            if let id = vocabulary.id(of: s) { ids.append(id) } else {
                // Not in the vocabulary (should not happen with a complete merge list): per byte.
                for ch in s { if let id = vocabulary.id(of: String(ch)) { ids.append(id) } }
            }
        }
        return ids
    }

    public func bytes(for token: TokenID, after previous: TokenID?) -> [UInt8] {
        guard token >= 0, Int(token) < vocabulary.count else { return [] }
        let kind = vocabulary.kinds[Int(token)]
        if kind == .control || kind == .unused { return [] }
        let piece = vocabulary.pieces[Int(token)]
        if kind == .userDefined { return Array(piece.utf8) }
        var out: [UInt8] = []
        for u in piece.unicodeScalars {
            if let b = scalarToByte[u.value] { out.append(b) } else { out += Array(String(u).utf8) }
        }
        return out
    }
}
