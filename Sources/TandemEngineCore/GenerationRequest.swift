import TandemCore

/// One request as the scheduler sees it: tokens in, limits, isolation and ordering keys.
/// Sampling settings stay with the engine (see `SamplingConfiguration`); stop strings are matched
/// on detokenized text by the engine (see `StopStringMatcher`), which then calls
/// `Scheduler.abort(_:reason:)`.
public struct GenerationRequest: Sendable, Equatable {
    public var id: RequestID
    public var promptTokens: [TokenID]
    /// Most tokens to generate (capped further by the model's context length).
    public var maxTokens: Int
    /// The client set no limit: cap `maxTokens` at what the block pool can ever hold for this
    /// prompt instead of refusing the request (it then ends with `.length` there).
    public var capToPool: Bool
    /// Generation ends when one of these is sampled (include the model's EOS here).
    public var stopTokenIDs: Set<TokenID>
    /// Prefix-cache isolation: requests share cached blocks only under equal salts.
    public var cacheSalt: CacheSalt
    /// Lower runs first under `SchedulingPolicy.priority`; ignored under `.fcfs`.
    public var priority: Int
    /// When the request arrived, on the engine's monotonic clock (time since engine start).
    public var arrivalTime: Duration

    public init(id: RequestID, promptTokens: [TokenID], maxTokens: Int, stopTokenIDs: Set<TokenID> = [],
                cacheSalt: CacheSalt = .shared, priority: Int = 0, arrivalTime: Duration = .zero, capToPool: Bool = false) {
        self.id = id
        self.capToPool = capToPool
        self.promptTokens = promptTokens
        self.maxTokens = maxTokens
        self.stopTokenIDs = stopTokenIDs
        self.cacheSalt = cacheSalt
        self.priority = priority
        self.arrivalTime = arrivalTime
    }
}
