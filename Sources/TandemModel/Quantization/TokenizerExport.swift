import Foundation
import TandemCore

/// Puts a tokenizer the loaders accept beside an exported checkpoint:
/// * Hugging Face source: `tokenizer.json` and `tokenizer_config.json` copied;
/// * GGUF with a GPT-2 byte-level BPE vocabulary: `tokenizer.json` written from the metadata
///   (vocab, merges, control/user-defined tokens as added_tokens, a ByteLevel pre-tokenizer,
///   preceded by Digits for SmolLM's "smollm" pre-tokenizer) and `tokenizer_config.json` with
///   the chat template;
/// * llama2.c source: its `tokenizer.bin` copied (the ModelOpt loader reads it when there is no
///   `tokenizer.json`). SentencePiece GGUF vocabularies are not supported yet.
enum TokenizerExport {
    static func write(_ model: LoadedModel, to directory: String) throws {
        let fm = FileManager.default
        func copy(_ from: String, _ name: String) throws {
            let to = directory + "/" + name
            if fm.fileExists(atPath: to) { try fm.removeItem(atPath: to) }
            try fm.copyItem(atPath: from, toPath: to)
        }
        let source = model.path
        if FileSystem.isDirectory(source) {
            try copy(source + "/tokenizer.json", "tokenizer.json")
            if fm.fileExists(atPath: source + "/tokenizer_config.json") { try copy(source + "/tokenizer_config.json", "tokenizer_config.json") }
            return
        }
        if let gguf = try? GGUFFile(path: source) {
            try writeGGUFTokenizer(gguf, to: directory)
            return
        }
        let dir = FileSystem.directory(of: source)
        let candidates = ["\(dir)/tokenizer.bin", "\(dir)/tok\(model.configuration.vocabSize).bin"]
        guard let tok = candidates.first(where: FileSystem.exists) else {
            throw ModelExportError("no llama2.c tokenizer beside \(source) (looked for \(candidates.joined(separator: ", ")))")
        }
        try copy(tok, "tokenizer.bin")
    }

    static func writeGGUFTokenizer(_ gguf: GGUFFile, to directory: String) throws {
        let meta = gguf.metadata
        guard meta["tokenizer.ggml.model"]?.stringValue == "gpt2",
              let tokens = meta["tokenizer.ggml.tokens"]?.arrayValue?.compactMap(\.stringValue),
              let merges = meta["tokenizer.ggml.merges"]?.arrayValue?.compactMap(\.stringValue) else {
            throw ModelExportError("\(gguf.path): only GPT-2 byte-level BPE vocabularies can be exported as tokenizer.json so far")
        }
        let types = meta["tokenizer.ggml.token_type"]?.arrayValue?.map { $0.intValue ?? 1 } ?? []
        var vocab: [String: Int] = [:]
        var added: [[String: Any]] = []
        for (id, piece) in tokens.enumerated() {
            if vocab[piece] == nil { vocab[piece] = id }
            let kind = id < types.count ? types[id] : 1
            if kind == Int(TokenKind.control.rawValue) || kind == Int(TokenKind.userDefined.rawValue) {
                added.append(["id": id, "content": piece, "special": kind == Int(TokenKind.control.rawValue),
                              "single_word": false, "lstrip": false, "rstrip": false, "normalized": false])
            }
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let pre: [String: Any] = meta["tokenizer.ggml.pre"]?.stringValue == "smollm"
            ? ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel]]
            : byteLevel
        let json: [String: Any] = [
            "version": "1.0", "added_tokens": added, "normalizer": NSNull(), "pre_tokenizer": pre,
            "post_processor": NSNull(), "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "fuse_unk": false,
                      "byte_fallback": false, "vocab": vocab, "merges": merges] as [String: Any],
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        guard FileManager.default.createFile(atPath: directory + "/tokenizer.json", contents: data) else {
            throw ModelExportError("cannot write \(directory)/tokenizer.json")
        }
        var config: [String: Any] = ["tokenizer_class": "GPT2Tokenizer",
                                     "add_bos_token": meta["tokenizer.ggml.add_bos_token"]?.boolValue ?? false]
        if let t = meta["tokenizer.chat_template"]?.stringValue { config["chat_template"] = t }
        if let b = meta["tokenizer.ggml.bos_token_id"]?.intValue, b < tokens.count { config["bos_token"] = tokens[b] }
        if let e = meta["tokenizer.ggml.eos_token_id"]?.intValue, e < tokens.count { config["eos_token"] = tokens[e] }
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        guard FileManager.default.createFile(atPath: directory + "/tokenizer_config.json", contents: configData) else {
            throw ModelExportError("cannot write \(directory)/tokenizer_config.json")
        }
    }
}
