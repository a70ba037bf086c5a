import TandemCore

/// llama2.c's `tokenizer.bin`: int32 max token length, then per token float32 score,
/// int32 length and the bytes. Pieces use plain spaces; `<0xXX>` pieces are bytes.
enum Llama2CTokenizerFile {
    static func load(path: String, vocabSize: Int) throws -> SentencePieceTokenizer {
        let file = try MappedFile(path: path)
        var r = ByteReader(file)
        _ = try r.read(Int32.self, "max token length")
        var pieces: [String] = []
        var scores: [Float] = []
        var kinds: [TokenKind] = []
        for i in 0..<vocabSize {
            scores.append(try r.readFloat("the score of token \(i)"))
            let n = Int(try r.read(Int32.self, "the length of token \(i)"))
            guard n >= 0, n < 1 << 16 else {
                throw ModelLoadError(.badMetadata, file: path, place: "token \(i)", "length \(n) is not plausible")
            }
            let piece = try r.readString(length: n, "the bytes of token \(i)")
            pieces.append(piece)
            kinds.append(i == 0 ? .unknown : i < 3 ? .control : SentencePieceTokenizer.byteValue(piece) != nil ? .byte : .normal)
        }
        let vocab = Vocabulary(pieces: pieces, scores: scores, kinds: kinds, bos: 1, eos: 2)
        return SentencePieceTokenizer(vocabulary: vocab, addsBOS: true, addDummyPrefix: true, spaceMarker: " ")
    }
}
