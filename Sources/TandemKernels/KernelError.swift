/// What the kernel layer could not do, with a message an operator can act on.
public struct KernelError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A matrix cannot be converted to the requested format (its shape, or the format).
        case unsupportedConversion
        /// The kernel thread count could not be set.
        case threads
        /// A GEMV path this CPU cannot run.
        case unsupportedPath
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
