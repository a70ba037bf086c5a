import Logging
import Testing
@testable import TandemTransport

@Suite("TransportSelector")
struct TransportSelectorTests {
    static let noKernelSupport = RDMAProbeResult.unavailable(reason: RDMAProbe.reasonForDeviceListFailure(errno: 38))
    static let activeDevice = RDMAProbeResult.available([RDMADevice(
        name: "mlx5_0", nodeGUID: "0001", ports: [
            .init(number: 1, state: "PORT_DOWN", linkLayer: "Ethernet", activeMTU: 1024, gids: []),
            .init(number: 2, state: "PORT_ACTIVE", linkLayer: "Ethernet", activeMTU: 4096, gids: ["0: fe80:0000:0000:0000:0000:0000:0000:0001"]),
        ])])

    @Test("mpi is chosen when asked for, whatever the probe says")
    func mpiPreference_choosesMPI() throws {
        #expect(try TransportSelector.select(preference: .mpi, probe: Self.activeDevice, ranks: 2) == .mpi(fallbackReason: nil))
    }

    @Test("rdma preferred uses an active port of a device")
    func rdmaPreferred_withDevice_choosesRDMA() throws {
        let decision = try TransportSelector.select(preference: .rdmaPreferred, probe: Self.activeDevice, ranks: 2)
        guard case .rdma(let device, let port) = decision else { Issue.record("\(decision)"); return }
        #expect(device.name == "mlx5_0")
        #expect(port == 2)
        #expect(decision.transportName == "rdma")
    }

    @Test("rdma preferred falls back to MPI with the probe's reason")
    func rdmaPreferred_withoutDevice_fallsBackWithReason() throws {
        let decision = try TransportSelector.select(preference: .rdmaPreferred, probe: Self.noKernelSupport, ranks: 2,
                                                    logger: Logger(label: "test"))
        #expect(decision == .mpi(fallbackReason: "the kernel has no RDMA support (ibv_get_device_list: Function not implemented)"))
    }

    @Test("rdma required without a device is an error naming the reason")
    func rdmaRequired_withoutDevice_throwsReason() {
        let error = #expect(throws: TransportError.self) {
            try TransportSelector.select(preference: .rdmaRequired, probe: Self.noKernelSupport, ranks: 2)
        }
        #expect(error?.kind == .rdmaUnavailable)
        #expect(error?.message.contains("Function not implemented") == true)
    }

    @Test("the verbs transport needs exactly two ranks and an active port")
    func rdma_needsTwoRanksAndActivePort() throws {
        let three = try TransportSelector.select(preference: .rdmaPreferred, probe: Self.activeDevice, ranks: 3)
        #expect(three == .mpi(fallbackReason: "the RDMA verbs transport joins exactly 2 ranks, this group has 3"))
        let down = RDMAProbeResult.available([RDMADevice(name: "rxe0", nodeGUID: "0", ports: [
            .init(number: 1, state: "PORT_DOWN", linkLayer: "Ethernet", activeMTU: 1024, gids: []),
        ])])
        #expect(throws: TransportError.self) { try TransportSelector.select(preference: .rdmaRequired, probe: down, ranks: 2) }
    }

    @Test("CLI and topology spellings parse")
    func preference_parsesSpellings() {
        #expect(TransportPreference(argument: "auto") == .rdmaPreferred)
        #expect(TransportPreference(argument: "rdma") == .rdmaRequired)
        #expect(TransportPreference(argument: "rdma-required") == .rdmaRequired)
        #expect(TransportPreference(argument: "MPI") == .mpi)
        #expect(TransportPreference(argument: "tcp") == nil)
    }
}

@Suite("RDMAProbe")
struct RDMAProbeTests {
    @Test("errno values become reasons in words")
    func reasons_nameTheCause() {
        #expect(RDMAProbe.reasonForDeviceListFailure(errno: 38)
            == "the kernel has no RDMA support (ibv_get_device_list: Function not implemented)")
        #expect(RDMAProbe.reasonForDeviceListFailure(errno: 13).hasPrefix("no permission"))
    }

    @Test("the probe answers on this host without throwing, with a reason when there is no device")
    func probe_answers() {
        switch RDMAProbe.probe() {
        case .available(let devices):
            #expect(!devices.isEmpty)
        case .unavailable(let reason):
            #expect(!reason.isEmpty)
            print("RDMA probe on this host: unavailable: \(reason)")
        }
    }
}
