/// Runs `operation`, failing with `timeoutError` if it has not finished by `deadline`
/// (the operation is then cancelled).
package func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, timeoutError: @autoclosure () -> any Error,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let error = timeoutError()
    return try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            throw error
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

extension AsyncThrowingStream where Element == CompletionEvent, Failure == any Error {
    /// The same events, but the stream fails with `timeoutError` at `deadline`, and with
    /// `ClientClosedError` when `connection`'s client goes away; when the consumer stops early,
    /// the deadline passes or the client goes, iteration of `self` is cancelled (which tells the
    /// backend to stop).
    func bounded(by deadline: ContinuousClock.Instant, timeoutError: BackendError,
                 connection: ClientConnection? = nil) -> AsyncThrowingStream<CompletionEvent, any Error> {
        let source = self
        let (stream, continuation) = AsyncThrowingStream<CompletionEvent, any Error>.makeStream()
        let pump = Task {
            do {
                for try await event in source { continuation.yield(event) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let timer = Task {
            do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
            continuation.finish(throwing: timeoutError)
            pump.cancel()
        }
        let watch = connection?.onClose {
            continuation.finish(throwing: ClientClosedError())
            pump.cancel()
        }
        continuation.onTermination = { _ in
            pump.cancel()
            timer.cancel()
            connection?.cancel(watch)
        }
        return stream
    }
}

/// Whole milliseconds in `d`, for logs.
package func milliseconds(_ d: Duration) -> Int64 {
    let (s, atto) = d.components
    return s * 1000 + atto / 1_000_000_000_000_000
}
