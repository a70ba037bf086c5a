import Foundation
import Testing
@testable import TandemBench

@Suite struct PercentileTests {
    @Test func linearInterpolationMatchesNumPy() {
        let v = (1...10).map(Double.init)
        // numpy.percentile(range(1, 11), [0, 50, 90, 99, 100]) = 1, 5.5, 9.1, 9.91, 10
        #expect(Statistics.percentile(v, 0) == 1)
        #expect(abs(Statistics.percentile(v, 50) - 5.5) < 1e-12)
        #expect(abs(Statistics.percentile(v, 90) - 9.1) < 1e-12)
        #expect(abs(Statistics.percentile(v, 99) - 9.91) < 1e-12)
        #expect(Statistics.percentile(v, 100) == 10)
    }

    @Test func unsortedInputAndEdgeCases() {
        #expect(Statistics.percentile([3, 1, 2], 50) == 2)
        #expect(Statistics.percentile([7], 99) == 7)
        #expect(Statistics.percentile([], 50).isNaN)
        // numpy.percentile([10, 20, 30, 40], 25) = 17.5
        #expect(abs(Statistics.percentile([40, 10, 30, 20], 25) - 17.5) < 1e-12)
    }

    @Test func distributionOfKnownValues() {
        let d = Distribution([0.4, 0.1, 0.3, 0.2, .nan])
        #expect(d.count == 4)
        #expect(abs(d.mean - 0.25) < 1e-12)
        #expect(d.min == 0.1 && d.max == 0.4)
        #expect(abs(d.p50 - 0.25) < 1e-12)
        #expect(abs(d.p90 - 0.37) < 1e-12)
        #expect(abs(d.p99 - 0.397) < 1e-12)
        #expect(d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max)
        #expect(Distribution([]).count == 0 && Distribution([]).p50.isNaN)
    }

    @Test func percentilesAreOrderedOnRandomData() {
        var rng = SeededRNG(seed: 9)
        for _ in 0..<50 {
            let v = (0..<rng.int(in: 1...200)).map { _ in rng.exponential(rate: 3) }
            let d = Distribution(v)
            #expect(d.min <= d.p50 && d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max)
            #expect(d.min <= d.mean && d.mean <= d.max)
        }
    }

    @Test func cdfEndsAtOneAndIsMonotonic() {
        let c = Statistics.cdf([3, 1, 2, 2])
        #expect(c.map(\.0) == [1, 2, 2, 3])
        #expect(c.map(\.1) == [0.25, 0.5, 0.75, 1])
        let big = Statistics.cdf((0..<10_000).map(Double.init), maxPoints: 100)
        #expect(big.count <= 102 && big.last!.1 == 1)
        #expect(zip(big, big.dropFirst()).allSatisfy { $0.0 <= $1.0 && $0.1 <= $1.1 })
    }
}

@Suite struct SummaryTests {
    /// Four requests with hand-computed answers: three succeed, one fails with HTTP 429.
    static let records: [RequestRecord] = [
        RequestRecord(index: 0, level: "c=2", tag: "t", start: 0.0, ttft: 0.1, e2e: 1.1, itl: [0.25, 0.25, 0.25, 0.25],
                      tpot: RequestRecord.tpot(ttft: 0.1, e2e: 1.1, outputTokens: 5),
                      promptTokens: 10, cachedTokens: 0, outputTokens: 5, chunks: 5, finishReason: "length"),
        RequestRecord(index: 1, level: "c=2", tag: "t", start: 0.0, ttft: 0.3, e2e: 2.3, itl: [0.5, 0.5, 0.5, 0.5],
                      tpot: RequestRecord.tpot(ttft: 0.3, e2e: 2.3, outputTokens: 5),
                      promptTokens: 10, cachedTokens: 8, outputTokens: 5, chunks: 5, finishReason: "length"),
        RequestRecord(index: 2, level: "c=2", tag: "t", start: 1.1, ttft: 0.2, e2e: 0.2, itl: [],
                      tpot: RequestRecord.tpot(ttft: 0.2, e2e: 0.2, outputTokens: 1),
                      promptTokens: 20, cachedTokens: 0, outputTokens: 1, chunks: 1, finishReason: "stop"),
        RequestRecord(index: 3, level: "c=2", tag: "t", start: 2.3, e2e: 0.05, promptTokens: 99, outputTokens: 99,
                      error: "http_429", errorMessage: "slow down"),
    ]

    @Test func tpotFormula() {
        #expect(RequestRecord.tpot(ttft: 0.1, e2e: 1.1, outputTokens: 5) == 0.25)
        #expect(RequestRecord.tpot(ttft: 0.2, e2e: 0.2, outputTokens: 1) == nil)
        #expect(RequestRecord.tpot(ttft: nil, e2e: 1, outputTokens: 5) == nil)
    }

    @Test func summaryOfKnownRecords() {
        let slo = SLO(ttft: 0.25, tpot: 0.3)
        let s = Statistics.summarize(level: "c=2", load: .concurrency(2), records: Self.records, slo: slo)
        #expect(s.requests == 4 && s.succeeded == 3 && s.failed == 1)
        #expect(s.errors == ["http_429": 1])
        // Span: first start 0 → last end max(1.1, 2.3, 1.3, 2.35) = 2.35.
        #expect(abs(s.duration - 2.35) < 1e-12)
        // Tokens only from successful requests.
        #expect(s.promptTokens == 40 && s.cachedTokens == 8 && s.outputTokens == 11)
        #expect(abs(s.requestThroughput - 3 / 2.35) < 1e-12)
        #expect(abs(s.outputThroughput - 11 / 2.35) < 1e-12)
        #expect(abs(s.totalTokenThroughput - 51 / 2.35) < 1e-12)
        // TTFT of the successes: 0.1, 0.2, 0.3.
        #expect(s.ttft.count == 3 && abs(s.ttft.mean - 0.2) < 1e-12 && abs(s.ttft.p50 - 0.2) < 1e-12)
        #expect(abs(s.ttft.p90 - 0.28) < 1e-12)
        // TPOT: 0.25 and 0.5 (the one-token request has none).
        #expect(s.tpot.count == 2 && abs(s.tpot.mean - 0.375) < 1e-12)
        #expect(s.itl.count == 8 && abs(s.itl.mean - 0.375) < 1e-12)
        // Good: request 0 (0.1 ≤ 0.25, 0.25 ≤ 0.3) and request 2 (0.2, no TPOT); not 1 (TTFT 0.3), not 3 (failed).
        #expect(s.good == 2)
        #expect(abs(s.goodput - 2 / 2.35) < 1e-12)
    }

    @Test func explicitDurationAndEmptyLevel() {
        let s = Statistics.summarize(level: "x", load: .concurrency(1), records: Self.records, slo: SLO(ttft: 1, tpot: 1), duration: 10)
        #expect(s.requestThroughput == 0.3 && s.goodput == 0.3)
        let e = Statistics.summarize(level: "x", load: .concurrency(1), records: [], slo: SLO(ttft: 1, tpot: 1))
        #expect(e.requests == 0 && e.requestThroughput == 0 && e.ttft.count == 0)
    }

    @Test func sloEdges() {
        let slo = SLO(ttft: 0.1, tpot: 0.25)
        #expect(slo.isMet(by: Self.records[0]))  // TTFT exactly 0.1, TPOT exactly 0.25: both bounds inclusive
        #expect(!slo.isMet(by: Self.records[2]))
        #expect(!SLO(ttft: 100, tpot: 100).isMet(by: Self.records[3]))
        var noText = Self.records[2]
        noText.ttft = nil
        #expect(!SLO(ttft: 100, tpot: 100).isMet(by: noText))
    }

    @Test func goodputFallDetection() {
        #expect(!Statistics.goodputFell([1], tolerance: 0.1))
        #expect(!Statistics.goodputFell([1, 2, 3], tolerance: 0.1))
        #expect(!Statistics.goodputFell([1, 2, 1.85], tolerance: 0.1))
        #expect(Statistics.goodputFell([1, 2, 1.7], tolerance: 0.1))
        #expect(Statistics.goodputFell([2, 1, 1.5], tolerance: 0.1))
        #expect(!Statistics.goodputFell([0, 0], tolerance: 0.1))
    }
}
