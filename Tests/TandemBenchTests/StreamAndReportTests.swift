import Foundation
import Testing
@testable import TandemBench

@Suite struct SSETests {
    @Test func splitsEventsAcrossArbitraryChunkBoundaries() {
        let wire = "data: {\"a\":1}\n\n: comment\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\nevent: x\ndata: [DONE]\n\n"
        let bytes = Array(wire.utf8)
        for cut in [1, 3, 7, 1000] {
            var p = SSEParser()
            var out: [String] = []
            var i = 0
            while i < bytes.count {
                out += p.feed(bytes[i..<min(i + cut, bytes.count)])
                i += cut
            }
            out += p.finish()
            #expect(out == ["{\"a\":1}", "{\"b\":\n2}", "[DONE]"])
        }
    }

    @Test func finishFlushesAnUnterminatedEvent() {
        var p = SSEParser()
        #expect(p.feed(Array("data: [DONE]".utf8)).isEmpty)
        #expect(p.finish() == ["[DONE]"])
    }
}

@Suite struct AccumulatorTests {
    static func chunk(_ text: String, finish: String? = nil) -> String {
        "{\"choices\":[{\"index\":0,\"text\":\"\(text)\",\"finish_reason\":\(finish.map { "\"\($0)\"" } ?? "null")}]}"
    }

    @Test func measuresTTFTInterTokenGapsAndUsage() {
        var a = StreamAccumulator()
        a.consume("{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}", at: 0.05)
        a.consume("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}", at: 0.5)
        a.consume("{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"},\"finish_reason\":null}]}", at: 0.75)
        a.consume("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}", at: 1.25)
        a.consume("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}", at: 1.3)
        a.consume("{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4,\"total_tokens\":16,\"prompt_tokens_details\":{\"cached_tokens\":8}}}", at: 1.3)
        a.consume("[DONE]", at: 1.3)
        let r = a.record(index: 3, level: "c=1", tag: "t", start: 2, end: 1.5)
        #expect(r.ok)
        #expect(r.ttft == 0.5 && r.itl == [0.25, 0.5] && r.chunks == 3)
        #expect(r.promptTokens == 12 && r.cachedTokens == 8 && r.outputTokens == 4)
        #expect(abs(r.tpot! - (1.5 - 0.5) / 3) < 1e-12)
        #expect(r.e2e == 1.5 && r.finishReason == "length" && r.index == 3 && r.start == 2)
    }

    @Test("speculative decoding: accepted and rejected draft tokens from the usage reach the level summary and the report")
    func draftTokensFromTheUsage() {
        func record(_ i: Int, output: Int, accepted: Int?, rejected: Int?) -> RequestRecord {
            var a = StreamAccumulator()
            a.consume(Self.chunk("x"), at: 0.1)
            a.consume(Self.chunk("y", finish: "stop"), at: 0.2)
            var details = ""
            if let accepted, let rejected {
                details = ",\"completion_tokens_details\":{\"reasoning_tokens\":0,\"accepted_prediction_tokens\":\(accepted),\"rejected_prediction_tokens\":\(rejected)}"
            }
            a.consume("{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":\(output)\(details)}}", at: 0.2)
            a.consume("[DONE]", at: 0.2)
            return a.record(index: i, level: "c=2", tag: "t", start: 0, end: 0.3)
        }
        let drafted = record(0, output: 20, accepted: 10, rejected: 5)
        #expect(drafted.acceptedDraftTokens == 10 && drafted.rejectedDraftTokens == 5)
        let plain = record(1, output: 12, accepted: 0, rejected: 0)
        #expect(plain.acceptedDraftTokens == nil && plain.rejectedDraftTokens == nil)
        #expect(record(2, output: 3, accepted: nil, rejected: nil).acceptedDraftTokens == nil)
        let l = Statistics.summarize(level: "c=2", load: .concurrency(2), records: [drafted, plain], slo: SLO(ttft: 1, tpot: 1))
        #expect(l.acceptedDraftTokens == 10 && l.rejectedDraftTokens == 5)
        #expect(abs(l.draftAcceptanceRate! - 10.0 / 15.0) < 1e-12)
        #expect(abs(l.tokensPerPass! - 32.0 / 22.0) < 1e-12)  // 32 output tokens in 32 - 10 passes
        let none = Statistics.summarize(level: "c=1", load: .concurrency(1), records: [plain], slo: SLO(ttft: 1, tpot: 1))
        #expect(none.acceptedDraftTokens == nil && none.draftAcceptanceRate == nil)
        let report = BenchReport(scenario: "s", target: "", model: "m", endpoint: "completions", workload: "w", seed: 0,
                                 startedAt: "now", warmupRequests: 0, levels: [l, none], records: [drafted, plain])
        let md = Report.markdown(report)
        #expect(md.contains("Speculative decoding: 10 of 15 draft tokens accepted (67%), 1.45 output tokens per decode pass."))
        #expect(md.components(separatedBy: "Speculative decoding:").count == 2)
    }

    @Test("routing and reasoning: the answering model, route and fallback per request, reasoning tokens, empty answers")
    func routingAndReasoningPerRequest() {
        func record(_ i: Int, reasoningOnly: Bool, model: String?, route: String?, fallback: String? = nil) -> RequestRecord {
            var a = StreamAccumulator()
            a.consume("{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hmm\"},\"finish_reason\":null}]}", at: 0.1)
            if !reasoningOnly { a.consume("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Yes\"},\"finish_reason\":null}]}", at: 0.2) }
            a.consume("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}", at: 0.2)
            a.consume("{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6,\"completion_tokens_details\":{\"reasoning_tokens\":4}}}", at: 0.2)
            a.consume("[DONE]", at: 0.2)
            var r = a.record(index: i, level: "c=1", tag: "t", start: 0, end: 0.3)
            r.model = model
            r.route = route
            r.fallbackFrom = fallback
            return r
        }
        let empty = record(0, reasoningOnly: true, model: "thinker", route: "rule:reasoning")
        #expect(empty.emptyAnswer == true && empty.reasoningTokens == 4)
        let answered = record(1, reasoningOnly: false, model: "small", route: "fallback", fallback: "big-down")
        #expect(answered.emptyAnswer == false)
        let l = Statistics.summarize(level: "c=1", load: .concurrency(1),
                                     records: [empty, answered, record(2, reasoningOnly: false, model: "small", route: "explicit")],
                                     slo: SLO(ttft: 1, tpot: 1))
        #expect(l.servedBy == ["thinker": 1, "small": 2])
        #expect(l.routes == ["rule:reasoning": 1, "fallback": 1, "explicit": 1])
        #expect(l.fallbacks == 1 && l.emptyAnswers == 1 && l.reasoningTokens == 12)
        let md = Report.markdown(BenchReport(scenario: "s", target: "", model: "auto", endpoint: "chat", workload: "w", seed: 0,
                                             startedAt: "now", warmupRequests: 0, levels: [l], records: []))
        #expect(md.contains("Answered by: small × 2, thinker × 1; fallbacks: 1."))
        #expect(md.contains("Routes: explicit × 1, fallback × 1, rule:reasoning × 1."))
        #expect(md.contains("Reasoning tokens: 12 of 18 output tokens."))
        #expect(md.contains("Empty answers (no content): 1."))
        // A server that says nothing of routing (a coordinator): no such lines.
        let plain = Statistics.summarize(level: "c=1", load: .concurrency(1), records: [record(3, reasoningOnly: false, model: nil, route: nil)],
                                         slo: SLO(ttft: 1, tpot: 1))
        #expect(plain.servedBy == nil && plain.routes == nil && plain.fallbacks == nil)
    }

    @Test func errorEventsMissingDoneAndMissingUsage() {
        var e = StreamAccumulator()
        e.consume(Self.chunk("x"), at: 0.1)
        e.consume("{\"error\":{\"message\":\"worker died\",\"type\":\"server_error\"}}", at: 0.2)
        e.consume("[DONE]", at: 0.2)
        #expect(e.record(index: 0, level: "l", tag: "t", start: 0, end: 0.2).error == "stream_server_error")

        var cut = StreamAccumulator()
        cut.consume(Self.chunk("x"), at: 0.1)
        #expect(cut.record(index: 0, level: "l", tag: "t", start: 0, end: 0.2).error == "incomplete")

        var noUsage = StreamAccumulator()
        noUsage.consume(Self.chunk("x", finish: "stop"), at: 0.1)
        noUsage.consume("[DONE]", at: 0.1)
        #expect(noUsage.record(index: 0, level: "l", tag: "t", start: 0, end: 0.2).error == "no_usage")

        var garbage = StreamAccumulator()
        garbage.consume("{not json", at: 0.1)
        garbage.consume("[DONE]", at: 0.1)
        #expect(garbage.record(index: 0, level: "l", tag: "t", start: 0, end: 0.2).error == "bad_chunk")
    }
}

@Suite struct ScenarioTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    @Test(arguments: ["smoke", "shared-prefix", "council", "saturation"])
    func checkedInScenariosResolve(name: String) throws {
        let s = try Scenario.load(path: "\(Self.root)/bench/scenarios/\(name).json")
        #expect(s.name == name)
        let r = try s.resolved()
        #expect(!r.levels.isEmpty && r.requests >= 1 && r.duration > 0 && r.requestTimeout > 0)
        if name == "saturation" { #expect(r.levels.count >= 3 && r.stopWhenGoodputFalls) }
        if name == "smoke" { #expect(r.requests <= 16 && r.duration <= 60) }
    }

    @Test func defaultsAndErrors() throws {
        let r = try Scenario(name: "x").resolved()
        #expect(r.levels == [.concurrency(1)] && r.endpoint == .chat && r.slo == SLO(ttft: 2, tpot: 0.2))
        let json = """
            {"name": "y", "endpoint": "completions", "workload": {"kind": "random", "input_len": 5, "output_len": 3},
             "load": {"kind": "rate", "levels": [0.5, 2], "burstiness": 0.5, "max_in_flight": 4},
             "slo": {"ttft_ms": 500, "tpot_ms": 50}, "stop_when_goodput_falls": true}
            """
        let y = try Scenario.decoder.decode(Scenario.self, from: Data(json.utf8)).resolved()
        #expect(y.levels == [.rate(0.5, burstiness: 0.5, maxInFlight: 4), .rate(2, burstiness: 0.5, maxInFlight: 4)])
        #expect(y.slo == SLO(ttft: 0.5, tpot: 0.05) && y.endpoint == .completions && y.stopWhenGoodputFalls)
        var bad = Scenario(name: "z")
        bad.load = .init(kind: "concurrency", levels: [1.5])
        #expect(throws: ScenarioError.self) { try bad.resolved() }
        bad.load = .init(kind: "closed", levels: [1])
        #expect(throws: ScenarioError.self) { try bad.resolved() }
        bad.load = nil
        bad.workload = .init(kind: "poetry")
        #expect(throws: ScenarioError.self) { try bad.resolved() }
        bad.workload = .init(kind: "jsonl")
        #expect(throws: ScenarioError.self) { try bad.resolved() }
    }
}

@Suite struct ReportTests {
    static func report() -> BenchReport {
        let recs = SummaryTests.records
        var second = recs.map { r -> RequestRecord in
            var r = r
            r.level = "c=4"
            r.ttft = r.ttft.map { $0 * 2 }
            return r
        }
        second.removeLast()
        let slo = SLO(ttft: 0.25, tpot: 0.3)
        return BenchReport(scenario: "test", target: "http://127.0.0.1:1/v1/completions", model: "m", endpoint: "completions",
                           workload: "random", seed: 1, startedAt: "now", warmupRequests: 1,
                           levels: [Statistics.summarize(level: "c=2", load: .concurrency(2), records: recs, slo: slo),
                                    Statistics.summarize(level: "c=4", load: .concurrency(4), records: second, slo: slo)],
                           records: recs + second)
    }

    @Test func markdownHasARowPerLevelAndTheErrors() {
        let md = Report.markdown(Self.report(), plots: ["ttft_cdf.svg"])
        #expect(md.contains("| concurrency=2 | 4 | 3 | 1 |"))
        #expect(md.contains("| concurrency=4 | 3 | 3 | 0 |"))
        #expect(md.contains("http_429 × 1"))
        #expect(md.contains("[ttft_cdf.svg](ttft_cdf.svg)"))
        #expect(md.contains("TTFT ≤ 250.0 ms and TPOT ≤ 300.0 ms"))
    }

    @Test func jsonRoundTripsWithMissingFiguresAsNull() throws {
        var r = Self.report()
        r.levels.append(Statistics.summarize(level: "e", load: .rate(1, burstiness: 1, maxInFlight: 0), records: [], slo: SLO(ttft: 1, tpot: 1)))
        let data = try Report.json(r)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"p50\" : null"))
        let back = try JSONDecoder().decode(BenchReport.self, from: data)
        #expect(back.records == r.records && back.levels.count == 3)
        #expect(back.levels[0] == r.levels[0])
        #expect(back.levels[2].ttft.p50.isNaN)
    }

    @Test func plotsAreWellFormedSVG() throws {
        let plots = Report.plots(Self.report())
        let names = plots.map(\.0)
        #expect(names == ["ttft_cdf.svg", "tpot_cdf.svg", "itl_cdf.svg", "e2e_cdf.svg", "sweep_ttft.svg", "sweep_tpot.svg", "sweep_goodput.svg"])
        for (name, svg) in plots {
            #expect(svg.hasPrefix("<svg ") && svg.hasSuffix("</svg>\n"), "\(name)")
            #expect(!svg.contains("nan") && !svg.contains("inf"), "\(name)")
            let opens = svg.components(separatedBy: "<text").count, closes = svg.components(separatedBy: "</text>").count
            #expect(opens == closes, "\(name)")
        }
        // Two levels: two CDF curves in the TTFT plot.
        let ttft = plots[0].1
        #expect(ttft.components(separatedBy: "<path").count - 1 == 2)
        #expect(Report.plots(BenchReport(scenario: "s", target: "", model: "", endpoint: "", workload: "", seed: 0,
                                         startedAt: "", warmupRequests: 0)).isEmpty)
    }

    @Test func niceTicks() {
        #expect(SVGLineChart.ticks(0, 10, count: 6) == [0, 2, 4, 6, 8, 10])
        let unit = SVGLineChart.ticks(0, 1, count: 6)
        let expected: [Double] = [0, 0.2, 0.4, 0.6, 0.8, 1]
        #expect(unit.count == 6)
        for (a, b) in zip(unit, expected) { #expect(abs(a - b) < 1e-9) }
        let wide: [Double] = SVGLineChart.ticks(0, 730)
        #expect(wide == [0, 200, 400, 600])
    }
}
