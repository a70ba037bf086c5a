import TandemAPI

/// A backend that refuses everything as unavailable: stands in for a deployment that cannot be
/// built (validation normally prevents that), so a bad entry costs one model, not the process.
public struct UnavailableBackend: InferenceBackend {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public func complete(_ request: CompletionRequest, context: InferenceContext) async throws
        -> AsyncThrowingStream<CompletionEvent, any Error> {
        throw BackendError(.upstreamUnavailable, reason)
    }

    public func health() async -> BackendHealth { .unavailable(reason) }
}
