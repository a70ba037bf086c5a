/// Conveniences over arrays for callers that do not manage raw buffers.
extension Communicator {
    /// Element-wise sum of `values` across all ranks, result in every rank's array.
    public func allReduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
    }

    /// Replaces `bytes` with `root`'s bytes on every rank (same count everywhere).
    public func broadcast(_ bytes: inout [UInt8], root: Int) throws {
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Every rank's `values` (same count everywhere), concatenated in rank order on `root`;
    /// `nil` on the other ranks.
    public func gather(_ values: [Float], root: Int) throws -> [Float]? {
        if rank == root {
            var result = [Float](repeating: 0, count: values.count * size)
            try values.withUnsafeBytes { contribution in
                try result.withUnsafeMutableBytes { destination in
                    try gather(contribution, into: destination, root: root)
                }
            }
            return result
        }
        try values.withUnsafeBytes { try gather($0, into: nil, root: root) }
        return nil
    }

    /// Checks what every implementation must reject the same way.
    func validate(root: Int, operation: String) throws(TransportError) {
        guard (0..<size).contains(root) else {
            throw .invalidArgument("\(operation): root \(root) is not a rank of a group of \(size)")
        }
    }

    func validate(peer: Int, operation: String) throws(TransportError) {
        guard (0..<size).contains(peer), peer != rank else {
            throw .invalidArgument("\(operation): rank \(peer) is not another rank of a group of \(size) (this is rank \(rank))")
        }
    }

    func validateGather(_ contribution: UnsafeRawBufferPointer, _ destination: UnsafeMutableRawBufferPointer?,
                        root: Int) throws(TransportError) {
        try validate(root: root, operation: "gather")
        guard rank == root else { return }
        guard let destination else {
            throw .invalidArgument("gather: the root must pass a destination buffer")
        }
        guard destination.count >= contribution.count * size else {
            throw .invalidArgument("gather: destination holds \(destination.count) bytes, needs \(contribution.count * size)")
        }
    }
}
