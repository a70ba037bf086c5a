/// The one error type of `TandemEngineCore`: every condition a caller's input can cause, with a
/// code to branch on and a message for people.
///
/// A struct over a private enum (the swift-nio pattern) so codes can be added without breaking
/// exhaustive switches in other modules.
public struct EngineCoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a value callers compare against (`error.code == .overCapacity`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case overCapacity = "over_capacity"
            case promptTooLong = "prompt_too_long"
            case requestTooLarge = "request_too_large"
            case duplicateRequest = "duplicate_request"
            case invalidRequest = "invalid_request"
            case invalidConfiguration = "invalid_configuration"
            case outOfBlocks = "out_of_blocks"
            case unknownSequence = "unknown_sequence"
            case invalidSlotRange = "invalid_slot_range"
            case emptyLogits = "empty_logits"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The waiting queue is full; retry later (maps to HTTP 429/503).
        public static let overCapacity = Code(.overCapacity)
        /// The prompt leaves no room for a single generated token within the model's context.
        public static let promptTooLong = Code(.promptTooLong)
        /// The request could never fit in the KV block pool, even alone.
        public static let requestTooLarge = Code(.requestTooLarge)
        /// A request with this id is already queued or running.
        public static let duplicateRequest = Code(.duplicateRequest)
        /// A field of the request is out of range (empty prompt, non-positive max tokens).
        public static let invalidRequest = Code(.invalidRequest)
        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// Not enough free or evictable KV blocks for the allocation.
        public static let outOfBlocks = Code(.outOfBlocks)
        /// No block table exists for the sequence.
        public static let unknownSequence = Code(.unknownSequence)
        /// The positions to write leave a gap or conflict with the sequence's table.
        public static let invalidSlotRange = Code(.invalidSlotRange)
        /// The sampler was given no logits.
        public static let emptyLogits = Code(.emptyLogits)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
