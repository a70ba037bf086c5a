import TandemCore
import TandemEngineCore
import Testing

/// A deterministic stand-in for a model with a paged KV cache. It stores (token, position) in
/// the slots the block tables name, performs the copy directives, and computes each next token
/// from the context it reads back through the block table, so a wrong table, a missed copy or a
/// wrongly shared block changes the output (or is caught as a slot holding the wrong position).
private struct FakePagedModel {
    static let vocabulary: UInt64 = 64
    static let stopToken: TokenID = 0

    var slots: [[(token: TokenID, position: Int)?]]
    var problems: [String] = []

    init(blockCount: Int, blockSize: Int) {
        slots = Array(repeating: Array(repeating: nil, count: blockSize), count: blockCount)
    }

    static func nextToken(after context: [TokenID]) -> TokenID {
        var hasher = StableHasher()
        for token in context { hasher.combine(token) }
        return TokenID(hasher.finalize() % vocabulary)
    }

    /// The output of running the request alone, with no scheduler and no cache.
    static func solo(_ request: GenerationRequest, maxModelLength: Int) -> [TokenID] {
        var context = request.promptTokens
        var output: [TokenID] = []
        while output.count < min(request.maxTokens, maxModelLength - request.promptTokens.count) {
            let token = nextToken(after: context)
            output.append(token)
            context.append(token)
            if request.stopTokenIDs.contains(token) { break }
        }
        return output
    }

    mutating func execute(_ step: SchedulerOutput) -> StepResult {
        for copy in step.blockCopies { slots[copy.destination.rawValue] = slots[copy.source.rawValue] }
        // Every write of the step lands before any read, as in one batched forward pass.
        for sequence in step.sequences {
            for (offset, token) in sequence.tokens.enumerated() {
                let position = sequence.startPosition + offset
                guard let slot = sequence.blockTable.slot(forPosition: position) else {
                    problems.append("\(sequence.requestID): no slot for position \(position)")
                    continue
                }
                slots[slot.block.rawValue][slot.offset] = (token, position)
            }
        }
        var sampled: [RequestID: [TokenID]] = [:]
        for sequence in step.sequences where sequence.samplesToken {
            var context: [TokenID] = []
            for position in 0..<sequence.positions.upperBound {
                guard let slot = sequence.blockTable.slot(forPosition: position),
                      let entry = slots[slot.block.rawValue][slot.offset], entry.position == position else {
                    problems.append("\(sequence.requestID): slot for position \(position) holds another position")
                    break
                }
                context.append(entry.token)
            }
            sampled[sequence.requestID] = [Self.nextToken(after: context)]
        }
        return StepResult(sampledTokens: sampled)
    }
}

@Suite("Scheduler simulation")
struct SchedulerSimulationTests {
    struct Statistics {
        var steps = 0
        var completed = 0
        var preemptions = 0
        var cachedTokens = 0
        var copies = 0
        var rejections = 0
        var cancellations = 0
        var failedSteps = 0
    }

    @Test(arguments: [EvictionPolicy.prefixAware, .lru], [SchedulingPolicy.fcfs, .priority])
    func everyOutputMatchesRunningTheRequestAlone(eviction: EvictionPolicy, policy: SchedulingPolicy) throws {
        let blockSize = 4
        let blockCount = 20
        let maxModelLength = 64
        var scheduler = try Scheduler(
            configuration: SchedulerConfiguration(maxBatchedTokens: 24, maxRunningSequences: 6, maxWaitingRequests: 8,
                                                  maxPrefillChunk: 8, maxModelLength: maxModelLength, policy: policy),
            pool: BlockPoolConfiguration(blockCount: blockCount, blockSize: blockSize, evictionPolicy: eviction))
        var model = FakePagedModel(blockCount: blockCount, blockSize: blockSize)
        var random = SplitMix64(seed: 2024)
        func roll(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }

        // Shared system prompts (8 and 16 are whole blocks), tenant salts, exact duplicates.
        let systems: [[TokenID]] = [tokens(1...8), tokens(20...32), tokens(40...55)]
        var pending: [GenerationRequest] = []
        for index in 0..<48 {
            let suffix = (0..<roll(10)).map { _ in TokenID(100 + roll(50)) }
            pending.append(GenerationRequest(
                id: RequestID("r\(index)"), promptTokens: systems[roll(3)] + suffix, maxTokens: 4 + roll(20),
                stopTokenIDs: [FakePagedModel.stopToken], cacheSalt: CacheSalt(tenant: "t\(roll(2))"),
                priority: roll(3), arrivalTime: .milliseconds(index)))
        }
        let requests = Dictionary(uniqueKeysWithValues: pending.map { ($0.id, $0) })
        var outputs: [RequestID: [TokenID]] = [:]
        var finished: [RequestID: FinishReason] = [:]
        var stats = Statistics()

        while (!pending.isEmpty || scheduler.hasUnfinishedRequests) && stats.steps < 5_000 {
            stats.steps += 1
            let now = Duration.milliseconds(stats.steps)
            // Arrivals: up to three per step; a full queue rejects and the client retries later.
            for _ in 0..<roll(4) where !pending.isEmpty {
                do {
                    try scheduler.submit(pending[0])
                    pending.removeFirst()
                } catch {
                    #expect(error.engineCode == .overCapacity)
                    stats.rejections += 1
                    break
                }
            }
            // Now and then a client disconnects.
            if roll(40) == 0, let victim = (scheduler.runningRequestIDs + scheduler.waitingRequestIDs).first {
                let aborted = scheduler.abort(victim)
                #expect(aborted)
                finished[victim] = .cancelled
                stats.cancellations += 1
            }
            let step = scheduler.schedule(now: now)
            // Now and then a worker fails and the step never runs.
            if roll(50) == 0 {
                scheduler.rollBackStep()
                stats.failedSteps += 1
                continue
            }
            #expect(step.scheduledTokenCount <= 24)
            #expect(scheduler.runningRequestIDs.count <= 6)
            stats.preemptions += step.preemptedRequestIDs.count
            stats.copies += step.blockCopies.count
            stats.cachedTokens += step.sequences.reduce(0) { $0 + $1.cachedTokenCount }
            let result = model.execute(step)
            for output in scheduler.update(with: result) {
                outputs[output.requestID, default: []] += output.newTokens
                if let reason = output.finishReason {
                    finished[output.requestID] = reason
                    stats.completed += 1
                }
            }
            if let problem = scheduler.pool.consistencyProblem() {
                Issue.record("step \(stats.steps): \(problem)")
                break
            }
        }

        #expect(model.problems.isEmpty, "\(model.problems.prefix(3))")
        #expect(!scheduler.hasUnfinishedRequests && pending.isEmpty, "stuck after \(stats.steps) steps")
        for (id, request) in requests where finished[id] != .cancelled {
            #expect(outputs[id] == FakePagedModel.solo(request, maxModelLength: maxModelLength), "\(id)")
        }
        #expect(stats.completed + stats.cancellations == requests.count)
        #expect(stats.preemptions > 0, "the pool should be small enough to force preemption")
        #expect(stats.cachedTokens > 0)
        #expect(stats.copies > 0)
        #expect(stats.failedSteps > 0)
        #expect(stats.rejections > 0)
        #expect(scheduler.pool.usedBlockCount == 0)
        #expect(scheduler.pool.sequenceCount == 0)
        print("simulation \(eviction)/\(policy): \(stats)")
    }
}
