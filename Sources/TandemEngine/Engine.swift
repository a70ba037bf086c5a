import Foundation
import Logging
import TandemCore
import TandemEngineCore
import TandemModel

/// Configuration of one engine (one model deployment's coordinator).
public struct EngineConfiguration: Sendable {
    public var scheduler: SchedulerConfiguration
    public var evictionPolicy: EvictionPolicy
    /// Seeds requests that bring none (tests fix it; servers draw it).
    public var seed: UInt64
    /// A step running longer than this means a worker stopped answering: every request in
    /// flight fails with an explicit error and `onStall` is called (nil: no watchdog).
    public var stepTimeout: Duration?
    /// Speculative decoding (off by default).
    public var speculation: SpeculationConfiguration

    public init(scheduler: SchedulerConfiguration = SchedulerConfiguration(), evictionPolicy: EvictionPolicy = .prefixAware,
                seed: UInt64 = UInt64.random(in: 0...UInt64.max), stepTimeout: Duration? = nil,
                speculation: SpeculationConfiguration = SpeculationConfiguration()) {
        self.scheduler = scheduler
        self.evictionPolicy = evictionPolicy
        self.seed = seed
        self.stepTimeout = stepTimeout
        self.speculation = speculation
    }
}

/// The serving engine: continuous batching over a paged KV cache with prefix reuse, in tokens.
///
/// `submitTokens` queues a request and returns a stream of `TokenEvent`s; the step loop runs on
/// a thread the engine owns (not the cooperative pool): (draft →) schedule → execute → sample
/// (verify) → update,
/// the scheduler's outputs (tokens, counts, finish reason, cached prompt tokens) passed on
/// unchanged. The lock is held for the scheduler's and the request table's state only: the step
/// and the sampling run without it. Text (detokenising, stop strings, the reasoning split) is
/// handled by a `TextProcessor` per request, off the step thread (`submit`, TextProcessor.swift).
/// Submission is synchronous so over-capacity is refused at once.
public final class Engine: @unchecked Sendable {
    /// The model served: its tokenizer is the text front's (`submit`); the step loop reads
    /// only the end-of-turn token ids from it.
    public let model: LoadedModel
    public let configuration: EngineConfiguration
    /// The model's end-of-turn tokens: a request stops at them unless it ignores end of sequence.
    let endOfTurnTokens: Set<TokenID>
    /// The token recorded for a sequence whose logits are missing (cancelled mid-step).
    let fallbackToken: TokenID
    let executor: StepExecutor
    let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var scheduler: Scheduler
    private var states: [RequestID: TokenRequestState] = [:]
    /// More choices of a request (`n > 1`), started from it at its first sampling step.
    private var pendingForks: [RequestID: [PendingFork]] = [:]
    private var stopping = false
    private var stats = EngineStats()
    /// MoE skew warning: the expert counts at the start of the current window of steps.
    private var skewWindowStart: (step: Int, tokens: [Int]) = (0, [])
    static let expertSkewWindowSteps = 256
    private var thread: Thread?
    private let loopExited = DispatchSemaphore(value: 0)
    /// When the step in flight started (nil between steps), for the watchdog.
    private var stepStarted: ContinuousClock.Instant?
    /// Called (once, from the watchdog thread) when a step overran `stepTimeout`.
    public var onStall: (@Sendable (String) -> Void)?
    private var seedCounter: UInt64
    private let clock = ContinuousClock()
    private let startInstant: ContinuousClock.Instant
    /// The text side of `submit`: its own thread, beside the step thread.
    let text = TextFront()
    /// Compiled output constraints (JSON Schema, regex, GBNF) for this model's vocabulary.
    public let grammars: GrammarCache
    /// Drafts tokens for decoding requests when the deployment speculates.
    let proposer: (any DraftProposer)?
    /// Measured at the start of the step loop when speculation uses the cost model.
    private var costModel: SpeculationCostModel?
    /// The per-token acceptance rate of all drafts lately (`DraftAcceptance`): where a new
    /// request's own estimate starts, so the cost model judges its first drafts by what drafts
    /// earn here.
    private var draftAcceptance = DraftAcceptance(prior: 0.5, decay: 0.9)
    /// Steps the cost model ran without drafts since drafts last ran: after `Self.probeInterval`
    /// one step drafts anyway, so the acceptance estimates follow a workload that changed.
    private var stepsWithoutDrafts = 0
    static let probeInterval = 64
    /// Seconds per step spent outside the forward pass (a step's wall time from scheduling to its
    /// tokens handed on, minus the executor's time), averaged over recent steps (weight 1/16 for
    /// the newest); nil before the first step. The cost model adds it to both sides of its ratio.
    private var stepOverhead: Double?

    public init(model: LoadedModel, executor: StepExecutor, configuration: EngineConfiguration = EngineConfiguration(),
                logger: Logger = Logger(label: "tandem.engine")) throws {
        self.model = model
        endOfTurnTokens = model.tokenizer.vocabulary.stopTokens
        grammars = GrammarCache(tokenizer: model.tokenizer)
        fallbackToken = model.tokenizer.vocabulary.eos ?? 0
        self.executor = executor
        self.configuration = configuration
        self.logger = logger
        var sc = configuration.scheduler
        sc.maxModelLength = min(sc.maxModelLength, model.configuration.contextLength)
        do {
            scheduler = try Scheduler(configuration: sc, pool: BlockPoolConfiguration(
                blockCount: executor.blockCount, blockSize: executor.blockSize, evictionPolicy: configuration.evictionPolicy))
        } catch {
            throw EngineError(.rejected, "invalid engine configuration: \(error)")
        }
        seedCounter = configuration.seed
        startInstant = clock.now
        stats.kvBlocksTotal = executor.blockCount
        proposer = configuration.speculation.isEnabled ? configuration.speculation.proposer : nil
        stats.specAcceptedLengths = Array(repeating: 0, count: configuration.speculation.maxDraftTokens + 1)
        text.engine = self
    }

    /// Starts the step thread.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil else { return }
        let exited = loopExited
        let t = Thread { [weak self] in
            self?.loop()
            exited.signal()
        }
        t.name = "tandem-engine"
        thread = t
        t.start()
        if let timeout = configuration.stepTimeout { startWatchdog(timeout) }
    }

    private func startWatchdog(_ timeout: Duration) {
        let w = Thread { [weak self] in
            var lastTick = ContinuousClock.now
            while true {
                Thread.sleep(forTimeInterval: 0.2)
                guard let self else { return }
                // A watchdog tick that comes far later than asked means the whole process was not
                // running (SIGSTOP, a paused VM): that time is no step's fault, so the step in
                // flight gets it back. A stalled worker stalls the step, not this thread.
                let now = ContinuousClock.now
                let missed = now - lastTick - .milliseconds(200)
                lastTick = now
                self.condition.lock()
                if missed > .seconds(1), let started = self.stepStarted { self.stepStarted = started + missed }
                let stopped = self.stopping
                let started = self.stepStarted
                self.condition.unlock()
                if stopped { return }
                if let started, self.clock.now - started > timeout {
                    let message = "a step has run for more than \(timeout): a worker stopped answering or the link is down"
                    self.failAll(EngineError(.stepFailed, message))
                    self.onStall?(message)
                    return
                }
            }
        }
        w.name = "tandem-engine-watchdog"
        w.start()
    }

    /// Stops the step thread and waits (up to `wait`) for a step in flight to end; unfinished
    /// requests end with `EngineError.shutDown`. Returns false if the thread did not stop in time.
    @discardableResult
    public func shutdown(wait: Duration = .seconds(10)) -> Bool {
        condition.lock()
        let wasRunning = thread != nil && !stopping
        stopping = true
        condition.broadcast()
        let pending = states
        states.removeAll()
        let forks = pendingForks.values.flatMap { $0 }
        pendingForks.removeAll()
        condition.unlock()
        for (_, s) in pending { s.sink.finish(EngineError(.shutDown, "the engine is shutting down")) }
        for f in forks { f.sink.finish(EngineError(.shutDown, "the engine is shutting down")) }
        text.stop()
        guard wasRunning, Thread.current.name != "tandem-engine" else { return true }
        return loopExited.wait(timeout: .now() + wait.seconds) == .success
    }

    deinit { shutdown(wait: .zero) }

    /// Every `expertSkewWindowSteps` steps: warns when one rank's experts got most of the
    /// window's tokens (expert parallelism leaves the other ranks waiting at the all-reduce).
    private func warnOnExpertSkew(_ load: ExpertLoad) {
        guard stats.steps - skewWindowStart.step >= Self.expertSkewWindowSteps else { return }
        let start = skewWindowStart.tokens.count == load.tokens.count ? skewWindowStart.tokens : [Int](repeating: 0, count: load.tokens.count)
        let window = ExpertLoad(tokens: zip(load.tokens, start).map { $0 - $1 }, rankExperts: load.rankExperts)
        skewWindowStart = (stats.steps, load.tokens)
        if let (rank, share) = window.skew() {
            logger.warning("expert load skew: rank \(rank)'s experts got \(Int((share * 100).rounded()))% of the last \(Self.expertSkewWindowSteps) steps' routed tokens (fair share \(100 / load.rankExperts.count)%); the other ranks wait for it at every MoE layer. Consider parallel: tensor",
                           metadata: ["rank_tokens": "\(window.rankTokens)"])
        }
    }

    public var statistics: EngineStats {
        condition.lock()
        defer { condition.unlock() }
        var s = stats
        s.running = scheduler.runningRequestIDs.count
        s.waiting = scheduler.waitingRequestIDs.count
        s.kvBlocksUsed = executor.blockCount - scheduler.pool.availableBlockCount
        return s
    }

    /// Queues `request`; throws `EngineError.rejected` at once when it cannot be accepted. The
    /// stream carries its tokens as they are sampled, then exactly one `.finished`, or throws.
    ///
    /// `acknowledged`: the consumer calls `acknowledge(_:)` after each `.tokens` event, and the
    /// engine starts no step while such a request has an event not yet acknowledged (waiting at
    /// most `acknowledgementWait`). The text front asks for it when text can end or steer the
    /// request (stop strings, a reasoning budget), so it runs at most one step behind the tokens.
    public func submitTokens(_ request: EngineRequest, acknowledged: Bool = false) throws -> AsyncThrowingStream<TokenEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream<TokenEvent, Error>.makeStream()
        try enqueue(request, acknowledged: acknowledged, sink: TokenSink(continuation))
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(request.id) }
        }
        return stream
    }

    /// Admits `request` with its events going to `sink`; throws `EngineError.rejected` at once.
    /// `forks`: more choices of the same prompt, started from `request` when its prompt is
    /// computed (they share its K/V blocks: the prompt is prefilled once).
    func enqueue(_ request: EngineRequest, acknowledged: Bool, sink: TokenSink,
                 forks: [(request: EngineRequest, sink: TokenSink)] = []) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw EngineError(.shutDown, "the engine is shut down") }
        guard stats.healthy else { throw EngineError(.stepFailed, "the engine is unhealthy: \(stats.lastError ?? "a step failed")") }
        var stopIDs = request.stopTokenIDs
        if !request.ignoreEndOfSequence { stopIDs.formUnion(endOfTurnTokens) }
        var pending: [PendingFork] = []
        for fork in forks {
            seedCounter &+= 0x9E37_79B9_7F4A_7C15
            do {
                let sampler = try Sampler(configuration: fork.request.sampling, promptTokens: fork.request.promptTokens, defaultSeed: seedCounter)
                pending.append(PendingFork(request: fork.request, sink: fork.sink, sampler: sampler, acknowledged: acknowledged, stopIDs: stopIDs))
            } catch {
                throw EngineError(.rejected, error.message, code: error.code)
            }
        }
        seedCounter &+= 0x9E37_79B9_7F4A_7C15
        let sampler: Sampler
        switch admit(request, stopIDs: stopIDs) {
        case .success(let s): sampler = s
        case .failure(let e): throw EngineError(.rejected, e.message, code: e.code)
        }
        states[request.id] = TokenRequestState(request: request, sink: sink, sampler: sampler, acknowledged: acknowledged)
        states[request.id]?.draftAcceptance = DraftAcceptance(prior: draftAcceptance.rate, decay: 0.7)
        if !pending.isEmpty { pendingForks[request.id] = pending }
        stats.promptTokens += request.promptTokens.count
        condition.signal()
    }

    /// Builds the sampler and queues the request in the scheduler (lock held).
    private func admit(_ request: EngineRequest, stopIDs: Set<TokenID>) -> Result<Sampler, EngineCoreError> {
        do {
            let sampler = try Sampler(configuration: request.sampling, promptTokens: request.promptTokens, defaultSeed: seedCounter)
            try scheduler.submit(GenerationRequest(
                id: request.id, promptTokens: request.promptTokens, maxTokens: request.maxTokens, stopTokenIDs: stopIDs,
                cacheSalt: request.cacheSalt, priority: request.priority, arrivalTime: clock.now - startInstant,
                capToPool: request.capToPool))
            return .success(sampler)
        } catch let e as EngineCoreError {
            return .failure(e)
        } catch {
            return .failure(EngineCoreError(.invalidRequest, "\(error)"))
        }
    }

    /// Ends a request now (client gone, or its text matched a stop string); its blocks are
    /// freed at once and its token stream ends without `.finished`.
    public func cancel(_ id: RequestID, reason: FinishReason = .cancelled) {
        condition.lock()
        let state = states.removeValue(forKey: id)
        _ = scheduler.abort(id, reason: reason)
        // Choices not started yet: cancelled with their parent, or on their own.
        var dropped = pendingForks.removeValue(forKey: id) ?? []
        for (parent, forks) in pendingForks where forks.contains(where: { $0.request.id == id }) {
            dropped += forks.filter { $0.request.id == id }
            pendingForks[parent] = forks.filter { $0.request.id != id }
        }
        condition.unlock()
        state?.sink.finish(nil)
        for f in dropped { f.sink.finish(nil) }
    }

    /// The consumer of an acknowledged request has handled one more `.tokens` event.
    public func acknowledge(_ id: RequestID) {
        condition.lock()
        if let n = states[id]?.unacknowledged, n > 0 { states[id]?.unacknowledged = n - 1 }
        condition.broadcast()
        condition.unlock()
    }

    /// Longest a step waits for the text front of acknowledged requests (then it goes on: a slow
    /// consumer delays its own stop, never the other requests for long).
    public static let acknowledgementWait: Duration = .milliseconds(200)

    /// Appends `tokens` to the request's output at its next sampling step instead of sampling (a
    /// reasoning budget forcing the close tag). No effect once the request has ended.
    public func force(_ id: RequestID, tokens: [TokenID]) {
        condition.lock()
        states[id]?.forced += tokens
        condition.unlock()
    }

    // MARK: - The step loop

    private func loop() {
        if proposer != nil, configuration.speculation.costModel {
            do {
                let model = try measureSpeculationCost()
                condition.lock(); costModel = model; condition.unlock()
                logger.notice("speculation: drafted/plain step time \(model.samples.map { "B=\($0.batch) \(String(format: "%.2f", $0.drafted / max($0.plain, 1e-9)))" }.joined(separator: ", "))")
            } catch {
                failAll(error)
            }
        }
        while true {
            condition.lock()
            while !stopping && !scheduler.hasUnfinishedRequests { condition.wait() }
            // The step's wall time starts here (idle waiting excluded; the text fronts' catching up
            // included: every step pays it).
            let iterationStart = clock.now
            // Acknowledged requests' text fronts catch up first (bounded), so a stop string or a
            // reasoning budget acts at the next step.
            let ackDeadline = Date().addingTimeInterval(Self.acknowledgementWait.seconds)
            while !stopping, states.values.contains(where: { $0.unacknowledged > 0 }), condition.wait(until: ackDeadline) {}
            if stopping { condition.unlock(); return }
            let plan = scheduler.schedule(now: clock.now - startInstant, drafts: drafts())
            var forced: [RequestID: [TokenID]] = [:]
            for s in plan.sequences where s.samplesToken {
                if let f = states[s.requestID]?.forced, !f.isEmpty { forced[s.requestID] = f; states[s.requestID]?.forced = [] }
            }
            stats.preemptions += plan.preemptedRequestIDs.count
            // Prefix-cache statistics count first admissions only: a sequence resumed after
            // preemption finds its own prompt and output blocks, which are no prompt reuse.
            if configuration.scheduler.enablePrefixCaching {
                for s in plan.sequences where s.admission == .new {
                    let promptCount = states[s.requestID]?.request.promptTokens.count ?? 0
                    stats.prefixQueriedTokens += promptCount
                    stats.prefixHitTokens += min(s.cachedTokenCount, promptCount)
                }
            }
            for s in plan.sequences {
                let promptCount = states[s.requestID]?.request.promptTokens.count ?? 0
                stats.prefillTokens += max(0, min(s.startPosition + s.tokens.count, promptCount) - s.startPosition)
            }
            let finishedEarly = plan.finishedRequests.compactMap { f in states.removeValue(forKey: f.requestID).map { (f, $0) } }
            // Choices of a request that ended before its first sample (timed out in the queue) end with it.
            let orphans = finishedEarly.flatMap { f, _ in (pendingForks.removeValue(forKey: f.requestID) ?? []).map { (f.reason, $0) } }
            condition.unlock()
            for (f, s) in finishedEarly { finish(s, reason: f.reason) }
            for (reason, f) in orphans {
                f.sink.yield(.finished(reason: reason, usage: EngineUsage(promptTokens: f.request.promptTokens.count, cachedPromptTokens: 0,
                                                                          completionTokens: 0, reasoningTokens: 0)))
                f.sink.finish(nil)
            }
            if plan.isEmpty {
                Thread.sleep(forTimeInterval: 0.001)
                continue
            }
            let chunks = plan.sequences.map {
                SequenceChunk(tokens: $0.tokens, startPosition: $0.startPosition,
                              blockTable: $0.blockTable.blockIDs.map { Int32($0.rawValue) }, logitCount: $0.logitCount)
            }
            let logits: [[Float]]
            let executeStart = clock.now
            condition.lock(); stepStarted = executeStart; condition.unlock()
            do {
                logits = try executor.execute(chunks, copies: plan.blockCopies)
            } catch {
                condition.lock(); stepStarted = nil; condition.unlock()
                failAll(error)
                continue
            }
            let executeSeconds = (clock.now - executeStart).seconds
            defer { observeStepOverhead((clock.now - iterationStart).seconds - executeSeconds) }
            condition.lock(); stepStarted = nil; condition.unlock()
            // Sample outside the lock: the samplers are copied out and written back, so a
            // submission or cancellation in the meantime is never blocked by a step.
            condition.lock()
            var work: [(id: RequestID, logits: Int?, sampler: Sampler?, wantsLogprobs: Bool, draft: [TokenID])] = []
            var forks: [(parent: RequestID, logits: Int, fork: PendingFork)] = []
            var li = 0
            for s in plan.sequences where s.samplesToken {
                defer { li += s.logitCount }
                if forced[s.requestID] != nil { work.append((s.requestID, nil, nil, false, [])); continue }
                let state = states[s.requestID]
                let rows = li + s.logitCount <= logits.count ? li : nil
                work.append((s.requestID, rows, state?.sampler, state?.request.sampling.topLogprobs != nil, s.draftTokens))
                if state != nil, li < logits.count, let pending = pendingForks.removeValue(forKey: s.requestID) {
                    forks += pending.map { (s.requestID, li, $0) }
                }
            }
            condition.unlock()
            var sampled: [RequestID: [TokenID]] = [:]
            var accepted: [RequestID: Int] = [:]
            var logprobs: [RequestID: [SampledToken]] = [:]
            var samplers: [RequestID: Sampler] = [:]
            for w in work {
                if let f = forced[w.id] { sampled[w.id] = f; continue }
                // A request cancelled since it was scheduled still needs a token for the update.
                guard let i = w.logits, var sampler = w.sampler else { sampled[w.id] = [fallbackToken]; continue }
                // Verification (speculative decoding): position j's logits follow the newest token
                // and the first j draft tokens. Each position is sampled as decoding one token at a
                // time would sample it (same pipeline, same random draws); a draft token is kept
                // while it equals that sample, and the first sample that differs (or the one after
                // a fully accepted draft) is the target's own next token. For a draft proposed
                // deterministically this is the speculative-sampling rule (`SpeculativeAcceptance`):
                // the output has exactly the target's distribution.
                var emitted: [TokenID] = []
                if !w.draft.isEmpty { emitted.reserveCapacity(w.draft.count + 1) }
                var lps: [SampledToken] = []
                do {
                    for j in 0...w.draft.count {
                        let token = try sampler.sample(logits: logits[i + j])
                        emitted.append(token.token)
                        if w.wantsLogprobs { lps.append(token) }
                        if j == w.draft.count || token.token != w.draft[j] { break }
                    }
                } catch {
                    if emitted.isEmpty { emitted = [fallbackToken] }
                }
                sampled[w.id] = emitted
                if !w.draft.isEmpty { accepted[w.id] = emitted.count - 1 }
                if !lps.isEmpty { logprobs[w.id] = lps }
                samplers[w.id] = sampler
            }
            // Further choices sample their first token from their parent's logits.
            var started: [(parent: RequestID, fork: PendingFork, sampler: Sampler)] = []
            for var f in forks {
                do {
                    let token = try f.fork.sampler.sample(logits: logits[f.logits])
                    sampled[f.fork.request.id] = [token.token]
                    if f.fork.request.sampling.topLogprobs != nil { logprobs[f.fork.request.id] = [token] }
                } catch {
                    sampled[f.fork.request.id] = [fallbackToken]
                }
                started.append((f.parent, f.fork, f.fork.sampler))
            }
            condition.lock()
            for (id, sampler) in samplers { states[id]?.sampler = sampler }
            for (id, f) in forced { for t in f { states[id]?.sampler.record(t) } }
            var notStarted: [PendingFork] = []
            for (parent, fork, sampler) in started {
                let r = fork.request
                do {
                    try scheduler.fork(parent, child: GenerationRequest(
                        id: r.id, promptTokens: r.promptTokens, maxTokens: r.maxTokens, stopTokenIDs: fork.stopIDs,
                        cacheSalt: r.cacheSalt, priority: r.priority, arrivalTime: clock.now - startInstant, capToPool: r.capToPool))
                    states[r.id] = TokenRequestState(request: r, sink: fork.sink, sampler: sampler, acknowledged: fork.acknowledged)
                    states[r.id]?.draftAcceptance = DraftAcceptance(prior: draftAcceptance.rate, decay: 0.7)
                } catch {
                    notStarted.append(fork)
                }
            }
            let outputs = scheduler.update(with: StepResult(sampledTokens: sampled, acceptedDraftTokens: accepted))
            stats.steps += 1
            if let load = executor.expertLoad {
                stats.expertLoad = load
                warnOnExpertSkew(load)
            }
            for s in plan.sequences where !s.draftTokens.isEmpty {
                let n = accepted[s.requestID] ?? 0
                stats.specProposedTokens += s.draftTokens.count
                stats.specAcceptedTokens += n
                if n < stats.specAcceptedLengths.count { stats.specAcceptedLengths[n] += 1 }
                draftAcceptance.observe(accepted: n, drafted: s.draftTokens.count)
                if states[s.requestID] != nil {
                    states[s.requestID]?.draftAcceptance.observe(accepted: n, drafted: s.draftTokens.count)
                    states[s.requestID]?.acceptedDraftTokens += n
                    states[s.requestID]?.rejectedDraftTokens += s.draftTokens.count - n
                }
            }
            var finished: [(TokenRequestState, FinishReason)] = []
            var events: [(TokenRequestState, TokenEvent)] = []
            for o in outputs {
                guard var state = states[o.requestID] else { continue }
                // The scheduler's counts are the ones reported (cached tokens set at first
                // admission, within the prompt).
                state.cachedPromptTokens = o.cachedPromptTokenCount
                state.completionTokens = o.outputTokenCount
                stats.generatedTokens += o.newTokens.count
                var stopToken: TokenID?
                if case .stopToken(let t) = o.finishReason { stopToken = t }
                let visible = o.newTokens.filter { $0 != stopToken }
                let lp = logprobs[o.requestID] ?? []
                if !visible.isEmpty || !lp.isEmpty {
                    events.append((state, .tokens(visible, logprobs: lp, cachedPromptTokens: o.cachedPromptTokenCount)))
                    if state.acknowledged && o.finishReason == nil { state.unacknowledged += 1 }
                }
                if let reason = o.finishReason {
                    states.removeValue(forKey: o.requestID)
                    finished.append((state, reason))
                } else {
                    states[o.requestID] = state
                }
            }
            condition.unlock()
            // A parent cancelled since it was scheduled: its choices end with it.
            for f in notStarted { f.sink.finish(nil) }
            for (s, e) in events { s.sink.yield(e) }
            for (s, reason) in finished { finish(s, reason: reason) }
        }
    }

    /// Draft tokens for the requests that will decode in the next step (lock held): none when the
    /// deployment does not speculate, when more sequences decode than speculation pays for, or
    /// for requests that opted out or have tokens forced.
    private func drafts() -> [RequestID: [TokenID]] {
        guard let proposer else { return [:] }
        let spec = configuration.speculation
        let decoding = scheduler.runningRequestIDs.filter { id in
            guard let tokens = scheduler.tokens(of: id), let computed = scheduler.computedTokenCount(of: id) else { return false }
            return computed == tokens.count - 1
        }
        guard spec.drafts(decoding: decoding.count) else { return [:] }
        var out: [RequestID: [TokenID]] = [:]
        var expected = 0.0
        for id in decoding {
            guard let state = states[id], state.request.speculative, state.forced.isEmpty,
                  let tokens = scheduler.tokens(of: id) else { continue }
            let draft = proposer.propose(tokens, reference: state.request.predictedTokens,
                                         maxTokens: spec.draftLength(acceptanceRate: state.draftAcceptance.rate))
            guard !draft.isEmpty else { continue }
            out[id] = draft
            expected += SpeculationConfiguration.expectedAccepted(length: draft.count, rate: state.draftAcceptance.rate)
        }
        if let costModel, !out.isEmpty,
           !costModel.pays(batch: decoding.count, expectedAccepted: expected / Double(decoding.count), overhead: stepOverhead ?? 0),
           stepsWithoutDrafts < Self.probeInterval {
            stats.specSkippedSteps += 1
            stepsWithoutDrafts += 1
            return [:]
        }
        if !out.isEmpty { stepsWithoutDrafts = 0 }
        return out
    }

    /// Folds one step's time outside the forward pass into `stepOverhead` (takes the lock).
    private func observeStepOverhead(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        condition.lock()
        stepOverhead = stepOverhead.map { $0 + (seconds - $0) / 16 } ?? seconds
        condition.unlock()
    }

    /// Times a step of B decoding sequences with one token each against one with 1 + k tokens
    /// each (k = the most draft tokens), for B = 1, 2, 4, … up to what the configuration runs and
    /// the pool holds, on blocks no request holds yet (the pool is empty before the first step).
    /// Best of three interleaved runs each.
    private func measureSpeculationCost() throws -> SpeculationCostModel {
        let k = configuration.speculation.maxDraftTokens
        let blockSize = executor.blockSize
        let perSequence = (k + blockSize) / blockSize
        let sizes = SpeculationCostModel.batchSizes(maxRunning: configuration.scheduler.maxRunningSequences,
                                                    blockCount: executor.blockCount, blockSize: blockSize, draftTokens: k)
        var samples: [(batch: Int, plain: Double, drafted: Double)] = []
        for b in sizes {
            let tables = (0..<b).map { i in (0..<perSequence).map { Int32(i * perSequence + $0) } }
            let plain = tables.map { SequenceChunk(tokens: [fallbackToken], startPosition: 0, blockTable: $0, logitCount: 1) }
            let drafted = tables.map {
                SequenceChunk(tokens: Array(repeating: fallbackToken, count: k + 1), startPosition: 0, blockTable: $0, logitCount: k + 1)
            }
            var best = (plain: Double.infinity, drafted: Double.infinity)
            // Each run is a step to the watchdog: a worker that stops answering now fails loudly too.
            func timed(_ chunks: [SequenceChunk]) throws -> Double {
                condition.lock(); stepStarted = clock.now; condition.unlock()
                defer { condition.lock(); stepStarted = nil; condition.unlock() }
                let t0 = clock.now
                _ = try executor.execute(chunks, copies: [])
                return (clock.now - t0).seconds
            }
            for _ in 0..<3 {
                best.plain = min(best.plain, try timed(plain))
                best.drafted = min(best.drafted, try timed(drafted))
            }
            samples.append((b, best.plain, best.drafted))
        }
        return SpeculationCostModel(samples: samples)
    }

    private func finish(_ state: TokenRequestState, reason: FinishReason) {
        state.sink.yield(.finished(reason: reason, usage: state.usage))
        state.sink.finish(nil)
    }

    /// A failed step (a worker died, the link broke): every request in flight ends with an
    /// explicit error and the engine reports itself unhealthy.
    private func failAll(_ error: Error) {
        condition.lock()
        let all = states
        states.removeAll()
        let forks = pendingForks.values.flatMap { $0 }
        pendingForks.removeAll()
        for id in all.keys { _ = scheduler.abort(id, reason: .cancelled) }
        stats.healthy = false
        stats.lastError = "\(error)"
        condition.unlock()
        logger.error("step failed; failing \(all.count) request(s)", metadata: ["error": "\(error)"])
        for (_, s) in all { s.sink.finish(EngineError(.stepFailed, "generation failed: \(error)")) }
        for f in forks { f.sink.finish(EngineError(.stepFailed, "generation failed: \(error)")) }
    }
}
