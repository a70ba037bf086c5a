import ArgumentParser
import Foundation
import TandemBench

/// `tandem bench`: load-test an OpenAI-compatible server (a coordinator, the gateway or a peer).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test an OpenAI-compatible server: TTFT, TPOT, ITL, throughput, goodput under an SLO.",
        discussion: """
            Streams requests to /v1/chat/completions or /v1/completions with \
            stream_options.include_usage and measures every request. Load: a fixed concurrency \
            (--concurrency) or Poisson/Gamma arrivals (--rate, --burstiness); a comma-separated list \
            of levels is a sweep. Every level stops by itself after --requests requests or --duration \
            seconds, whichever comes first; every request is bounded by --request-timeout. \
            A scenario file (--scenario, see bench/scenarios/) gives the defaults; options override it. \
            Writes summary.md, results.json (every request) and SVG plots into --out; prints a live \
            progress line on stderr and the summary on stdout.
            """)

    @Option(name: .customLong("base-url"), help: "Server base URL (with or without /v1).")
    var baseURL: String = "http://127.0.0.1:8100"

    @Option(help: "Model name sent in each request.")
    var model: String

    @Option(name: .customLong("api-key"), help: "Bearer key (default: $TANDEM_API_KEY or $OPENAI_API_KEY, if set).")
    var apiKey: String?

    @Option(help: "Scenario: a JSON file, or the name of one in bench/scenarios/ (smoke, shared-prefix, council, saturation).")
    var scenario: String?

    @Option(help: "chat or completions.")
    var endpoint: String?

    @Option(help: "Workload: random, shared-prefix, multi-turn, council or jsonl.")
    var workload: String?

    @Option(name: .customLong("prompts"), help: "JSONL file of prompts (implies --workload jsonl).")
    var promptsFile: String?

    @Option(name: .customLong("input-len"), help: "random: prompt length in words.")
    var inputLen: Int?

    @Option(name: .customLong("output-len"), help: "random, shared-prefix: max_tokens (jsonl: the default).")
    var outputLen: Int?

    @Option(name: .customLong("range-ratio"), help: "random: lengths drawn uniformly within ± this fraction (0...1).")
    var rangeRatio: Double?

    @Option(help: "shared-prefix: number of system prompts (G); multi-turn: conversations.")
    var groups: Int?

    @Option(help: "shared-prefix: questions per system prompt (Q); multi-turn: turns per conversation.")
    var questions: Int?

    @Option(name: .customLong("prefix-len"), help: "shared-prefix, multi-turn: system prompt length in words.")
    var prefixLen: Int?

    @Option(name: .customLong("question-len"), help: "shared-prefix: question length in words; multi-turn: each user turn's.")
    var questionLen: Int?

    @Option(name: .customLong("reply-len"), help: "multi-turn: words of each earlier assistant reply resent in the history.")
    var replyLen: Int?

    @Option(name: .customLong("max-tokens-cap"), help: "council: cap every task's max_tokens.")
    var maxTokensCap: Int?

    @Option(help: "Concurrency level(s), e.g. 1,2,4 (a sweep).")
    var concurrency: String?

    @Option(help: "Request rate(s) in requests/s, e.g. 0.5,1,2 (a sweep).")
    var rate: String?

    @Option(help: "Gamma shape of inter-arrival gaps with --rate: 1 is Poisson, < 1 burstier.")
    var burstiness: Double?

    @Option(name: .customLong("max-in-flight"), help: "With --rate: bound on outstanding requests (0: none).")
    var maxInFlight: Int?

    @Option(help: "Measured requests per level (upper bound).")
    var requests: Int?

    @Option(help: "Seconds per level (no request is sent after it).")
    var duration: Double?

    @Option(help: "Warm-up requests before measuring (not counted).")
    var warmup: Int?

    @Option(help: "Seed for prompts and arrivals.")
    var seed: UInt64?

    @Option(name: .customLong("slo-ttft-ms"), help: "Goodput SLO: TTFT bound in ms.")
    var sloTTFT: Double?

    @Option(name: .customLong("slo-tpot-ms"), help: "Goodput SLO: TPOT bound in ms.")
    var sloTPOT: Double?

    @Flag(name: .customLong("stop-when-goodput-falls"), help: "Stop a sweep once goodput falls below the best so far.")
    var stopWhenGoodputFalls = false

    @Option(name: .customLong("goodput-tolerance"), help: "Fraction goodput may fall below the best before a sweep stops.")
    var goodputTolerance: Double?

    @Option(name: .customLong("request-timeout"), help: "Seconds one request may take.")
    var requestTimeout: Double?

    @Option(help: "Sampling temperature.")
    var temperature: Double?

    @Option(help: "Output directory (default bench/out/<scenario>-<time>).")
    var out: String?

    @Flag(help: "No progress line.")
    var quiet = false

    static func levels(_ text: String, name: String) throws -> [Double] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap(Double.init)
        guard !values.isEmpty, values.count == parts.count else { throw ValidationError("--\(name) must be a comma-separated list of numbers") }
        return values
    }

    func scenarioPath() -> String? {
        guard let scenario else { return nil }
        if FileManager.default.fileExists(atPath: scenario) { return scenario }
        return "bench/scenarios/\(scenario).json"
    }

    func validate() throws {
        if concurrency != nil && rate != nil { throw ValidationError("give --concurrency or --rate, not both") }
    }

    func run() async throws {
        var s: Scenario
        var baseDirectory: String?
        if let path = scenarioPath() {
            do { s = try Scenario.load(path: path) } catch { throw ValidationError("\(error)") }
            baseDirectory = (path as NSString).deletingLastPathComponent
        } else {
            s = Scenario(name: "custom")
        }
        if let endpoint { s.endpoint = endpoint }
        var w = s.workload ?? Scenario.Workload(kind: "random")
        if let workload, workload != w.kind { w = Scenario.Workload(kind: workload) }
        if let promptsFile {
            w.kind = "jsonl"
            w.path = promptsFile
        }
        if let inputLen { w.inputLen = inputLen }
        if let outputLen { w.outputLen = outputLen }
        if let rangeRatio { w.rangeRatio = rangeRatio }
        if let groups { w.groups = groups }
        if let questions { w.questions = questions }
        if let prefixLen { w.prefixLen = prefixLen }
        if let questionLen { w.questionLen = questionLen }
        if let maxTokensCap { w.maxTokensCap = maxTokensCap }
        if let replyLen { w.replyLen = replyLen }
        s.workload = w
        var l = s.load ?? Scenario.Load(kind: "concurrency", levels: [1])
        if let concurrency { l = Scenario.Load(kind: "concurrency", levels: try Self.levels(concurrency, name: "concurrency")) }
        if let rate {
            let keep = l.kind == "rate" ? l : Scenario.Load(kind: "rate", levels: [])
            l = keep
            l.levels = try Self.levels(rate, name: "rate")
        }
        if let burstiness { l.burstiness = burstiness }
        if let maxInFlight { l.maxInFlight = maxInFlight }
        s.load = l
        if let requests { s.requests = requests }
        if let duration { s.durationS = duration }
        if let warmup { s.warmup = warmup }
        if let seed { s.seed = seed }
        if sloTTFT != nil || sloTPOT != nil {
            s.slo = .init(ttftMs: sloTTFT ?? s.slo?.ttftMs ?? 2000, tpotMs: sloTPOT ?? s.slo?.tpotMs ?? 200)
        }
        if stopWhenGoodputFalls { s.stopWhenGoodputFalls = true }
        if let goodputTolerance { s.goodputTolerance = goodputTolerance }
        if let requestTimeout { s.requestTimeoutS = requestTimeout }
        if let temperature { s.temperature = temperature }

        let resolved: ResolvedScenario
        do { resolved = try s.resolved(baseDirectory: baseDirectory == "" ? nil : baseDirectory) } catch { throw ValidationError("\(error)") }
        let env = ProcessInfo.processInfo.environment
        let key = apiKey ?? env["TANDEM_API_KEY"] ?? env["OPENAI_API_KEY"]
        let target = BenchTarget(baseURL: baseURL, model: model, apiKey: key, endpoint: resolved.endpoint,
                                 temperature: resolved.temperature, requestTimeout: resolved.requestTimeout)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let dir = out ?? "bench/out/\(resolved.name)-\(stamp)"
        let report: BenchReport
        do {
            report = try await BenchSession.run(resolved, target: target, outputDirectory: dir, showProgress: !quiet)
        } catch let e as ScenarioError {
            throw ValidationError(e.description)
        }
        print(Report.markdown(report, plots: []))
        FileHandle.standardError.write(Data("wrote \(dir)/summary.md, \(dir)/results.json and the SVG plots\n".utf8))
        if report.records.allSatisfy({ !$0.ok }) { throw ExitCode(2) }
    }
}
