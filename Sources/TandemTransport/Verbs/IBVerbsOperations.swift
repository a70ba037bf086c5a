import CRDMACM
import CVerbs
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `VerbsOperations` on a real adapter: a reliable-connected queue pair set up by librdmacm,
/// one completion queue, and registered double-buffered send and receive slots. The peer's
/// receive-buffer address and key travel in the connection's private data.
///
/// Not yet run against hardware: this host has no RDMA device (see cluster/README.md).
/// Setup is in two steps so that receives are posted before the peer can write:
/// `prepare` (resources, and on rank 0 the peer's connect request), then `establish`.
public final class IBVerbsOperations: VerbsOperations, @unchecked Sendable {
    public let slotCapacity: Int
    public var slotCount: Int { VerbsAllReduceProtocol.slotCount }

    private let configuration: VerbsConfiguration
    private var channel: UnsafeMutablePointer<rdma_event_channel>?
    private var listenID: UnsafeMutablePointer<rdma_cm_id>?
    private var id: UnsafeMutablePointer<rdma_cm_id>?
    private var protectionDomain: UnsafeMutablePointer<ibv_pd>?
    private var completionQueue: UnsafeMutablePointer<ibv_cq>?
    private var sendRegion: UnsafeMutablePointer<ibv_mr>?
    private var receiveRegion: UnsafeMutablePointer<ibv_mr>?
    private let sendMemory: UnsafeMutableRawPointer     // (slotCount, slotCapacity) bytes
    private let receiveMemory: UnsafeMutableRawPointer  // (slotCount, slotCapacity) bytes
    private var peer: ConnectionPrivateData?
    private var workCompletions: [ibv_wc]
    private var connected = false

    private init(configuration: VerbsConfiguration) {
        self.configuration = configuration
        slotCapacity = configuration.slotCapacity
        let bytes = configuration.slotCapacity * VerbsAllReduceProtocol.slotCount
        sendMemory = .allocate(byteCount: bytes, alignment: 4096)
        receiveMemory = .allocate(byteCount: bytes, alignment: 4096)
        workCompletions = Array(repeating: ibv_wc(), count: 16)
    }

    deinit {
        close()
        sendMemory.deallocate()
        receiveMemory.deallocate()
    }

    /// Creates the event channel and the queue pair with its buffers; rank 0 also waits for the
    /// peer's connect request. Post the receives, then call `establish()`.
    public static func prepare(_ configuration: VerbsConfiguration) throws -> IBVerbsOperations {
        guard configuration.rank == 0 || configuration.rank == 1 else {
            throw TransportError.invalidArgument("a verbs pair has ranks 0 and 1, not \(configuration.rank)")
        }
        guard configuration.slotCapacity >= 16, configuration.slotCapacity <= Int(UInt32.max) else {
            throw TransportError.invalidArgument("slot capacity \(configuration.slotCapacity) out of range")
        }
        let operations = IBVerbsOperations(configuration: configuration)
        try operations.openChannel()
        if configuration.rank == 0 { try operations.acceptRequest() } else { try operations.resolvePeer() }
        return operations
    }

    /// Accepts (rank 0) or connects (rank 1) and waits until the connection is established.
    public func establish() throws {
        guard let id else { throw TransportError.verbs("establish() before prepare()") }
        var mine = ConnectionPrivateData(address: UInt64(UInt(bitPattern: receiveMemory)),
                                         key: receiveRegion!.pointee.rkey, slotCapacity: UInt32(slotCapacity)).encoded()
        try mine.withUnsafeMutableBytes { bytes in
            var parameters = rdma_conn_param()
            parameters.private_data = UnsafeRawPointer(bytes.baseAddress)
            parameters.private_data_len = UInt8(bytes.count)
            parameters.responder_resources = 1
            parameters.initiator_depth = 1
            parameters.retry_count = 7
            parameters.rnr_retry_count = 7  // 7: retry forever while the peer has no receive posted
            if configuration.rank == 0 {
                try check(rdma_accept(id, &parameters), "rdma_accept")
            } else {
                try check(rdma_connect(id, &parameters), "rdma_connect")
            }
        }
        let established = try waitForEvent(RDMA_CM_EVENT_ESTABLISHED, "connection established")
        if configuration.rank == 1 { peer = try checkedPeer(established.privateData) }
        connected = true
    }

    // MARK: VerbsOperations

    public func sendSlot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: sendMemory + index * slotCapacity, count: slotCapacity)
    }

    public func receiveSlot(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: receiveMemory + index * slotCapacity, count: slotCapacity)
    }

    public func postWriteWithImmediate(slot: Int, length: Int, immediate: UInt32, workRequestID: UInt64) throws {
        guard let queuePair = id?.pointee.qp, let peer, let sendRegion else {
            throw TransportError.verbs("write posted before the connection was established")
        }
        var scatter = ibv_sge(addr: UInt64(UInt(bitPattern: sendMemory + slot * slotCapacity)),
                              length: UInt32(length), lkey: sendRegion.pointee.lkey)
        var request = ibv_send_wr()
        request.wr_id = workRequestID
        request.opcode = IBV_WR_RDMA_WRITE_WITH_IMM
        request.send_flags = IBV_SEND_SIGNALED.rawValue
        request.imm_data = immediate.bigEndian
        request.wr.rdma.remote_addr = peer.address + UInt64(slot * Int(peer.slotCapacity))
        request.wr.rdma.rkey = peer.key
        var bad: UnsafeMutablePointer<ibv_send_wr>?
        let code = withUnsafeMutablePointer(to: &scatter) { scatterPointer in
            request.sg_list = scatterPointer
            request.num_sge = length > 0 ? 1 : 0
            return ibv_post_send(queuePair, &request, &bad)
        }
        guard code == 0 else { throw TransportError.verbs("ibv_post_send: \(String(cString: strerror(code)))") }
    }

    public func postReceive(workRequestID: UInt64) throws {
        guard let queuePair = id?.pointee.qp else { throw TransportError.verbs("receive posted before the queue pair exists") }
        var request = ibv_recv_wr()
        request.wr_id = workRequestID
        request.num_sge = 0
        var bad: UnsafeMutablePointer<ibv_recv_wr>?
        let code = ibv_post_recv(queuePair, &request, &bad)
        guard code == 0 else { throw TransportError.verbs("ibv_post_recv: \(String(cString: strerror(code)))") }
    }

    @discardableResult
    public func pollCompletions(into completions: inout [VerbsCompletion], maximum: Int) throws -> Int {
        guard let completionQueue else { throw TransportError.verbs("poll before the completion queue exists") }
        let wanted = Int32(min(maximum, workCompletions.count))
        let count = workCompletions.withUnsafeMutableBufferPointer { ibv_poll_cq(completionQueue, wanted, $0.baseAddress) }
        guard count >= 0 else { throw TransportError.verbs("ibv_poll_cq failed (\(count))") }
        for index in 0..<Int(count) {
            completions.append(Self.completion(workCompletions[index]))
        }
        return Int(count)
    }

    private static func completion(_ wc: ibv_wc) -> VerbsCompletion {
        guard wc.status == IBV_WC_SUCCESS else {
            // On error the opcode is undefined; the protocol only needs the failure.
            return VerbsCompletion(workRequestID: wc.wr_id, event: .writeCompleted,
                                   failure: String(cString: ibv_wc_status_str(wc.status)))
        }
        if wc.opcode == IBV_WC_RECV_RDMA_WITH_IMM {
            return VerbsCompletion(workRequestID: wc.wr_id, event: .receivedWriteWithImmediate(
                immediate: UInt32(bigEndian: wc.imm_data), byteLength: Int(wc.byte_len)))
        }
        return VerbsCompletion(workRequestID: wc.wr_id, event: .writeCompleted)
    }

    // MARK: Connection setup

    private func openChannel() throws {
        tandem_clear_errno()
        guard let channel = rdma_create_event_channel() else {
            throw TransportError.rdmaUnavailable("rdma_create_event_channel: \(Self.errnoText())")
        }
        self.channel = channel
        let flags = fcntl(channel.pointee.fd, F_GETFL)
        _ = fcntl(channel.pointee.fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// Rank 0: listen on the configured address and take the peer's connect request.
    private func acceptRequest() throws {
        var listening: UnsafeMutablePointer<rdma_cm_id>?
        try check(rdma_create_id(channel, &listening, nil, RDMA_PS_TCP), "rdma_create_id")
        listenID = listening
        var address = try socketAddress()
        try withUnsafeMutableBytes(of: &address) { raw in
            try check(rdma_bind_addr(listening, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self)), "rdma_bind_addr")
        }
        try check(rdma_listen(listening, 1), "rdma_listen")
        let request = try waitForEvent(RDMA_CM_EVENT_CONNECT_REQUEST, "the peer's connect request")
        id = request.id
        peer = try checkedPeer(request.privateData)
        try createResources()
    }

    /// Rank 1: resolve rank 0's address and route, then create resources.
    private func resolvePeer() throws {
        var connecting: UnsafeMutablePointer<rdma_cm_id>?
        try check(rdma_create_id(channel, &connecting, nil, RDMA_PS_TCP), "rdma_create_id")
        id = connecting
        var address = try socketAddress()
        let timeoutMilliseconds = Int32(min(configuration.connectTimeout.seconds * 1000, 60_000))
        try withUnsafeMutableBytes(of: &address) { raw in
            try check(rdma_resolve_addr(connecting, nil, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                                        timeoutMilliseconds), "rdma_resolve_addr")
        }
        _ = try waitForEvent(RDMA_CM_EVENT_ADDR_RESOLVED, "address resolution")
        try check(rdma_resolve_route(connecting, timeoutMilliseconds), "rdma_resolve_route")
        _ = try waitForEvent(RDMA_CM_EVENT_ROUTE_RESOLVED, "route resolution")
        try createResources()
    }

    private func createResources() throws {
        guard let id, let context = id.pointee.verbs else { throw TransportError.verbs("the connection has no device context") }
        guard let protectionDomain = ibv_alloc_pd(context) else { throw TransportError.verbs("ibv_alloc_pd: \(Self.errnoText())") }
        self.protectionDomain = protectionDomain
        guard let completionQueue = ibv_create_cq(context, 64, nil, nil, 0) else {
            throw TransportError.verbs("ibv_create_cq: \(Self.errnoText())")
        }
        self.completionQueue = completionQueue
        var attributes = ibv_qp_init_attr()
        attributes.send_cq = completionQueue
        attributes.recv_cq = completionQueue
        attributes.qp_type = IBV_QPT_RC
        attributes.cap.max_send_wr = 16
        attributes.cap.max_recv_wr = 16
        attributes.cap.max_send_sge = 1
        attributes.cap.max_recv_sge = 1
        try check(rdma_create_qp(id, protectionDomain, &attributes), "rdma_create_qp")
        let bytes = slotCapacity * slotCount
        let local = Int32(bitPattern: IBV_ACCESS_LOCAL_WRITE.rawValue)
        let remote = Int32(bitPattern: IBV_ACCESS_REMOTE_WRITE.rawValue)
        guard let sendRegion = tandem_ibv_reg_mr(protectionDomain, sendMemory, bytes, local) else {
            throw TransportError.verbs("ibv_reg_mr (send buffers): \(Self.errnoText())")
        }
        self.sendRegion = sendRegion
        guard let receiveRegion = tandem_ibv_reg_mr(protectionDomain, receiveMemory, bytes, local | remote) else {
            throw TransportError.verbs("ibv_reg_mr (receive buffers): \(Self.errnoText())")
        }
        self.receiveRegion = receiveRegion
    }

    private struct Event {
        var id: UnsafeMutablePointer<rdma_cm_id>?
        var privateData: [UInt8]
    }

    /// Waits (bounded by the connect timeout) for the next connection-manager event and checks it is `expected`.
    private func waitForEvent(_ expected: rdma_cm_event_type, _ what: String) throws -> Event {
        guard let channel else { throw TransportError.verbs("no event channel") }
        let deadline = ContinuousClock.now.advanced(by: configuration.connectTimeout)
        while true {
            var event: UnsafeMutablePointer<rdma_cm_event>?
            if rdma_get_cm_event(channel, &event) == 0, let event {
                defer { rdma_ack_cm_event(event) }
                let type = event.pointee.event
                guard type == expected, event.pointee.status == 0 else {
                    throw TransportError.verbs("waiting for \(what): got \(String(cString: rdma_event_str(type))) (status \(event.pointee.status))")
                }
                let conn = event.pointee.param.conn
                let data = conn.private_data.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(conn.private_data_len))) } ?? []
                return Event(id: event.pointee.id, privateData: data)
            }
            let code = tandem_errno()
            guard code == EAGAIN || code == EWOULDBLOCK || code == EINTR else {
                throw TransportError.verbs("rdma_get_cm_event: \(String(cString: strerror(code)))")
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                throw TransportError.timedOut("waiting \(configuration.connectTimeout) for \(what) (\(configuration.address):\(configuration.port))")
            }
            var descriptor = pollfd(fd: channel.pointee.fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, Int32(min(remaining.seconds * 1000, 100)) + 1)
        }
    }

    private func checkedPeer(_ bytes: [UInt8]) throws(TransportError) -> ConnectionPrivateData {
        let peer = try ConnectionPrivateData(decoding: bytes)
        guard Int(peer.slotCapacity) == slotCapacity else {
            throw .mismatch("the peer's slots hold \(peer.slotCapacity) bytes, this rank's \(slotCapacity)")
        }
        return peer
    }

    private func socketAddress() throws -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        guard inet_pton(AF_INET, configuration.address, &address.sin_addr) == 1 else {
            throw TransportError.invalidArgument("'\(configuration.address)' is not an IPv4 address")
        }
        return address
    }

    private func check(_ code: Int32, _ call: String) throws {
        guard code == 0 else { throw TransportError.verbs("\(call): \(Self.errnoText())") }
    }

    private static func errnoText() -> String { String(cString: strerror(tandem_errno())) }

    /// Releases everything in reverse order of creation; safe on partial setup. Idempotent.
    public func close() {
        if let id {
            if connected { rdma_disconnect(id) }
            if id.pointee.qp != nil { rdma_destroy_qp(id) }
        }
        if let sendRegion { ibv_dereg_mr(sendRegion) }
        if let receiveRegion { ibv_dereg_mr(receiveRegion) }
        if let completionQueue { ibv_destroy_cq(completionQueue) }
        if let protectionDomain { ibv_dealloc_pd(protectionDomain) }
        if let id { rdma_destroy_id(id) }
        if let listenID { rdma_destroy_id(listenID) }
        if let channel { rdma_destroy_event_channel(channel) }
        (sendRegion, receiveRegion, completionQueue, protectionDomain) = (nil, nil, nil, nil)
        (id, listenID, channel, connected) = (nil, nil, nil, false)
    }
}
