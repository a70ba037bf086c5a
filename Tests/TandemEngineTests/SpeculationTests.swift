import Foundation
import TandemCore
import TandemEngineCore
import Testing

/// Prompt lookup drafts: the continuation of the most recent earlier occurrence of the longest
/// suffix n-gram.
@Suite("Prompt lookup proposer")
struct PromptLookupProposerTests {
    let proposer = PromptLookupProposer(maxNgram: 3, minNgram: 1)

    @Test func theLongestSuffixWinsOverAMoreRecentShorterOne() {
        // Suffix [7, 8, 9] occurs at 0 (followed by 1, 2); the 1-gram [9] occurs later, at 5 (followed by 4).
        let t: [TokenID] = [7, 8, 9, 1, 2, 9, 4, 0, 7, 8, 9]
        #expect(proposer.propose(t, maxTokens: 2) == [1, 2])
    }

    @Test func theMostRecentOccurrenceOfTheSameLengthWins() {
        let t: [TokenID] = [5, 6, 1, 5, 6, 2, 3, 5, 6]
        #expect(proposer.propose(t, maxTokens: 3) == [2, 3, 5])
    }

    @Test func theDraftStopsAtMaxTokensAndAtTheEndOfTheSequence() {
        let t: [TokenID] = [1, 2, 3, 4, 1, 2]
        #expect(proposer.propose(t, maxTokens: 1) == [3])
        #expect(proposer.propose(t, maxTokens: 10) == [3, 4, 1, 2])
        #expect(proposer.propose(t, maxTokens: 0) == [])
    }

    @Test func noMatchNoDraft() {
        #expect(proposer.propose([1, 2, 3, 4], maxTokens: 4) == [])
        #expect(proposer.propose([1], maxTokens: 4) == [])
        #expect(PromptLookupProposer(maxNgram: 3, minNgram: 2).propose([1, 2, 3, 2], maxTokens: 4) == [])
    }

    @Test("a predicted output is followed from where the suffix occurs in it, before the sequence itself")
    func aReferenceIsSearchedFirst() {
        let t: [TokenID] = [7, 8, 1, 2, 7, 8]
        #expect(proposer.propose(t, reference: [], maxTokens: 2) == [1, 2])
        #expect(proposer.propose(t, reference: [5, 7, 8, 9, 10, 11], maxTokens: 2) == [9, 10])
        // Nothing in the reference: the sequence's own match.
        #expect(proposer.propose(t, reference: [4, 4, 4], maxTokens: 2) == [1, 2])
        // A suffix at the reference's very end has no continuation there.
        #expect(proposer.propose(t, reference: [3, 7, 8], maxTokens: 2) == [1, 2])
    }

    @Test func theSearchWindowBoundsHowFarBackItLooks() {
        let t: [TokenID] = [9, 1, 0, 0, 0, 0, 0, 0, 9]
        #expect(PromptLookupProposer(maxNgram: 1, minNgram: 1, window: 100).propose(t, maxTokens: 1) == [1])
        #expect(PromptLookupProposer(maxNgram: 1, minNgram: 1, window: 4).propose(t, maxTokens: 1) == [])
    }
}

/// The scheduler's side of speculative decoding: a decode carries its draft, trimmed to what fits;
/// the update keeps the accepted tokens' K/V and gives back the rest.
@Suite("Scheduler with drafts")
struct SchedulerDraftTests {
    /// A request that has prefilled `prompt` and sampled `first`, ready to decode.
    func decoding(_ scheduler: inout Scheduler, _ id: RequestID, prompt: [TokenID], first: TokenID, maxTokens: Int = 16) throws {
        try scheduler.submit(request(id, prompt, maxTokens: maxTokens))
        _ = scheduler.schedule(now: .zero)
        _ = scheduler.update(with: StepResult(tokens: [id: first]))
    }

    @Test func aDecodeCarriesItsDraftAndWantsLogitsForEveryDraftPosition() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try decoding(&s, "a", prompt: tokens(1...6), first: 50)
        let step = s.schedule(now: .zero, drafts: ["a": [51, 52, 53]])
        #expect(step.shape == ["a@6+4*"])
        #expect(step.sequences[0].tokens == [50, 51, 52, 53])
        #expect(step.sequences[0].draftTokens == [51, 52, 53])
        #expect(step.sequences[0].logitCount == 4)
        #expect(step.sequences[0].blockTable.blockIDs.count == 3)  // positions 0..9
        #expect(s.computedTokenCount(of: "a") == 7)
    }

    @Test func acceptedDraftTokensAreComputedAndTheRejectedPositionsGiveTheirBlocksBack() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try decoding(&s, "a", prompt: tokens(1...6), first: 50)
        _ = s.schedule(now: .zero, drafts: ["a": [51, 52, 53, 54, 55]])  // positions 6...11: 3 blocks
        #expect(s.blocks("a").count == 3)
        // The target agreed with 51 and then chose 60: two new tokens, 51 computed, 60 pending.
        let out = s.update(with: StepResult(sampledTokens: ["a": [51, 60]], acceptedDraftTokens: ["a": 1]))
        #expect(out.map(\.newTokens) == [[51, 60]])
        #expect(s.tokens(of: "a") == tokens(1...6) + [50, 51, 60])
        #expect(s.computedTokenCount(of: "a") == 8)
        #expect(s.blocks("a").count == 2)
        #expect(s.pool.consistencyProblem() == nil)
        #expect(s.schedule(now: .zero).shape == ["a@8+1*"])
    }

    @Test func aFullyAcceptedDraftAppendsTheDraftAndTheTargetsNextToken() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try decoding(&s, "a", prompt: tokens(1...6), first: 50)
        _ = s.schedule(now: .zero, drafts: ["a": [51, 52]])
        _ = s.update(with: StepResult(sampledTokens: ["a": [51, 52, 70]], acceptedDraftTokens: ["a": 2]))
        #expect(s.computedTokenCount(of: "a") == 9)
        #expect(s.schedule(now: .zero).shape == ["a@9+1*"])
    }

    @Test func theDraftIsTrimmedToTheOutputLeftTheContextAndTheBudget() throws {
        // 3 output tokens allowed; one sampled: the step may append at most 2, so one draft token.
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try decoding(&s, "a", prompt: tokens(1...6), first: 50, maxTokens: 3)
        #expect(s.schedule(now: .zero, drafts: ["a": [51, 52, 53]]).sequences[0].draftTokens == [51])
        var c = try makeScheduler(blocks: 16, blockSize: 4, maxModelLength: 10)
        try decoding(&c, "a", prompt: tokens(1...6), first: 50)
        #expect(c.schedule(now: .zero, drafts: ["a": [51, 52, 53]]).sequences[0].draftTokens == [51, 52])
        var b = try makeScheduler(blocks: 16, blockSize: 4, budget: 3)
        try decoding(&b, "a", prompt: tokens(1...3), first: 50)
        #expect(b.schedule(now: .zero, drafts: ["a": [51, 52, 53]]).sequences[0].draftTokens == [51, 52])
    }

    @Test func aDraftNeverPreemptsAndShrinksToTheBlocksLeft() throws {
        // 6 blocks of 2: "a" and "b" hold 2 each after their first token; 2 are left.
        var s = try makeScheduler(blocks: 6, blockSize: 2)
        try decoding(&s, "a", prompt: tokens(1...3), first: 50, maxTokens: 8)
        try decoding(&s, "b", prompt: tokens(11...13), first: 60, maxTokens: 8)
        let step = s.schedule(now: .zero, drafts: ["a": [51, 52, 53, 54, 55, 56], "b": [61, 62]])
        // a's 6 draft tokens would need 3 blocks: halved to 3 (2 blocks); nothing is left for b's.
        #expect(step.shape == ["a@3+4*", "b@3+1*"])
        #expect(step.preemptedRequestIDs.isEmpty)
        #expect(s.pool.availableBlockCount == 0)
    }

    @Test func prefillsAndAdmissionsSpendTheBudgetBeforeDrafts() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4, budget: 9)
        try decoding(&s, "a", prompt: tokens(1...6), first: 50)
        try s.submit(request("b", tokens(21...28)))
        #expect(s.schedule(now: .zero, drafts: ["a": [51, 52, 53]]).shape == ["a@6+1*", "b@0+8*"])
        _ = s.update(with: StepResult(sampledTokens: ["a": [51], "b": [70]]))
        try s.submit(request("c", tokens(31...36)))
        // a (1) and b (1) decode, c's prompt takes 6: one token of budget is left for a's draft.
        #expect(s.schedule(now: .zero, drafts: ["a": [52, 53, 54]]).shape == ["a@7+2*", "b@8+1*", "c@0+6*"])
    }

    @Test func aRolledBackDraftStepRunsAgainFromTheNewestToken() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try decoding(&s, "a", prompt: tokens(1...6), first: 50)
        _ = s.schedule(now: .zero, drafts: ["a": [51, 52]])
        s.rollBackStep()
        #expect(s.computedTokenCount(of: "a") == 6)
        #expect(s.schedule(now: .zero).shape == ["a@6+1*"])
    }

    @Test func aStopTokenAmongTheAcceptedDraftEndsTheRequestThere() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try s.submit(request("a", tokens(1...6), maxTokens: 16, stop: [2]))
        _ = s.schedule(now: .zero)
        _ = s.update(with: StepResult(tokens: ["a": 50]))
        _ = s.schedule(now: .zero, drafts: ["a": [51, 2, 53]])
        let out = s.update(with: StepResult(sampledTokens: ["a": [51, 2, 53, 54]], acceptedDraftTokens: ["a": 3]))
        #expect(out.first?.newTokens == [51, 2])
        #expect(out.first?.finishReason == .stopToken(2))
        #expect(s.pool.usedBlockCount == 0)
    }
}

/// The speculative-sampling rule keeps the target's distribution: over many seeds, the first two
/// tokens emitted for a tiny Markov "model" with a mismatched draft distribution follow the
/// target's joint distribution (chi-square), and a rule that keeps every draft token does not.
@Suite("Speculative acceptance rule")
struct SpeculativeAcceptanceTests {
    static let vocab = 4
    /// Target next-token distributions, by the previous token.
    static let target: [[Double]] = [[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25], [0.05, 0.05, 0.1, 0.8]]
    /// The draft's, deliberately different.
    static let draft: [[Double]] = [[0.1, 0.1, 0.4, 0.4], [0.4, 0.1, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]]

    /// Chi-square of the (first, second) token histogram over `trials` runs of `rule`, starting after token 0.
    static func chiSquare(trials: Int, rule: ([Int], [[Double]], [[Double]], () -> Double) -> [Int]) -> Double {
        var rng = Xoshiro256StarStar(seed: 12345)
        func uniform() -> Double { rng.nextUnitDouble() }
        func sample(_ p: [Double]) -> Int {
            let u = uniform()
            var c = 0.0
            for (i, w) in p.enumerated() { c += w; if u < c { return i } }
            return p.count - 1
        }
        var counts = [Int](repeating: 0, count: vocab * vocab)
        for _ in 0..<trials {
            // Two draft tokens from the draft model, verified against the target rows they condition on.
            let d1 = sample(draft[0]), d2 = sample(draft[d1])
            let out = rule([d1, d2], [target[0], target[d1], target[d2]], [draft[0], draft[d1]], uniform)
            // A first token that rejected the draft is followed by the target's own next sample.
            let second = out.count >= 2 ? out[1] : sample(target[out[0]])
            counts[out[0] * vocab + second] += 1
        }
        var chi = 0.0
        for a in 0..<vocab {
            for b in 0..<vocab {
                let expected = Double(trials) * target[0][a] * target[a][b]
                let diff = Double(counts[a * vocab + b]) - expected
                chi += diff * diff / expected
            }
        }
        return chi
    }

    @Test("the rule reproduces the target's distribution; keeping every draft token does not")
    func chiSquareSeparatesTheRuleFromABrokenOne() {
        // 15 degrees of freedom: the 0.999 quantile is 37.7.
        let good = Self.chiSquare(trials: 40_000) { SpeculativeAcceptance.verify(draft: $0, target: $1, proposal: $2, uniform: $3) }
        #expect(good < 37.7)
        let broken = Self.chiSquare(trials: 40_000) { draft, target, _, uniform in
            draft + [SpeculativeAcceptance.draw(target[draft.count], uniform())]
        }
        #expect(broken > 200)
    }

    @Test("a one-hot draft: keep with probability p(x), else draw from p without x")
    func oneHotDraft() {
        let p = [0.5, 0.3, 0.2]
        var kept = 0, other = [0, 0, 0]
        var rng = Xoshiro256StarStar(seed: 7)
        for _ in 0..<20_000 {
            let out = SpeculativeAcceptance.verify(draft: [1], target: [p, [1, 0, 0]], proposal: [[0, 1, 0]], uniform: { rng.nextUnitDouble() })
            if out.count == 2 { kept += 1 } else { other[out[0]] += 1 }
        }
        #expect(abs(Double(kept) / 20_000 - 0.3) < 0.015)
        #expect(other[1] == 0)
        #expect(abs(Double(other[0]) / Double(other[0] + other[2]) - 0.5 / 0.7) < 0.02)
    }
}

/// When to draft: measured step-cost ratios per batch size, and draft lengths from acceptance.
@Suite("Speculation cost model")
struct SpeculationCostModelTests {
    let model = SpeculationCostModel(samples: [(batch: 1, plain: 0.010, drafted: 0.012), (batch: 4, plain: 0.020, drafted: 0.040),
                                               (batch: 16, plain: 0.050, drafted: 0.250)])

    @Test func theRatioIsInterpolatedBetweenMeasuredBatchSizesAndHeldBeyondThem() {
        #expect(abs(model.ratio(batch: 1) - 1.2) < 1e-12)
        #expect(abs(model.ratio(batch: 4) - 2.0) < 1e-12)
        #expect(abs(model.ratio(batch: 10) - 3.5) < 1e-12)  // halfway between 2 and 5
        #expect(abs(model.ratio(batch: 64) - 5.0) < 1e-12)
    }

    @Test func draftingPaysWhenTheExpectedTokensPerSequenceExceedTheRatio() {
        #expect(model.pays(batch: 1, expectedAccepted: 0.5))
        #expect(!model.pays(batch: 1, expectedAccepted: 0.1))
        #expect(!model.pays(batch: 16, expectedAccepted: 3.9))
        #expect(model.pays(batch: 4, expectedAccepted: 1.5))
    }

    /// Time outside the forward pass (sampling, streaming) is paid once per step either way, so
    /// it lowers the ratio: 12 ms + 10 ms over 10 ms + 10 ms at batch 1.
    @Test func timeOutsideTheForwardPassLowersTheRatio() {
        #expect(abs(model.ratio(batch: 1, overhead: 0.010) - 1.1) < 1e-12)
        #expect(abs(model.ratio(batch: 4, overhead: 0.020) - 1.5) < 1e-12)
        #expect(abs(model.ratio(batch: 4, overhead: -1) - 2.0) < 1e-12)  // a negative reading counts as none
        #expect(!model.pays(batch: 4, expectedAccepted: 0.7))
        #expect(model.pays(batch: 4, expectedAccepted: 0.7, overhead: 0.020))
    }

    @Test func measuredBatchSizesAreCappedByTheRunningLimitAndThePool() {
        #expect(SpeculationCostModel.batchSizes(maxRunning: 32, blockCount: 1000, blockSize: 16, draftTokens: 4) == [1, 2, 4, 8, 16, 32])
        #expect(SpeculationCostModel.batchSizes(maxRunning: 32, blockCount: 10, blockSize: 4, draftTokens: 4) == [1, 2, 4])
    }

    @Test func draftLengthFollowsTheAcceptanceRate() {
        let c = SpeculationConfiguration(method: .promptLookup, maxDraftTokens: 6)
        #expect(c.draftLength(acceptanceRate: 1) == 6)
        #expect(c.draftLength(acceptanceRate: 0.5) == 3)
        #expect(c.draftLength(acceptanceRate: 0) == 1)
        #expect(abs(SpeculationConfiguration.expectedAccepted(length: 3, rate: 0.5) - 0.875) < 1e-12)
        #expect(SpeculationConfiguration.expectedAccepted(length: 4, rate: 1) == 4)
    }
}
