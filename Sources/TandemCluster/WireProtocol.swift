import CTandemWire
import TandemCore
import TandemModel

/// The version of the coordinator ↔ worker contract (`cluster/proto/tandem_cluster.proto`).
/// Ranks with different versions refuse each other at connect.
public let wireProtocolVersion: UInt32 = 1

/// A rank's identity as exchanged at connect (`Hello`).
public struct RankHello: Sendable, Equatable {
    public var protocolVersion = wireProtocolVersion
    public var modelName = ""
    public var modelFingerprint = ""
    public var rank = 0
    public var worldSize = 1
    public var kvHeads = 0..<0
    public var ffnColumns = 0..<0
    public var vocabRows = 0..<0
    public var blockSize = 0
    public var blockCount = 0
    public var host = ""
    public var transport = ""
    public var weightBytes: UInt64 = 0
    public var residentBytes: UInt64 = 0
    public var kvDType: KVCacheDType = .f32
    /// MoE models: how experts are split ("" for dense models) and the experts this rank holds.
    public var expertParallelism = ""
    public var experts = 0..<0

    public init() {}

    /// Why `worker` cannot serve with `coordinator`, naming both sides; nil when compatible.
    public static func incompatibility(coordinator c: RankHello, worker w: RankHello) -> String? {
        if c.protocolVersion != w.protocolVersion {
            return "protocol version mismatch: coordinator on \(c.host) speaks v\(c.protocolVersion), worker rank \(w.rank) on \(w.host) speaks v\(w.protocolVersion)"
        }
        if c.modelFingerprint != w.modelFingerprint || c.modelName != w.modelName {
            return "model mismatch: coordinator on \(c.host) serves \(c.modelName) [\(c.modelFingerprint)], worker rank \(w.rank) on \(w.host) loaded \(w.modelName) [\(w.modelFingerprint)]"
        }
        if c.expertParallelism != w.expertParallelism {
            return "expert placement mismatch: coordinator on \(c.host) splits experts \(c.expertParallelism.isEmpty ? "(dense)" : c.expertParallelism)-parallel, worker rank \(w.rank) on \(w.host) \(w.expertParallelism.isEmpty ? "(dense)" : w.expertParallelism)-parallel; start every rank with the same --parallel"
        }
        if c.worldSize != w.worldSize || c.blockSize != w.blockSize || c.blockCount != w.blockCount || c.kvDType != w.kvDType {
            return "geometry mismatch: coordinator on \(c.host) has \(c.worldSize) ranks, \(c.blockCount) blocks of \(c.blockSize) (\(c.kvDType.rawValue) K/V); worker rank \(w.rank) on \(w.host) has \(w.worldSize) ranks, \(w.blockCount) blocks of \(w.blockSize) (\(w.kvDType.rawValue) K/V)"
        }
        return nil
    }
}

/// What rank 0 broadcasts each round (`Control`).
public enum ControlMessage: Sendable, Equatable {
    case hello(RankHello)
    case step(index: UInt64, chunks: [SequenceChunk], copies: [(source: Int, destination: Int)])
    case shutdown(reason: String)

    public static func == (a: ControlMessage, b: ControlMessage) -> Bool {
        switch (a, b) {
        case (.hello(let x), .hello(let y)): x == y
        case (.shutdown(let x), .shutdown(let y)): x == y
        case (.step(let i, let c, let p), .step(let j, let d, let q)):
            i == j && c == d && p.count == q.count && zip(p, q).allSatisfy { $0.source == $1.source && $0.destination == $1.destination }
        default: false
        }
    }
}

/// A message that could not be decoded.
public struct WireError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
