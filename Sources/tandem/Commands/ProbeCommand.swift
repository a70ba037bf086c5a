import ArgumentParser
import Foundation
import Logging
import TandemKernels
import TandemTransport

/// `tandem probe`: what this host offers (CPU features, MPI, RDMA devices or why none), and the
/// transport a two-rank deployment would use here.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Report CPU features, MPI and RDMA devices on this host.")

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: "Transport preference to evaluate: mpi, auto (RDMA if possible) or rdma (required).")
    var transport = "auto"

    func run() throws {
        guard let preference = TransportPreference(argument: transport) else {
            throw ValidationError("--transport must be mpi, auto or rdma, not '\(transport)'")
        }
        let report = HostReport.collect(preference: preference)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }
}

/// What `tandem probe` reports.
struct HostReport: Codable {
    struct CPU: Codable {
        var architecture: String
        var model: String
        var logicalCores: Int
        /// The SIMD features Tandem's kernels care about that /proc/cpuinfo lists.
        var simd: [String]
    }

    /// What the kernels see: the features their paths are chosen from and the GEMV paths that run here.
    struct Kernels: Codable {
        var features: [String]
        var gemvPaths: [String]
        var gemvBest: String
    }

    struct RDMA: Codable {
        var available: Bool
        var reason: String?
        var devices: [RDMADevice]
    }

    struct Transport: Codable {
        var preference: String
        var chosen: String?
        var reason: String?
    }

    var cpu: CPU
    var kernels: Kernels
    var memoryBytes: UInt64?
    var mpiLibrary: String
    var rdma: RDMA
    var transport: Transport

    static let interestingFlags = [
        "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni",
        "avx512vbmi", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",  // x86-64
        "asimd", "asimdhp", "asimddp", "fphp", "sve", "sve2", "bf16", "i8mm", "sme",  // aarch64
    ]

    static func collect(preference: TransportPreference) -> HostReport {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let probe = RDMAProbe.probe()
        let rdma: RDMA = switch probe {
        case .available(let devices): RDMA(available: true, reason: nil, devices: devices)
        case .unavailable(let reason): RDMA(available: false, reason: reason, devices: [])
        }
        var transport = Transport(preference: preference.rawValue)
        do {
            let decision = try TransportSelector.select(preference: preference, probe: probe, ranks: 2)
            transport.chosen = decision.transportName
            if case .mpi(let reason?) = decision { transport.reason = "RDMA not usable: \(reason)" }
            if case .rdma(let device, let port) = decision { transport.reason = "\(device.name) port \(port)" }
        } catch {
            transport.reason = error.message
        }
        let kernels = Kernels(features: GEMVPath.cpuFeatures,
                              gemvPaths: GEMVPath.allCases.filter { $0 != .auto && $0.isSupported }.map(\.rawValue),
                              gemvBest: GEMVPath.best.rawValue)
        return HostReport(cpu: parseCPU(cpuinfo), kernels: kernels, memoryBytes: parseMemoryTotal(meminfo),
                          mpiLibrary: MPIRuntime.libraryVersion(), rdma: rdma, transport: transport)
    }

    static func parseCPU(_ cpuinfo: String) -> CPU {
        var fields: [String: String] = [:]
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty, !fields.isEmpty { break }  // the first processor's block is enough
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            fields[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let flags = Set((fields["flags"] ?? fields["Features"] ?? "").split(separator: " ").map(String.init))
        let model = fields["model name"]
            ?? fields["CPU part"].map { "implementer \(fields["CPU implementer"] ?? "?") part \($0)" }
            ?? "unknown"
        #if arch(arm64)
        let architecture = "aarch64"
        #elseif arch(x86_64)
        let architecture = "x86_64"
        #else
        let architecture = "other"
        #endif
        return CPU(architecture: architecture, model: model,
                   logicalCores: ProcessInfo.processInfo.activeProcessorCount,
                   simd: interestingFlags.filter(flags.contains))
    }

    static func parseMemoryTotal(_ meminfo: String) -> UInt64? {
        guard let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }) else { return nil }
        let number = line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }
        return number.map { $0 * 1024 }
    }

    var text: String {
        var lines: [String] = []
        lines.append("cpu:        \(cpu.model) (\(cpu.architecture), \(cpu.logicalCores) logical cores)")
        lines.append("simd:       \(cpu.simd.isEmpty ? "none of interest listed" : cpu.simd.joined(separator: " "))")
        lines.append("kernels:    features \(kernels.features.isEmpty ? "none" : kernels.features.joined(separator: " ")); "
                     + "GEMV paths \(kernels.gemvPaths.joined(separator: " ")) (auto: \(kernels.gemvBest))")
        if let memoryBytes {
            lines.append("memory:     \(String(format: "%.1f", Double(memoryBytes) / 1_073_741_824)) GiB")
        }
        lines.append("mpi:        \(mpiLibrary.split(separator: "\n").first.map(String.init) ?? mpiLibrary)")
        if rdma.available {
            lines.append("rdma:       \(rdma.devices.count) device(s)")
            for device in rdma.devices {
                lines.append("  \(device.name) (node GUID \(device.nodeGUID))")
                for port in device.ports {
                    lines.append("    port \(port.number): \(port.state), \(port.linkLayer), MTU \(port.activeMTU), \(port.gids.count) GID(s)")
                    for gid in port.gids { lines.append("      gid \(gid)") }
                }
            }
        } else {
            lines.append("rdma:       none: \(rdma.reason ?? "unknown")")
        }
        let chosen = transport.chosen ?? "none"
        lines.append("transport:  \(chosen) for preference \(transport.preference)\(transport.reason.map { " (\($0))" } ?? "")")
        return lines.joined(separator: "\n")
    }
}
