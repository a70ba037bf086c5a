/// A deterministic 64-bit hash over bytes: FNV-1a (Fowler–Noll–Vo, variant 1a) followed by the
/// MurmurHash3 `fmix64` finalizer for avalanche.
///
/// Unlike Swift's `Hasher`, which is seeded per process, the same input gives the same value in
/// every process and on every machine, so block hashes can be logged, compared across runs and
/// used by a cache-aware router. Not cryptographic: the prefix index verifies token contents on
/// every hit, so a collision costs a miss, never a wrong block.
public struct StableHasher: Sendable {
    private static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    private var state: UInt64 = StableHasher.offsetBasis

    public init() {}

    public mutating func combine(byte: UInt8) {
        state = (state ^ UInt64(byte)) &* Self.prime
    }

    public mutating func combine(_ value: UInt64) {
        var v = value
        for _ in 0..<8 {
            combine(byte: UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    public mutating func combine(_ value: Int32) {
        var v = UInt32(bitPattern: value)
        for _ in 0..<4 {
            combine(byte: UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    /// Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    public mutating func combine(_ string: String) {
        let bytes = Array(string.utf8)
        combine(UInt64(bytes.count))
        for byte in bytes { combine(byte: byte) }
    }

    public func finalize() -> UInt64 {
        var h = state
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}
