import CVerbs
import Foundation

/// One RDMA adapter as `ibv_get_device_list` and `ibv_query_*` describe it.
public struct RDMADevice: Sendable, Codable, Equatable {
    /// One port of the adapter.
    public struct Port: Sendable, Codable, Equatable {
        public var number: Int
        /// `ibv_port_state_str`: "PORT_ACTIVE", "PORT_DOWN"...
        public var state: String
        /// "InfiniBand", "Ethernet" (RoCE) or "unspecified".
        public var linkLayer: String
        /// Active MTU in bytes.
        public var activeMTU: Int
        /// Non-zero entries of the GID table, "index: gid".
        public var gids: [String]

        public var isActive: Bool { state == "PORT_ACTIVE" }
    }

    public var name: String
    /// Node GUID, hexadecimal.
    public var nodeGUID: String
    public var ports: [Port]
}

/// What the RDMA probe found: usable devices, or why there are none.
public enum RDMAProbeResult: Sendable, Equatable {
    case available([RDMADevice])
    case unavailable(reason: String)
}

/// Looks for RDMA devices through libibverbs. On a host whose kernel has no RDMA support
/// `ibv_get_device_list` fails with ENOSYS; that and every other failure becomes a reason in words.
public enum RDMAProbe {
    /// Lists devices with their ports and GID tables; never throws.
    public static func probe() -> RDMAProbeResult {
        tandem_clear_errno()
        var count: Int32 = 0
        guard let list = ibv_get_device_list(&count) else {
            return .unavailable(reason: reasonForDeviceListFailure(errno: tandem_errno()))
        }
        defer { ibv_free_device_list(list) }
        guard count > 0 else {
            return .unavailable(reason: "no RDMA devices found (ibv_get_device_list returned an empty list)")
        }
        var devices: [RDMADevice] = []
        var failures: [String] = []
        for index in 0..<Int(count) {
            guard let device = list[index] else { continue }
            switch describe(device) {
            case .success(let description): devices.append(description)
            case .failure(let reason): failures.append("\(reason)")
            }
        }
        guard !devices.isEmpty else {
            return .unavailable(reason: "no RDMA device could be opened: " + failures.joined(separator: "; "))
        }
        return .available(devices)
    }

    /// The reason text for a failed `ibv_get_device_list` with `errno`.
    public static func reasonForDeviceListFailure(errno code: Int32) -> String {
        let text = String(cString: strerror(code))
        switch code {
        case ENOSYS: return "the kernel has no RDMA support (ibv_get_device_list: \(text))"
        case EPERM, EACCES: return "no permission to use the RDMA devices (ibv_get_device_list: \(text))"
        case 0: return "ibv_get_device_list failed without a reason"
        default: return "ibv_get_device_list failed (\(text))"
        }
    }

    private static func describe(_ device: UnsafeMutablePointer<ibv_device>) -> Result<RDMADevice, Error> {
        let name = String(cString: ibv_get_device_name(device))
        let guid = String(format: "%016llx", UInt64(bigEndian: ibv_get_device_guid(device)))
        tandem_clear_errno()
        guard let context = ibv_open_device(device) else {
            return .failure(Failure("\(name): ibv_open_device: \(String(cString: strerror(tandem_errno())))"))
        }
        defer { ibv_close_device(context) }
        var attributes = ibv_device_attr()
        let code = ibv_query_device(context, &attributes)
        guard code == 0 else {
            return .failure(Failure("\(name): ibv_query_device: \(String(cString: strerror(code)))"))
        }
        let ports = (1...max(Int(attributes.phys_port_cnt), 1)).compactMap { describePort(context, UInt8($0)) }
        return .success(RDMADevice(name: name, nodeGUID: guid, ports: ports))
    }

    private static func describePort(_ context: UnsafeMutablePointer<ibv_context>, _ number: UInt8) -> RDMADevice.Port? {
        var attributes = ibv_port_attr()
        guard tandem_ibv_query_port(context, number, &attributes) == 0 else { return nil }
        let linkLayer = switch Int(attributes.link_layer) {
        case Int(IBV_LINK_LAYER_INFINIBAND): "InfiniBand"
        case Int(IBV_LINK_LAYER_ETHERNET): "Ethernet"
        default: "unspecified"
        }
        var gids: [String] = []
        for index in 0..<min(Int(attributes.gid_tbl_len), 256) {
            var gid = ibv_gid()
            guard ibv_query_gid(context, number, Int32(index), &gid) == 0 else { continue }
            let bytes = withUnsafeBytes(of: gid.raw) { Array($0) }
            guard bytes.contains(where: { $0 != 0 }) else { continue }
            let groups = stride(from: 0, to: 16, by: 2).map { String(format: "%02x%02x", bytes[$0], bytes[$0 + 1]) }
            gids.append("\(index): " + groups.joined(separator: ":"))
        }
        return RDMADevice.Port(number: Int(number), state: String(cString: ibv_port_state_str(attributes.state)),
                               linkLayer: linkLayer, activeMTU: 128 << Int(attributes.active_mtu.rawValue),
                               gids: gids)
    }

    private struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
