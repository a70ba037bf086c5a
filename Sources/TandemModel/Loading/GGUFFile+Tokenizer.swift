import TandemCore

extension GGUFFile {
    /// The tokenizer the file describes (`tokenizer.ggml.*`).
    public func tokenizer() throws -> any Tokenizer {
        guard let model = metadata["tokenizer.ggml.model"]?.stringValue else {
            throw ModelLoadError(.unknownTokenizer, file: path, place: "key tokenizer.ggml.model", "the file has no tokenizer")
        }
        guard let tokens = metadata["tokenizer.ggml.tokens"]?.arrayValue?.compactMap(\.stringValue), !tokens.isEmpty else {
            throw ModelLoadError(.badMetadata, file: path, place: "key tokenizer.ggml.tokens", "missing or not a string array")
        }
        let kinds = metadata["tokenizer.ggml.token_type"]?.arrayValue?.map { TokenKind(rawValue: Int32(clamping: $0.intValue ?? 1)) ?? .normal }
        let scores = metadata["tokenizer.ggml.scores"]?.arrayValue?.map { Float($0.doubleValue ?? 0) }
        /// A special token id: absent, or an index into the vocabulary.
        func specialID(_ key: String) throws -> TokenID? {
            guard let value = metadata[key] else { return nil }
            guard let id = value.intValue, id >= 0, id < tokens.count else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(key)",
                                     "\(value) is not a token id of the \(tokens.count)-token vocabulary")
            }
            return TokenID(id)
        }
        let bos = try specialID("tokenizer.ggml.bos_token_id")
        let eos = try specialID("tokenizer.ggml.eos_token_id")
        if let k = kinds, k.count != tokens.count {
            throw ModelLoadError(.badMetadata, file: path, place: "key tokenizer.ggml.token_type", "has \(k.count) entries for \(tokens.count) tokens")
        }
        if let s = scores, s.count != tokens.count {
            throw ModelLoadError(.badMetadata, file: path, place: "key tokenizer.ggml.scores", "has \(s.count) entries for \(tokens.count) tokens")
        }
        let vocab = Vocabulary(pieces: tokens, scores: scores, kinds: kinds, bos: bos, eos: eos)
        let addBOS = metadata["tokenizer.ggml.add_bos_token"]?.boolValue
        switch model {
        case "llama":
            return SentencePieceTokenizer(vocabulary: vocab, addsBOS: addBOS ?? true,
                                          addDummyPrefix: metadata["tokenizer.ggml.add_space_prefix"]?.boolValue ?? true)
        case "gpt2":
            let preName = metadata["tokenizer.ggml.pre"]?.stringValue ?? "default"
            guard let pre = PreTokenizer(ggufName: preName) else {
                throw ModelLoadError(.unknownTokenizer, file: path, place: "key tokenizer.ggml.pre",
                                     "pre-tokenizer \"\(preName)\" is not supported (supported: default, gpt2, smollm, llama-bpe, qwen2)")
            }
            guard let merges = metadata["tokenizer.ggml.merges"]?.arrayValue?.compactMap(\.stringValue) else {
                throw ModelLoadError(.badMetadata, file: path, place: "key tokenizer.ggml.merges", "a gpt2 tokenizer needs its merges")
            }
            return ByteLevelBPETokenizer(vocabulary: vocab, merges: merges, preTokenizer: pre, addsBOS: addBOS ?? false)
        default:
            throw ModelLoadError(.unknownTokenizer, file: path, place: "key tokenizer.ggml.model",
                                 "tokenizer model \"\(model)\" is not supported (supported: llama, gpt2)")
        }
    }
}
