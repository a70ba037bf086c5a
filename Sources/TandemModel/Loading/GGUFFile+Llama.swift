import TandemCore
import TandemKernels

extension GGUFFile: TensorSource {}

extension GGUFFile {
    func require(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "required metadata key \"\(key)\" is missing")
        }
        return v
    }

    func requireInt(_ key: String) throws -> Int {
        guard let v = try require(key).intValue else {
            throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "\"\(key)\" must be an integer")
        }
        return v
    }

    /// The architectures the forward pass implements.
    public static let supportedArchitectures = ["llama"]

    /// The model configuration from `general.architecture` and its hyper-parameter keys.
    public func llamaConfiguration() throws -> ModelConfiguration {
        guard let arch = metadata["general.architecture"]?.stringValue else {
            throw ModelLoadError(.badMetadata, file: path, place: "key general.architecture", "required key is missing")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw ModelLoadError(.unknownArchitecture, file: path, place: "key general.architecture",
                                 "architecture \"\(arch)\" is not supported (supported: \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        let heads = try requireInt("\(arch).attention.head_count")
        let vocab = metadata["\(arch).vocab_size"]?.intValue
            ?? metadata["tokenizer.ggml.tokens"]?.arrayValue?.count
            ?? tensors["token_embd.weight"]?.dims.last ?? 0
        let config = ModelConfiguration(
            architecture: arch,
            dim: try requireInt("\(arch).embedding_length"),
            hiddenDim: try requireInt("\(arch).feed_forward_length"),
            layerCount: try requireInt("\(arch).block_count"),
            headCount: heads,
            kvHeadCount: metadata["\(arch).attention.head_count_kv"]?.intValue ?? heads,
            vocabSize: vocab,
            contextLength: metadata["\(arch).context_length"]?.intValue ?? 2048,
            ropeTheta: Float(metadata["\(arch).rope.freq_base"]?.doubleValue ?? 10000),
            rmsNormEpsilon: Float(metadata["\(arch).attention.layer_norm_rms_epsilon"]?.doubleValue ?? 1e-5),
            ropeStyle: .interleaved,
            tiedEmbeddings: tensors["output.weight"] == nil)
        if let problem = config.validationProblem() {
            throw ModelLoadError(.badMetadata, file: path, place: "\(arch).* hyper-parameters", problem)
        }
        return config
    }
}
