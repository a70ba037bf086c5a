import TandemCore
import TandemKernels

/// A model ready to run: weights, tokenizer, chat template (if the model has one).
public struct LoadedModel: Sendable {
    public let model: LlamaModel
    public let tokenizer: any Tokenizer
    public let chatTemplate: ChatTemplate?
    /// Why the checkpoint's own chat template is not the one in use (it could not be parsed), in
    /// words for a log line; nil when there is nothing to say.
    public var chatTemplateProblem: String? = nil
    /// The checkpoint's path, as given.
    public let path: String
    /// A short description of the format ("GGUF v3 Q4_1", "llama2.c FP32", ...).
    public let formatDescription: String

    public var configuration: ModelConfiguration { model.configuration }
}

/// Opens any supported checkpoint by looking at the path: a `.gguf` file, a llama2.c `.bin`
/// (with `tok512.bin`-style `tokenizer.bin` beside it or given), or a Hugging Face directory
/// with `config.json`, `*.safetensors` and `tokenizer.json`.
public enum ModelLoader {
    public static func load(path: String, tokenizerPath: String? = nil) throws -> LoadedModel {
        if path.hasSuffix(".gguf") { return try loadGGUF(path: path) }
        if FileSystem.isDirectory(path) {
            if ModelOptCheckpoint.isCheckpoint(directory: path) { return try ModelOptCheckpoint.load(directory: path) }
            return try SafetensorsModel.load(directory: path)
        }
        if path.hasSuffix(".bin") { return try loadLlama2C(path: path, tokenizerPath: tokenizerPath) }
        // Sniff the magic for files without a telling extension.
        let f = try MappedFile(path: path)
        if f.size >= 4, f.base.loadUnaligned(as: UInt32.self) == 0x4655_4747 { return try loadGGUF(path: path) }
        throw ModelLoadError(.badMagic, file: path, place: "byte 0",
                             "not a recognised model: expected a .gguf file, a llama2.c .bin checkpoint, or a directory with config.json + *.safetensors")
    }

    public static func loadGGUF(path: String) throws -> LoadedModel {
        let gguf = try GGUFFile(path: path)
        let config = try gguf.llamaConfiguration()
        let weights = try LlamaWeights.load(from: gguf, names: config.architecture == "gpt-oss" ? .ggufGPTOSS : .gguf, config: config)
        let tokenizer = try gguf.tokenizer()
        var template: ChatTemplate?, problem: String?
        let jinja = gguf.metadata["tokenizer.chat_template"]?.stringValue
        if let jinja { (template, problem) = ChatTemplate.fromModelReporting(jinja: jinja, tokenizer: tokenizer) }
        let types = Set(gguf.tensors.values.compactMap { GGUFFile.dtype(ggmlType: $0.ggmlType)?.rawValue }).sorted()
        return LoadedModel(model: LlamaModel(configuration: config, weights: weights), tokenizer: tokenizer,
                           chatTemplate: template, chatTemplateProblem: problem.map { "\(path): tokenizer.chat_template: \($0)" },
                           path: path, formatDescription: "GGUF v\(gguf.version) (\(types.joined(separator: ", ")))")
    }

    public static func loadLlama2C(path: String, tokenizerPath: String?) throws -> LoadedModel {
        let ckpt = try Llama2CCheckpoint(path: path)
        let config = ckpt.configuration
        let weights = try LlamaWeights.load(from: ckpt, names: .gguf, config: config)
        let dir = FileSystem.directory(of: path)
        let candidates = tokenizerPath.map { [$0] } ?? ["\(dir)/tokenizer.bin", "\(dir)/tok\(config.vocabSize).bin"]
        guard let tokPath = candidates.first(where: FileSystem.exists) else {
            throw ModelLoadError(.cannotOpen, file: path, place: "tokenizer",
                                 "no llama2.c tokenizer found (looked for \(candidates.joined(separator: ", "))); pass --tokenizer PATH")
        }
        let tokenizer = try Llama2CTokenizerFile.load(path: tokPath, vocabSize: config.vocabSize)
        return LoadedModel(model: LlamaModel(configuration: config, weights: weights), tokenizer: tokenizer,
                           chatTemplate: nil, path: path, formatDescription: "llama2.c (f32)")
    }
}
