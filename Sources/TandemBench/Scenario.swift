import Foundation

/// A benchmark scenario (a JSON file under `bench/scenarios/`; keys in snake_case). Every field
/// but `name` is optional; `tandem bench` options override the file.
public struct Scenario: Sendable, Codable, Equatable {
    public struct Workload: Sendable, Codable, Equatable {
        /// `random`, `shared-prefix`, `multi-turn`, `council` or `jsonl`.
        public var kind: String
        public var inputLen: Int?
        public var outputLen: Int?
        public var rangeRatio: Double?
        public var groups: Int?
        public var questions: Int?
        public var prefixLen: Int?
        public var questionLen: Int?
        public var maxTokensCap: Int?
        public var path: String?
        /// multi-turn: words of each earlier assistant reply resent in the history.
        public var replyLen: Int?

        public init(kind: String) { self.kind = kind }
    }

    public struct Load: Sendable, Codable, Equatable {
        /// `concurrency` or `rate`.
        public var kind: String
        /// Concurrency levels or request rates (requests/s); more than one makes a sweep.
        public var levels: [Double]
        /// Gamma shape of the inter-arrival gaps (1: Poisson).
        public var burstiness: Double?
        /// Bound on outstanding requests in rate mode (0 or absent: none).
        public var maxInFlight: Int?

        public init(kind: String, levels: [Double]) {
            self.kind = kind
            self.levels = levels
        }
    }

    public struct SLOConfig: Sendable, Codable, Equatable {
        public var ttftMs: Double
        public var tpotMs: Double

        public init(ttftMs: Double, tpotMs: Double) {
            self.ttftMs = ttftMs
            self.tpotMs = tpotMs
        }
    }

    public var name: String
    public var description: String?
    public var endpoint: String?
    public var workload: Workload?
    public var load: Load?
    /// Measured requests per level (upper bound).
    public var requests: Int?
    /// Seconds per level (upper bound on sending).
    public var durationS: Double?
    /// Warm-up requests before the first level, not counted.
    public var warmup: Int?
    public var seed: UInt64?
    public var slo: SLOConfig?
    /// Stop a sweep once goodput falls below (1 − goodput_tolerance) × the best so far.
    public var stopWhenGoodputFalls: Bool?
    public var goodputTolerance: Double?
    public var requestTimeoutS: Double?
    public var temperature: Double?

    public init(name: String) { self.name = name }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    public static func load(path: String) throws -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError("\(path): cannot read the file")
        }
        do {
            return try decoder.decode(Scenario.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ScenarioError("\(path): missing '\(key.stringValue)' at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ScenarioError("\(path): wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)")
        } catch {
            throw ScenarioError("\(path): \(error)")
        }
    }

    /// The checked, defaulted form of the scenario.
    public func resolved(baseDirectory: String? = nil) throws -> ResolvedScenario {
        let w = workload ?? Workload(kind: "random")
        let spec: WorkloadSpec
        switch w.kind {
        case "random":
            spec = .random(inputLen: w.inputLen ?? 128, outputLen: w.outputLen ?? 64, rangeRatio: w.rangeRatio ?? 0)
        case "shared-prefix":
            spec = .sharedPrefix(groups: w.groups ?? 4, questions: w.questions ?? 8, prefixLen: w.prefixLen ?? 512,
                                 questionLen: w.questionLen ?? 32, outputLen: w.outputLen ?? 64)
        case "multi-turn":
            // groups: conversations, questions: turns, prefix_len: the system prompt, question_len:
            // each user turn.
            spec = .multiTurn(conversations: w.groups ?? 4, turns: w.questions ?? 6, systemLen: w.prefixLen ?? 256,
                              userLen: w.questionLen ?? 32, replyLen: w.replyLen ?? 64, outputLen: w.outputLen ?? 64)
        case "council":
            spec = .council(maxTokensCap: w.maxTokensCap)
        case "jsonl":
            guard var path = w.path else { throw ScenarioError("workload 'jsonl' needs 'path'") }
            if !path.hasPrefix("/"), let base = baseDirectory { path = base + "/" + path }
            spec = .jsonl(path: path, defaultMaxTokens: w.outputLen ?? 128)
        default:
            throw ScenarioError("unknown workload kind '\(w.kind)' (random, shared-prefix, multi-turn, council, jsonl)")
        }
        for (k, v) in [("input_len", w.inputLen), ("output_len", w.outputLen), ("groups", w.groups), ("questions", w.questions),
                       ("prefix_len", w.prefixLen), ("question_len", w.questionLen), ("max_tokens_cap", w.maxTokensCap),
                       ("reply_len", w.replyLen)] {
            if let v, v < 1 { throw ScenarioError("workload.\(k) must be ≥ 1, got \(v)") }
        }
        if let r = w.rangeRatio, !(0...1).contains(r) { throw ScenarioError("workload.range_ratio must be in 0...1") }
        let l = load ?? Load(kind: "concurrency", levels: [1])
        guard !l.levels.isEmpty else { throw ScenarioError("load.levels must not be empty") }
        let burst = l.burstiness ?? 1
        guard burst > 0 else { throw ScenarioError("load.burstiness must be > 0") }
        let shapes: [LoadShape]
        switch l.kind {
        case "concurrency":
            shapes = try l.levels.map { v in
                guard v >= 1, v == v.rounded() else { throw ScenarioError("concurrency levels must be integers ≥ 1, got \(v)") }
                return .concurrency(Int(v))
            }
        case "rate":
            shapes = try l.levels.map { v in
                guard v > 0 else { throw ScenarioError("rates must be > 0, got \(v)") }
                return .rate(v, burstiness: burst, maxInFlight: l.maxInFlight ?? 0)
            }
        default:
            throw ScenarioError("unknown load kind '\(l.kind)' (concurrency, rate)")
        }
        guard let ep = BenchEndpoint(rawValue: endpoint ?? "chat") else {
            throw ScenarioError("endpoint must be 'chat' or 'completions'")
        }
        let requests = self.requests ?? 32
        let duration = durationS ?? 60
        guard requests >= 1 else { throw ScenarioError("requests must be ≥ 1") }
        guard duration > 0 else { throw ScenarioError("duration_s must be > 0") }
        let sloConfig = slo ?? SLOConfig(ttftMs: 2000, tpotMs: 200)
        return ResolvedScenario(
            name: name, endpoint: ep, workload: spec, workloadDescription: Self.describe(spec), levels: shapes,
            requests: requests, duration: duration, warmup: max(0, warmup ?? 0), seed: seed ?? 0,
            slo: SLO(ttft: sloConfig.ttftMs / 1000, tpot: sloConfig.tpotMs / 1000),
            stopWhenGoodputFalls: stopWhenGoodputFalls ?? false, goodputTolerance: goodputTolerance ?? 0.1,
            requestTimeout: requestTimeoutS ?? 120, temperature: temperature ?? 0)
    }

    static func describe(_ spec: WorkloadSpec) -> String {
        switch spec {
        case .random(let i, let o, let r):
            return "random (\(i) words in, \(o) tokens out" + (r > 0 ? ", ±\(Int(r * 100))%)" : ")")
        case .sharedPrefix(let g, let q, let p, let ql, let o):
            return "shared-prefix (\(g) system prompts of \(p) words × \(q) questions of \(ql) words, \(o) tokens out)"
        case .multiTurn(let c, let t, let sys, let u, let r, let o):
            return "multi-turn (\(c) conversations × \(t) turns: system prompt of \(sys) words, user turns of \(u) words, earlier replies of \(r) words resent, \(o) tokens out)"
        case .council(let cap):
            return "council (\(CouncilTasks.all.count) tasks" + (cap.map { ", max_tokens capped at \($0))" } ?? ")")
        case .jsonl(let path, _):
            return "jsonl (\(path))"
        }
    }
}

public struct ScenarioError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

public struct ResolvedScenario: Sendable {
    public var name: String
    public var endpoint: BenchEndpoint
    public var workload: WorkloadSpec
    public var workloadDescription: String
    public var levels: [LoadShape]
    public var requests: Int
    public var duration: Double
    public var warmup: Int
    public var seed: UInt64
    public var slo: SLO
    public var stopWhenGoodputFalls: Bool
    public var goodputTolerance: Double
    public var requestTimeout: Double
    public var temperature: Double
}
