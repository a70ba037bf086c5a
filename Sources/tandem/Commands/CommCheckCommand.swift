import ArgumentParser
import Foundation
import Logging
import TandemTransport

/// `tandem comm-check`: run under mpirun; checks all-reduce, broadcast, barrier, gather and
/// send/receive between the ranks, then times all-reduce at decode-sized messages. Rank 0 prints.
struct CommCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comm-check",
        abstract: "All-reduce check and latency between ranks (run under mpirun).",
        discussion: """
            Example: mpirun --allow-run-as-root -np 2 --mca mpi_yield_when_idle 1 tandem comm-check
            See cluster/README.md for two namespaces (spark, dark) over TCP.
            """)

    @Option(help: "Transport: mpi, rdma (required) or auto (RDMA if every rank can, else MPI).")
    var transport = "auto"

    @Option(help: "Timed all-reduces per message size.")
    var iterations = 200

    @Flag(help: "Print JSON instead of text (rank 0).")
    var json = false

    @Option(name: .customLong("rdma-address"), help: "IPv4 address of rank 0's RDMA interface (with --transport rdma/auto).")
    var rdmaAddress: String?

    @Option(name: .customLong("rdma-port"), help: "Port rank 0 listens on for the verbs connection.")
    var rdmaPort: UInt16 = 18515

    func validate() throws {
        guard TransportPreference(argument: transport) != nil else {
            throw ValidationError("--transport must be mpi, rdma or auto, not '\(transport)'")
        }
        guard (1...100_000).contains(iterations) else { throw ValidationError("--iterations must be in 1...100000") }
    }

    func run() throws {
        let logger = Logger(label: "tandem.comm-check")
        let world = try MPICommunicator.world()
        let report: CommCheckReport
        do {
            report = try check(world: world, logger: logger)
        } catch {
            world.shutdown()
            try? MPIRuntime.shared.finalize()
            throw error
        }
        world.shutdown()
        try MPIRuntime.shared.finalize()
        if world.rank == 0 {
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.text)
            }
        }
        if !report.allPassed { throw ExitCode.failure }
    }

    private func check(world: MPICommunicator, logger: Logger) throws -> CommCheckReport {
        let preference = TransportPreference(argument: transport)!
        let (communicator, fallbackReason) = try makeCommunicator(world: world, preference: preference, logger: logger)
        var results = try CommCheck.verify(communicator)
        results.append(try checkSplit(world))
        let latencies = try CommCheck.measureAllReduce(communicator, iterations: iterations)
        return CommCheckReport(ranks: communicator.size, transport: communicator.transportName,
                               fallbackReason: fallbackReason, mpiLibrary: MPIRuntime.libraryVersion(),
                               ranksAt: try placements(world), checks: results, iterations: iterations,
                               latencies: latencies ?? [])
    }

    private func makeCommunicator(world: MPICommunicator, preference: TransportPreference,
                                  logger: Logger) throws -> (any Communicator, String?) {
        let choice = try TransportBootstrap.choose(world: world, preference: preference, rdmaAddress: rdmaAddress,
                                                   rdmaPort: rdmaPort, logger: logger)
        return (choice.communicator, choice.fallbackReason)
    }

    /// A sub-communicator of all ranks in reverse order: ranks and sums must follow the split.
    private func checkSplit(_ world: MPICommunicator) throws -> CommCheck.Result {
        guard let reversed = try MPICommunicator.split(world, color: 0, key: world.size - 1 - world.rank) else {
            return CommCheck.Result(name: "MPI_Comm_split", failures: 1, detail: "this rank got no group")
        }
        defer { reversed.shutdown() }
        var values = [Float(reversed.rank)]
        try reversed.allReduceSum(&values)
        let local = (reversed.rank == world.size - 1 - world.rank ? 0 : 1)
            + (values[0] == Float(world.size * (world.size - 1) / 2) ? 0 : 1)
        var total = [Float(local)]
        try world.allReduceSum(&total)
        let failures = Int(total[0])
        return CommCheck.Result(name: "MPI_Comm_split (reversed ranks)", failures: failures,
                                detail: failures == 0 ? "ranks and sums correct" : "\(failures) wrong ranks or sums")
    }

    /// "host, network namespace" of every rank, so a two-namespace run shows it really spanned two.
    private func placements(_ world: MPICommunicator) throws -> [String] {
        var field = [UInt8](repeating: 0, count: 128)
        let host = ProcessInfo.processInfo.hostName
        let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? "?"
        let text = Array("\(host) \(namespace)".utf8.prefix(field.count))
        field.replaceSubrange(0..<text.count, with: text)
        var all = [UInt8](repeating: 0, count: field.count * world.size)
        try field.withUnsafeBytes { mine in
            try all.withUnsafeMutableBytes { try world.gather(mine, into: world.rank == 0 ? $0 : nil, root: 0) }
        }
        return (0..<world.size).map { rank in
            let bytes = all[(rank * field.count)..<((rank + 1) * field.count)].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// What `tandem comm-check` reports (rank 0).
struct CommCheckReport: Codable {
    var ranks: Int
    var transport: String
    var fallbackReason: String?
    var mpiLibrary: String
    /// Per rank: host name and network namespace.
    var ranksAt: [String]
    var checks: [CommCheck.Result]
    var iterations: Int
    var latencies: [CommCheck.Latency]

    var allPassed: Bool { checks.allSatisfy(\.passed) }

    var text: String {
        var lines = ["comm-check: \(ranks) ranks, transport \(transport)"
            + (fallbackReason.map { " (RDMA not used: \($0))" } ?? "")]
        lines.append("mpi: \(mpiLibrary.split(separator: "\n").first.map(String.init) ?? mpiLibrary)")
        for (rank, place) in ranksAt.enumerated() { lines.append("rank \(rank): \(place)") }
        for check in checks { lines.append("  \(check.passed ? "PASS" : "FAIL") \(check.name): \(check.detail)") }
        lines.append("all-reduce latency, \(iterations) iterations, slowest rank per iteration:")
        lines.append(pad("size", 34) + pad("bytes", 10, left: true) + pad("median µs", 12, left: true)
            + pad("p99 µs", 12, left: true))
        for latency in latencies {
            lines.append(pad(latency.size.label, 34) + pad("\(latency.size.bytes)", 10, left: true)
                + pad(String(format: "%.1f", latency.medianMicroseconds), 12, left: true)
                + pad(String(format: "%.1f", latency.p99Microseconds), 12, left: true))
        }
        lines.append(allPassed ? "result: all checks passed" : "result: FAILED (\(checks.filter { !$0.passed }.count) checks)")
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return left ? padding + text : text + padding
    }
}
