import Foundation
import TandemCore

/// The meeting point of an in-process group: one rendezvous per collective (every rank deposits
/// its contribution, the last to arrive combines them, every rank collects the result) and one
/// FIFO mailbox per (source, destination, tag) for point-to-point messages.
///
/// Waiting uses a condition variable (no spinning) with a deadline; a collective that times out
/// marks the group broken, since the other ranks' contributions can no longer be matched.
final class InProcessHub: @unchecked Sendable {
    /// What a rank asked for; every rank of one collective must ask for the same.
    enum Operation: Equatable, CustomStringConvertible {
        case allReduceSum(count: Int)
        case broadcast(bytes: Int, root: Int)
        case barrier
        case gather(bytes: Int, root: Int)

        var description: String {
            switch self {
            case .allReduceSum(let count): "allReduceSum(\(count) floats)"
            case .broadcast(let bytes, let root): "broadcast(\(bytes) bytes, root \(root))"
            case .barrier: "barrier"
            case .gather(let bytes, let root): "gather(\(bytes) bytes, root \(root))"
            }
        }
    }

    private struct MailboxKey: Hashable {
        var source: Int
        var destination: Int
        var tag: Int
    }

    let size: Int
    let timeout: Duration
    private let condition = NSCondition()
    private var operations: [Operation?]
    private var contributions: [[UInt8]]
    private var arrived = 0
    private var generation: UInt64 = 0
    private var outcome: Result<[UInt8], TransportError>?
    private var leaving = 0
    private var broken: TransportError?
    private var mailboxes: [MailboxKey: [[UInt8]]] = [:]

    init(size: Int, timeout: Duration) {
        self.size = size
        self.timeout = timeout
        operations = Array(repeating: nil, count: size)
        contributions = Array(repeating: [], count: size)
    }

    /// One collective for `rank`: deposits `contribution`, waits for all ranks, and hands the
    /// combined bytes to `collect` (still under the lock, so the bytes cannot change meanwhile).
    func collective(rank: Int, operation: Operation, contribution: [UInt8],
                    collect: ([UInt8]) -> Void) throws(TransportError) {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout.seconds)

        // The previous collective's result may still be being collected by slower ranks.
        while leaving > 0 {
            try checkBroken()
            try wait(until: deadline, what: "\(operation) (waiting for the previous collective to finish)")
        }
        try checkBroken()

        operations[rank] = operation
        contributions[rank] = contribution
        arrived += 1
        if arrived == size {
            outcome = combine()
            arrived = 0
            leaving = size
            generation &+= 1
            condition.broadcast()
        } else {
            let waitingFor = generation
            while generation == waitingFor {
                try checkBroken()
                try wait(until: deadline, what: "\(operation) (\(arrived) of \(size) ranks arrived)")
            }
        }

        let result = outcome!
        leaving -= 1
        if leaving == 0 {
            outcome = nil
            operations = Array(repeating: nil, count: size)
            contributions = Array(repeating: [], count: size)
            condition.broadcast()
        }
        collect(try result.get())
    }

    func send(_ bytes: [UInt8], from source: Int, to destination: Int, tag: Int) throws(TransportError) {
        condition.lock()
        defer { condition.unlock() }
        try checkBroken()
        mailboxes[MailboxKey(source: source, destination: destination, tag: tag), default: []].append(bytes)
        condition.broadcast()
    }

    func receive(from source: Int, to destination: Int, tag: Int) throws(TransportError) -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        let key = MailboxKey(source: source, destination: destination, tag: tag)
        let deadline = Date().addingTimeInterval(timeout.seconds)
        while mailboxes[key, default: []].isEmpty {
            try checkBroken()
            guard condition.wait(until: deadline) || !mailboxes[key, default: []].isEmpty else {
                throw .timedOut("rank \(destination) waited \(timeout) for a message from rank \(source) with tag \(tag)")
            }
        }
        return mailboxes[key]!.removeFirst()
    }

    // MARK: Private

    /// Runs with every rank's operation and contribution present, under the lock.
    private func combine() -> Result<[UInt8], TransportError> {
        let first = operations[0]!
        if let different = operations.firstIndex(where: { $0 != first }) {
            return .failure(.mismatch("rank 0 called \(first) but rank \(different) called \(operations[different]!)"))
        }
        switch first {
        case .barrier:
            return .success([])
        case .broadcast(_, let root):
            return .success(contributions[root])
        case .gather:
            return .success(contributions.flatMap { $0 })
        case .allReduceSum(let count):
            // Summed once in rank order, so every rank receives bit-identical results.
            var sum = [Float](repeating: 0, count: count)
            for contribution in contributions {
                contribution.withUnsafeBytes { raw in
                    let values = raw.assumingMemoryBound(to: Float.self)
                    for index in 0..<count { sum[index] += values[index] }
                }
            }
            return .success(sum.withUnsafeBytes { Array($0) })
        }
    }

    private func checkBroken() throws(TransportError) {
        if let broken { throw .groupBroken("an earlier collective failed: \(broken.message)") }
    }

    private func wait(until deadline: Date, what: String) throws(TransportError) {
        if !condition.wait(until: deadline), Date() >= deadline {
            let error = TransportError.timedOut("\(what) did not complete within \(timeout)")
            broken = error
            condition.broadcast()
            throw error
        }
    }
}

