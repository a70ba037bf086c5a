import TandemCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TandemAPI
import TandemAPITestSupport
@testable import TandemGateway

/// The HTTP API end to end in memory: `GatewayDispatcher` over fake backends.
@Suite struct GatewayRouteTests {
    /// A gateway over fake backends, one per deployment URL.
    struct Harness {
        let backends: [String: FakeBackend]
        let dispatcher: GatewayDispatcher
        let metrics: APIMetrics
        let app: Application<RouterResponder<TandemRequestContext>>

        init(configure: (inout GatewayConfiguration) -> Void = { _ in }) {
            var c = GatewayConfiguration(
                keysFile: "unused",
                limits: LimitsConfiguration(maxBodyBytes: 4096, requestTimeoutMs: 2_000),
                tenants: [
                    "acme": TenantConfiguration(),
                    "limited": TenantConfiguration(requestsPerMinute: 2, allowedModels: ["small"]),
                    "solo": TenantConfiguration(maxConcurrent: 1),
                ],
                models: [
                    GatewayModelConfiguration(name: "small", aliases: ["fast"], deployments: [
                        DeploymentConfiguration(url: "http://small-0"), DeploymentConfiguration(url: "http://small-1"),
                    ], costPerToken: 1e-7, expectedLatencyMs: 200),
                    GatewayModelConfiguration(name: "big", deployments: [DeploymentConfiguration(url: "http://big-0")],
                                              costPerToken: 1e-5, expectedLatencyMs: 2000, fallback: "small"),
                    GatewayModelConfiguration(name: "thinker", deployments: [DeploymentConfiguration(url: "http://thinker-0")],
                                              reasoning: true, reasoningTokenFloor: 100, reasoningFloorAction: .warn,
                                              maxPromptTokens: 50),
                    GatewayModelConfiguration(name: "strict", deployments: [DeploymentConfiguration(url: "http://strict-0")],
                                              reasoning: true, reasoningTokenFloor: 100, reasoningFloorAction: .reject),
                ],
                routing: RoutingConfiguration(policies: [
                    "auto": RoutingPolicy(rules: [RoutingRule(name: "reasoning", when: RuleCondition(keywords: ["prove"]), model: "thinker")],
                                          default: "small"),
                ]))
            configure(&c)
            let keys = KeysFile(keys: [
                APIKeyEntry(tenant: "acme", sha256: APIKeyHash.hex("sk-acme")),
                APIKeyEntry(tenant: "limited", sha256: APIKeyHash.hex("sk-limited")),
                APIKeyEntry(tenant: "solo", sha256: APIKeyHash.hex("sk-solo")),
            ])
            precondition(c.problems(keys: keys).isEmpty, "\(c.problems(keys: keys))")
            var backends: [String: FakeBackend] = [:]
            for m in c.models { for d in m.deployments { backends[d.url] = FakeBackend(name: d.url) } }
            let all = backends
            metrics = APIMetrics()
            dispatcher = GatewayDispatcher(loaded: .init(configuration: c, keys: keys, path: "memory"), metrics: metrics,
                                           backendFactory: { _, d in all[d.url]! })
            self.backends = backends
            app = Application(router: OpenAIRoutes.router(dispatcher: dispatcher, metrics: metrics))
        }

        func post(_ client: some TestClientProtocol, _ path: String = "/v1/chat/completions", key: String? = "sk-acme",
                  body: String = TestSupport.chatBody, headers extra: HTTPFields = [:]) async throws -> TestResponse {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let key { headers[.authorization] = "Bearer \(key)" }
            headers.append(contentsOf: extra)
            return try await client.execute(uri: path, method: .post, headers: headers, body: TestSupport.body(body))
        }
    }

    static func header(_ r: TestResponse, _ name: String) -> String? { r.headers[HTTPField.Name(name)!] }

    @Test func chatShouldAnswerWithUsageAndRouteHeaders() async throws {
        let h = Harness()
        h.backends["http://small-0"]!.script = FakeBackend.answer("Hello there", cached: 2)
        h.backends["http://small-1"]!.script = FakeBackend.answer("Hello there", cached: 2)
        try await h.app.test(.router) { client in
            let r = try await h.post(client)
            #expect(r.status == .ok)
            let doc = try TestSupport.json(r.body)
            #expect(doc["object"] == "chat.completion")
            #expect(doc["model"] == "small")
            #expect(doc["choices"]?.arrayFirst?["message"]?["content"] == "Hello there")
            #expect(doc["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 2)
            #expect(Self.header(r, "X-Tandem-Model") == "small")
            #expect(Self.header(r, "X-Tandem-Route-Reason") == "explicit")
            #expect(Self.header(r, "X-Tandem-Replica-Reason") == "affinity")
        }
        let calls = h.backends.values.flatMap(\.calls)
        #expect(calls.count == 1)
        #expect(calls[0].tenant == "acme")
        // A keyed salt: present, 32 hex digits, and not the old unkeyed hash of the tenant name.
        let salt = try #require(calls[0].cacheSalt)
        #expect(salt.count == 32 && salt != String(APIKeyHash.hex("tandem-cache-salt\u{0}acme").prefix(32)))
    }

    @Test func streamShouldSendChunksUsageAndDone() async throws {
        let h = Harness()
        try await h.app.test(.router) { client in
            let body = #"{"model": "fast", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hi"}]}"#
            let r = try await h.post(client, body: body)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/event-stream")
            #expect(Self.header(r, "X-Tandem-Route-Reason") == "alias")
            let events = try TestSupport.sseData(r.body)
            #expect(events.last == "[DONE]")
            let chunks = try events.dropLast().map { try JSONValue.parse($0) }
            #expect(chunks.first?["choices"]?.arrayFirst?["delta"]?["role"] == "assistant")
            let text = chunks.compactMap { $0["choices"]?.arrayFirst?["delta"]?["content"]?.stringValue }.joined()
            #expect(text == "Hello there!")
            #expect(chunks.contains { $0["choices"]?.arrayFirst?["finish_reason"] == "stop" })
            #expect(chunks.last?["choices"] == [] && chunks.last?["usage"]?["prompt_tokens"] == 7)
        }
    }

    @Test func midStreamFailureShouldSendAnErrorEventThenDone() async throws {
        let h = Harness()
        for url in ["http://small-0", "http://small-1"] {
            h.backends[url]!.script = .failAfter([.delta(CompletionDelta(content: "Hel"))], BackendError(.upstreamUnavailable, "worker died"))
        }
        try await h.app.test(.router) { client in
            let r = try await h.post(client, body: #"{"model": "small", "stream": true, "messages": [{"role": "user", "content": "Hi"}]}"#)
            let events = try TestSupport.sseData(r.body)
            #expect(events.last == "[DONE]")
            let error = try JSONValue.parse(events[events.count - 2])
            #expect(error["error"]?["message"] == "worker died")
            #expect(error["error"]?["code"] == "model_unavailable")
        }
        #expect(h.metrics.render().contains(#"tandem_requests_total{model="small",tenant="acme",status="503"} 1"#))
    }

    @Test func errorsShouldHaveOpenAIShapeAndStatus() async throws {
        let h = Harness()
        try await h.app.test(.router) { client in
            var r = try await h.post(client, key: nil)
            #expect(r.status == .unauthorized)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "invalid_api_key")
            r = try await h.post(client, key: "sk-wrong")
            #expect(r.status == .unauthorized)
            r = try await h.post(client, body: "{not json")
            #expect(r.status == .badRequest)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "invalid_json")
            r = try await h.post(client, body: #"{"model": "small", "messages": [{"role": "user", "content": "x"}], "temperature": 9}"#)
            #expect(r.status == .badRequest)
            #expect(try TestSupport.json(r.body)["error"]?["param"] == "temperature")
            r = try await h.post(client, body: #"{"model": "nope", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(r.status == .notFound)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "model_not_found")
            r = try await h.post(client, key: "sk-limited", body: #"{"model": "big", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(r.status == .forbidden)
            r = try await h.post(client, body: #"{"model": "small", "messages": [{"role": "user", "content": "\#(String(repeating: "x", count: 5000))"}]}"#)
            #expect(r.status == .contentTooLarge)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "request_too_large")
            r = try await h.post(client, body: #"{"model": "thinker", "max_tokens": 500, "messages": [{"role": "user", "content": "\#(String(repeating: "word ", count: 100))"}]}"#)
            #expect(r.status == .contentTooLarge)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "context_length_exceeded")
            r = try await client.execute(uri: "/v1/nothing", method: .get)
            #expect(r.status == .notFound)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "unknown_url")
        }
    }

    @Test func rateLimitShouldAnswer429WithRetryAfter() async throws {
        let h = Harness()
        try await h.app.test(.router) { client in
            for _ in 0..<2 {
                let ok = try await h.post(client, key: "sk-limited")
                #expect(ok.status == .ok)
            }
            let r = try await h.post(client, key: "sk-limited")
            #expect(r.status == .tooManyRequests)
            // 2 requests per minute: the next token comes in at most 30 s (less as the test runs).
            let retryAfter = Int(r.headers[.retryAfter] ?? "") ?? -1
            #expect((1...30).contains(retryAfter))
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "rate_limit_exceeded")
        }
        #expect(h.metrics.render().contains(#"tandem_rate_limited_total{tenant="limited",limit="requests"} 1"#))
    }

    @Test func concurrencyLimitShouldRefuseASecondRequestInFlight() async throws {
        // A deadline far above the backend's delay, and the second request sent only once the first
        // has reached a backend: on a loaded 2-core CI box a fixed 100 ms head start and the default
        // 2 s deadline were not always enough (the first answered 504 once).
        let h = Harness { $0.limits.requestTimeoutMs = 60_000 }
        for b in h.backends.values { b.script = .events([.delta(CompletionDelta(content: "slow")), .finish(.stop)], delay: .milliseconds(500)) }
        try await h.app.test(.router) { client in
            async let first = h.post(client, key: "sk-solo")
            let clock = ContinuousClock(), giveUp = clock.now + .seconds(30)
            while h.backends.values.allSatisfy({ $0.calls.isEmpty }) && clock.now < giveUp {
                try await Task.sleep(for: .milliseconds(10))
            }
            let second = try await h.post(client, key: "sk-solo")
            #expect(second.status == .tooManyRequests)
            #expect(try TestSupport.json(second.body)["error"]?["code"] == "concurrency_limit_exceeded")
            let firstResponse = try await first
            #expect(firstResponse.status == .ok)
            let third = try await h.post(client, key: "sk-solo")
            #expect(third.status == .ok)
        }
    }

    @Test func unavailableModelShouldFallBackOnlyWhenDeclared() async throws {
        let h = Harness()
        h.backends["http://big-0"]!.script = .refuse(BackendError(.upstreamUnavailable, "connection refused"))
        for url in ["http://small-0", "http://small-1"] {
            h.backends[url]!.script = .refuse(BackendError(.upstreamUnavailable, "connection refused"))
        }
        h.backends["http://small-1"]!.script = FakeBackend.answer("from small")
        try await h.app.test(.router) { client in
            // big is down and declares small as fallback.
            var r = try await h.post(client, body: #"{"model": "big", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(r.status == .ok)
            #expect(Self.header(r, "X-Tandem-Model") == "small")
            #expect(Self.header(r, "X-Tandem-Route-Reason") == "fallback")
            #expect(Self.header(r, "X-Tandem-Fallback-From") == "big")
            // thinker is down and declares no fallback.
            h.backends["http://thinker-0"]!.script = .refuse(BackendError(.upstreamUnavailable, "connection refused"))
            r = try await h.post(client, body: #"{"model": "thinker", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(r.status == .serviceUnavailable)
            #expect(r.headers[.retryAfter] != nil)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "model_unavailable")
        }
        #expect(h.metrics.render().contains(#"tandem_routing_decisions_total{model="small",reason="fallback"} 1"#))
    }

    @Test func replicaDownShouldRetryAnotherReplicaOfTheSameModel() async throws {
        let h2 = Harness { $0.health.cooldownMs = 60_000 }
        h2.backends["http://small-0"]!.script = .refuse(BackendError(.upstreamUnavailable, "refused"))
        try await h2.app.test(.router) { client in
            for i in 0..<4 {
                let r = try await h2.post(client, body: #"{"model": "small", "messages": [{"role": "user", "content": "prompt \#(i)"}]}"#)
                #expect(r.status == .ok)
            }
        }
        // small-0 was tried at most once, then left out of rotation.
        #expect(h2.backends["http://small-0"]!.calls.count <= 1)
        #expect(h2.backends["http://small-1"]!.calls.count == 4)
    }

    @Test func autoShouldRouteByKeywordAndWarnBelowTheReasoningFloor() async throws {
        let h = Harness()
        h.backends["http://thinker-0"]!.script = FakeBackend.answer("QED", reasoning: "Let me think.")
        try await h.app.test(.router) { client in
            var r = try await h.post(client, body: #"{"model": "auto", "max_tokens": 20, "messages": [{"role": "user", "content": "Prove that 2+2=4"}]}"#)
            #expect(r.status == .ok)
            #expect(Self.header(r, "X-Tandem-Model") == "thinker")
            #expect(Self.header(r, "X-Tandem-Route-Reason") == "rule:reasoning")
            #expect(Self.header(r, "X-Tandem-Warning")?.contains("reasoning floor") == true)
            let message = try TestSupport.json(r.body)["choices"]?.arrayFirst?["message"]
            #expect(message?["reasoning_content"] == "Let me think.")
            #expect(message?["content"] == "QED")
            r = try await h.post(client, body: #"{"model": "auto", "messages": [{"role": "user", "content": "hello"}]}"#)
            #expect(Self.header(r, "X-Tandem-Model") == "small")
            #expect(Self.header(r, "X-Tandem-Route-Reason") == "default")
            r = try await h.post(client, body: #"{"model": "strict", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(r.status == .badRequest)
            #expect(try TestSupport.json(r.body)["error"]?["param"] == "max_tokens")
        }
    }

    @Test func deadlineShouldAnswer504AndCancelTheBackend() async throws {
        let h = Harness { $0.limits.requestTimeoutMs = 300 }
        for b in h.backends.values { b.script = .hang }
        try await h.app.test(.router) { client in
            let r = try await h.post(client)
            #expect(r.status == .gatewayTimeout)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "upstream_timeout")
        }
        // The cancellation reaches the backend asynchronously: wait for it (bounded), then count.
        for _ in 0..<1000 where h.backends.values.map(\.cancelledCount).reduce(0, +) == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(h.backends.values.map(\.cancelledCount).reduce(0, +) == 1)
    }

    @Test func invalidJSONOutputShouldBeAnErrorForJSONMode() async throws {
        let h = Harness()
        for b in h.backends.values { b.script = FakeBackend.answer("not json") }
        try await h.app.test(.router) { client in
            let r = try await h.post(client, body: #"{"model": "small", "response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(r.status == .internalServerError)
            #expect(try TestSupport.json(r.body)["error"]?["code"] == "invalid_json_output")
            for b in h.backends.values { b.script = FakeBackend.answer(#"{"ok": true}"#) }
            let ok = try await h.post(client, body: #"{"model": "small", "response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(ok.status == .ok)
        }
    }

    @Test func modelsHealthReadyAndMetricsShouldBeServed() async throws {
        let h = Harness()
        try await h.app.test(.router) { client in
            var r = try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer sk-limited"])
            #expect(r.status == .ok)
            #expect(try TestSupport.json(r.body)["data"] == [["id": "small", "object": "model", "created": 0, "owned_by": "tandem"],
                                                             ["id": "fast", "object": "model", "created": 0, "owned_by": "tandem"]])
            r = try await client.execute(uri: "/health", method: .get)
            #expect(r.status == .ok)
            r = try await client.execute(uri: "/ready", method: .get)
            #expect(r.status == .ok)
            h.backends["http://big-0"]!.healthState = .unavailable("connection refused")
            r = try await client.execute(uri: "/ready", method: .get)
            #expect(r.status == .serviceUnavailable)
            #expect(try TestSupport.json(r.body)["models"]?["big"]?["status"] == "unavailable")
            _ = try await h.post(client)
            r = try await client.execute(uri: "/metrics", method: .get)
            let text = String(buffer: r.body)
            #expect(text.contains(#"tandem_requests_total{model="small",tenant="acme",status="200"} 1"#))
            #expect(text.contains("tandem_time_to_first_token_seconds_bucket"))
            #expect(text.contains(#"tandem_prompt_tokens_total{model="small",tenant="acme"} 7"#))
        }
    }

    @Test func reloadShouldSwapModelsAndKeepServing() async throws {
        let h = Harness()
        var c = await h.dispatcher.configuration
        c.models.removeAll { $0.name == "big" }
        await h.dispatcher.install(.init(configuration: c, keys: KeysFile(keys: [APIKeyEntry(tenant: "acme", sha256: APIKeyHash.hex("sk-acme"))]), path: "m"))
        try await h.app.test(.router) { client in
            let removed = try await h.post(client, body: #"{"model": "big", "messages": [{"role": "user", "content": "x"}]}"#)
            #expect(removed.status == .notFound)
            let dropped = try await h.post(client, key: "sk-limited")
            #expect(dropped.status == .unauthorized)
            let kept = try await h.post(client)
            #expect(kept.status == .ok)
        }
    }

    @Test("an expired key is refused with 401 saying so; a key whose expiry is ahead, and one without, are served")
    func expiredKeysAreRefused() async throws {
        let h = Harness()
        let c = await h.dispatcher.configuration
        await h.dispatcher.install(.init(configuration: c, keys: KeysFile(keys: [
            APIKeyEntry(tenant: "acme", sha256: APIKeyHash.hex("sk-acme")),
            APIKeyEntry(id: "old", tenant: "acme", sha256: APIKeyHash.hex("sk-old"), expires: "2020-01-01"),
            APIKeyEntry(id: "new", tenant: "acme", sha256: APIKeyHash.hex("sk-new"), expires: "2999-01-01T00:00:00Z"),
        ]), path: "m"))
        try await h.app.test(.router) { client in
            let old = try await h.post(client, key: "sk-old")
            #expect(old.status == .unauthorized)
            #expect(String(buffer: old.body).contains("expired on 2020-01-01T00:00:00Z"))
            #expect(try await h.post(client, key: "sk-new").status == .ok)
            #expect(try await h.post(client, key: "sk-acme").status == .ok)
        }
    }
}
