import CTandemKernels

/// What the kernel layer could not do, with a message an operator can act on.
public struct KernelError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A matrix cannot be converted to the requested format (its shape, or the format).
        case unsupportedConversion
        /// The kernel thread count could not be set.
        case threads
        /// A GEMV path this CPU cannot run.
        case unsupportedPath
        /// A weight format the kernels have no code for (the message names it).
        case unsupportedFormat
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// What a kernel's int status means (TK_OK, TK_ERR_INVALID, TK_ERR_UNSUPPORTED_TYPE: tandem_kernels.h).
    static func describe(status: Int32) -> String {
        switch status {
        case TK_OK: "ok"
        case TK_ERR_INVALID: "bad shape or pointer"
        case TK_ERR_UNSUPPORTED_TYPE: "no kernel for this format"
        default: "status \(status)"
        }
    }
}
