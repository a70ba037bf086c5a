/// What happened to one request. Times are seconds; `start` is relative to the start of its level.
public struct RequestRecord: Sendable, Codable, Equatable {
    public var index: Int
    public var level: String
    public var tag: String
    public var start: Double
    /// Time to the first chunk carrying text (content or reasoning); nil if none arrived.
    public var ttft: Double?
    /// End to end: request sent → stream finished.
    public var e2e: Double?
    /// Gaps between consecutive text-carrying chunks.
    public var itl: [Double]
    /// Time per output token after the first: (e2e − ttft) / (outputTokens − 1); nil below 2 tokens.
    public var tpot: Double?
    public var promptTokens: Int
    public var cachedTokens: Int
    public var outputTokens: Int
    /// Text-carrying chunks seen in the stream.
    public var chunks: Int
    public var finishReason: String?
    /// nil when the request succeeded; otherwise a short type (`http_429`, `timeout`, `connect`, …).
    public var error: String?
    public var errorMessage: String?
    /// Speculative decoding, from the usage's `completion_tokens_details`: draft tokens the server
    /// accepted and rejected (nil when it reported none).
    public var acceptedDraftTokens: Int?
    public var rejectedDraftTokens: Int?
    /// The model that answered (`X-Tandem-Model`), how the gateway chose it
    /// (`X-Tandem-Route-Reason`) and the model it fell back from (`X-Tandem-Fallback-From`);
    /// nil where the server sends no such header (a coordinator, llama-server).
    public var model: String?
    public var route: String?
    public var fallbackFrom: String?
    /// Generated tokens spent reasoning (`completion_tokens_details.reasoning_tokens`).
    public var reasoningTokens: Int?
    /// The answer's text (content, not reasoning) was empty.
    public var emptyAnswer: Bool?
    /// The answer's text itself, for requests that keep it (`BenchRequest.keepsAnswer`: the council).
    public var answer: String?

    public init(index: Int, level: String, tag: String, start: Double, ttft: Double? = nil, e2e: Double? = nil,
                itl: [Double] = [], tpot: Double? = nil, promptTokens: Int = 0, cachedTokens: Int = 0,
                outputTokens: Int = 0, chunks: Int = 0, finishReason: String? = nil, error: String? = nil,
                errorMessage: String? = nil) {
        self.index = index
        self.level = level
        self.tag = tag
        self.start = start
        self.ttft = ttft
        self.e2e = e2e
        self.itl = itl
        self.tpot = tpot
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.outputTokens = outputTokens
        self.chunks = chunks
        self.finishReason = finishReason
        self.error = error
        self.errorMessage = errorMessage
    }

    public var ok: Bool { error == nil }

    /// TPOT from the measured times and the usage's output token count.
    public static func tpot(ttft: Double?, e2e: Double?, outputTokens: Int) -> Double? {
        guard let ttft, let e2e, outputTokens > 1 else { return nil }
        return (e2e - ttft) / Double(outputTokens - 1)
    }
}

/// Mean and percentiles of one quantity.
public struct Distribution: Sendable, Codable, Equatable {
    public var count: Int
    public var mean: Double
    public var min: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    public static let empty = Distribution(count: 0, mean: .nan, min: .nan, p50: .nan, p90: .nan, p99: .nan, max: .nan)

    public init(count: Int, mean: Double, min: Double, p50: Double, p90: Double, p99: Double, max: Double) {
        self.count = count
        self.mean = mean
        self.min = min
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }

    public init(_ values: [Double]) {
        let v = values.filter { $0.isFinite }.sorted()
        guard !v.isEmpty else {
            self = .empty
            return
        }
        self.init(count: v.count, mean: Statistics.mean(v), min: v[0],
                  p50: Statistics.percentile(sorted: v, 50), p90: Statistics.percentile(sorted: v, 90),
                  p99: Statistics.percentile(sorted: v, 99), max: v[v.count - 1])
    }

    // NaN is not valid JSON: encode missing figures as null.
    enum CodingKeys: String, CodingKey { case count, mean, min, p50, p90, p99, max }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(count, forKey: .count)
        for (k, x) in [(CodingKeys.mean, mean), (.min, min), (.p50, p50), (.p90, p90), (.p99, p99), (.max, max)] {
            if x.isFinite { try c.encode(x, forKey: k) } else { try c.encodeNil(forKey: k) }
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        count = try c.decode(Int.self, forKey: .count)
        func d(_ k: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: k) ?? .nan }
        mean = try d(.mean)
        min = try d(.min)
        p50 = try d(.p50)
        p90 = try d(.p90)
        p99 = try d(.p99)
        max = try d(.max)
    }
}

/// The service-level objective goodput is measured against: a request is "good" when it succeeded,
/// its TTFT ≤ `ttft` and its TPOT ≤ `tpot` (a request with fewer than two output tokens has no
/// TPOT and passes that half).
public struct SLO: Sendable, Codable, Equatable {
    public var ttft: Double
    public var tpot: Double

    public init(ttft: Double, tpot: Double) {
        self.ttft = ttft
        self.tpot = tpot
    }

    public func isMet(by r: RequestRecord) -> Bool {
        guard r.ok, let ttft = r.ttft, ttft <= self.ttft else { return false }
        if let tpot = r.tpot { return tpot <= self.tpot }
        return true
    }
}

/// The aggregate of one measured level.
/// One turn of a multi-turn workload: its requests' prompt tokens and the cached share.
public struct TurnTokens: Sendable, Codable, Equatable {
    public var turn: Int
    public var requests: Int
    public var promptTokens: Int
    public var cachedTokens: Int

    mutating func add(_ r: RequestRecord) {
        requests += 1
        promptTokens += r.promptTokens
        cachedTokens += r.cachedTokens
    }

    public var cachedShare: Double { promptTokens > 0 ? Double(cachedTokens) / Double(promptTokens) : 0 }
}

public struct LevelSummary: Sendable, Codable, Equatable {
    public var level: String
    public var load: LoadShape
    public var requests: Int
    public var succeeded: Int
    public var failed: Int
    public var errors: [String: Int]
    /// Seconds from the first request sent to the last one finished.
    public var duration: Double
    public var promptTokens: Int
    public var cachedTokens: Int
    public var outputTokens: Int
    public var ttft: Distribution
    public var tpot: Distribution
    public var itl: Distribution
    public var e2e: Distribution
    /// Successful requests per second.
    public var requestThroughput: Double
    /// Output tokens per second.
    public var outputThroughput: Double
    /// Prompt + output tokens per second.
    public var totalTokenThroughput: Double
    public var slo: SLO
    /// Requests meeting the SLO.
    public var good: Int
    /// Requests meeting the SLO, per second.
    public var goodput: Double
    /// Speculative decoding over the level's successful requests (nil when none reported drafts).
    public var acceptedDraftTokens: Int? = nil
    public var rejectedDraftTokens: Int? = nil

    /// Accepted over proposed draft tokens.
    public var draftAcceptanceRate: Double? {
        guard let a = acceptedDraftTokens, let r = rejectedDraftTokens, a + r > 0 else { return nil }
        return Double(a) / Double(a + r)
    }

    /// Successful requests by the model that answered, and by route reason (empty when the server
    /// says neither); requests answered by a fallback; requests whose answer text was empty;
    /// reasoning tokens among the output tokens.
    public var servedBy: [String: Int]? = nil
    public var routes: [String: Int]? = nil
    public var fallbacks: Int? = nil
    public var emptyAnswers: Int? = nil
    public var reasoningTokens: Int? = nil
    /// Multi-turn workloads: per turn (1, 2, ...), prompt tokens and those served from the cache.
    public var turns: [TurnTokens]? = nil

    /// Output tokens per decode pass: each pass emits one token plus the drafts it accepted.
    public var tokensPerPass: Double? {
        guard let a = acceptedDraftTokens, outputTokens > a else { return nil }
        return Double(outputTokens) / Double(outputTokens - a)
    }
}

public enum Statistics {
    public static func mean(_ v: [Double]) -> Double {
        v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
    }

    /// The `p`th percentile (0...100) of sorted values, linear interpolation between closest ranks
    /// (rank = p/100 · (n − 1); NumPy's default method).
    public static func percentile(sorted v: [Double], _ p: Double) -> Double {
        guard !v.isEmpty else { return .nan }
        let rank = Swift.min(Swift.max(p, 0), 100) / 100 * Double(v.count - 1)
        let lo = Int(rank.rounded(.down))
        let hi = Swift.min(lo + 1, v.count - 1)
        let frac = rank - Double(lo)
        return v[lo] + (v[hi] - v[lo]) * frac
    }

    public static func percentile(_ v: [Double], _ p: Double) -> Double {
        percentile(sorted: v.sorted(), p)
    }

    /// The empirical CDF as (value, fraction ≤ value) steps, at most `maxPoints` points.
    public static func cdf(_ values: [Double], maxPoints: Int = 400) -> [(Double, Double)] {
        let v = values.filter { $0.isFinite }.sorted()
        guard !v.isEmpty else { return [] }
        let n = v.count
        let step = Swift.max(1, n / maxPoints)
        var out: [(Double, Double)] = []
        var i = 0
        while i < n {
            out.append((v[i], Double(i + 1) / Double(n)))
            i += step
        }
        if out.last?.1 != 1 { out.append((v[n - 1], 1)) }
        return out
    }

    /// Aggregates the records of one level. `duration` defaults to first start → last finish.
    public static func summarize(level: String, load: LoadShape, records: [RequestRecord], slo: SLO,
                                 duration: Double? = nil) -> LevelSummary {
        let ok = records.filter(\.ok)
        var errors: [String: Int] = [:]
        for r in records { if let e = r.error { errors[e, default: 0] += 1 } }
        let firstStart = records.map(\.start).min() ?? 0
        let lastEnd = records.compactMap { r in r.e2e.map { r.start + $0 } }.max() ?? firstStart
        let span = duration ?? Swift.max(0, lastEnd - firstStart)
        let prompt = ok.reduce(0) { $0 + $1.promptTokens }
        let cached = ok.reduce(0) { $0 + $1.cachedTokens }
        let output = ok.reduce(0) { $0 + $1.outputTokens }
        let good = records.filter { slo.isMet(by: $0) }.count
        func rate(_ x: Double) -> Double { span > 0 ? x / span : 0 }
        let drafted = ok.filter { $0.acceptedDraftTokens != nil || $0.rejectedDraftTokens != nil }
        var summary = LevelSummary(
            level: level, load: load, requests: records.count, succeeded: ok.count, failed: records.count - ok.count,
            errors: errors, duration: span, promptTokens: prompt, cachedTokens: cached, outputTokens: output,
            ttft: Distribution(ok.compactMap(\.ttft)), tpot: Distribution(ok.compactMap(\.tpot)),
            itl: Distribution(ok.flatMap(\.itl)), e2e: Distribution(ok.compactMap(\.e2e)),
            requestThroughput: rate(Double(ok.count)), outputThroughput: rate(Double(output)),
            totalTokenThroughput: rate(Double(prompt + output)), slo: slo, good: good, goodput: rate(Double(good)))
        if !drafted.isEmpty {
            summary.acceptedDraftTokens = drafted.reduce(0) { $0 + ($1.acceptedDraftTokens ?? 0) }
            summary.rejectedDraftTokens = drafted.reduce(0) { $0 + ($1.rejectedDraftTokens ?? 0) }
        }
        let models = ok.compactMap(\.model), routes = ok.compactMap(\.route)
        if !models.isEmpty { summary.servedBy = Dictionary(models.map { ($0, 1) }, uniquingKeysWith: +) }
        if !routes.isEmpty { summary.routes = Dictionary(routes.map { ($0, 1) }, uniquingKeysWith: +) }
        if !models.isEmpty || !routes.isEmpty { summary.fallbacks = ok.filter { $0.fallbackFrom != nil }.count }
        summary.emptyAnswers = ok.filter { $0.emptyAnswer == true }.count
        let reasoning = ok.compactMap(\.reasoningTokens)
        if !reasoning.isEmpty { summary.reasoningTokens = reasoning.reduce(0, +) }
        var byTurn: [Int: TurnTokens] = [:]
        for r in ok {
            guard let range = r.tag.range(of: "/turn-"), let turn = Int(r.tag[range.upperBound...]) else { continue }
            byTurn[turn, default: TurnTokens(turn: turn, requests: 0, promptTokens: 0, cachedTokens: 0)].add(r)
        }
        if !byTurn.isEmpty { summary.turns = byTurn.keys.sorted().map { byTurn[$0]! } }
        return summary
    }

    /// For a saturation sweep: true once the last level's goodput fell below `1 − tolerance` times
    /// the best goodput of the levels before it.
    public static func goodputFell(_ goodputs: [Double], tolerance: Double) -> Bool {
        guard goodputs.count >= 2, let last = goodputs.last else { return false }
        let best = goodputs.dropLast().max() ?? 0
        return best > 0 && last < best * (1 - tolerance)
    }
}
