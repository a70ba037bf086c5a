import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import TandemAPI
import TandemAPITestSupport

/// The coordinator case: `DirectDispatcher` over one backend.
@Suite struct DirectDispatcherRouteTests {
    @Test func directShouldTakeTenantAndSaltFromHeadersAndNeedNoKey() async throws {
        let backend = FakeBackend(script: FakeBackend.answer("ok"))
        let app = Application(router: OpenAIRoutes.router(dispatcher: DirectDispatcher(backend: backend, modelNames: ["smollm2", "default"]),
                                                          metrics: nil))
        try await app.test(.router) { client in
            let r = try await client.execute(
                uri: "/v1/completions", method: .post,
                headers: [.contentType: "application/json", HTTPField.Name("X-Tandem-Tenant")!: "acme",
                          HTTPField.Name("X-Tandem-Cache-Salt")!: "salty"],
                body: TestSupport.body(#"{"model": "default", "prompt": "Once", "echo": true}"#))
            #expect(r.status == .ok)
            let doc = try TestSupport.json(r.body)
            #expect(doc["object"] == "text_completion")
            #expect(doc["model"] == "smollm2")
            #expect(doc["choices"]?.arrayFirst?["text"] == "Onceok")
            let missing = try await client.execute(uri: "/v1/completions", method: .post,
                                                   body: TestSupport.body(#"{"model": "other", "prompt": "x"}"#))
            #expect(missing.status == .notFound)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .notFound)
        }
        #expect(backend.calls.first?.tenant == "acme")
        #expect(backend.calls.first?.cacheSalt == "salty")
        #expect(backend.calls.first?.request.model == "smollm2")
    }
}

@Suite struct BearerTokenTests {
    @Test func parseShouldTakeTheTokenOfTheBearerSchemeOnly() {
        #expect(BearerToken.parse("Bearer  sk-1 ") == "sk-1")
        #expect(BearerToken.parse("bearer sk-2") == "sk-2")
        #expect(BearerToken.parse("Bearer \tsk-3\t") == "sk-3")
        #expect(BearerToken.parse("Bearer ") == nil)
        #expect(BearerToken.parse("Basic abc") == nil)
        #expect(BearerToken.parse(nil) == nil)
    }
}

/// The header names are part of the API (clients, the Python tests and coordinators of other
/// versions use them): spelled out here so that changing one is a deliberate act.
@Suite struct TandemHeaderTests {
    @Test func namesShouldBeTheDocumentedOnes() {
        let names: [(String, String, HTTPField.Name)] = [
            (TandemHeader.maxCost, "X-Tandem-Max-Cost", .tandemMaxCost),
            (TandemHeader.maxLatencyMs, "X-Tandem-Max-Latency-Ms", .tandemMaxLatencyMs),
            (TandemHeader.tenant, "X-Tandem-Tenant", .tandemTenant),
            (TandemHeader.cacheSalt, "X-Tandem-Cache-Salt", .tandemCacheSalt),
            (TandemHeader.model, "X-Tandem-Model", .tandemModel),
            (TandemHeader.routeReason, "X-Tandem-Route-Reason", .tandemRouteReason),
            (TandemHeader.replica, "X-Tandem-Replica", .tandemReplica),
            (TandemHeader.replicaReason, "X-Tandem-Replica-Reason", .tandemReplicaReason),
            (TandemHeader.fallbackFrom, "X-Tandem-Fallback-From", .tandemFallbackFrom),
            (TandemHeader.warning, "X-Tandem-Warning", .tandemWarning),
            (TandemHeader.requestID, "X-Request-Id", .requestID),
        ]
        for (constant, spelled, field) in names {
            #expect(constant == spelled)
            #expect(field == HTTPField.Name(spelled.lowercased()))
        }
        #expect(Set(names.map { $0.1.lowercased() }).count == names.count)
    }
}

@Suite struct APIMetricsTests {
    @Test func renderWithCollectorsShouldAppendCollectedText() async {
        let metrics = APIMetrics(collectors: [{ "# TYPE sync_one gauge\nsync_one 1\n" }])
        metrics.addCollector { "# TYPE async_one gauge\nasync_one 2\n" }
        let text = await metrics.renderWithCollectors()
        #expect(text.hasSuffix("sync_one 1\n# TYPE async_one gauge\nasync_one 2\n"))
    }
}

@Suite struct ClientConnectionTests {
    @Test func onCloseShouldRunOnceWhenTheClientGoesAndNotAfterCancel() {
        let connection = ClientConnection()
        let ran = Locked<[String]>([])
        let kept = connection.onClose { ran.withLock { $0.append("kept") } }
        let dropped = connection.onClose { ran.withLock { $0.append("dropped") } }
        #expect(kept != nil && dropped != nil)
        connection.cancel(dropped)
        #expect(!connection.isClosed)
        connection.markClosed()
        connection.markClosed()
        #expect(connection.isClosed)
        #expect(ran.withLock { $0 } == ["kept"])
        // Registering on a connection already gone runs the callback at once.
        #expect(connection.onClose { ran.withLock { $0.append("late") } } == nil)
        #expect(ran.withLock { $0 } == ["kept", "late"])
    }

    @Test func boundedShouldEndWithClientClosedAndCancelTheSourceWhenTheClientGoes() async throws {
        let connection = ClientConnection()
        let cancelled = Locked(false)
        let (source, continuation) = AsyncThrowingStream<CompletionEvent, any Error>.makeStream()
        continuation.onTermination = { _ in cancelled.withLock { $0 = true } }
        continuation.yield(.delta(CompletionDelta(content: "a")))
        let stream = source.bounded(by: .now + .seconds(30), timeoutError: BackendError(.timeout, "late"), connection: connection)
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() == .delta(CompletionDelta(content: "a")))
        connection.markClosed()
        await #expect(throws: ClientClosedError.self) { _ = try await iterator.next() }
        for _ in 0..<200 where !cancelled.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        #expect(cancelled.withLock { $0 })
    }
}
