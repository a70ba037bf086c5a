import Logging
import TandemCore
import Testing
@testable import TandemAPI

@Suite struct TracingTests {
    static let logger = Logger(label: "test")

    @Test func traceparentParsesTheW3CFormatOnly() throws {
        let t = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(t.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && t.spanID == "00f067aa0ba902b7" && t.sampled)
        #expect(t.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(TraceContext(traceparent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00")?.sampled == false)
        // A later version may add fields; version 00 may not; ff is invalid; ids of zeros are invalid.
        #expect(TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") != nil)
        for bad in ["", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"] {
            #expect(TraceContext(traceparent: bad) == nil, "\(bad)")
        }
    }

    @Test func samplingFollowsTheCallerElseTheRatio() {
        let never = Tracer(serviceName: "s", endpoint: "http://127.0.0.1:1", sampleRatio: 0, logger: Self.logger)
        #expect(never.root("r", parent: nil) == nil)
        let sampled = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")!
        let root = never.root("r", parent: sampled)
        #expect(root?.context.traceID == sampled.traceID && root?.context.spanID != sampled.spanID)
        let always = Tracer(serviceName: "s", endpoint: "http://127.0.0.1:1/", sampleRatio: 1, logger: Self.logger)
        #expect(always.endpoint == "http://127.0.0.1:1/v1/traces")
        #expect(always.root("r", parent: TraceContext(traceID: sampled.traceID, spanID: sampled.spanID, sampled: false)) == nil)
        #expect(always.root("r", parent: nil)?.context.traceID.count == 32)
    }

    @Test func spansBecomeOneOTLPExport() throws {
        let tracer = Tracer(serviceName: "tandem-test", endpoint: "http://127.0.0.1:1", sampleRatio: 1, logger: Self.logger)
        let root = try #require(tracer.root("request", parent: nil, attributes: [("tandem.request_id", "r1")]))
        let child = root.child("decode", start: 5)
        child.end(at: 9, error: "boom")
        root.end()
        root.end() // once only
        var spans: [SpanRecord] = []
        let body = JSONWriter.string(tracer.body([SpanRecord(name: "x", traceID: String(repeating: "a", count: 32), spanID: String(repeating: "b", count: 16),
                                                              parentSpanID: nil, kind: .server, startUnixNano: 1, endUnixNano: 2,
                                                              attributes: [("k", "v")], error: nil)]))
        #expect(body.contains(#""service.name""#) && body.contains(#""stringValue":"tandem-test""#))
        #expect(body.contains(#""startTimeUnixNano":"1""#) && body.contains(#""kind":2"#) && !body.contains("parentSpanId"))
        spans = tracer.pendingForTests()
        #expect(spans.count == 2)
        #expect(spans[0].name == "decode" && spans[0].parentSpanID == root.context.spanID && spans[0].error == "boom")
        #expect(spans[0].startUnixNano == 5 && spans[0].endUnixNano == 9)
        #expect(spans[0].attributes.first! == ("tandem.request_id", "r1"), "children carry the request id")
        #expect(spans[1].name == "request" && spans[1].parentSpanID == nil && spans[1].kind == .server)
    }
}
