import TandemEngineCore
import Testing

/// `DraftAcceptance`: the per-token acceptance rate the cost model and the draft length use.
@Suite struct DraftAcceptanceTests {
    /// Drafts of k tokens, each accepted with probability α given the ones before it (the
    /// geometric model): the estimate finds α, and its expected accepted count matches the mean.
    @Test(arguments: [0.3, 0.6, 0.8, 0.95])
    func findsTheGeometricRate(alpha: Double) {
        var random = Xoshiro256StarStar(seed: 7)
        var estimate = DraftAcceptance(prior: 0.5, decay: 0.999)
        let k = 4
        var acceptedTotal = 0, drafted = 0, drafts = 0
        for _ in 0..<6000 {
            var n = 0
            while n < k && random.nextUnitDouble() < alpha { n += 1 }
            estimate.observe(accepted: n, drafted: k)
            acceptedTotal += n
            drafted += k
            drafts += 1
        }
        #expect(abs(estimate.rate - alpha) < 0.03, "\(estimate.rate) for α \(alpha)")
        let mean = Double(acceptedTotal) / Double(drafts)
        let predicted = SpeculationConfiguration.expectedAccepted(length: k, rate: estimate.rate)
        #expect(abs(predicted - mean) < 0.08 * mean + 0.02, "predicted \(predicted), mean \(mean)")
        // The share of draft tokens accepted, taken as the rate, predicts too few.
        let share = Double(acceptedTotal) / Double(drafted)
        if alpha >= 0.6 && alpha <= 0.8 {
            #expect(SpeculationConfiguration.expectedAccepted(length: k, rate: share) < 0.8 * mean)
        }
    }

    @Test func followsTheRecentDraftsFromItsPrior() {
        var e = DraftAcceptance(prior: 0.5, decay: 0.7)
        #expect(e.rate == 0.5)
        for _ in 0..<30 { e.observe(accepted: 4, drafted: 4) }
        #expect(e.rate > 0.99)
        for _ in 0..<30 { e.observe(accepted: 0, drafted: 4) }
        #expect(e.rate < 0.01)
        e.observe(accepted: 3, drafted: 0) // no draft: nothing learnt
        #expect(e.rate < 0.01)
    }
}
