import Foundation

/// Everything one `tandem bench` run measured: written as JSON (`results.json`), summarised as
/// Markdown (`summary.md`) and plotted (SVG).
public struct BenchReport: Sendable, Codable {
    public var scenario: String
    public var target: String
    public var model: String
    public var endpoint: String
    public var workload: String
    public var seed: UInt64
    public var startedAt: String
    public var warmupRequests: Int
    public var levels: [LevelSummary]
    /// Why a sweep stopped early (nil when it ran every level).
    public var stoppedEarly: String?
    public var records: [RequestRecord]

    public init(scenario: String, target: String, model: String, endpoint: String, workload: String, seed: UInt64,
                startedAt: String, warmupRequests: Int, levels: [LevelSummary] = [], stoppedEarly: String? = nil,
                records: [RequestRecord] = []) {
        self.scenario = scenario
        self.target = target
        self.model = model
        self.endpoint = endpoint
        self.workload = workload
        self.seed = seed
        self.startedAt = startedAt
        self.warmupRequests = warmupRequests
        self.levels = levels
        self.stoppedEarly = stoppedEarly
        self.records = records
    }
}

public enum Report {
    /// A number for humans: up to 3 decimals, no trailing zeros.
    public static func num(_ x: Double) -> String {
        guard x.isFinite else { return "–" }
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        var s = String(format: "%.3f", x)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    static func ms(_ x: Double) -> String { x.isFinite ? String(format: "%.1f", x * 1000) : "–" }
    static func f1(_ x: Double) -> String { x.isFinite ? String(format: "%.2f", x) : "–" }

    public static func json(_ report: BenchReport) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try enc.encode(report)
    }

    public static func markdown(_ report: BenchReport, plots: [String] = []) -> String {
        var s = "# tandem bench: \(report.scenario)\n\n"
        s += "* target: `\(report.target)`, model `\(report.model)`, endpoint `\(report.endpoint)`\n"
        s += "* workload: \(report.workload); seed \(report.seed); warm-up requests: \(report.warmupRequests) (not counted)\n"
        if let slo = report.levels.first?.slo {
            s += "* SLO for goodput: TTFT ≤ \(ms(slo.ttft)) ms and TPOT ≤ \(ms(slo.tpot)) ms\n"
        }
        s += "* started \(report.startedAt)\n"
        if let why = report.stoppedEarly { s += "* sweep stopped: \(why)\n" }
        s += "\nTimes in ms; throughput per second of each level's span (first request sent → last finished).\n\n"
        s += "| level | requests | ok | failed | req/s | output tok/s | total tok/s | TTFT p50 | TTFT p90 | TTFT p99 | TPOT p50 | TPOT p90 | TPOT p99 | ITL p50 | E2E p50 | E2E p99 | goodput req/s | good |\n"
        s += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        for l in report.levels {
            let pct = l.requests > 0 ? String(format: "%.0f%%", 100 * Double(l.good) / Double(l.requests)) : "–"
            s += "| \(l.load.description) | \(l.requests) | \(l.succeeded) | \(l.failed) | \(f1(l.requestThroughput)) | \(f1(l.outputThroughput)) | \(f1(l.totalTokenThroughput)) | "
            s += "\(ms(l.ttft.p50)) | \(ms(l.ttft.p90)) | \(ms(l.ttft.p99)) | \(ms(l.tpot.p50)) | \(ms(l.tpot.p90)) | \(ms(l.tpot.p99)) | "
            s += "\(ms(l.itl.p50)) | \(ms(l.e2e.p50)) | \(ms(l.e2e.p99)) | \(f1(l.goodput)) | \(pct) |\n"
        }
        for l in report.levels {
            s += "\n## \(l.load.description)\n\n"
            s += "\(l.requests) requests in \(String(format: "%.2f", l.duration)) s; tokens: prompt \(l.promptTokens) "
            s += "(cached \(l.cachedTokens)), output \(l.outputTokens).\n"
            func counts(_ d: [String: Int]) -> String { d.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ") }
            if let served = l.servedBy { s += "Answered by: \(counts(served))" + (l.fallbacks.map { "; fallbacks: \($0)" } ?? "") + ".\n" }
            if let routes = l.routes { s += "Routes: \(counts(routes)).\n" }
            if let r = l.reasoningTokens { s += "Reasoning tokens: \(r) of \(l.outputTokens) output tokens.\n" }
            if let turns = l.turns {
                s += "Prompt tokens from the cache by turn: " + turns.map {
                    "turn \($0.turn) \(String(format: "%.0f%%", 100 * $0.cachedShare)) (\($0.cachedTokens) of \($0.promptTokens))"
                }.joined(separator: ", ") + ".\n"
            }
            if let e = l.emptyAnswers, e > 0 { s += "Empty answers (no content): \(e).\n" }
            if let a = l.acceptedDraftTokens, let r = l.rejectedDraftTokens, let rate = l.draftAcceptanceRate {
                s += "Speculative decoding: \(a) of \(a + r) draft tokens accepted (\(String(format: "%.0f%%", 100 * rate)))"
                s += l.tokensPerPass.map { String(format: ", %.2f output tokens per decode pass", $0) } ?? ""
                s += ".\n"
            }
            if !l.errors.isEmpty {
                s += "Errors: " + l.errors.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ") + ".\n"
            }
            s += "\n| ms | n | mean | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            for (name, d) in [("TTFT", l.ttft), ("TPOT", l.tpot), ("ITL", l.itl), ("E2E", l.e2e)] {
                s += "| \(name) | \(d.count) | \(ms(d.mean)) | \(ms(d.p50)) | \(ms(d.p90)) | \(ms(d.p99)) | \(ms(d.max)) |\n"
            }
        }
        if !plots.isEmpty {
            s += "\n## Plots\n\n" + plots.map { "* [\($0)](\($0))" }.joined(separator: "\n") + "\n"
        }
        return s
    }

    /// The SVG files of a report, by file name.
    public static func plots(_ report: BenchReport) -> [(String, String)] {
        var out: [(String, String)] = []
        let ok = report.records.filter(\.ok)
        let levels = report.levels.map(\.level)
        func cdf(_ title: String, _ file: String, _ values: (RequestRecord) -> [Double]) {
            let series = levels.map { lv in
                SVGLineChart.Series(name: lv, points: Statistics.cdf(ok.filter { $0.level == lv }.flatMap(values)).map { ($0.0 * 1000, $0.1) })
            }
            guard series.contains(where: { !$0.points.isEmpty }) else { return }
            out.append((file, SVGLineChart(title: title, xLabel: "ms", yLabel: "fraction of requests ≤ x",
                                           series: series, steps: true, yRange: 0...1).render()))
        }
        cdf("TTFT (CDF)", "ttft_cdf.svg") { $0.ttft.map { [$0] } ?? [] }
        cdf("TPOT (CDF)", "tpot_cdf.svg") { $0.tpot.map { [$0] } ?? [] }
        cdf("Inter-token latency (CDF)", "itl_cdf.svg") { $0.itl }
        cdf("End-to-end latency (CDF)", "e2e_cdf.svg") { $0.e2e.map { [$0] } ?? [] }
        if report.levels.count >= 2 {
            let ls = report.levels
            func pts(_ f: (LevelSummary) -> Double) -> [(Double, Double)] { ls.map { ($0.outputThroughput, f($0) * 1000) } }
            out.append(("sweep_ttft.svg", SVGLineChart(
                title: "Output throughput vs TTFT across the sweep", xLabel: "output tokens/s", yLabel: "TTFT ms",
                series: [.init(name: "p50", points: pts { $0.ttft.p50 }, markers: true),
                         .init(name: "p90", points: pts { $0.ttft.p90 }, markers: true),
                         .init(name: "p99", points: pts { $0.ttft.p99 }, markers: true)]).render()))
            out.append(("sweep_tpot.svg", SVGLineChart(
                title: "Output throughput vs TPOT across the sweep", xLabel: "output tokens/s", yLabel: "TPOT ms",
                series: [.init(name: "p50", points: pts { $0.tpot.p50 }, markers: true),
                         .init(name: "p90", points: pts { $0.tpot.p90 }, markers: true),
                         .init(name: "p99", points: pts { $0.tpot.p99 }, markers: true)]).render()))
            out.append(("sweep_goodput.svg", SVGLineChart(
                title: "Goodput across the sweep", xLabel: "level (index)", yLabel: "requests/s",
                series: [.init(name: "throughput", points: ls.enumerated().map { (Double($0.offset + 1), $0.element.requestThroughput) }, markers: true),
                         .init(name: "goodput", points: ls.enumerated().map { (Double($0.offset + 1), $0.element.goodput) }, markers: true)]).render()))
        }
        return out
    }
}
