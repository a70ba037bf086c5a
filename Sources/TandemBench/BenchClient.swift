import AsyncHTTPClient
import Foundation
import NIOCore
import TandemCore

/// Where the load goes and how each request is phrased.
public struct BenchTarget: Sendable {
    /// Base URL, with or without the trailing `/v1` (e.g. `http://127.0.0.1:8100`).
    public var baseURL: String
    public var model: String
    public var apiKey: String?
    public var endpoint: BenchEndpoint
    public var temperature: Double
    /// Bound on one request, head to `[DONE]`.
    public var requestTimeout: Double

    public init(baseURL: String, model: String, apiKey: String? = nil, endpoint: BenchEndpoint = .chat,
                temperature: Double = 0, requestTimeout: Double = 120) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.endpoint = endpoint
        self.temperature = temperature
        self.requestTimeout = requestTimeout
    }

    /// The full URL of the endpoint.
    public var url: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        return base + endpoint.path
    }

    /// The JSON body of a streamed request with usage in the last chunk.
    public func body(for request: BenchRequest) -> [String: Any] {
        var body: [String: Any] = [
            "model": model, "stream": true, "stream_options": ["include_usage": true],
            "max_tokens": request.maxTokens, "temperature": temperature,
        ]
        switch endpoint {
        case .chat: body["messages"] = request.messages.map { ["role": $0.role, "content": $0.content] }
        case .completions: body["prompt"] = request.prompt
        }
        return body
    }
}

struct BenchTimeout: Error {}

/// Sends one streamed request and measures it.
public struct BenchClient: Sendable {
    public let http: HTTPClient
    public let target: BenchTarget

    public init(http: HTTPClient, target: BenchTarget) {
        self.http = http
        self.target = target
    }

    /// A client whose connection attempts (retried while refused) give up after `connectTimeout` seconds.
    public static func makeHTTPClient(connectTimeout: Double = 5) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeout * 1000)))
        configuration.decompression = .disabled
        // One connection per request in flight: AsyncHTTPClient's default of 8 per host made
        // requests beyond the 8th wait for a connection and fail after the connect timeout
        // (getConnectionFromPoolTimeout) at concurrency 16: a harness failure, not the server's.
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1024)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }


    /// Whether `error` says a pooled connection was closed by the server before the request went out.
    static func isStaleConnection(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError, e == .remoteConnectionClosed { return true }
        if let e = error as? ChannelError, e == .ioOnClosedChannel { return true }
        return false
    }

    /// Sends `request`; never throws: failures come back as records with an error type.
    public func send(_ request: BenchRequest, index: Int, level: String, levelStart: ContinuousClock.Instant,
                     onChunk: @escaping @Sendable () -> Void = {}) async -> RequestRecord {
        let t0 = ContinuousClock.now
        let start = (t0 - levelStart).seconds
        let target = self.target
        let http = self.http
        func failed(_ type: String, _ message: String) -> RequestRecord {
            RequestRecord(index: index, level: level, tag: request.tag, start: start,
                          e2e: (ContinuousClock.now - t0).seconds, error: type, errorMessage: message)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: target.body(for: request)) else {
            return failed("encode", "cannot encode the request body")
        }
        do {
            return try await withThrowingTaskGroup(of: RequestRecord.self) { group in
                group.addTask {
                    var req = HTTPClientRequest(url: target.url)
                    req.method = .POST
                    req.headers.add(name: "Content-Type", value: "application/json")
                    req.headers.add(name: "Accept", value: "text/event-stream")
                    if let key = target.apiKey { req.headers.add(name: "Authorization", value: "Bearer \(key)") }
                    req.body = .bytes(ByteBuffer(bytes: data))
                    let timeout = TimeAmount.seconds(Int64(target.requestTimeout.rounded(.up)))
                    let response: HTTPClientResponse
                    do {
                        response = try await http.execute(req, timeout: timeout)
                    } catch where Self.isStaleConnection(error) {
                        // A kept-alive connection the server had already closed (llama-server does
                        // this between requests): nothing reached the server, so send it once more.
                        response = try await http.execute(req, timeout: timeout)
                    }
                    guard response.status == .ok else {
                        let body = try? await response.body.collect(upTo: 64 << 10)
                        var type = "http_\(response.status.code)"
                        var message = "HTTP \(response.status.code)"
                        if let body, let obj = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
                           let err = obj["error"] as? [String: Any] {
                            if let t = (err["type"] as? String) ?? (err["code"] as? String) { type += "_\(t)" }
                            if let m = err["message"] as? String { message += ": \(m)" }
                        }
                        return failed(type, message)
                    }
                    var sse = SSEParser()
                    var acc = StreamAccumulator()
                    reading: for try await buffer in response.body {
                        let now = (ContinuousClock.now - t0).seconds
                        for payload in sse.feed(buffer.readableBytesView) {
                            let before = acc.chunks
                            acc.consume(payload, at: now)
                            if acc.chunks != before { onChunk() }
                            if acc.sawDone { break reading }
                        }
                    }
                    if !acc.sawDone {
                        let now = (ContinuousClock.now - t0).seconds
                        for payload in sse.finish() { acc.consume(payload, at: now) }
                    }
                    var record = acc.record(index: index, level: level, tag: request.tag, start: start,
                                            end: (ContinuousClock.now - t0).seconds)
                    record.model = response.headers.first(name: "X-Tandem-Model")
                    record.route = response.headers.first(name: "X-Tandem-Route-Reason")
                    record.fallbackFrom = response.headers.first(name: "X-Tandem-Fallback-From")
                    if request.keepsAnswer { record.answer = acc.answer }
                    return record
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(target.requestTimeout))
                    throw BenchTimeout()
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
        } catch is BenchTimeout {
            return failed("timeout", "no complete answer within \(Report.num(target.requestTimeout)) s")
        } catch let error as HTTPClientError {
            let text = String(describing: error)
            if error == .deadlineExceeded || error == .readTimeout { return failed("timeout", text) }
            if error == .connectTimeout { return failed("connect", text) }
            return failed("transport", text)
        } catch {
            let text = String(describing: error)
            if text.lowercased().contains("refused") || text.lowercased().contains("connect") {
                return failed("connect", text)
            }
            return failed("transport", text)
        }
    }
}
