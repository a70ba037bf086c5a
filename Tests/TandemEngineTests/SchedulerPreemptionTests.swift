import TandemCore
import TandemEngineCore
import Testing

/// Preemption by recompute and resumption, scripted step by step.
@Suite("Scheduler preemption")
struct SchedulerPreemptionTests {
    /// Runs steps, answering each sampling sequence with the next token of `script`.
    private func finish(_ scheduler: inout Scheduler, script: [RequestID: [TokenID]]) -> [RequestID: [TokenID]] {
        var produced: [RequestID: [TokenID]] = [:]
        var steps = 0
        while scheduler.hasUnfinishedRequests && steps < 100 {
            steps += 1
            let step = scheduler.schedule(now: .zero)
            var sampled: [RequestID: TokenID] = [:]
            for sequence in step.sequences where sequence.samplesToken {
                let done = produced[sequence.requestID, default: []].count
                sampled[sequence.requestID] = script[sequence.requestID]![done]
            }
            for output in scheduler.update(with: StepResult(tokens: sampled)) {
                produced[output.requestID, default: []] += output.newTokens
            }
        }
        return produced
    }

    @Test func theNewestRequestPreemptsItselfAndResumesFromItsOwnCachedBlocks() throws {
        var scheduler = try makeScheduler(blocks: 5)
        try scheduler.submit(request("a", tokens(1...8), maxTokens: 3))
        try scheduler.submit(request("b", tokens(11...18), maxTokens: 3))
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+8*", "b@0+8*"])
        _ = scheduler.update(with: StepResult(tokens: ["a": 100, "b": 200]))

        // a takes the last free block; b finds none and, being the newest, is preempted.
        let second = scheduler.schedule(now: .zero)
        #expect(second.shape == ["a@8+1*"])
        #expect(second.preemptedRequestIDs == ["b"])
        #expect(scheduler.status(of: "b") == .waiting)
        #expect(scheduler.computedTokenCount(of: "b") == 0)
        #expect(scheduler.blocks("b") == [])
        #expect(scheduler.pool.evictableBlockCount == 2)  // b's full blocks, still cached
        _ = scheduler.update(with: StepResult(tokens: ["a": 101]))

        // b's prompt is cached but its next token needs a block nobody has yet.
        #expect(scheduler.schedule(now: .zero).shape == ["a@9+1*"])
        #expect(scheduler.update(with: StepResult(tokens: ["a": 102])).map(\.finishReason) == [.length])

        let resumed = scheduler.schedule(now: .zero)
        #expect(resumed.shape == ["b@8+1*"])
        #expect(resumed.sequences[0].admission == .resumed)
        #expect(resumed.sequences[0].cachedTokenCount == 8)
        #expect(resumed.sequences[0].tokens == [200])
        #expect(scheduler.blocks("b") == [2, 3, 4])
        _ = scheduler.update(with: StepResult(tokens: ["b": 201]))
        #expect(scheduler.schedule(now: .zero).shape == ["b@9+1*"])
        let done = scheduler.update(with: StepResult(tokens: ["b": 202]))
        #expect(done.map(\.finishReason) == [.length])
        #expect(done.map(\.outputTokenCount) == [3])
        #expect(scheduler.pool.consistencyProblem() == nil)
    }

    @Test func theNewestRunningRequestIsPreemptedSoTheOlderOneKeepsGoing() throws {
        var scheduler = try makeScheduler(blocks: 4)
        try scheduler.submit(request("a", tokens(1...8), maxTokens: 3))
        try scheduler.submit(request("b", tokens(11...15), maxTokens: 3))
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+8*", "b@0+5*"])
        _ = scheduler.update(with: StepResult(tokens: ["a": 100, "b": 200]))

        let second = scheduler.schedule(now: .zero)
        #expect(second.shape == ["a@8+1*"])
        #expect(second.preemptedRequestIDs == ["b"])
        #expect(scheduler.blocks("a") == [0, 1, 3])  // b's uncached partial block, freed at once
        _ = scheduler.update(with: StepResult(tokens: ["a": 101]))
        #expect(scheduler.schedule(now: .zero).shape == ["a@9+1*"])
        _ = scheduler.update(with: StepResult(tokens: ["a": 102]))

        // b re-prefills its last prompt token and its first output token after the cached block.
        let resumed = scheduler.schedule(now: .zero)
        #expect(resumed.shape == ["b@4+2*"])
        #expect(resumed.sequences[0].tokens == [15, 200])
        #expect(resumed.sequences[0].admission == .resumed)
        _ = scheduler.update(with: StepResult(tokens: ["b": 201]))
        let rest = finish(&scheduler, script: ["b": [202]])
        #expect(rest == ["b": [202]])
        #expect(scheduler.pool.usedBlockCount == 0)
    }

    @Test func preemptingARequestAlreadyPlannedThisStepTakesBackItsTokens() throws {
        var scheduler = try makeScheduler(blocks: 5, chunk: 4)
        try scheduler.submit(request("a", tokens(1...16), maxTokens: 1))
        try scheduler.submit(request("b", [21, 22], maxTokens: 5))
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+4", "b@0+2*"])
        _ = scheduler.update(with: StepResult(tokens: ["b": 200]))
        #expect(scheduler.schedule(now: .zero).shape == ["b@2+1*", "a@4+4"])
        _ = scheduler.update(with: StepResult(tokens: ["b": 201]))
        #expect(scheduler.schedule(now: .zero).shape == ["b@3+1*", "a@8+4"])
        _ = scheduler.update(with: StepResult(tokens: ["b": 202]))

        // b's decode is planned first and takes the last block; a's final chunk then needs one,
        // so b (the newest) is preempted and its planned token taken back.
        let fourth = scheduler.schedule(now: .zero)
        #expect(fourth.shape == ["a@12+4*"])
        #expect(fourth.preemptedRequestIDs == ["b"])
        #expect(fourth.scheduledTokenCount == 4)
        #expect(fourth.blockCopies.isEmpty)
        #expect(scheduler.blocks("a") == [0, 2, 3, 4])
        _ = scheduler.update(with: StepResult(tokens: ["a": 100]))

        let resumed = scheduler.schedule(now: .zero)
        #expect(resumed.shape == ["b@4+1*"])
        #expect(resumed.sequences[0].cachedTokenCount == 4)
        #expect(resumed.sequences[0].tokens == [202])
        _ = scheduler.update(with: StepResult(tokens: ["b": 203]))
        #expect(finish(&scheduler, script: ["b": [204]]) == ["b": [204]])
    }

    @Test(arguments: [SchedulingPolicy.priority, .fcfs])
    func theVictimIsTheLowestPriorityUnderPriorityAndTheNewestUnderFCFS(policy: SchedulingPolicy) throws {
        var scheduler = try makeScheduler(blocks: 4, policy: policy)
        try scheduler.submit(request("old", tokens(1...5), maxTokens: 3, priority: 5, arrival: .seconds(0)))
        try scheduler.submit(request("new", tokens(11...18), maxTokens: 3, priority: 0, arrival: .seconds(1)))
        let first = scheduler.schedule(now: .seconds(1))
        _ = scheduler.update(with: StepResult(tokens: ["old": 1, "new": 2]))
        let second = scheduler.schedule(now: .seconds(1))
        switch policy {
        case .priority:
            #expect(first.shape == ["new@0+8*", "old@0+5*"])
            #expect(second.shape == ["new@8+1*"])
            #expect(second.preemptedRequestIDs == ["old"])
        case .fcfs:
            #expect(first.shape == ["old@0+5*", "new@0+8*"])
            #expect(second.shape == ["old@5+1*"])
            #expect(second.preemptedRequestIDs == ["new"])
        }
    }
}
