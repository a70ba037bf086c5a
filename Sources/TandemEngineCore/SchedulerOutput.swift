/// The plan for one step: what the model runner executes before `Scheduler.update(with:)`.
public struct SchedulerOutput: Sendable, Equatable {
    /// Counts calls to `schedule(now:)`, from 1.
    public var stepIndex: Int
    /// Decodes first, then running prefill chunks, then admissions.
    public var sequences: [ScheduledSequence]
    /// Copy-on-write directives, to perform in order before the forward pass.
    public var blockCopies: [BlockCopy]
    /// Requests preempted in this step (their blocks are freed; they will re-prefill later).
    /// Keep their sampler state: they resume where they stopped.
    public var preemptedRequestIDs: [RequestID]
    /// Requests that ended since the previous step, for any reason (finished, cancelled, timed
    /// out): the runner may drop their state. Timeouts are reported only here.
    public var finishedRequests: [FinishedRequest]

    public init(stepIndex: Int, sequences: [ScheduledSequence], blockCopies: [BlockCopy],
                preemptedRequestIDs: [RequestID], finishedRequests: [FinishedRequest]) {
        self.stepIndex = stepIndex
        self.sequences = sequences
        self.blockCopies = blockCopies
        self.preemptedRequestIDs = preemptedRequestIDs
        self.finishedRequests = finishedRequests
    }

    public var isEmpty: Bool { sequences.isEmpty }
    public var scheduledTokenCount: Int { sequences.reduce(0) { $0 + $1.tokens.count } }
    public var prefillTokenCount: Int {
        sequences.filter { $0.phase == .prefill }.reduce(0) { $0 + $1.tokens.count }
    }
    public var decodeTokenCount: Int {
        sequences.filter { $0.phase == .decode }.reduce(0) { $0 + $1.tokens.count }
    }
    public func sequence(_ id: RequestID) -> ScheduledSequence? { sequences.first { $0.requestID == id } }
}

/// A request that has ended, and why.
public struct FinishedRequest: Hashable, Sendable {
    public var requestID: RequestID
    public var reason: FinishReason

    public init(requestID: RequestID, reason: FinishReason) {
        self.requestID = requestID
        self.reason = reason
    }
}
