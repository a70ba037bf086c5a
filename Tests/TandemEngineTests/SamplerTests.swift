import Foundation
import TandemCore
import TandemEngineCore
import Testing

@Suite("Sampler")
struct SamplerTests {
    private func sampler(_ parameters: SamplingParameters = .greedy, prompt: [TokenID] = [], seed: UInt64 = 1,
                         presence: Float = 0, frequency: Float = 0, repetition: Float = 1,
                         bias: [TokenID: Float] = [:], logprobs: Int? = nil) throws -> Sampler {
        try Sampler(configuration: SamplingConfiguration(parameters: parameters, presencePenalty: presence,
                                                         frequencyPenalty: frequency, repetitionPenalty: repetition,
                                                         logitBias: bias, topLogprobs: logprobs),
                    promptTokens: prompt, defaultSeed: seed)
    }

    private func logits(_ probabilities: [Double]) -> [Float] { probabilities.map { Float(log($0)) } }

    private func kept(_ parameters: SamplingParameters, _ logits: [Float]) throws -> [TokenID] {
        try sampler(parameters).distribution(forLogits: logits).map(\.token)
    }

    // MARK: Random source

    @Test func splitMix64AndXoshiroMatchTheReferenceAlgorithms() {
        var splitMix = SplitMix64(seed: 0)
        #expect([splitMix.next(), splitMix.next(), splitMix.next()] == [0xe220_a839_7b1d_cdaf, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f])
        var xoshiro = Xoshiro256StarStar(seed: 42)
        #expect([xoshiro.next(), xoshiro.next(), xoshiro.next()] == [0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1])
        var unit = Xoshiro256StarStar(seed: 7)
        for _ in 0..<1000 {
            let u = unit.nextUnitDouble()
            #expect(u >= 0 && u < 1)
        }
    }

    // MARK: Greedy

    @Test func greedyPicksTheArgmaxAndTheLowestIDOnTies() throws {
        var greedy = try sampler()
        #expect(try greedy.sample(logits: [1, 3, 3, 2]).token == 1)
        #expect(try greedy.sample(logits: [.nan, 1, 0]).token == 1)
        #expect(try greedy.sample(logits: [-.infinity, -.infinity]).token == 0)
    }

    @Test func greedyDrawsNoRandomNumbers() throws {
        var greedy = try sampler(seed: 99)
        let before = greedy.random
        _ = try greedy.sample(logits: [0.1, 0.7, 0.2])
        #expect(greedy.random == before)
    }

    // MARK: Seeds

    @Test func theSameSeedReproducesTheSameTokens() throws {
        var source = SplitMix64(seed: 5)
        let steps = (0..<100).map { _ in (0..<50).map { _ in Float(Double(source.next() % 1000) / 250) } }
        let parameters = SamplingParameters(temperature: 0.8, topP: 0.95, seed: 42)
        var first = try sampler(parameters)
        var second = try sampler(parameters, seed: 1234)  // the request's seed wins over the default
        var other = try sampler(SamplingParameters(temperature: 0.8, topP: 0.95, seed: 43))
        let a = try steps.map { try first.sample(logits: $0).token }
        let b = try steps.map { try second.sample(logits: $0).token }
        let c = try steps.map { try other.sample(logits: $0).token }
        #expect(a == b)
        #expect(a != c)
        #expect(first.seed == 42)
        #expect(try sampler(SamplingParameters(temperature: 1), seed: 7).seed == 7)
    }

    @Test func samplingFollowsTheDistribution() throws {
        var s = try sampler(SamplingParameters(temperature: 1), seed: 3)
        var counts = [0, 0, 0]
        let draws = 20_000
        for _ in 0..<draws { counts[Int(try s.sample(logits: logits([0.5, 0.3, 0.2])).token)] += 1 }
        for (count, expected) in zip(counts, [0.5, 0.3, 0.2]) {
            #expect(abs(Double(count) / Double(draws) - expected) < 0.015)
        }
    }

    // MARK: Masks

    @Test func topKKeepsTheKLargestLogits() throws {
        #expect(try kept(SamplingParameters(temperature: 1, topK: 2), [1, 5, 3, 4, 2]) == [1, 3])
        #expect(try kept(SamplingParameters(temperature: 1, topK: 1), [1, 5, 5, 4, 2]) == [1])
        #expect(try kept(SamplingParameters(temperature: 1, topK: 9), [1, 5, 3]) == [0, 1, 2])
        var s = try sampler(SamplingParameters(temperature: 1, topK: 2), seed: 11)
        for _ in 0..<2000 { #expect([1, 3].contains(try s.sample(logits: [1, 5, 3, 4, 2]).token)) }
    }

    @Test func topPKeepsTheSmallestSetReachingP() throws {
        let l = logits([0.5, 0.3, 0.15, 0.05])
        #expect(try kept(SamplingParameters(temperature: 1, topP: 0.75), l) == [0, 1])
        #expect(try kept(SamplingParameters(temperature: 1, topP: 0.85), l) == [0, 1, 2])
        #expect(try kept(SamplingParameters(temperature: 1, topP: 0.1), l) == [0])
        #expect(try kept(SamplingParameters(temperature: 1, topP: 1), l) == [0, 1, 2, 3])
    }

    @Test func topPOverALongFlatTailBreaksTiesByLowerID() throws {
        // One token with half the mass, 20,000 tail tokens sharing the rest: the tail is below the
        // pre-filter's cut, so the exact (fully sorted) path runs.
        let tail = 20_000
        let l = [Float(log(0.5))] + Array(repeating: Float(log(0.5 / Double(tail))), count: tail)
        let nucleus = try kept(SamplingParameters(temperature: 1, topP: 0.9), l)
        #expect((16_000...16_002).contains(nucleus.count - 1))
        #expect(nucleus == (0..<nucleus.count).map { TokenID($0) })
    }

    @Test func minPDropsTokensBelowAFractionOfTheTopProbability() throws {
        let l = logits([0.5, 0.3, 0.15, 0.05])
        #expect(try kept(SamplingParameters(temperature: 1, minP: 0.2), l) == [0, 1, 2])
        #expect(try kept(SamplingParameters(temperature: 1, minP: 0.5), l) == [0, 1])
        #expect(try kept(SamplingParameters(temperature: 1, minP: 1), l) == [0])
    }

    @Test func masksApplyInOrderTopKThenTopPThenMinP() throws {
        // top-k 3 renormalises 0.4/0.3/0.2 to 4/9, 3/9, 2/9; top-p 0.7 then keeps two.
        let l = logits([0.4, 0.3, 0.2, 0.1])
        #expect(try kept(SamplingParameters(temperature: 1, topP: 0.7, topK: 3), l) == [0, 1])
        #expect(try kept(SamplingParameters(temperature: 1, topP: 0.7, topK: 3, minP: 0.8), l) == [0])
    }

    @Test func temperatureScalesLogitsBeforeSoftmax() throws {
        let raw: [Float] = [2, 0, -2]
        let distribution = try sampler(SamplingParameters(temperature: 2)).distribution(forLogits: raw)
        let scaled = raw.map { Double($0) / 2 }
        let logTotal = log(scaled.map(exp).reduce(0, +))
        for (entry, value) in zip(distribution, scaled) {
            #expect(abs(Double(entry.logprob) - (value - logTotal)) < 1e-6)
        }
    }

    // MARK: Penalties

    @Test func repetitionFrequencyAndPresencePenaltiesFollowTheirDefinitions() throws {
        var s = try sampler(prompt: [0], presence: 1, frequency: 0.5, repetition: 2)
        s.record(1)
        s.record(1)
        s.record(2)
        // token 0 (prompt): 2 / 2. token 1 (twice): −2 · 2 − 2 · 0.5 − 1. token 2 (once): 1 / 2 − 0.5 − 1.
        #expect(s.penalizedLogits([2, -2, 1, 0.5]) == [1, -6, -1, 0.5])
    }

    @Test func frequencyAndPresenceCountOnlyGeneratedTokens() throws {
        var s = try sampler(prompt: [2], presence: 0.5, frequency: 0.25)
        s.record(0)
        s.record(0)
        s.record(1)
        #expect(s.penalizedLogits([1, 1, 1]) == [0, 0.25, 1])
    }

    @Test func sampledTokensFeedThePenaltiesAndLogitBiasComesFirst() throws {
        var s = try sampler(repetition: 2, bias: [3: -100])
        #expect(try s.sample(logits: [0, 4, 1, 10]).token == 1)
        s.record(3)
        // Bias, then penalty: (10 − 100) · 2, not 10 / 2 − 100.
        #expect(s.penalizedLogits([0, 4, 1, 10]) == [0, 2, 1, -180])
    }

    // MARK: Log-probabilities

    @Test func greedyLogprobsAreTheLogSoftmaxWithTopAlternatives() throws {
        var s = try sampler(logprobs: 3)
        let result = try s.sample(logits: logits([0.1, 0.2, 0.3, 0.4]))
        #expect(result.token == 3)
        #expect(abs(Double(result.logprob!) - log(0.4)) < 1e-6)
        #expect(result.topLogprobs.map(\.token) == [3, 2, 1])
        for (entry, p) in zip(result.topLogprobs, [0.4, 0.3, 0.2]) {
            #expect(abs(Double(entry.logprob) - log(p)) < 1e-6)
        }
    }

    @Test func sampledLogprobsComeFromTheMaskedDistributionAndSumToOne() throws {
        var s = try sampler(SamplingParameters(temperature: 1, topK: 2), logprobs: 5)
        let l = logits([0.1, 0.2, 0.3, 0.4])
        let result = try s.sample(logits: l)
        #expect(result.topLogprobs.map(\.token) == [3, 2])
        let expected: [TokenID: Double] = [3: log(0.4 / 0.7), 2: log(0.3 / 0.7)]
        #expect(abs(Double(result.logprob!) - expected[result.token]!) < 1e-6)
        let total = s.distribution(forLogits: l).reduce(0.0) { $0 + exp(Double($1.logprob)) }
        #expect(abs(total - 1) < 1e-6)
        var wide = try sampler(SamplingParameters(temperature: 0.7))
        let all = wide.distribution(forLogits: (0..<1000).map { Float($0 % 17) / 3 })
        #expect(abs(all.reduce(0.0) { $0 + exp(Double($1.logprob)) } - 1) < 1e-5)
        #expect(try wide.sample(logits: [1, 2]).logprob == nil)
    }

    // MARK: Input errors

    @Test func badInputIsRejected() throws {
        var s = try sampler()
        do {
            _ = try s.sample(logits: [])
            Issue.record("empty logits accepted")
        } catch {
            #expect(error.code == .emptyLogits)
        }
        for bad in [SamplingParameters(topP: 0), SamplingParameters(topK: -1), SamplingParameters(minP: 2),
                    SamplingParameters(temperature: -1)] {
            #expect(throws: EngineCoreError.self) { try sampler(bad) }
        }
        #expect(throws: EngineCoreError.self) { try sampler(repetition: 0) }
    }
}
