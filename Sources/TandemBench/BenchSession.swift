import AsyncHTTPClient
import Foundation
import TandemCore

/// A whole `tandem bench` run: warm-up, each level of the sweep, the reports on disk.
public enum BenchSession {
    /// Writes `results.json`, `summary.md` and the SVG plots into `outputDirectory`; returns the report.
    public static func run(_ scenario: ResolvedScenario, target: BenchTarget, outputDirectory: String,
                           showProgress: Bool = true) async throws -> BenchReport {
        let poolSize = max(scenario.requests + scenario.warmup, 1)
        let pool = try WorkloadGenerator.requests(scenario.workload, count: poolSize, seed: scenario.seed)
        let http = BenchClient.makeHTTPClient(connectTimeout: min(5, max(0.5, target.requestTimeout / 2)))
        let runner = BenchRunner(client: BenchClient(http: http, target: target), pool: pool)
        let iso = ISO8601DateFormatter()
        var report = BenchReport(scenario: scenario.name, target: target.url, model: target.model,
                                 endpoint: target.endpoint.rawValue, workload: scenario.workloadDescription,
                                 seed: scenario.seed, startedAt: iso.string(from: Date()), warmupRequests: scenario.warmup)
        do {
            if scenario.warmup > 0 {
                let c = ProgressCounters()
                let p = showProgress ? startProgress("warm-up", total: scenario.warmup, counters: c) : nil
                let (warm, _) = await runner.run(LevelPlan(load: .concurrency(1), requests: scenario.warmup,
                                                           duration: scenario.duration, seed: scenario.seed),
                                                 label: "warmup", progress: c)
                p?.cancel()
                _ = await p?.result
                let failed = warm.filter { !$0.ok }
                if failed.count == warm.count, let first = failed.first {
                    throw ScenarioError("every warm-up request failed: \(first.error ?? "") \(first.errorMessage ?? "")")
                }
            }
            var next = scenario.warmup
            var goodputs: [Double] = []
            for (i, shape) in scenario.levels.enumerated() {
                let label = shape.label
                let c = ProgressCounters()
                let name = scenario.levels.count > 1 ? "level \(i + 1)/\(scenario.levels.count) \(label)" : label
                let p = showProgress ? startProgress(name, total: scenario.requests, counters: c) : nil
                let plan = LevelPlan(load: shape, requests: scenario.requests, duration: scenario.duration,
                                     seed: scenario.seed &+ UInt64(i) &* 7919)
                let (records, _) = await runner.run(plan, label: label, firstIndex: next, progress: c)
                p?.cancel()
                _ = await p?.result
                next += records.count
                let summary = Statistics.summarize(level: label, load: shape, records: records, slo: scenario.slo)
                report.levels.append(summary)
                report.records += records
                goodputs.append(summary.goodput)
                if showProgress {
                    FileHandle.standardError.write(Data(("\(name): \(summary.succeeded)/\(summary.requests) ok, "
                        + "\(Report.f1(summary.outputThroughput)) output tok/s, TTFT p50 \(Report.ms(summary.ttft.p50)) ms, "
                        + "TPOT p50 \(Report.ms(summary.tpot.p50)) ms, goodput \(Report.f1(summary.goodput)) req/s\n").utf8))
                }
                if scenario.stopWhenGoodputFalls, i + 1 < scenario.levels.count,
                   Statistics.goodputFell(goodputs, tolerance: scenario.goodputTolerance) {
                    report.stoppedEarly = "goodput fell to \(Report.f1(summary.goodput)) req/s at \(label) "
                        + "(best so far \(Report.f1(goodputs.dropLast().max() ?? 0)))"
                    break
                }
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        try write(report, to: outputDirectory)
        return report
    }

    public static func write(_ report: BenchReport, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let plots = Report.plots(report)
        for (file, svg) in plots {
            try Data(svg.utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
        }
        try Report.json(report).write(to: URL(fileURLWithPath: dir + "/results.json"))
        try Data(Report.markdown(report, plots: plots.map(\.0)).utf8).write(to: URL(fileURLWithPath: dir + "/summary.md"))
    }

    /// Prints `\r[name] done/total …` to stderr twice a second until cancelled.
    static func startProgress(_ name: String, total: Int, counters: ProgressCounters) -> Task<Void, Never> {
        let start = ContinuousClock.now
        return Task {
            func line(_ end: String) {
                let s = counters.snapshot
                let t = (ContinuousClock.now - start).seconds
                let text = "\r[\(name)] \(s.done)/\(total) done, \(s.failed) failed, \(s.inFlight) in flight, "
                    + "\(s.chunks) chunks, \(String(format: "%.1f", t > 0 ? Double(s.chunks) / t : 0)) chunks/s, \(String(format: "%.1f", t)) s   " + end
                FileHandle.standardError.write(Data(text.utf8))
            }
            while !Task.isCancelled {
                line("")
                try? await Task.sleep(for: .milliseconds(500))
            }
            line("\n")
        }
    }
}
