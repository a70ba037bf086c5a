import TandemModel
import TandemTransport

/// The forward pass's view of a transport `Communicator`: all-reduce as is; the logits gather
/// of uneven vocabulary slices on top of the transport's fixed-size gather.
public final class CommunicatorGroup: TensorParallelGroup {
    public let communicator: Communicator

    public init(_ communicator: Communicator) {
        self.communicator = communicator
    }

    public var rank: Int { communicator.rank }
    public var size: Int { communicator.size }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try communicator.allReduceSum(buffer)
    }

    /// Gathers with the transport's fixed-size gather: every rank contributes `max(counts)`
    /// floats (padded); rank 0 unpacks the real counts in rank order.
    public func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into result: UnsafeMutableBufferPointer<Float>?) throws {
        let width = counts.max() ?? 0
        var padded = [Float](repeating: 0, count: width)
        if let src = local.baseAddress { padded.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: src, count: min(local.count, width)) } }
        var all = [Float](repeating: 0, count: rank == 0 ? width * size : 0)
        try padded.withUnsafeBytes { contribution in
            if rank == 0 {
                try all.withUnsafeMutableBytes { try communicator.gather(contribution, into: $0, root: 0) }
            } else {
                try communicator.gather(contribution, into: nil, root: 0)
            }
        }
        guard rank == 0, let dst = result?.baseAddress else { return }
        var offset = 0
        for r in 0..<size {
            all.withUnsafeBufferPointer { (dst + offset).update(from: $0.baseAddress! + r * width, count: counts[r]) }
            offset += counts[r]
        }
    }
}

extension Communicator {
    /// Broadcasts a variable-length message from `root`: its length, then its bytes.
    public func broadcastMessage(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
        var length = [UInt64(rank == root ? bytes.count : 0)]
        try length.withUnsafeMutableBytes { try broadcast($0, root: root) }
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        if !buffer.isEmpty { try buffer.withUnsafeMutableBytes { try broadcast($0, root: root) } }
        return buffer
    }
}
