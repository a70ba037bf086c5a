/// Limits and policies of a `Scheduler`.
public struct SchedulerConfiguration: Sendable, Equatable {
    /// Token budget of one step: decode tokens plus prefill-chunk tokens.
    public var maxBatchedTokens: Int
    /// Most sequences holding KV blocks at once.
    public var maxRunningSequences: Int
    /// Most requests waiting for admission; further submissions are rejected as over capacity.
    public var maxWaitingRequests: Int
    /// Most prompt tokens one request may prefill in a single step (nil: only the budget limits),
    /// so one long prompt cannot take a whole step from other admissions.
    public var maxPrefillChunk: Int?
    /// The model's context length: prompt plus output never exceeds it.
    public var maxModelLength: Int
    public var policy: SchedulingPolicy
    /// Requests never admitted within this long after arrival end as `.timedOut` (nil: no limit).
    public var maxQueueWait: Duration?
    public var enablePrefixCaching: Bool
    /// Blocks an admission must leave available, so running decodes don't run out at once.
    public var admissionReserveBlocks: Int

    public init(maxBatchedTokens: Int = 2048, maxRunningSequences: Int = 64, maxWaitingRequests: Int = 256,
                maxPrefillChunk: Int? = nil, maxModelLength: Int = 4096, policy: SchedulingPolicy = .fcfs,
                maxQueueWait: Duration? = nil, enablePrefixCaching: Bool = true, admissionReserveBlocks: Int = 0) {
        self.maxBatchedTokens = maxBatchedTokens
        self.maxRunningSequences = maxRunningSequences
        self.maxWaitingRequests = maxWaitingRequests
        self.maxPrefillChunk = maxPrefillChunk
        self.maxModelLength = maxModelLength
        self.policy = policy
        self.maxQueueWait = maxQueueWait
        self.enablePrefixCaching = enablePrefixCaching
        self.admissionReserveBlocks = admissionReserveBlocks
    }

    /// The reason the configuration is unusable, or nil.
    public func validationProblem() -> String? {
        if maxBatchedTokens <= 0 { return "maxBatchedTokens must be positive" }
        if maxRunningSequences <= 0 { return "maxRunningSequences must be positive" }
        if maxWaitingRequests < 0 { return "maxWaitingRequests must not be negative" }
        if let chunk = maxPrefillChunk, chunk <= 0 { return "maxPrefillChunk must be positive" }
        if maxModelLength <= 1 { return "maxModelLength must be at least 2" }
        if admissionReserveBlocks < 0 { return "admissionReserveBlocks must not be negative" }
        return nil
    }
}
