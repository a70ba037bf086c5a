import Logging

/// Picks a deployment's communicator on top of the MPI world: RDMA verbs when the preference
/// allows it and every rank can use it, else the MPI world itself. Shared by `serve` and
/// `comm-check`.
public enum TransportBootstrap {
    /// The chosen communicator and, in words, what it is or why RDMA was not used
    /// ("rdma mlx5_0 port 1", "mpi (RDMA not used: no RDMA device)").
    public struct Choice {
        public init(communicator: any Communicator, detail: String, fallbackReason: String?) {
            self.communicator = communicator
            self.detail = detail
            self.fallbackReason = fallbackReason
        }

        public var communicator: any Communicator
        public var detail: String
        /// Why RDMA was not used although it was preferred (nil otherwise).
        public var fallbackReason: String?
    }

    /// Every rank must call it (collective on `world`). Every rank must agree on RDMA, so a rank that cannot use it makes every rank fall back.
    public static func choose(world: MPICommunicator, preference: TransportPreference, rdmaAddress: String?,
                              rdmaPort: UInt16, logger: Logger) throws -> Choice {
        var probe = preference == .mpi ? RDMAProbeResult.unavailable(reason: "not probed") : RDMAProbe.probe()
        if preference == .rdmaPreferred, rdmaAddress == nil, case .available = probe {
            probe = .unavailable(reason: "no --rdma-address (rank 0's address on the RDMA interface) was given")
        }
        if preference != .mpi {
            let usableHere = (try? TransportSelector.select(preference: .rdmaRequired, probe: probe, ranks: world.size)) != nil
            var unusable = [Float(usableHere ? 0 : 1)]
            try world.allReduceSum(&unusable)
            if usableHere, unusable[0] > 0 {
                probe = .unavailable(reason: "\(Int(unusable[0])) of \(world.size) ranks cannot use RDMA")
            }
        }
        let decision = try TransportSelector.select(preference: preference, probe: probe, ranks: world.size, logger: logger)
        switch decision {
        case .mpi(let reason):
            let detail = reason.map { "mpi (RDMA not used: \($0))" } ?? "mpi (transport mpi requested)"
            return Choice(communicator: world, detail: detail, fallbackReason: reason)
        case .rdma(let device, let port):
            guard let rdmaAddress else {
                throw TransportError.invalidArgument("the verbs transport needs --rdma-address (rank 0's address on the RDMA interface)")
            }
            let configuration = VerbsConfiguration(rank: world.rank, address: rdmaAddress, port: rdmaPort)
            return Choice(communicator: try VerbsCommunicator.connect(configuration, probe: probe, logger: logger),
                          detail: "rdma \(device.name) port \(port)", fallbackReason: nil)
        }
    }
}
