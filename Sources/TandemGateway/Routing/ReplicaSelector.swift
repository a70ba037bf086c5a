import TandemCore

/// What the replica selector sees of one replica.
public struct ReplicaView: Sendable, Equatable {
    /// Stable identity (the deployment URL), hashed for affinity.
    public var id: String
    public var inFlight: Int
    /// Most requests in flight; nil = unlimited.
    public var capacity: Int?
    /// False while the replica is out of rotation after failures.
    public var available: Bool

    public init(id: String, inFlight: Int = 0, capacity: Int? = nil, available: Bool = true) {
        self.id = id
        self.inFlight = inFlight
        self.capacity = capacity
        self.available = available
    }

    var hasRoom: Bool { capacity.map { inFlight < $0 } ?? true }
}

/// The replica chosen and why.
public struct ReplicaChoice: Sendable, Equatable {
    /// Why this replica (reported as `X-Tandem-Replica-Reason`).
    public enum Reason: String, Sendable {
        /// The replica the prompt prefix hashes to (its KV cache likely holds the prefix).
        case affinity
        /// The least-loaded replica (no prefix, or the affinity replica was too busy).
        case leastLoaded = "least_loaded"
    }

    public var index: Int
    public var reason: Reason
}

/// Why no replica could be chosen.
public enum ReplicaSelectionFailure: Error, Sendable, Equatable {
    /// Every replica is out of rotation.
    case noneAvailable
    /// Some are available but all are at capacity.
    case allAtCapacity
}

/// Least-loaded replica choice with prefix affinity.
///
/// Affinity uses rendezvous (highest-random-weight) hashing, Thaler & Ravishankar, "Using
/// name-based mappings to increase hit rates" (1998): each replica scores `mix(key, id)` and the
/// highest eligible score wins, so a prefix keeps its replica as long as that replica stays, and
/// only the prefixes of a removed replica move. The affinity replica is used unless it has more
/// than `maxImbalance` requests in flight above the least-loaded eligible replica.
public enum ReplicaSelector {
    public static func select(_ replicas: [ReplicaView], affinityKey: UInt64?, maxImbalance: Int)
        -> Result<ReplicaChoice, ReplicaSelectionFailure> {
        let available = replicas.indices.filter { replicas[$0].available }
        guard !available.isEmpty else { return .failure(.noneAvailable) }
        let eligible = available.filter { replicas[$0].hasRoom }
        guard !eligible.isEmpty else { return .failure(.allAtCapacity) }
        let minLoad = eligible.map { replicas[$0].inFlight }.min()!
        if let key = affinityKey {
            let preferred = eligible.max { score(key, replicas[$0].id) < score(key, replicas[$1].id) }!
            if replicas[preferred].inFlight - minLoad <= maxImbalance {
                return .success(ReplicaChoice(index: preferred, reason: .affinity))
            }
        }
        let least = eligible.first { replicas[$0].inFlight == minLoad }!
        return .success(ReplicaChoice(index: least, reason: .leastLoaded))
    }

    /// Rendezvous weight of `id` for `key`.
    static func score(_ key: UInt64, _ id: String) -> UInt64 {
        PrefixHash.mix(key ^ PrefixHash.fnv1a(id.utf8))
    }
}

/// Hashes for prefix affinity.
public enum PrefixHash {
    /// FNV-1a, 64-bit.
    public static func fnv1a(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        return h
    }

    /// Spreads the bits of `x`: the first output of `SplitMix64` seeded with it.
    public static func mix(_ x: UInt64) -> UInt64 {
        var g = SplitMix64(seed: x)
        return g.next()
    }

    /// Affinity key of a request: the tenant's salt and the first `prefixChars` characters of the
    /// prompt (system message first), or nil when the prompt is empty or affinity is off.
    /// Salted because cached blocks are per salt: the same text from two tenants shares nothing.
    public static func affinityKey(promptText: String, salt: String?, prefixChars: Int) -> UInt64? {
        guard prefixChars > 0, !promptText.isEmpty else { return nil }
        let prefix = promptText.prefix(prefixChars)
        let saltHash = fnv1a((salt ?? "").utf8)
        return fnv1a(prefix.utf8, seed: saltHash)
    }
}
