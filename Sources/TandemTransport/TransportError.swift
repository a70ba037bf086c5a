/// Errors of the transport layer: what failed, in words a person can act on, and a `kind` to
/// match on. A struct over named kinds (not an enum) so kinds can be added later.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What category of failure this is.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A call was made with arguments no transport accepts (bad root, short buffer...).
        public static let invalidArgument = Kind("invalid argument")
        /// Ranks issued different collectives or different sizes.
        public static let mismatch = Kind("mismatch between ranks")
        /// The MPI library returned an error code.
        public static let mpi = Kind("MPI error")
        /// MPI was finalized; no communicator can be used any more in this process.
        public static let finalized = Kind("MPI finalized")
        /// RDMA verbs cannot be used on this host (no device, no kernel support...).
        public static let rdmaUnavailable = Kind("RDMA unavailable")
        /// A verbs call or a work completion failed.
        public static let verbs = Kind("verbs error")
        /// The peer broke the exchange protocol (unexpected sequence number, oversized write).
        public static let protocolViolation = Kind("protocol violation")
        /// A peer did not answer within the configured time.
        public static let timedOut = Kind("timed out")
        /// An earlier failure left the group unusable (an in-process rank timed out...).
        public static let groupBroken = Kind("group broken")
    }

    public let kind: Kind
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }

    static func invalidArgument(_ message: String) -> TransportError { .init(kind: .invalidArgument, message: message) }
    static func mismatch(_ message: String) -> TransportError { .init(kind: .mismatch, message: message) }
    static func timedOut(_ message: String) -> TransportError { .init(kind: .timedOut, message: message) }
    static func protocolViolation(_ message: String) -> TransportError { .init(kind: .protocolViolation, message: message) }
    static func verbs(_ message: String) -> TransportError { .init(kind: .verbs, message: message) }
    static func rdmaUnavailable(_ message: String) -> TransportError { .init(kind: .rdmaUnavailable, message: message) }
    static func groupBroken(_ message: String) -> TransportError { .init(kind: .groupBroken, message: message) }
}
