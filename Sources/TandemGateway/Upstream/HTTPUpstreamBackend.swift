import AsyncHTTPClient
import Logging
import NIOCore
import Foundation

/// An `InferenceBackend` that forwards to an OpenAI-compatible server over HTTP + SSE: a Tandem
/// coordinator (which also gets the tenant and cache-salt headers) or an external upstream the
/// configuration names.
///
/// Deadlines: the client's connect timeout; the response head must arrive within `readTimeout`
/// and before the request's deadline; after that, a silence longer than `readTimeout` between
/// chunks fails the stream with `.timeout`. Terminating the returned stream cancels the HTTP
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
    /// after `idleTimeout`. `retryConnecting`: keep trying a refused connection until the
    /// connect timeout (requests), or fail at once (metric scrapes).
    public static func makeClient(connectTimeout: Duration, maxConnectionsPerHost: Int = 128,
                                  idleTimeout: Duration = .seconds(30), retryConnecting: Bool = true) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(APIMetrics.nanoseconds(connectTimeout)))
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
            http.headers.add(name: "X-Request-Id", value: context.requestID)
            http.headers.add(name: "X-Tandem-Tenant", value: context.tenant)
            if let salt = context.cacheSalt { http.headers.add(name: "X-Tandem-Cache-Salt", value: salt) }
        }
        http.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(UpstreamRequestEncoder.body(request, model: endpoint.model))))

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

    /// Decodes the SSE body into events, with an idle watchdog.
    static func events(from body: HTTPClientResponse.Body, readTimeout: Duration, logger: Logger)
        -> AsyncThrowingStream<CompletionEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<CompletionEvent, any Error>.makeStream()
        let activity = LastActivity()
        let producer = Task {
            var sse = SSEDecoder()
            var chunks = UpstreamChunkDecoder()
            do {
                reading: for try await buffer in body {
                    activity.touch()
                    for data in try sse.feed(buffer.readableBytesView) {
                        for event in try chunks.decode(data) { continuation.yield(event) }
                        if chunks.sawDone { break reading }
                    }
                }
                if !chunks.sawDone, let data = sse.finish() {
                    for event in try chunks.decode(data) { continuation.yield(event) }
                }
                for event in try chunks.finish() { continuation.yield(event) }
                continuation.finish()
            } catch let error as BackendError {
                continuation.finish(throwing: error)
            } catch {
                if Task.isCancelled { continuation.finish(); return }
                continuation.finish(throwing: BackendError(.upstreamUnavailable, "The upstream connection failed mid-stream: \(error)"))
            }
        }
        let watchdog = Task {
            while !Task.isCancelled {
                let due = activity.last + readTimeout
                if ContinuousClock.now >= due {
                    logger.warning("upstream silent for too long", metadata: ["read_timeout_ms": .stringConvertible(milliseconds(readTimeout))])
                    continuation.finish(throwing: BackendError(.timeout, "The upstream sent nothing for \(milliseconds(readTimeout)) ms."))
                    producer.cancel()
                    return
                }
                try? await Task.sleep(until: due, clock: .continuous)
            }
        }
        continuation.onTermination = { _ in
            producer.cancel()
            watchdog.cancel()
        }
        return stream
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

/// When the upstream last sent something (shared by the reader and its watchdog).
final class LastActivity: Sendable {
    private let instant = Locked(ContinuousClock.now)

    var last: ContinuousClock.Instant { instant.withLock { $0 } }
    func touch() { instant.withLock { $0 = .now } }
}
