import TandemCore
import Foundation
import Hummingbird
import Logging
import TandemAPI

/// An in-process `InferenceBackend` that plays a script and records what it was asked (the
/// tests of `TandemAPI` and `TandemGateway` both use it).
public final class FakeBackend: InferenceBackend, @unchecked Sendable {
    public enum Script: Sendable {
        /// Streams these events, `delay` apart.
        case events([CompletionEvent], delay: Duration = .zero)
        /// Refuses at start.
        case refuse(BackendError)
        /// Streams `events`, then fails with `error`.
        case failAfter([CompletionEvent], BackendError)
        /// Accepts and then never sends anything (until cancelled).
        case hang
    }

    public struct Call: Sendable {
        public var request: CompletionRequest
        public var tenant: String
        public var cacheSalt: String?
    }

    private let lock = NSLock()
    private var _script: Script
    private var _calls: [Call] = []
    private var _cancelled = 0
    private var _health: BackendHealth = .ready
    public let name: String

    public init(name: String = "fake", script: Script = FakeBackend.answer("Hello there!")) {
        self.name = name
        self._script = script
    }

    public var script: Script {
        get { lock.withLock { _script } }
        set { lock.withLock { _script = newValue } }
    }
    public var calls: [Call] { lock.withLock { _calls } }
    public var cancelledCount: Int { lock.withLock { _cancelled } }
    public var healthState: BackendHealth {
        get { lock.withLock { _health } }
        set { lock.withLock { _health = newValue } }
    }

    /// A typical answer: the words of `text` as deltas, a stop, usage.
    public static func answer(_ text: String, reasoning: String = "", promptTokens: Int = 7, cached: Int = 0) -> Script {
        var events: [CompletionEvent] = []
        if !reasoning.isEmpty { events.append(.delta(CompletionDelta(reasoning: reasoning))) }
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        for (i, w) in words.enumerated() {
            events.append(.delta(CompletionDelta(content: (i == 0 ? "" : " ") + w)))
        }
        events.append(.finish(.stop))
        events.append(.usage(Usage(promptTokens: promptTokens, completionTokens: words.count + (reasoning.isEmpty ? 0 : 1),
                                   cachedTokens: cached, reasoningTokens: reasoning.isEmpty ? 0 : 1)))
        return .events(events)
    }

    public func complete(_ request: CompletionRequest, context: InferenceContext) async throws -> AsyncThrowingStream<CompletionEvent, any Error> {
        let script = lock.withLock { () -> Script in
            _calls.append(Call(request: request, tenant: context.tenant, cacheSalt: context.cacheSalt))
            return _script
        }
        let (stream, continuation) = AsyncThrowingStream<CompletionEvent, any Error>.makeStream()
        switch script {
        case .refuse(let error):
            throw error
        case .events(let events, let delay):
            let task = Task {
                for e in events {
                    if delay > .zero { try? await Task.sleep(for: delay) }
                    if Task.isCancelled { return }
                    continuation.yield(e)
                }
                continuation.finish()
            }
            continuation.onTermination = { [weak self] termination in
                task.cancel()
                if case .cancelled = termination { self?.lock.withLock { self?._cancelled += 1 } }
            }
        case .failAfter(let events, let error):
            for e in events { continuation.yield(e) }
            continuation.finish(throwing: error)
        case .hang:
            continuation.onTermination = { [weak self] termination in
                if case .cancelled = termination { self?.lock.withLock { self?._cancelled += 1 } }
            }
        }
        return stream
    }

    public func health() async -> BackendHealth { healthState }
}

/// Helpers shared by the route tests.
public enum TestSupport {
    public static func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }

    public static func json(_ buffer: ByteBuffer) throws -> JSONValue {
        try JSONValue.parse(Array(buffer.readableBytesView))
    }

    /// The `data:` payloads of an SSE body.
    public static func sseData(_ buffer: ByteBuffer) throws -> [String] {
        var decoder = SSEDecoder()
        var events = try decoder.feed(buffer.readableBytesView)
        if let last = decoder.finish() { events.append(last) }
        return events
    }

    public static let chatBody = #"{"model": "small", "messages": [{"role": "user", "content": "Hi"}]}"#
}

extension JSONValue {
    /// The first element of an array (nil for anything else).
    public var arrayFirst: JSONValue? {
        if case .array(let a) = self { return a.first }
        return nil
    }
}
