import TandemCore
import TandemEngineCore
import Testing

/// Step-by-step decisions: budget split, decode-first order, chunked prefill, limits.
/// `shape` reads "request@first position+token count", with `*` when the step samples a token.
@Suite("Scheduler batching")
struct SchedulerBatchingTests {
    @Test func decodesGoFirstAndALongPromptIsChunkedAroundThem() throws {
        var scheduler = try makeScheduler(budget: 8)
        try scheduler.submit(request("a", tokens(1...4), maxTokens: 10))
        let first = scheduler.schedule(now: .zero)
        #expect(first.shape == ["a@0+4*"])
        #expect(first.sequences[0].admission == .new)
        #expect(first.sequences[0].tokens == tokens(1...4))
        #expect(scheduler.update(with: StepResult(tokens: ["a": 100])).map(\.newTokens) == [[100]])

        try scheduler.submit(request("b", tokens(11...30)))
        let second = scheduler.schedule(now: .zero)
        #expect(second.shape == ["a@4+1*", "b@0+7"])
        #expect(second.sequences.map(\.phase) == [.decode, .prefill])
        #expect(second.sequences[0].tokens == [100])
        #expect(second.sequences[1].tokens == tokens(11...17))
        #expect(second.decodeTokenCount == 1)
        #expect(second.prefillTokenCount == 7)
        _ = scheduler.update(with: StepResult(tokens: ["a": 101]))

        #expect(scheduler.schedule(now: .zero).shape == ["a@5+1*", "b@7+7"])
        _ = scheduler.update(with: StepResult(tokens: ["a": 102]))
        let fourth = scheduler.schedule(now: .zero)
        #expect(fourth.shape == ["a@6+1*", "b@14+6*"])
        #expect(fourth.sequences[1].tokens == tokens(25...30))
    }

    @Test func aChunkCapLetsSeveralPromptsStartInTheSameStep() throws {
        var scheduler = try makeScheduler(budget: 16, chunk: 4)
        for id in ["a", "b", "c"] { try scheduler.submit(request(RequestID(id), tokens(1...10))) }
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+4", "b@0+4", "c@0+4"])
        _ = scheduler.update(with: StepResult(sampledTokens: [:]))
        #expect(scheduler.schedule(now: .zero).shape == ["a@4+4", "b@4+4", "c@4+4"])
        _ = scheduler.update(with: StepResult(sampledTokens: [:]))
        #expect(scheduler.schedule(now: .zero).shape == ["a@8+2*", "b@8+2*", "c@8+2*"])
    }

    @Test func theBudgetIsNeverExceededAndLeftoverGoesToTheNextAdmission() throws {
        var scheduler = try makeScheduler(budget: 10)
        try scheduler.submit(request("a", tokens(1...6)))
        try scheduler.submit(request("b", tokens(1...6)))
        let step = scheduler.schedule(now: .zero)
        #expect(step.shape == ["a@0+6*", "b@0+4"])
        #expect(step.scheduledTokenCount == 10)
    }

    @Test func maxRunningSequencesLimitsAdmission() throws {
        var scheduler = try makeScheduler(maxRunning: 2)
        for (index, id) in ["a", "b", "c"].enumerated() {
            try scheduler.submit(request(RequestID(id), tokens((10 * index)...(10 * index + 3)), maxTokens: 1))
        }
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+4*", "b@0+4*"])
        #expect(scheduler.waitingRequestIDs == ["c"])
        _ = scheduler.update(with: StepResult(tokens: ["a": 9, "b": 9]))
        #expect(scheduler.schedule(now: .zero).shape == ["c@0+4*"])
    }

    @Test func fcfsAdmitsInArrivalOrder() throws {
        var scheduler = try makeScheduler(maxRunning: 1)
        try scheduler.submit(request("late", [1], maxTokens: 1, arrival: .seconds(2)))
        try scheduler.submit(request("early", [1], maxTokens: 1, arrival: .seconds(1)))
        try scheduler.submit(request("tie", [1], maxTokens: 1, arrival: .seconds(2)))
        var order: [RequestID] = []
        while scheduler.hasUnfinishedRequests {
            let step = scheduler.schedule(now: .seconds(3))
            order += step.sequences.map(\.requestID)
            _ = scheduler.update(with: StepResult(tokens: Dictionary(uniqueKeysWithValues: step.sequences.map { ($0.requestID, TokenID(0)) })))
        }
        #expect(order == ["early", "late", "tie"])
    }

    @Test func priorityPolicyAdmitsLowerPriorityValuesFirst() throws {
        for (policy, expected) in [(SchedulingPolicy.priority, ["high", "mid", "low"] as [RequestID]),
                                   (.fcfs, ["low", "high", "mid"])] {
            var scheduler = try makeScheduler(maxRunning: 1, policy: policy)
            try scheduler.submit(request("low", [1], maxTokens: 1, priority: 5, arrival: .seconds(0)))
            try scheduler.submit(request("high", [1], maxTokens: 1, priority: 0, arrival: .seconds(1)))
            try scheduler.submit(request("mid", [1], maxTokens: 1, priority: 2, arrival: .seconds(2)))
            var order: [RequestID] = []
            while scheduler.hasUnfinishedRequests {
                let step = scheduler.schedule(now: .seconds(3))
                order += step.sequences.map(\.requestID)
                _ = scheduler.update(with: StepResult(tokens: Dictionary(uniqueKeysWithValues: step.sequences.map { ($0.requestID, TokenID(0)) })))
            }
            #expect(order == expected, "\(policy)")
        }
    }

    @Test func aSamplingStepWithoutATokenRunsTheLastTokenAgain() throws {
        var scheduler = try makeScheduler()
        try scheduler.submit(request("a", tokens(1...5)))
        #expect(scheduler.schedule(now: .zero).shape == ["a@0+5*"])
        #expect(scheduler.update(with: StepResult(sampledTokens: [:])).isEmpty)
        let retry = scheduler.schedule(now: .zero)
        #expect(retry.shape == ["a@4+1*"])
        #expect(retry.sequences[0].tokens == [5])
        #expect(scheduler.update(with: StepResult(tokens: ["a": 42])).map(\.newTokens) == [[42]])
    }

    @Test func aStepThatDidNotRunIsRolledBackAndPlannedAgain() throws {
        var scheduler = try makeScheduler()
        try scheduler.submit(request("first", tokens(1...8), maxTokens: 1))
        _ = scheduler.schedule(now: .zero)
        _ = scheduler.update(with: StepResult(tokens: ["first": 0]))
        try scheduler.submit(request("a", tokens(1...8)))
        let planned = scheduler.schedule(now: .zero)
        #expect(planned.shape == ["a@7+1*"])
        #expect(planned.blockCopies == [BlockCopy(source: 1, destination: 2)])
        // The worker failed: nothing ran, so the same work and the same copy come again.
        scheduler.rollBackStep()
        #expect(scheduler.computedTokenCount(of: "a") == 7)
        let again = scheduler.schedule(now: .zero)
        #expect(again.shape == ["a@7+1*"])
        #expect(again.blockCopies == [BlockCopy(source: 1, destination: 2)])
        // A second schedule without an update rolls back by itself.
        let third = scheduler.schedule(now: .zero)
        #expect(third.shape == ["a@7+1*"])
        #expect(scheduler.update(with: StepResult(tokens: ["a": 5])).map(\.newTokens) == [[5]])
        #expect(scheduler.schedule(now: .zero).blockCopies.isEmpty)
    }

    @Test func severalTokensInOneUpdateArePrefilledNextStep() throws {
        var scheduler = try makeScheduler()
        try scheduler.submit(request("a", tokens(1...4)))
        _ = scheduler.schedule(now: .zero)
        // e.g. a forced reasoning close tag of three tokens.
        _ = scheduler.update(with: StepResult(sampledTokens: ["a": [7, 8, 9]]))
        let next = scheduler.schedule(now: .zero)
        #expect(next.shape == ["a@4+3*"])
        #expect(next.sequences[0].phase == .prefill)
    }
}
