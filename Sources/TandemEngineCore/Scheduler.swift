import TandemCore

/// Iteration-level continuous batching over a paged KV cache (Orca's iteration scheduling,
/// vLLM v1's `schedule()` / `update_from_output()` contract), as a pure state machine.
///
/// Each `schedule(now:)` spends a token budget: running decodes first, then prefill chunks of
/// running requests, then admissions of waiting ones in policy order (FCFS or priority). A request
/// is admitted only when the blocks for its first chunk fit, after counting prefix-cache hits, so
/// only the uncached suffix is prefilled. When a running request needs a block and none is
/// available, the lowest-priority / newest running request is preempted by recompute: its blocks
/// are freed and it returns to the front of the queue, to re-prefill prompt plus output later
/// (usually from its own cached blocks). The runner executes the plan and reports sampled tokens
/// to `update(with:)`, which applies stop conditions and caches newly full blocks.
///
/// Steps must not overlap: call `schedule` again only after the previous step's `update`. A step
/// that did not run (a worker failed) is undone with `rollBackStep()`, which `schedule` also does
/// by itself if no `update` came. `abort` may come at any time and frees blocks at once; tokens
/// that arrive later for an aborted request are ignored.
public struct Scheduler: Sendable {
    public let configuration: SchedulerConfiguration
    public internal(set) var pool: BlockPool
    var states: [RequestID: SequenceState] = [:]
    /// Admission order (policy key); preempted requests keep their arrival and so go first.
    var waiting: [RequestID] = []
    /// Policy order: the last one is the first to be preempted.
    var running: [RequestID] = []
    var inFlight: [InFlightChunk] = []
    /// Copy directives of the step in flight, and of rolled-back steps not yet re-issued.
    var inFlightCopies: [BlockCopy] = []
    var pendingCopies: [BlockCopy] = []
    var finishedSinceLastStep: [FinishedRequest] = []
    var stepCounter = 0
    var submissionCounter: UInt64 = 0

    /// A chunk handed to the runner and not yet reported back.
    struct InFlightChunk: Sendable {
        var requestID: RequestID
        var startPosition: Int
        var samplesToken: Bool
        /// Proposed tokens fed after the newest one, to be verified from this step's logits.
        var draftCount = 0
    }

    public init(configuration: SchedulerConfiguration, pool: BlockPoolConfiguration) throws(EngineCoreError) {
        if let problem = configuration.validationProblem() {
            throw EngineCoreError(.invalidConfiguration, problem)
        }
        self.configuration = configuration
        self.pool = try BlockPool(configuration: pool)
    }

    // MARK: Queries

    public var waitingRequestIDs: [RequestID] { waiting }
    public var runningRequestIDs: [RequestID] { running }
    public var hasUnfinishedRequests: Bool { !states.isEmpty }

    public func status(of id: RequestID) -> RequestStatus? { states[id]?.status }

    /// Prompt plus output tokens so far.
    public func tokens(of id: RequestID) -> [TokenID]? { states[id]?.tokens }

    /// Tokens whose K/V is computed (or scheduled in the step in flight).
    public func computedTokenCount(of id: RequestID) -> Int? { states[id]?.computedTokenCount }

    public func preemptionCount(of id: RequestID) -> Int? { states[id]?.preemptionCount }

    // MARK: Requests in and out

    /// Queues a request. Throws `overCapacity` when the queue is full, `promptTooLong` when the
    /// prompt leaves no room to generate, `requestTooLarge` when it could never fit in the pool,
    /// and `duplicateRequest` / `invalidRequest` for bad input.
    public mutating func submit(_ request: GenerationRequest) throws(EngineCoreError) {
        guard states[request.id] == nil else {
            throw EngineCoreError(.duplicateRequest, "request \(request.id) is already queued or running")
        }
        guard !request.promptTokens.isEmpty else {
            throw EngineCoreError(.invalidRequest, "request \(request.id) has an empty prompt")
        }
        guard request.maxTokens > 0 else {
            throw EngineCoreError(.invalidRequest, "request \(request.id): max tokens must be positive")
        }
        let promptCount = request.promptTokens.count
        guard promptCount < configuration.maxModelLength else {
            throw EngineCoreError(.promptTooLong, "prompt of \(promptCount) tokens leaves no room in a context of \(configuration.maxModelLength)")
        }
        var maxOutput = min(request.maxTokens, configuration.maxModelLength - promptCount)
        // The last output token is never fed back, so it needs no slot; one more block covers the
        // copy-on-write of a fully cached prefix.
        if request.capToPool {
            let usable = pool.totalBlockCount - configuration.admissionReserveBlocks - 1
            maxOutput = min(maxOutput, usable * pool.blockSize - promptCount + 1)
            guard maxOutput > 0 else {
                throw EngineCoreError(.requestTooLarge, "request \(request.id): a prompt of \(promptCount) tokens does not fit the pool of \(pool.totalBlockCount) blocks")
            }
        }
        let blocks = BlockTable.blocksNeeded(tokenCount: promptCount + maxOutput - 1, blockSize: pool.blockSize) + 1
        guard blocks + configuration.admissionReserveBlocks <= pool.totalBlockCount else {
            throw EngineCoreError(.requestTooLarge, "request \(request.id) needs up to \(blocks) blocks; the pool has \(pool.totalBlockCount)")
        }
        guard waiting.count < configuration.maxWaitingRequests else {
            throw EngineCoreError(.overCapacity, "\(waiting.count) requests already waiting (limit \(configuration.maxWaitingRequests))")
        }
        submissionCounter += 1
        states[request.id] = SequenceState(request: request, order: submissionCounter,
                                           maxOutputTokens: maxOutput, blockSize: pool.blockSize)
        waiting.insert(request.id, at: insertionIndex(of: request.id, in: waiting))
    }

    /// Ends a request now, waiting or running, freeing its blocks at once (client disconnect,
    /// stop string). Returns false when the request is unknown or already finished.
    @discardableResult
    public mutating func abort(_ id: RequestID, reason: FinishReason = .cancelled) -> Bool {
        guard let state = states[id] else { return false }
        if state.status == .running {
            pool.free(id)
            running.removeAll { $0 == id }
        } else {
            waiting.removeAll { $0 == id }
        }
        states[id] = nil
        finishedSinceLastStep.append(FinishedRequest(requestID: id, reason: reason))
        return true
    }

    /// Starts `child` as a copy of `parent` in the step in flight (several choices of one
    /// prompt, `n > 1`): the same tokens and computed K/V, its blocks shared and copied on
    /// write, so the prompt is prefilled once; `update(with:)` then takes the child's own token
    /// sampled from this step's logits. `parent` must be running and sampling in the step in
    /// flight; `child` must have the same prompt.
    public mutating func fork(_ parent: RequestID, child: GenerationRequest) throws(EngineCoreError) {
        guard let p = states[parent], p.status == .running,
              let chunk = inFlight.first(where: { $0.requestID == parent }), chunk.samplesToken else {
            throw EngineCoreError(.unknownSequence, "\(parent) is not sampling in the step in flight")
        }
        guard states[child.id] == nil else {
            throw EngineCoreError(.duplicateRequest, "request \(child.id) is already queued or running")
        }
        guard child.promptTokens == p.request.promptTokens else {
            throw EngineCoreError(.invalidRequest, "\(child.id) does not share \(parent)'s prompt")
        }
        try pool.fork(parent, into: child.id)
        submissionCounter += 1
        var state = SequenceState(request: child, order: submissionCounter, maxOutputTokens: p.maxOutputTokens, blockSize: pool.blockSize)
        state.tokens = p.tokens
        state.computedTokenCount = p.computedTokenCount
        state.chain = p.chain
        state.status = .running
        state.cachedPromptTokenCount = p.cachedPromptTokenCount
        state.admissionCount = 1
        states[child.id] = state
        running.insert(child.id, at: insertionIndex(of: child.id, in: running))
        inFlight.append(InFlightChunk(requestID: child.id, startPosition: chunk.startPosition, samplesToken: true))
    }

    // MARK: Ordering

    /// Whether `a` goes before `b` under the policy: priority (if enabled), arrival, submission.
    func precedes(_ a: RequestID, _ b: RequestID) -> Bool {
        guard let x = states[a], let y = states[b] else { return false }
        if configuration.policy == .priority, x.request.priority != y.request.priority {
            return x.request.priority < y.request.priority
        }
        if x.request.arrivalTime != y.request.arrivalTime {
            return x.request.arrivalTime < y.request.arrivalTime
        }
        return x.order < y.order
    }

    /// Where `id` goes in `queue` to keep it in policy order.
    func insertionIndex(of id: RequestID, in queue: [RequestID]) -> Int {
        queue.firstIndex { precedes(id, $0) } ?? queue.endIndex
    }
}
