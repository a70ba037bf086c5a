import Testing
@testable import TandemEngine

@Suite("MoE expert load: per rank, skew, metrics")
struct ExpertLoadTests {
    @Test("rank tokens add the experts each rank holds; tensor parallelism has no skew")
    func rankTokens() {
        let ep = ExpertLoad(tokens: [10, 0, 5, 5, 30, 50], rankExperts: [0..<3, 3..<6])
        #expect(ep.rankTokens == [15, 85])
        // 85 of 100 is past 1.5 × the fair 50%: rank 1 is named.
        let skew = ep.skew()
        #expect(skew?.rank == 1 && abs((skew?.share ?? 0) - 0.85) < 1e-9)
        #expect(ExpertLoad(tokens: [10, 20, 30, 20, 20, 10], rankExperts: [0..<3, 3..<6]).skew() == nil)
        // Every rank holds every expert: nothing to balance.
        #expect(ExpertLoad(tokens: [100, 0], rankExperts: [0..<2, 0..<2]).skew() == nil)
        #expect(ExpertLoad(tokens: [0, 0], rankExperts: [0..<1, 1..<2]).skew() == nil)
    }

    @Test("the load is exported as Prometheus counters per expert and per rank")
    func prometheus() {
        var s = EngineStats()
        #expect(!s.prometheusText(model: "m").contains("tandem_moe_"))
        s.expertLoad = ExpertLoad(tokens: [7, 3, 0], rankExperts: [0..<2, 2..<3])
        let text = s.prometheusText(model: "m")
        #expect(text.contains("tandem_moe_expert_tokens_total{model=\"m\",expert=\"0\"} 7\n"))
        #expect(text.contains("tandem_moe_expert_tokens_total{model=\"m\",expert=\"2\"} 0\n"))
        #expect(text.contains("tandem_moe_rank_tokens_total{model=\"m\",rank=\"0\"} 10\n"))
        #expect(text.contains("tandem_moe_rank_tokens_total{model=\"m\",rank=\"1\"} 0\n"))
        #expect(text.contains("# TYPE tandem_moe_rank_tokens_total counter"))
    }
}
