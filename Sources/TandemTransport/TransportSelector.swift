import Logging

/// Which transport a deployment asks for (topology file, `--transport`).
public enum TransportPreference: String, Sendable, Codable, CaseIterable {
    /// MPI only.
    case mpi
    /// RDMA verbs if this host can, else MPI (`--transport auto`).
    case rdmaPreferred = "rdma-preferred"
    /// RDMA verbs or nothing (`--transport rdma`).
    case rdmaRequired = "rdma-required"

    /// Parses the CLI spellings ("mpi", "auto", "rdma") and the topology spellings (raw values).
    public init?(argument: String) {
        switch argument.lowercased() {
        case "mpi": self = .mpi
        case "auto", "rdma-preferred", "preferred": self = .rdmaPreferred
        case "rdma", "verbs", "rdma-required", "required": self = .rdmaRequired
        default: return nil
        }
    }
}

/// The transport chosen for a deployment, and why.
public enum TransportDecision: Sendable, Equatable {
    /// RDMA verbs on `device`.
    case rdma(device: RDMADevice, port: Int)
    /// MPI; `fallbackReason` says why RDMA was not used when it was preferred.
    case mpi(fallbackReason: String?)

    /// "rdma" or "mpi", as `Communicator.transportName` will say.
    public var transportName: String {
        switch self {
        case .rdma: "rdma"
        case .mpi: "mpi"
        }
    }
}

/// Chooses between RDMA verbs and MPI from the preference, the RDMA probe and the group size.
///
/// Pure: the probe result is an input (`RDMAProbe.probe()` in production, any value in tests).
/// The verbs transport joins exactly two ranks over an active port.
public enum TransportSelector {
    public static func select(preference: TransportPreference, probe: RDMAProbeResult,
                              ranks: Int) throws(TransportError) -> TransportDecision {
        if preference == .mpi { return .mpi(fallbackReason: nil) }
        switch usableRDMA(probe: probe, ranks: ranks) {
        case .success(let (device, port)):
            return .rdma(device: device, port: port)
        case .failure(let reason):
            if preference == .rdmaRequired {
                throw .rdmaUnavailable("RDMA is required, but \(reason.text)")
            }
            return .mpi(fallbackReason: reason.text)
        }
    }

    /// `select`, logging a fallback to MPI at warning level with the reason.
    public static func select(preference: TransportPreference, probe: RDMAProbeResult, ranks: Int,
                              logger: Logger) throws(TransportError) -> TransportDecision {
        do {
            let decision = try select(preference: preference, probe: probe, ranks: ranks)
            switch decision {
            case .mpi(let reason?):
                logger.warning("RDMA preferred but not usable; falling back to MPI",
                               metadata: ["reason": "\(reason)", "preference": "\(preference.rawValue)"])
            case .mpi(nil):
                logger.debug("transport: MPI", metadata: ["preference": "\(preference.rawValue)"])
            case .rdma(let device, let port):
                logger.info("transport: RDMA verbs", metadata: ["device": "\(device.name)", "port": "\(port)"])
            }
            return decision
        } catch {
            logger.error("RDMA required but not usable", metadata: ["reason": "\(error.message)"])
            throw error
        }
    }

    private struct Reason: Error { var text: String }

    private static func usableRDMA(probe: RDMAProbeResult, ranks: Int) -> Result<(RDMADevice, Int), Reason> {
        switch probe {
        case .unavailable(let reason):
            return .failure(Reason(text: reason))
        case .available(let devices):
            guard ranks == 2 else {
                return .failure(Reason(text: "the RDMA verbs transport joins exactly 2 ranks, this group has \(ranks)"))
            }
            for device in devices {
                if let port = device.ports.first(where: \.isActive) { return .success((device, port.number)) }
            }
            let names = devices.map(\.name).joined(separator: ", ")
            return .failure(Reason(text: "no RDMA device has an active port (\(names))"))
        }
    }
}
