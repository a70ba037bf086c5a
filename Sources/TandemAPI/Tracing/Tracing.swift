import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import TandemCore

/// A W3C trace context (`traceparent: 00-<trace id>-<span id>-<flags>`): the span a request's
/// work hangs under, passed from the client to the gateway and from the gateway to a coordinator.
public struct TraceContext: Sendable, Equatable {
    /// 32 lowercase hex digits.
    public var traceID: String
    /// 16 lowercase hex digits: the span that is the parent of the receiver's spans.
    public var spanID: String
    public var sampled: Bool

    public static let header = "traceparent"

    public init(traceID: String, spanID: String, sampled: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
    }

    /// Parses a `traceparent` value; nil when it is not a valid version-00 one (then a new trace
    /// starts, as the W3C recommendation says).
    public init?(traceparent: String) {
        let parts = traceparent.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.prefix(4).allSatisfy({ $0.allSatisfy(\.isHexDigit) }), parts[0] != "00" || parts.count == 4,
              parts[1] != String(repeating: "0", count: 32), parts[2] != String(repeating: "0", count: 16),
              let flags = UInt8(parts[3], radix: 16) else { return nil }
        traceID = parts[1].lowercased()
        spanID = parts[2].lowercased()
        sampled = flags & 1 == 1
    }

    public var traceparent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    public static func randomHex(bytes: Int) -> String {
        var s = ""
        repeat {
            s = (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        } while s.allSatisfy { $0 == "0" }
        return s
    }
}

/// One finished span, as OTLP carries it.
public struct SpanRecord: Sendable, Equatable {
    public enum Kind: Int, Sendable { case `internal` = 1, server = 2, client = 3 }
    public var name: String
    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    public var kind: Kind
    public var startUnixNano: UInt64
    public var endUnixNano: UInt64
    public var attributes: [(String, String)]
    /// A failed span's message (OTLP status code 2); nil: unset.
    public var error: String?

    public static func == (a: SpanRecord, b: SpanRecord) -> Bool {
        a.name == b.name && a.traceID == b.traceID && a.spanID == b.spanID && a.parentSpanID == b.parentSpanID && a.kind == b.kind
            && a.startUnixNano == b.startUnixNano && a.endUnixNano == b.endUnixNano && a.error == b.error
            && a.attributes.elementsEqual(b.attributes) { $0 == $1 }
    }
}

/// A span being timed. `end` records it with the tracer once (later calls do nothing).
public final class Span: Sendable {
    public let context: TraceContext
    let name: String
    let parentSpanID: String?
    let kind: SpanRecord.Kind
    let start: UInt64
    let tracer: Tracer
    private let state: Locked<(ended: Bool, attributes: [(String, String)])>

    init(tracer: Tracer, name: String, context: TraceContext, parentSpanID: String?, kind: SpanRecord.Kind,
         start: UInt64, attributes: [(String, String)]) {
        self.tracer = tracer
        self.name = name
        self.context = context
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.start = start
        state = Locked((false, attributes))
    }

    public func set(_ key: String, _ value: String) {
        state.withLock { $0.attributes.append((key, value)) }
    }

    /// A child span of this one, started now (or at `start`); it carries this span's request ids.
    public func child(_ name: String, kind: SpanRecord.Kind = .internal, start: UInt64? = nil,
                      attributes: [(String, String)] = []) -> Span {
        let ids = state.withLock { s in s.attributes.filter { $0.0.hasSuffix("request_id") } }
        return tracer.span(name, parent: context, kind: kind, start: start, attributes: ids + attributes)
    }

    public func end(at end: UInt64? = nil, error: String? = nil) {
        let attributes: [(String, String)]? = state.withLock { s in
            if s.ended { return nil }
            s.ended = true
            return s.attributes
        }
        guard let attributes else { return }
        tracer.record(SpanRecord(name: name, traceID: context.traceID, spanID: context.spanID, parentSpanID: parentSpanID,
                                 kind: kind, startUnixNano: start, endUnixNano: end ?? Tracer.now(), attributes: attributes,
                                 error: error))
    }
}

/// Spans of one process, batched and exported over OTLP/HTTP with the JSON encoding
/// (`POST <endpoint>/v1/traces`), at most every `interval` and at shutdown. Sampling is decided
/// where a trace starts: a caller's `traceparent` keeps its sampled flag; a new trace is sampled
/// with probability `sampleRatio`. Unsampled requests cost one random draw and no spans; an
/// export that fails is logged and dropped (tracing never holds a request up).
public final class Tracer: Sendable {
    public let serviceName: String
    public let endpoint: String
    public let sampleRatio: Double
    let interval: Duration
    let logger: Logger
    private let pending = Locked<[SpanRecord]>([])
    /// The most spans held between exports; more are dropped (and counted).
    let capacity = 8192
    private let dropped = Locked(0)

    public init(serviceName: String, endpoint: String, sampleRatio: Double, interval: Duration = .seconds(1), logger: Logger) {
        self.serviceName = serviceName
        var e = endpoint
        while e.hasSuffix("/") { e.removeLast() }
        self.endpoint = e.hasSuffix("/v1/traces") ? e : e + "/v1/traces"
        self.sampleRatio = min(max(sampleRatio, 0), 1)
        self.interval = interval
        self.logger = logger
    }

    static func now() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970) * 1_000_000_000) }

    /// Wall-clock nanoseconds of a `ContinuousClock` instant.
    public static func unixNano(_ instant: ContinuousClock.Instant) -> UInt64 {
        let ago = ContinuousClock.now - instant
        let ns = Double(ago.components.seconds) * 1e9 + Double(ago.components.attoseconds) / 1e9
        return UInt64(max(0, Double(now()) - ns))
    }

    /// The root span of a request: under `parent` (a caller's context) or a new trace; nil when
    /// the trace is not sampled.
    public func root(_ name: String, parent: TraceContext?, kind: SpanRecord.Kind = .server, start: UInt64? = nil,
                     attributes: [(String, String)] = []) -> Span? {
        let sampled = parent?.sampled ?? (sampleRatio >= 1 || Double.random(in: 0..<1) < sampleRatio)
        guard sampled else { return nil }
        let context = parent ?? TraceContext(traceID: TraceContext.randomHex(bytes: 16), spanID: "", sampled: true)
        return span(name, parent: context, kind: kind, start: start, attributes: attributes)
    }

    func span(_ name: String, parent: TraceContext, kind: SpanRecord.Kind, start: UInt64?, attributes: [(String, String)]) -> Span {
        Span(tracer: self, name: name, context: TraceContext(traceID: parent.traceID, spanID: TraceContext.randomHex(bytes: 8), sampled: true),
             parentSpanID: parent.spanID.isEmpty ? nil : parent.spanID, kind: kind, start: start ?? Tracer.now(), attributes: attributes)
    }

    func record(_ span: SpanRecord) {
        let kept = pending.withLock { p -> Bool in
            guard p.count < capacity else { return false }
            p.append(span)
            return true
        }
        if !kept { dropped.withLock { $0 += 1 } }
    }

    /// What is waiting for the next export (tests).
    func pendingForTests() -> [SpanRecord] { pending.withLock { $0 } }

    /// The OTLP/JSON body for `spans` (ids hex, times as decimal strings, as the JSON mapping says).
    public func body(_ spans: [SpanRecord]) -> JSONValue {
        func attr(_ k: String, _ v: String) -> JSONValue { .object([("key", .string(k)), ("value", .object([("stringValue", .string(v))]))]) }
        let encoded: [JSONValue] = spans.map { s in
            var o: [(String, JSONValue)] = [("traceId", .string(s.traceID)), ("spanId", .string(s.spanID))]
            if let p = s.parentSpanID { o.append(("parentSpanId", .string(p))) }
            o += [("name", .string(s.name)), ("kind", .int(Int64(s.kind.rawValue))),
                  ("startTimeUnixNano", .string(String(s.startUnixNano))), ("endTimeUnixNano", .string(String(s.endUnixNano))),
                  ("attributes", .array(s.attributes.map { attr($0.0, $0.1) }))]
            if let e = s.error { o.append(("status", .object([("code", .int(2)), ("message", .string(e))]))) }
            return .object(o)
        }
        return .object([("resourceSpans", .array([.object([
            ("resource", .object([("attributes", .array([attr("service.name", serviceName)]))])),
            ("scopeSpans", .array([.object([("scope", .object([("name", "tandem")])), ("spans", .array(encoded))])])),
        ])]))])
    }

    /// Sends what is pending (nothing when empty).
    public func flush() async {
        let spans = pending.withLock { p -> [SpanRecord] in
            defer { p = [] }
            return p
        }
        let lost = dropped.withLock { d -> Int in
            defer { d = 0 }
            return d
        }
        if lost > 0 { logger.warning("tracing: \(lost) spans dropped (more than \(capacity) between exports)") }
        guard !spans.isEmpty else { return }
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: JSONWriter.string(body(spans))))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            if response.status.code >= 300 {
                logger.warning("tracing: OTLP export to \(endpoint) answered \(response.status.code); \(spans.count) spans dropped")
            }
        } catch {
            logger.warning("tracing: OTLP export to \(endpoint) failed (\(error)); \(spans.count) spans dropped")
        }
    }

    /// Exports every `interval` until cancelled, then once more.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flush()
        }
        await flush()
    }
}
