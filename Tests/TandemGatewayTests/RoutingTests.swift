import Testing
import TandemAPI
import TandemCore
@testable import TandemGateway

@Suite struct ModelRouterTests {
    let profiles: [String: ModelProfile] = [
        "small": ModelProfile(name: "small", costPerToken: 1e-7, expectedLatencyMs: 300),
        "big": ModelProfile(name: "big", costPerToken: 1e-5, expectedLatencyMs: 3000),
        "thinker": ModelProfile(name: "thinker", costPerToken: 2e-6, expectedLatencyMs: 8000),
    ]
    let policy = RoutingPolicy(rules: [
        RoutingRule(name: "long", when: RuleCondition(minPromptTokens: 1000), model: "big"),
        RoutingRule(name: "reasoning", when: RuleCondition(keywords: ["prove", "step by step"]), model: "thinker"),
        RoutingRule(name: "premium", when: RuleCondition(headers: ["X-Tier": "premium"]), model: "big"),
    ], default: "small")

    func decide(_ f: RequestFeatures, permitted: @escaping (String) -> Bool = { _ in true }) -> Result<ModelDecision, ModelDecisionError> {
        ModelRouter.decide(policy: policy, profiles: profiles, permitted: permitted, features: f)
    }

    @Test func decideShouldUseTheDefaultWhenNoRuleMatches() {
        #expect(decide(RequestFeatures(promptTokens: 10, classifierText: "hello")) == .success(ModelDecision(model: "small", reason: "default")))
    }

    @Test func decideShouldApplyTheFirstMatchingRule() {
        #expect(decide(RequestFeatures(promptTokens: 5000, classifierText: "prove it")) == .success(ModelDecision(model: "big", reason: "rule:long")))
        #expect(decide(RequestFeatures(promptTokens: 10, classifierText: "Explain STEP BY STEP")) == .success(ModelDecision(model: "thinker", reason: "rule:reasoning")))
        #expect(decide(RequestFeatures(promptTokens: 10, headers: ["x-tier": "premium"])) == .success(ModelDecision(model: "big", reason: "rule:premium")))
        #expect(decide(RequestFeatures(promptTokens: 10, headers: ["x-tier": "basic"])) == .success(ModelDecision(model: "small", reason: "default")))
    }

    @Test func decideShouldSkipRulesWhoseModelBreaksTheCostConstraint() {
        // 5000 prompt + 512 default max tokens on "big" costs ~0.055 dollars.
        let f = RequestFeatures(promptTokens: 5000, maxCost: 0.01)
        #expect(decide(f) == .success(ModelDecision(model: "small", reason: "default")))
    }

    @Test func decideShouldPickTheFastestWhenOnlyLatencyExcludesTheDefault() {
        let p = RoutingPolicy(rules: [], default: "thinker", candidates: ["thinker", "big", "small"])
        let f = RequestFeatures(promptTokens: 10, maxLatencyMs: 5000)
        #expect(ModelRouter.decide(policy: p, profiles: profiles, permitted: { _ in true }, features: f)
                == .success(ModelDecision(model: "small", reason: "constraint")))
    }

    @Test func decideShouldFailWhenConstraintsExcludeEverything() {
        #expect(decide(RequestFeatures(promptTokens: 10, maxLatencyMs: 100)) == .failure(.noCandidateMeetsConstraints))
    }

    @Test func decideShouldOnlyChoosePermittedModels() {
        #expect(decide(RequestFeatures(promptTokens: 5000), permitted: { $0 != "big" }) == .success(ModelDecision(model: "small", reason: "default")))
        #expect(decide(RequestFeatures(promptTokens: 5), permitted: { _ in false }) == .failure(.noPermittedCandidate))
    }

    @Test func featuresShouldRejectMalformedConstraintHeadersNamingThem() throws {
        let r = CompletionRequest(model: "auto", input: .chat([ChatMessage(role: .user, content: "hi")]))
        #expect(throws: APIError.invalidField("X-Tandem-Max-Cost", "Header X-Tandem-Max-Cost must be a non-negative number of dollars, got 'cheap'.")) {
            try RequestFeatures.make(request: r, headers: ["X-Tandem-Max-Cost": "cheap"])
        }
        let f = try RequestFeatures.make(request: r, headers: ["x-tandem-max-cost": " 0.5 ", "X-Tandem-Max-Latency-Ms": "250"])
        #expect(f.maxCost == 0.5 && f.maxLatencyMs == 250)
    }
}

@Suite struct ReplicaSelectorTests {
    let replicas = (0..<4).map { ReplicaView(id: "http://r\($0):8000") }

    @Test func selectShouldBeLeastLoadedWithoutAKey() {
        var r = replicas
        r[0].inFlight = 3; r[1].inFlight = 1; r[2].inFlight = 1; r[3].inFlight = 2
        #expect(ReplicaSelector.select(r, affinityKey: nil, maxImbalance: 4) == .success(ReplicaChoice(index: 1, reason: .leastLoaded)))
    }

    @Test func selectShouldSendTheSamePrefixToTheSameReplica() throws {
        let key = PrefixHash.affinityKey(promptText: "system: You are a helpful assistant.", salt: "s", prefixChars: 64)
        let first = try ReplicaSelector.select(replicas, affinityKey: key, maxImbalance: 2).get()
        #expect(first.reason == .affinity)
        for _ in 0..<5 { #expect(try ReplicaSelector.select(replicas, affinityKey: key, maxImbalance: 2).get() == first) }
    }

    @Test func selectShouldSpreadDifferentPrefixes() throws {
        var used = Set<Int>()
        for i in 0..<64 {
            let key = PrefixHash.affinityKey(promptText: "prompt number \(i)", salt: nil, prefixChars: 64)
            used.insert(try ReplicaSelector.select(replicas, affinityKey: key, maxImbalance: 2).get().index)
        }
        #expect(used.count == 4)
    }

    @Test func selectShouldLeaveAffinityWhenTheImbalanceBoundIsExceeded() throws {
        let key: UInt64 = 12345
        let preferred = try ReplicaSelector.select(replicas, affinityKey: key, maxImbalance: 2).get().index
        var r = replicas
        r[preferred].inFlight = 2
        #expect(try ReplicaSelector.select(r, affinityKey: key, maxImbalance: 2).get() == ReplicaChoice(index: preferred, reason: .affinity))
        r[preferred].inFlight = 3
        let moved = try ReplicaSelector.select(r, affinityKey: key, maxImbalance: 2).get()
        #expect(moved.reason == .leastLoaded && moved.index != preferred)
    }

    @Test func selectShouldOnlyMoveTheKeysOfARemovedReplica() throws {
        var moved = 0
        for i in 0..<200 {
            let key = PrefixHash.affinityKey(promptText: "p\(i)", salt: nil, prefixChars: 64)
            let before = replicas[try ReplicaSelector.select(replicas, affinityKey: key, maxImbalance: 100).get().index].id
            var r = replicas
            r[3].available = false
            let after = r[try ReplicaSelector.select(r, affinityKey: key, maxImbalance: 100).get().index].id
            if before != after {
                moved += 1
                #expect(before == replicas[3].id)
            }
        }
        #expect(moved > 0)
    }

    @Test func selectShouldReportWhyNothingWasChosen() {
        var r = replicas
        for i in r.indices { r[i].capacity = 1; r[i].inFlight = 1 }
        #expect(ReplicaSelector.select(r, affinityKey: 1, maxImbalance: 2) == .failure(.allAtCapacity))
        for i in r.indices { r[i].available = false }
        #expect(ReplicaSelector.select(r, affinityKey: 1, maxImbalance: 2) == .failure(.noneAvailable))
    }

    @Test func affinityKeyShouldDependOnSaltAndPrefixOnly() {
        let a = PrefixHash.affinityKey(promptText: String(repeating: "x", count: 100) + "A", salt: "t1", prefixChars: 100)
        let b = PrefixHash.affinityKey(promptText: String(repeating: "x", count: 100) + "B", salt: "t1", prefixChars: 100)
        let c = PrefixHash.affinityKey(promptText: String(repeating: "x", count: 100) + "A", salt: "t2", prefixChars: 100)
        #expect(a == b)
        #expect(a != c)
        #expect(PrefixHash.affinityKey(promptText: "", salt: "t1", prefixChars: 100) == nil)
        #expect(PrefixHash.affinityKey(promptText: "x", salt: "t1", prefixChars: 0) == nil)
    }
}

@Suite struct ReplicaHealthTests {
    let t0 = ContinuousClock.now

    @Test func failuresShouldTakeTheReplicaOutForTheCooldown() {
        var h = ReplicaHealth()
        h.recordFailure(at: t0, threshold: 2, cooldown: .seconds(5))
        #expect(h.isAvailable(at: t0))
        h.recordFailure(at: t0, threshold: 2, cooldown: .seconds(5))
        #expect(!h.isAvailable(at: t0 + .seconds(4)))
        #expect(h.isAvailable(at: t0 + .seconds(5)))
        h.recordFailure(at: t0 + .seconds(5), threshold: 2, cooldown: .seconds(5))
        #expect(!h.isAvailable(at: t0 + .seconds(6)))
        h.recordSuccess()
        #expect(h.isAvailable(at: t0 + .seconds(6)) && h.consecutiveFailures == 0)
    }
}
