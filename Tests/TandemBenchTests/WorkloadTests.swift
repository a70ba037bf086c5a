import Foundation
import Testing
@testable import TandemBench

@Suite struct RandomnessTests {
    @Test func seededGeneratorIsDeterministic() {
        var a = SeededRNG(seed: 42), b = SeededRNG(seed: 42), c = SeededRNG(seed: 43)
        let xa = (0..<5).map { _ in a.next() }, xb = (0..<5).map { _ in b.next() }, xc = (0..<5).map { _ in c.next() }
        #expect(xa == xb && xa != xc)
        var u = SeededRNG(seed: 1)
        #expect((0..<10_000).allSatisfy { _ in let x = u.unit(); return x >= 0 && x < 1 })
    }

    @Test func exponentialAndGammaMoments() {
        var rng = SeededRNG(seed: 7)
        let n = 100_000
        let e = (0..<n).map { _ in rng.exponential(rate: 4) }
        #expect(abs(Statistics.mean(e) - 0.25) < 0.005)
        for shape in [0.5, 1.0, 3.0] {
            let g = (0..<n).map { _ in rng.gamma(shape: shape, scale: 2) }
            let m = Statistics.mean(g)
            let v = g.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)
            #expect(abs(m - 2 * shape) / (2 * shape) < 0.02)      // mean kθ
            #expect(abs(v - 4 * shape) / (4 * shape) < 0.05)      // variance kθ²
        }
    }

    @Test func poissonScheduleHasTheRightRate() {
        let o = ArrivalSchedule.offsets(count: 20_000, rate: 5, seed: 3)
        #expect(o.count == 20_000 && o[0] == 0)
        #expect(zip(o, o.dropFirst()).allSatisfy { $0 <= $1 })
        let gaps = zip(o.dropFirst(), o).map { $0 - $1 }
        #expect(abs(Statistics.mean(gaps) - 0.2) < 0.006)
        // Exponential gaps: coefficient of variation 1.
        let m = Statistics.mean(gaps)
        let sd = (gaps.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(gaps.count)).squareRoot()
        #expect(abs(sd / m - 1) < 0.05)
        #expect(ArrivalSchedule.offsets(count: 50, rate: 5, seed: 3) == Array(o.prefix(50)))
        #expect(ArrivalSchedule.offsets(count: 0, rate: 5, seed: 3).isEmpty)
        #expect(ArrivalSchedule.offsets(count: 3, rate: .infinity, seed: 3) == [0, 0, 0])
    }

    @Test func burstinessChangesVariabilityNotRate() {
        func cv(_ b: Double) -> (Double, Double) {
            let o = ArrivalSchedule.offsets(count: 20_000, rate: 2, burstiness: b, seed: 11)
            let gaps = zip(o.dropFirst(), o).map { $0 - $1 }
            let m = Statistics.mean(gaps)
            let sd = (gaps.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(gaps.count)).squareRoot()
            return (m, sd / m)
        }
        let bursty = cv(0.25), smooth = cv(4)
        #expect(abs(bursty.0 - 0.5) < 0.03 && abs(smooth.0 - 0.5) < 0.01)
        // Gamma(k) gaps have CV 1/√k: 2 for k = 0.25, 0.5 for k = 4.
        #expect(abs(bursty.1 - 2) < 0.15 && abs(smooth.1 - 0.5) < 0.03)
    }
}

@Suite struct WorkloadTests {
    @Test func randomWorkloadIsSeededAndWithinRange() throws {
        let spec = WorkloadSpec.random(inputLen: 100, outputLen: 40, rangeRatio: 0.5)
        let a = try WorkloadGenerator.requests(spec, count: 50, seed: 1)
        let b = try WorkloadGenerator.requests(spec, count: 50, seed: 1)
        let c = try WorkloadGenerator.requests(spec, count: 50, seed: 2)
        #expect(a == b && a != c && a.count == 50)
        for r in a {
            let words = r.prompt.split(separator: " ").count
            #expect((50...150).contains(words))
            #expect((20...60).contains(r.maxTokens))
            #expect(r.messages.count == 1 && r.messages[0].role == "user")
        }
        let fixed = try WorkloadGenerator.requests(.random(inputLen: 7, outputLen: 3, rangeRatio: 0), count: 5, seed: 1)
        #expect(fixed.allSatisfy { $0.prompt.split(separator: " ").count == 7 && $0.maxTokens == 3 })
    }

    @Test func sharedPrefixHasGTimesQRequestsSharingGSystemPrompts() throws {
        let r = try WorkloadGenerator.requests(.sharedPrefix(groups: 3, questions: 4, prefixLen: 50, questionLen: 6, outputLen: 9),
                                               count: 1, seed: 5)
        #expect(r.count == 12)
        let byGroup = Dictionary(grouping: r, by: \.tag)
        #expect(byGroup.count == 3 && byGroup.values.allSatisfy { $0.count == 4 })
        for (_, reqs) in byGroup {
            #expect(Set(reqs.map { $0.messages[0].content }).count == 1)       // one system prompt a group
            #expect(Set(reqs.map { $0.messages[1].content }).count == 4)       // distinct questions
            #expect(reqs.allSatisfy { $0.messages[0].role == "system" && $0.maxTokens == 9 })
        }
        #expect(Set(r.map { $0.messages[0].content }).count == 3)
        #expect(r[0].tag == "group-0" && r[1].tag == "group-1" && r[3].tag == "group-0")   // interleaved
        #expect(r[0].messages[0].content.split(separator: " ").count == 53)                // "System prompt 0." + 50 words
    }

    /// Each turn resends its conversation's history: turn k's messages begin with turn k-1's,
    /// then its reply and the new user message; turns go out in order across conversations.
    @Test func multiTurnResendsTheHistoryTurnByTurn() throws {
        let r = try WorkloadGenerator.requests(.multiTurn(conversations: 2, turns: 3, systemLen: 20, userLen: 5, replyLen: 7, outputLen: 9),
                                               count: 1, seed: 3)
        #expect(r.map(\.tag) == ["conv-0/turn-1", "conv-1/turn-1", "conv-0/turn-2", "conv-1/turn-2", "conv-0/turn-3", "conv-1/turn-3"])
        for c in 0..<2 {
            let turns = r.filter { $0.tag.hasPrefix("conv-\(c)/") }
            #expect(turns.map { $0.messages.count } == [2, 4, 6])
            #expect(turns.map { $0.messages.map(\.role) }.last == ["system", "user", "assistant", "user", "assistant", "user"])
            for k in 1..<3 {
                #expect(Array(turns[k].messages.prefix(turns[k - 1].messages.count)) == turns[k - 1].messages)
            }
            #expect(turns[2].messages[2].content.split(separator: " ").count == 7 && turns.allSatisfy { $0.maxTokens == 9 })
        }
        #expect(r[0].messages[0] != r[1].messages[0])   // one system prompt per conversation
        // The summary splits prompt and cached tokens by turn.
        func record(_ tag: String, _ prompt: Int, _ cached: Int) -> RequestRecord {
            RequestRecord(index: 0, level: "c=1", tag: tag, start: 0, ttft: 0.1, e2e: 0.2, promptTokens: prompt,
                          cachedTokens: cached, outputTokens: 1, finishReason: "length")
        }
        let summary = Statistics.summarize(level: "c=1", load: .concurrency(1),
                                           records: [record("conv-0/turn-1", 40, 0), record("conv-1/turn-1", 40, 0),
                                                     record("conv-0/turn-2", 60, 32), record("conv-1/turn-2", 60, 48)],
                                           slo: SLO(ttft: 1, tpot: 1))
        #expect(summary.turns == [TurnTokens(turn: 1, requests: 2, promptTokens: 80, cachedTokens: 0),
                                  TurnTokens(turn: 2, requests: 2, promptTokens: 120, cachedTokens: 80)])
        let md = Report.markdown(BenchReport(scenario: "s", target: "", model: "m", endpoint: "chat", workload: "w", seed: 0,
                                             startedAt: "now", warmupRequests: 0, levels: [summary], records: []))
        #expect(md.contains("turn 1 0% (0 of 80), turn 2 67% (80 of 120)"), "\(md)")
    }

    @Test func councilHasSevenTasksWithReasoningBudgets() throws {
        let r = try WorkloadGenerator.requests(.council(maxTokensCap: nil), count: 1, seed: 0)
        #expect(r.map(\.tag) == ["task-decomposition", "ambiguity-handling", "priority-summary", "business-strategy",
                                 "docker-compose", "rag-design", "incident-json"])
        #expect(r.allSatisfy { $0.maxTokens >= 1_200 && $0.keepsAnswer })
        let capped = try WorkloadGenerator.requests(.council(maxTokensCap: 64), count: 1, seed: 0)
        #expect(capped.allSatisfy { $0.maxTokens == 64 })
    }

    @Test func jsonlPromptsAndErrors() throws {
        let text = """
            {"prompt": "hello", "max_tokens": 5}
            # a comment

            {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "tag": "x"}
            """
        let r = try JSONLWorkload.parse(text, defaultMaxTokens: 77)
        #expect(r.count == 2)
        #expect(r[0].prompt == "hello" && r[0].maxTokens == 5 && r[0].tag == "line-1")
        #expect(r[1].messages.count == 2 && r[1].maxTokens == 77 && r[1].tag == "x")
        #expect(r[1].prompt == "be brief\n\nhi")
        do {
            _ = try JSONLWorkload.parse("{\"prompt\": \"a\"}\n{\"nope\": 1}\n", source: "f.jsonl", defaultMaxTokens: 1)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("f.jsonl:2"))
        }
        #expect(throws: JSONLWorkload.LineError.self) { try JSONLWorkload.parse("not json", defaultMaxTokens: 1) }
        #expect(throws: JSONLWorkload.LineError.self) { try JSONLWorkload.parse("\n# only comments\n", defaultMaxTokens: 1) }
    }

    @Test func requestBodiesForBothEndpoints() throws {
        let req = BenchRequest(tag: "t", messages: [.init(role: "system", content: "S"), .init(role: "user", content: "U")], maxTokens: 12)
        var target = BenchTarget(baseURL: "http://127.0.0.1:9/v1/", model: "m", endpoint: .chat)
        #expect(target.url == "http://127.0.0.1:9/v1/chat/completions")
        var body = target.body(for: req)
        #expect(body["stream"] as? Bool == true && body["max_tokens"] as? Int == 12)
        #expect((body["stream_options"] as? [String: Bool])?["include_usage"] == true)
        #expect((body["messages"] as? [[String: String]])?.count == 2 && body["prompt"] == nil)
        target.endpoint = .completions
        target.baseURL = "http://127.0.0.1:9"
        #expect(target.url == "http://127.0.0.1:9/v1/completions")
        body = target.body(for: req)
        #expect(body["prompt"] as? String == "S\n\nU" && body["messages"] == nil)
    }
}
