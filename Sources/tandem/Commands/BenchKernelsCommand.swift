import ArgumentParser
import Foundation
import TandemCore
import TandemKernels

/// `tandem bench-kernels`: the decode-GEMV roofline (see `KernelRoofline`) as a Markdown table.
struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Measure GEMV bandwidth per weight format against a STREAM-style bandwidth, as Markdown.")

    @Option(help: "Matrix rows (output features).")
    var rows = 8192

    @Option(help: "Matrix columns (input features); a multiple of 32.")
    var cols = 16384

    @Option(help: "Comma-separated formats: f32, f16, bf16, q8_0, q4_0, q4_1, fp8_e4m3, nvfp4, mxfp4, q2_k, q3_k, q4_k, q5_k, q6_k (the K-quants need columns in multiples of 256), iq4_nl.")
    var formats = "f32,f16,q8_0,q4_1,q4_0,fp8_e4m3,nvfp4,mxfp4,q4_k,q6_k"

    @Option(help: "Comma-separated thread counts.")
    var threads = "1,2"

    @Option(help: "Comma-separated GEMV paths: auto, portable, avx2, avx512, neon, dotprod (unsupported ones are skipped).")
    var paths = "auto,portable"

    @Option(help: "Timed calls per measurement (the median is reported).")
    var repeats = 9

    @Option(name: .customLong("stream-mib"), help: "Size of each STREAM array in MiB.")
    var streamMiB = 256

    @Option(help: "Comma-separated token counts: also time a batch of n tokens as n GEMVs and as one GEMM (e.g. 2,4,16,512; empty: skip).")
    var batches = ""

    @Option(help: "Append the table (with the command line) to this Markdown file.")
    var markdown: String?

    func validate() throws {
        guard rows > 0, cols > 0, cols % 32 == 0 else { throw ValidationError("--rows must be > 0 and --cols a positive multiple of 32") }
        guard repeats >= 1, streamMiB >= 1 else { throw ValidationError("--repeats and --stream-mib must be >= 1") }
    }

    func run() throws {
        let dtypes = try formats.split(separator: ",").map { name -> DType in
            guard let d = DType(rawValue: String(name)) else { throw ValidationError("unknown format \(name)") }
            return d
        }
        let threadCounts = try threads.split(separator: ",").map { t -> Int in
            guard let n = KernelThreads.parse(String(t)) else { throw ValidationError("bad thread count \(t)") }
            return n
        }
        let gemvPaths = try paths.split(separator: ",").map { p -> GEMVPath in
            guard let path = GEMVPath(rawValue: String(p)) else { throw ValidationError("unknown path \(p)") }
            return path
        }.filter(\.isSupported)
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        var bar = TerminalProgressBar(label: "stream")
        var streams: [Int: (read: KernelRoofline.Measurement, triad: KernelRoofline.Measurement)] = [:]
        for (i, n) in threadCounts.enumerated() {
            streams[n] = KernelRoofline.stream(bytes: streamMiB << 20, threads: n, repeats: repeats)
            bar.update(i + 1, of: threadCounts.count)
        }
        bar.finish()
        var lines: [String] = []
        lines.append("GEMV y = W·x, W \(rows) × \(cols) (larger than the 32 MiB L3 in every format), median of \(repeats) calls; " +
                     "STREAM arrays \(streamMiB) MiB each; load average before: \(load).\n")
        lines.append("| threads | STREAM read GB/s | STREAM triad GB/s |")
        lines.append("| ---: | ---: | ---: |")
        for n in threadCounts { lines.append(String(format: "| %d | %.1f | %.1f |", n, streams[n]!.read.gigabytesPerSecond, streams[n]!.triad.gigabytesPerSecond)) }
        lines.append("")
        lines.append("Handing a job to the pool's workers and waiting for them (median µs per job of empty tasks, " +
                     "jobs back to back / 50 µs apart; spin 0 = workers always sleep between jobs):\n")
        lines.append("| threads | spin µs | µs/job back to back | µs/job 50 µs apart |")
        lines.append("| ---: | ---: | ---: | ---: |")
        for n in threadCounts where n > 1 {
            for spin in [0, KernelThreads.spinMicroseconds] {
                let a = KernelRoofline.dispatch(threads: n, spinMicroseconds: spin)
                let b = KernelRoofline.dispatch(threads: n, spinMicroseconds: spin, gapMicroseconds: 50)
                lines.append(String(format: "| %d | %d | %.1f | %.1f |", n, spin, a, b))
            }
        }
        lines.append("")
        lines.append("| format | bits/weight | MB | path | threads | ms/GEMV | GB/s | % of STREAM read |")
        lines.append("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
        bar = TerminalProgressBar(label: "gemv")
        let total = dtypes.count * threadCounts.count * gemvPaths.count
        var done = 0
        defer { GEMVPath.auto.select() }
        for d in dtypes {
            let m = KernelRoofline.randomMatrix(d, rows: rows, cols: cols)
            for path in gemvPaths {
                path.select()
                for n in threadCounts {
                    let r = try KernelRoofline.gemv(m, name: d.rawValue, threads: n, repeats: repeats)
                    done += 1
                    bar.update(done, of: total)
                    // Float formats always use tk_matvec: one row per path would repeat itself.
                    if !d.hasFusedGEMV && path != gemvPaths[0] { continue }
                    let pathName = !d.hasFusedGEMV ? "matvec" : GEMVPath.current.rawValue
                    lines.append(String(format: "| %@ | %.2f | %.1f | %@ | %d | %.2f | %.1f | %.0f%% |", d.rawValue,
                                        Double(m.storageBytes * 8) / Double(rows * cols), Double(m.storageBytes) / 1e6, pathName, n,
                                        r.seconds * 1e3, r.gigabytesPerSecond, 100 * r.gigabytesPerSecond / streams[n]!.read.gigabytesPerSecond))
                }
            }
        }
        bar.finish()
        let batchSizes = batches.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        if !batchSizes.isEmpty {
            lines.append("")
            lines.append("Batches of n tokens on the same matrix: n fused GEMVs against one GEMM call (tk_gemm_mt; " +
                         "route: int8/int16 = activations quantised, integer dot products; f32 = panel dequantised to f32), " +
                         "median ms per call, and tokens/s of the GEMM:\n")
            lines.append("| format | path | threads | n | ms n × GEMV | ms GEMM | GEMM route | GEMM speed-up | GEMM tokens/s |")
            lines.append("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
            for d in dtypes {
                let m = KernelRoofline.randomMatrix(d, rows: rows, cols: cols)
                for path in gemvPaths {
                    path.select()
                    for t in threadCounts {
                        for n in batchSizes {
                            let r = try KernelRoofline.batch(m, tokens: n, threads: t, repeats: repeats)
                            let route = r.activationBits == 0 ? "f32" : "int\(r.activationBits)"
                            lines.append(String(format: "| %@ | %@ | %d | %d | %.3f | %.3f | %@ | %.2f× | %.0f |", d.rawValue,
                                                GEMVPath.current.rawValue, t, n, r.perToken * 1e3, r.gemm * 1e3,
                                                route, r.perToken / r.gemm, Double(n) / r.gemm))
                        }
                    }
                }
            }
        }
        let table = lines.joined(separator: "\n")
        print(table)
        if let markdown {
            let command = "tandem " + CommandLine.arguments.dropFirst().joined(separator: " ")
            let block = "\n```\n\(command)\n```\n\n" + table + "\n"
            if !FileManager.default.fileExists(atPath: markdown) { FileManager.default.createFile(atPath: markdown, contents: nil) }
            guard let h = FileHandle(forWritingAtPath: markdown) else { throw ValidationError("cannot write \(markdown)") }
            h.seekToEndOfFile()
            h.write(Data(block.utf8))
            h.closeFile()
        }
    }
}
