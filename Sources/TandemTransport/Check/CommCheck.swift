import Foundation

/// Correctness checks any `Communicator` must pass, run on every rank at once
/// (`tandem comm-check` under mpirun, and the unit tests with in-process ranks).
///
/// Values are small integers stored as floats, so sums are exact and the expected result is
/// known on every rank without communication. Each rank checks locally; the failure counts are
/// then summed across ranks so that every rank reports the same verdict.
public enum CommCheck {
    /// One check's verdict, agreed by all ranks.
    public struct Result: Sendable, Codable, Equatable {
        public var name: String
        /// Wrong elements (or failed calls) summed over all ranks.
        public var failures: Int
        public var detail: String
        public var passed: Bool { failures == 0 }

        public init(name: String, failures: Int, detail: String) {
            self.name = name
            self.failures = failures
            self.detail = detail
        }
    }

    /// Runs every check; every rank gets the same list.
    public static func verify(_ communicator: any Communicator) throws -> [Result] {
        var results: [Result] = []
        for count in [1, 7, 576, 2048, 4099, 65_536 + 3] {
            results.append(try agree(communicator, name: "allReduceSum \(count) floats",
                                     detail: "sums correct", failures: allReduceFailures(communicator, count: count)))
        }
        for root in Set([0, communicator.size - 1]).sorted() {
            results.append(try agree(communicator, name: "broadcast 10000 bytes from rank \(root)",
                                     detail: "bytes correct", failures: broadcastFailures(communicator, root: root)))
        }
        results.append(try agree(communicator, name: "barrier", detail: "no rank left before the last arrived",
                                 failures: barrierFailures(communicator)))
        results.append(try agree(communicator, name: "gather 5 floats to rank 0", detail: "rank order correct",
                                 failures: gatherFailures(communicator)))
        if communicator.size > 1 {
            results.append(try agree(communicator, name: "send/receive ring", detail: "messages correct",
                                     failures: ringFailures(communicator)))
        }
        return results
    }

    /// The value rank `rank` contributes at `index`; the sum over `size` ranks is `expectedSum`.
    static func value(index: Int, rank: Int) -> Float { Float(index % 251 + 3 * rank) }
    static func expectedSum(index: Int, size: Int) -> Float { Float(size * (index % 251) + 3 * size * (size - 1) / 2) }

    private static func allReduceFailures(_ communicator: any Communicator, count: Int) throws -> Int {
        var values = (0..<count).map { value(index: $0, rank: communicator.rank) }
        try communicator.allReduceSum(&values)
        return values.indices.count { values[$0] != expectedSum(index: $0, size: communicator.size) }
    }

    private static func broadcastFailures(_ communicator: any Communicator, root: Int) throws -> Int {
        let pattern = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ root) }
        var bytes = communicator.rank == root ? pattern : [UInt8](repeating: 0, count: pattern.count)
        try communicator.broadcast(&bytes, root: root)
        return bytes.indices.count { bytes[$0] != pattern[$0] }
    }

    /// The last rank enters 100 ms late; any rank leaving within 30 ms of entering left early.
    private static func barrierFailures(_ communicator: any Communicator) throws -> Int {
        try communicator.barrier()
        let clock = ContinuousClock()
        let late = communicator.rank == communicator.size - 1
        if late { Thread.sleep(forTimeInterval: 0.1) }
        let start = clock.now
        try communicator.barrier()
        let waited = start.duration(to: clock.now)
        return !late && waited < .milliseconds(30) ? 1 : 0
    }

    private static func gatherFailures(_ communicator: any Communicator) throws -> Int {
        let mine = (0..<5).map { Float(communicator.rank * 1000 + $0) }
        guard let all = try communicator.gather(mine, root: 0) else { return 0 }
        let expected = (0..<communicator.size).flatMap { rank in (0..<5).map { Float(rank * 1000 + $0) } }
        return all.indices.count { all[$0] != expected[$0] }
    }

    /// Rank r sends r + 1 floats to r + 1 (even ranks send first, odd ranks receive first, so a
    /// transport without buffering, like the verbs pair, does not deadlock).
    private static func ringFailures(_ communicator: any Communicator) throws -> Int {
        let (rank, size) = (communicator.rank, communicator.size)
        let next = (rank + 1) % size
        let previous = (rank + size - 1) % size
        let outgoing = (0...rank).map { Float(rank * 100 + $0) }
        var incoming = [Float](repeating: -1, count: size + 1)
        var received = 0
        func send() throws { try outgoing.withUnsafeBytes { try communicator.send($0, to: next, tag: 7) } }
        func receive() throws { received = try incoming.withUnsafeMutableBytes { try communicator.receive(into: $0, from: previous, tag: 7) } }
        if rank % 2 == 0 { try send(); try receive() } else { try receive(); try send() }
        let expected = (0...previous).map { Float(previous * 100 + $0) }
        guard received == expected.count * MemoryLayout<Float>.stride else { return 1 }
        return expected.indices.count { incoming[$0] != expected[$0] }
    }

    private static func agree(_ communicator: any Communicator, name: String, detail: String,
                              failures: Int) throws -> Result {
        var total = [Float(failures)]
        try communicator.allReduceSum(&total)
        let count = Int(total[0])
        return Result(name: name, failures: count,
                      detail: count == 0 ? detail : "\(count) wrong values or failed calls across ranks")
    }
}
