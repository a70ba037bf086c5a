import Logging

extension VerbsCommunicator {
    /// Connects to the peer over librdmacm and returns the pair's communicator. Checks first that
    /// this host has an RDMA device (`RDMAProbe`), so a host without one fails at once with the
    /// reason instead of a connection-manager error.
    public static func connect(_ configuration: VerbsConfiguration, probe: RDMAProbeResult = RDMAProbe.probe(),
                               logger: Logger) throws -> VerbsCommunicator {
        if case .unavailable(let reason) = probe { throw TransportError.rdmaUnavailable(reason) }
        logger.info("connecting verbs queue pair", metadata: [
            "rank": "\(configuration.rank)", "address": "\(configuration.address):\(configuration.port)",
            "slot_bytes": "\(configuration.slotCapacity)",
        ])
        let operations = try IBVerbsOperations.prepare(configuration)
        // The communicator posts its receives here, before the peer can write.
        let communicator = try VerbsCommunicator(rank: configuration.rank, operations: operations,
                                                 polling: configuration.polling, onClose: { operations.close() })
        try operations.establish()
        logger.info("verbs queue pair established", metadata: ["rank": "\(configuration.rank)"])
        return communicator
    }
}
