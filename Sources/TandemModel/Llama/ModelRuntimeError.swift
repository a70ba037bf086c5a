import TandemCore

/// Errors of running a model on input the caller supplied.
public enum ModelRuntimeError: Error, CustomStringConvertible, Sendable, Equatable {
    case tokenOutOfRange(token: TokenID, vocabSize: Int)
    case contextFull(limit: Int)
    /// A forward pass asked for logits returned none (only rank 0 of a group receives them).
    case noLogits

    public var description: String {
        switch self {
        case .tokenOutOfRange(let t, let v): "token id \(t) is outside the vocabulary (0..<\(v))"
        case .contextFull(let n): "the sequence reached the context limit of \(n) positions"
        case .noLogits: "the forward pass returned no logits (only rank 0 of a tensor-parallel group receives them)"
        }
    }
}
