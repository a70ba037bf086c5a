import TandemCore
import AsyncHTTPClient
import Logging
import NIOCore
import Foundation
import TandemAPI

/// An `InferenceBackend` that forwards to an OpenAI-compatible server over HTTP + SSE: a Tandem
/// coordinator (which also gets the tenant and cache-salt headers) or an external upstream the
/// configuration names.
///
/// Deadlines: the client's connect timeout; the response head must arrive within `readTimeout`
/// and before the request's deadline; after that, a silence longer than the client's read timeout
/// (`makeClient(readTimeout:)`, the same setting) between chunks fails the stream with `.timeout`. Terminating the returned stream cancels the HTTP
/// request (the connection is closed, which a coordinator takes as "free this request").
///
/// Connections are kept alive and pooled by the shared `HTTPClient` (`makeClient`). A pooled
/// connection the upstream closed while it sat idle fails the request that picks it up before any
/// byte of an answer arrives; such a request is sent once more, on another connection, before
/// it counts as a failure of the replica. Once the response head has arrived nothing is retried,
/// so an answer is never generated twice.
public struct HTTPUpstreamBackend: InferenceBackend {
    /// Where and how to reach the upstream.
    public struct Endpoint: Sendable, Equatable {
        public var url: UpstreamURL
        public var kind: DeploymentConfiguration.Kind
        /// The model name sent upstream.
        public var model: String
        public var apiKey: String?
        public var readTimeout: Duration
        public var probeTimeout: Duration

        public init(url: UpstreamURL, kind: DeploymentConfiguration.Kind, model: String, apiKey: String? = nil,
                    readTimeout: Duration = .seconds(60), probeTimeout: Duration = .seconds(2)) {
            self.url = url
            self.kind = kind
            self.model = model
            self.apiKey = apiKey
            self.readTimeout = readTimeout
            self.probeTimeout = probeTimeout
        }
    }

    public let client: HTTPClient
    public let endpoint: Endpoint

    public init(client: HTTPClient, endpoint: Endpoint) {
        self.client = client
        self.endpoint = endpoint
    }

    /// An HTTP client for upstream calls (call `shutdown()` on it when done): keep-alive
    /// connections, at most `maxConnectionsPerHost` open to each deployment, an unused one closed
    /// after `idleTimeout`; a request fails with `.readTimeout` after `readTimeout` without a byte
    /// from the upstream (before the head or between chunks). `retryConnecting`: keep trying a
    /// refused connection until the connect timeout (requests), or fail at once (metric scrapes).
    public static func makeClient(connectTimeout: Duration, readTimeout: Duration = .seconds(60),
                                  maxConnectionsPerHost: Int = 128, idleTimeout: Duration = .seconds(30),
                                  retryConnecting: Bool = true) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(APIMetrics.nanoseconds(connectTimeout)),
                                      read: .nanoseconds(APIMetrics.nanoseconds(readTimeout)))
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.connectionPool = .init(idleTimeout: .nanoseconds(APIMetrics.nanoseconds(idleTimeout)),
                                             concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnectionsPerHost)
        configuration.connectionPool.retryConnectionEstablishment = retryConnecting
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func complete(_ request: CompletionRequest, context: InferenceContext) async throws
        -> AsyncThrowingStream<CompletionEvent, any Error> {
        var http = HTTPClientRequest(url: endpoint.url.appending(UpstreamRequestEncoder.path(for: request.endpoint)))
        http.method = .POST
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "Accept", value: "text/event-stream")
        if let key = endpoint.apiKey { http.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if endpoint.kind == .coordinator {
            http.headers.add(name: TandemHeader.requestID, value: context.requestID)
            http.headers.add(name: TandemHeader.tenant, value: context.tenant)
            if let salt = context.cacheSalt { http.headers.add(name: TandemHeader.cacheSalt, value: salt) }
        }
        http.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(UpstreamRequestEncoder.body(request, model: endpoint.model))))
        // Traced: a client span from the call to the end of the answer; the upstream's spans go under it.
        let span = context.span?.child("upstream", kind: .client, attributes: [("server.address", endpoint.url.base),
                                                                               ("tandem.upstream_model", endpoint.model)])
        if let trace = span?.context ?? context.unsampledTrace { http.headers.add(name: TraceContext.header, value: trace.traceparent) }
        do {
            let events = try await send(http, context: context)
            guard let span else { return events }
            var iterator = events.makeAsyncIterator()
            return AsyncThrowingStream(unfolding: {
                do {
                    let event = try await iterator.next()
                    if event == nil { span.end() }
                    return event
                } catch {
                    span.end(error: "\(error)")
                    throw error
                }
            })
        } catch {
            span?.end(error: (error as? BackendError)?.message ?? "\(error)")
            throw error
        }
    }

    private func send(_ http: HTTPClientRequest, context: InferenceContext) async throws -> AsyncThrowingStream<CompletionEvent, any Error> {
        var response: HTTPClientResponse?
        for attempt in 1...2 {
            let now = ContinuousClock.now
            let headDeadline = min(context.deadline, now + endpoint.readTimeout)
            do {
                response = try await client.execute(http, deadline: .now() + timeAmount(headDeadline - now), logger: nil)
                break
            } catch where attempt == 1 && Self.isClosedConnection(error) && !Task.isCancelled {
                // Nothing of an answer has arrived: most likely a kept-alive connection the
                // upstream had just closed. Once more, on another connection.
                context.logger.info("upstream closed the connection before answering; sending the request once more", metadata: [
                    "upstream": .string(endpoint.url.base), "error": .string("\(error)")])
            } catch {
                throw mapTransportError(error, phase: "connecting to")
            }
        }
        guard let response else { throw BackendError(.internal, "no upstream response") }
        guard response.status == .ok else {
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }
            let body = try? await withDeadline(min(context.deadline, .now + endpoint.readTimeout),
                                               timeoutError: BackendError(.timeout, "error body")) {
                try await response.body.collect(upTo: 64 << 10)
            }
            let json = body.flatMap { try? JSONValue.parse($0.readableBytesView) }
            throw UpstreamChunkDecoder.error(fromBody: json, status: Int(response.status.code), retryAfter: retryAfter)
        }
        return Self.events(from: response.body, readTimeout: endpoint.readTimeout, logger: context.logger)
    }

    /// Decodes the SSE body into events. The stream is driven by its consumer's task (no task of
    /// its own, so an event reaches the consumer without an extra hand-off between threads);
    /// silence longer than the read timeout is caught by the client (`makeClient(readTimeout:)`),
    /// whose error is reported as `.timeout`.
    static func events(from body: HTTPClientResponse.Body, readTimeout: Duration, logger: Logger)
        -> AsyncThrowingStream<CompletionEvent, any Error> {
        let reader = SSEBodyReader(body.makeAsyncIterator(), readTimeout: readTimeout, logger: logger)
        return AsyncThrowingStream(unfolding: { try await reader.next() })
    }

    public func health() async -> BackendHealth {
        let path = endpoint.kind == .coordinator ? "/health" : "/v1/models"
        var http = HTTPClientRequest(url: endpoint.url.appending(path))
        if let key = endpoint.apiKey { http.headers.add(name: "Authorization", value: "Bearer \(key)") }
        do {
            let response = try await client.execute(http, timeout: timeAmount(endpoint.probeTimeout), logger: nil)
            _ = try? await response.body.collect(upTo: 1 << 20)
            return response.status == .ok ? .ready : .unavailable("\(path) answered \(response.status.code)")
        } catch {
            let mapped = mapTransportError(error, phase: "probing")
            return .unavailable((mapped as? BackendError)?.message ?? "\(mapped)")
        }
    }

    /// Whether `error` says an established connection was closed or reset under the request
    /// (as opposed to a refused connection or a timeout).
    static func isClosedConnection(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError { return e == .remoteConnectionClosed }
        if let e = error as? IOError { return [ECONNRESET, EPIPE].contains(e.errnoCode) }
        if let e = error as? ChannelError {
            switch e {
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed: return true
            default: return false
            }
        }
        return false
    }

    func mapTransportError(_ error: any Error, phase: String) -> any Error {
        if error is CancellationError { return error }
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout {
                return BackendError(.timeout, "No answer from the upstream \(endpoint.url.base) in time.")
            }
            if e == .cancelled { return CancellationError() }
        }
        return BackendError(.upstreamUnavailable, "Failed \(phase) the upstream \(endpoint.url.base): \(error)")
    }

    private func timeAmount(_ d: Duration) -> TimeAmount {
        .nanoseconds(max(0, APIMetrics.nanoseconds(d)))
    }
}

/// The state of one upstream answer being decoded: the body iterator, the SSE and chunk
/// decoders, and events decoded but not yet handed out. Used by one consumer at a time (the
/// stream's `unfolding` closure), hence `@unchecked Sendable`.
final class SSEBodyReader: @unchecked Sendable {
    private var body: HTTPClientResponse.Body.AsyncIterator
    private var sse = SSEDecoder()
    private var chunks = UpstreamChunkDecoder()
    private var pending: [CompletionEvent] = []
    private var next = 0
    private var finished = false
    private let readTimeout: Duration
    private let logger: Logger

    init(_ body: HTTPClientResponse.Body.AsyncIterator, readTimeout: Duration, logger: Logger) {
        self.body = body
        self.readTimeout = readTimeout
        self.logger = logger
    }

    func next() async throws -> CompletionEvent? {
        while true {
            if next < pending.count {
                defer { next += 1 }
                return pending[next]
            }
            pending.removeAll(keepingCapacity: true)
            next = 0
            if finished { return nil }
            do {
                guard let buffer = try await body.next() else {
                    // The upstream ended the response.
                    if !chunks.sawDone, let data = sse.finish() { pending += try chunks.decode(data) }
                    pending += try chunks.finish()
                    finished = true
                    continue
                }
                for data in try sse.feed(buffer.readableBytesView) {
                    pending += try chunks.decode(data)
                    if chunks.sawDone { break }
                }
                if chunks.sawDone {
                    pending += try chunks.finish()
                    finished = true
                    // Read the rest of the response (its end follows [DONE]) so the connection
                    // goes back to the pool instead of being closed.
                    await drain()
                }
            } catch let error as BackendError {
                finished = true
                throw error
            } catch {
                finished = true
                if Task.isCancelled { return nil }
                if let e = error as? HTTPClientError, e == .readTimeout {
                    logger.warning("upstream silent for too long", metadata: ["read_timeout_ms": .stringConvertible(milliseconds(readTimeout))])
                    throw BackendError(.timeout, "The upstream sent nothing for \(milliseconds(readTimeout)) ms.")
                }
                throw BackendError(.upstreamUnavailable, "The upstream connection failed mid-stream: \(error)")
            }
        }
    }

    /// Consumes what is left of the body, ignoring it.
    private func drain() async {
        do {
            while try await body.next() != nil {}
        } catch {
            // The answer is complete; a failure after it does not matter.
        }
    }
}
