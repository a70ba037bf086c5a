/// How waiting requests are ordered for admission and running ones for preemption.
public enum SchedulingPolicy: String, Sendable, Codable, CaseIterable {
    /// First come, first served by arrival time.
    case fcfs
    /// By `GenerationRequest.priority` (lower first), then arrival time.
    case priority
}
