import TandemCore
import TandemEngineCore
import Testing

/// Admission, finishing, cancellation, capacity limits and prefix-cache accounting.
@Suite("Scheduler life cycle")
struct SchedulerLifecycleTests {
    @Test func admissionWaitsUntilBlocksFreeUp() throws {
        var scheduler = try makeScheduler(blocks: 6)
        try scheduler.submit(request("a", tokens(1...16), maxTokens: 2))
        try scheduler.submit(request("b", tokens(101...112), maxTokens: 1))
        // a takes 4 blocks; b needs 3 and only 2 are left.
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+16*"])
        #expect(scheduler.blocks("a") == [0, 1, 2, 3])
        #expect(scheduler.status(of: "b") == .waiting)
        _ = scheduler.update(with: StepResult(tokens: ["a": 100]))
        #expect(scheduler.schedule(now: .zero).shape == ["a@16+1*"])
        #expect(scheduler.blocks("a") == [0, 1, 2, 3, 4])
        let last = scheduler.update(with: StepResult(tokens: ["a": 101]))
        #expect(last.map(\.finishReason) == [.length])
        // a's full blocks stay cached; b takes the two free blocks and evicts a's leaf.
        let third = scheduler.schedule(now: .zero)
        #expect(third.shape == ["b@0+12*"])
        #expect(third.finishedRequests == [FinishedRequest(requestID: "a", reason: .length)])
        #expect(scheduler.blocks("b") == [4, 5, 3])
        #expect(scheduler.pool.consistencyProblem() == nil)
    }

    @Test func stopTokensAndLimitsEndRequests() throws {
        var scheduler = try makeScheduler(maxModelLength: 6)
        try scheduler.submit(request("stop", tokens(1...2), maxTokens: 10, stop: [7]))
        try scheduler.submit(request("max", tokens(1...2), maxTokens: 2))
        try scheduler.submit(request("context", tokens(1...4), maxTokens: 10))
        _ = scheduler.schedule(now: .zero)
        var outputs = scheduler.update(with: StepResult(sampledTokens: ["stop": [5, 7, 9], "max": [5], "context": [5]]))
        #expect(outputs.map(\.newTokens) == [[5, 7], [5], [5]])
        #expect(outputs.map(\.finishReason) == [.stopToken(7), nil, nil])
        _ = scheduler.schedule(now: .zero)
        outputs = scheduler.update(with: StepResult(tokens: ["max": 6, "context": 6]))
        #expect(outputs.map(\.finishReason) == [.length, .length])
        #expect(outputs.map(\.outputTokenCount) == [2, 2])
        #expect(!scheduler.hasUnfinishedRequests)
        #expect(scheduler.pool.usedBlockCount == 0)
    }

    @Test func cancellationFreesBlocksAtOnceAndLateTokensAreIgnored() throws {
        var scheduler = try makeScheduler()
        try scheduler.submit(request("a", tokens(1...10)))
        try scheduler.submit(request("b", tokens(1...3)))
        _ = scheduler.schedule(now: .zero)  // both admitted
        #expect(scheduler.pool.usedBlockCount == 4)
        let aborted = scheduler.abort("a")
        #expect(aborted)
        #expect(scheduler.pool.usedBlockCount == 1)
        #expect(scheduler.status(of: "a") == nil)
        let abortedB = scheduler.abort("b", reason: .stopString("END"))
        #expect(abortedB)
        let abortedAgain = scheduler.abort("a")
        #expect(!abortedAgain)
        #expect(scheduler.update(with: StepResult(tokens: ["a": 5, "b": 6])).isEmpty)
        #expect(scheduler.pool.usedBlockCount == 0)
        let next = scheduler.schedule(now: .zero)
        #expect(next.isEmpty)
        #expect(next.finishedRequests == [FinishedRequest(requestID: "a", reason: .cancelled),
                                          FinishedRequest(requestID: "b", reason: .stopString("END"))])
        #expect(scheduler.pool.consistencyProblem() == nil)
    }

    @Test func aFullQueueRejectsNewRequestsAsOverCapacity() throws {
        var scheduler = try makeScheduler(maxRunning: 1, maxWaiting: 2)
        try scheduler.submit(request("a", [1]))
        try scheduler.submit(request("b", [1]))
        do {
            try scheduler.submit(request("c", [1]))
            Issue.record("expected over capacity")
        } catch {
            #expect(error.engineCode == .overCapacity)
        }
        #expect(scheduler.status(of: "c") == nil)
        _ = scheduler.schedule(now: .zero)  // a admitted: one place frees up
        try scheduler.submit(request("c", [1]))
        #expect(scheduler.waitingRequestIDs == ["b", "c"])
    }

    @Test func withoutAClientLimitOutputIsCappedAtWhatThePoolHolds() throws {
        // 6 blocks of 4: one is kept for the copy-on-write of a cached prefix, so a sequence may
        // span 5 blocks = 20 positions; the last sampled token needs no slot: 21 - 10 = 11 out.
        var scheduler = try makeScheduler(blocks: 6, maxModelLength: 1024)
        var r = request("open", tokens(1...10), maxTokens: 1024 - 10)
        #expect(throws: EngineCoreError.self) { try scheduler.submit(r) }
        r.capToPool = true
        try scheduler.submit(r)
        var produced = 0
        var reason: FinishReason?
        while reason == nil && produced < 100 {
            _ = scheduler.schedule(now: .zero)
            let out = scheduler.update(with: StepResult(tokens: ["open": 500]))
            produced = out.first?.outputTokenCount ?? produced
            reason = out.first?.finishReason
        }
        #expect(reason == .length)
        #expect(produced == 11)
        #expect(scheduler.pool.usedBlockCount == 0 || scheduler.pool.consistencyProblem() == nil)
        // A prompt that alone overflows the pool is still refused.
        var big = request("big", tokens(1...24), maxTokens: 100)
        big.capToPool = true
        #expect(throws: EngineCoreError.self) { try scheduler.submit(big) }
    }

    @Test func invalidRequestsAreRejectedWithNamedErrors() throws {
        var scheduler = try makeScheduler(blocks: 4, maxModelLength: 64)
        try scheduler.submit(request("a", [1]))
        let cases: [(GenerationRequest, EngineCoreError.Code)] = [
            (request("a", [1]), .duplicateRequest),
            (request("empty", []), .invalidRequest),
            (request("zero", [1], maxTokens: 0), .invalidRequest),
            (request("long", tokens(1...64)), .promptTooLong),
            // 20 + 8 − 1 positions need 7 blocks (+1 for a copy); the pool has 4.
            (request("huge", tokens(1...20)), .requestTooLarge),
        ]
        for (bad, code) in cases {
            do {
                try scheduler.submit(bad)
                Issue.record("\(bad.id) was accepted")
            } catch {
                #expect(error.engineCode == code, "\(bad.id)")
            }
        }
        #expect(throws: EngineCoreError.self) { try makeScheduler(budget: 0) }
    }

    @Test func requestsWaitingTooLongTimeOut() throws {
        var scheduler = try makeScheduler(maxRunning: 1, maxQueueWait: .seconds(5))
        try scheduler.submit(request("a", [1], maxTokens: 4, arrival: .seconds(0)))
        try scheduler.submit(request("b", [1], maxTokens: 4, arrival: .seconds(0)))
        try scheduler.submit(request("c", [1], maxTokens: 4, arrival: .seconds(3)))
        _ = scheduler.schedule(now: .seconds(1))
        _ = scheduler.update(with: StepResult(tokens: ["a": 1]))
        let step = scheduler.schedule(now: .seconds(6))
        #expect(step.finishedRequests == [FinishedRequest(requestID: "b", reason: .timedOut)])
        #expect(step.shape == ["a@1+1*"])
        #expect(scheduler.waitingRequestIDs == ["c"])
    }

    @Test func theSameSaltReusesThePrefixAndReportsCachedTokens() throws {
        var scheduler = try makeScheduler()
        let tenant = CacheSalt(tenant: "t1")
        try scheduler.submit(request("first", tokens(1...10), maxTokens: 1, salt: tenant))
        _ = scheduler.schedule(now: .zero)
        #expect(scheduler.update(with: StepResult(tokens: ["first": 0])).map(\.cachedPromptTokenCount) == [0])

        try scheduler.submit(request("again", tokens(1...10), maxTokens: 1, salt: tenant))
        try scheduler.submit(request("stranger", tokens(1...10), maxTokens: 1, salt: CacheSalt(tenant: "t2")))
        let step = scheduler.schedule(now: .zero)
        #expect(step.shape == ["again@8+2*", "stranger@0+10*"])
        #expect(step.sequences.map(\.cachedTokenCount) == [8, 0])
        #expect(scheduler.blocks("again") == [0, 1, 2])
        #expect(scheduler.blocks("stranger") == [3, 4, 5])
        let outputs = scheduler.update(with: StepResult(tokens: ["again": 0, "stranger": 0]))
        #expect(outputs.map(\.cachedPromptTokenCount) == [8, 0])
    }

    @Test func aFullyCachedPromptCopiesItsLastBlockInsteadOfRecomputingIt() throws {
        var scheduler = try makeScheduler()
        try scheduler.submit(request("first", tokens(1...8), maxTokens: 1))
        _ = scheduler.schedule(now: .zero)
        _ = scheduler.update(with: StepResult(tokens: ["first": 0]))
        try scheduler.submit(request("again", tokens(1...8), maxTokens: 1))
        let step = scheduler.schedule(now: .zero)
        // Only the last prompt token runs (for its logits), into a private copy of block 1.
        #expect(step.shape == ["again@7+1*"])
        #expect(step.sequences[0].cachedTokenCount == 7)
        #expect(step.blockCopies == [BlockCopy(source: 1, destination: 2)])
        #expect(scheduler.blocks("again") == [0, 2])
        #expect(scheduler.pool.isCached(1))
    }

    @Test func prefixCachingCanBeTurnedOff() throws {
        var scheduler = try Scheduler(configuration: SchedulerConfiguration(enablePrefixCaching: false),
                                      pool: BlockPoolConfiguration(blockCount: 16, blockSize: 4))
        try scheduler.submit(request("first", tokens(1...8), maxTokens: 1))
        _ = scheduler.schedule(now: .zero)
        _ = scheduler.update(with: StepResult(tokens: ["first": 0]))
        try scheduler.submit(request("again", tokens(1...8), maxTokens: 1))
        #expect(scheduler.schedule(now: .zero).shape == ["again@0+8*"])
        #expect(scheduler.pool.cachedBlockCount == 0)
    }
}
