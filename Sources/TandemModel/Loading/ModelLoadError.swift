/// Why a checkpoint or tokenizer file could not be loaded: always names the file, the place in
/// it and what was expected, so an operator can fix it.
public struct ModelLoadError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case cannotOpen, truncated, badMagic, unsupportedVersion, unknownTensorType, unknownArchitecture,
             missingTensor, shapeMismatch, badMetadata, unknownTokenizer, unknownChatTemplate
    }
    public let kind: Kind
    public let file: String
    /// Where in the file: a byte offset, a tensor or key name.
    public let place: String
    public let message: String

    public init(_ kind: Kind, file: String, place: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.place = place
        self.message = message
    }

    public var description: String { "\(file): \(place): \(message)" }
}
