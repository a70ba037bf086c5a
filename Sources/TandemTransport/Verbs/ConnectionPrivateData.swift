/// What each side tells the other in the connection's private data: where its receive slots are.
struct ConnectionPrivateData: Equatable {
    static let magic: UInt32 = 0x4D44_4E54  // "TNDM" little-endian
    static let version: UInt32 = 1
    static let byteCount = 24

    var address: UInt64
    var key: UInt32
    var slotCapacity: UInt32

    init(address: UInt64, key: UInt32, slotCapacity: UInt32) {
        self.address = address
        self.key = key
        self.slotCapacity = slotCapacity
    }

    /// Little-endian: magic, version, address, key, slot capacity.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [Self.magic, Self.version] { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        withUnsafeBytes(of: address.littleEndian) { bytes += $0 }
        for value in [key, slotCapacity] { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        return bytes
    }

    /// Reads the first 24 bytes (the connection manager may pad private data).
    init(decoding bytes: [UInt8]) throws(TransportError) {
        guard bytes.count >= Self.byteCount else {
            throw .protocolViolation("the peer's connection data has \(bytes.count) bytes, expected \(Self.byteCount)")
        }
        func read<T: FixedWidthInteger>(_ offset: Int, as _: T.Type) -> T {
            var value = T.zero
            for index in 0..<MemoryLayout<T>.size { value |= T(bytes[offset + index]) << (8 * index) }
            return value
        }
        guard read(0, as: UInt32.self) == Self.magic, read(4, as: UInt32.self) == Self.version else {
            throw .protocolViolation("the peer is not a Tandem verbs endpoint of protocol version \(Self.version)")
        }
        address = read(8, as: UInt64.self)
        key = read(16, as: UInt32.self)
        slotCapacity = read(20, as: UInt32.self)
    }
}
