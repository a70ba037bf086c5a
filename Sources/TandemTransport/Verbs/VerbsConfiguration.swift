/// Where and how two ranks connect their verbs queue pair (through librdmacm).
public struct VerbsConfiguration: Sendable {
    /// 0 listens on `address:port`, 1 connects to it.
    public var rank: Int
    /// IPv4 address of rank 0 on the RDMA-capable interface (RoCE or IPoIB).
    public var address: String
    public var port: UInt16
    /// Bytes per slot: the largest chunk one round carries (two send and two receive slots are
    /// registered).
    public var slotCapacity: Int
    /// Longest wait for the peer to connect or accept.
    public var connectTimeout: Duration
    public var polling: VerbsCommunicator.Polling

    public init(rank: Int, address: String, port: UInt16 = 18515, slotCapacity: Int = 1 << 20,
                connectTimeout: Duration = .seconds(30), polling: VerbsCommunicator.Polling = .init()) {
        self.rank = rank
        self.address = address
        self.port = port
        self.slotCapacity = slotCapacity
        self.connectTimeout = connectTimeout
        self.polling = polling
    }
}
