import Foundation
import Testing
@testable import TandemAPI
@testable import TandemGateway

/// What a coordinator's `/metrics` looks like: its own request metrics, then the engine's.
private let coordinatorText = """
# TYPE tandem_requests_total counter
tandem_requests_total{model="m",tenant="acme",status="200"} 3
# TYPE tandem_request_duration_seconds histogram
tandem_request_duration_seconds_bucket{model="m",le="0.005"} 1
tandem_request_duration_seconds_bucket{model="m",le="+Inf"} 3
tandem_request_duration_seconds_sum{model="m"} 0.25
tandem_request_duration_seconds_count{model="m"} 3
# HELP tandem_engine_running_sequences Sequences holding KV blocks (being prefilled or decoded).
# TYPE tandem_engine_running_sequences gauge
tandem_engine_running_sequences{model="m"} 2
# HELP tandem_engine_kv_usage_ratio kv_blocks_used / kv_blocks_total.
# TYPE tandem_engine_kv_usage_ratio gauge
tandem_engine_kv_usage_ratio{model="m"} 0.125
# HELP tandem_engine_prefix_cache_hit_tokens_total Prompt tokens served from the prefix cache.
# TYPE tandem_engine_prefix_cache_hit_tokens_total counter
tandem_engine_prefix_cache_hit_tokens_total{model="m"} 48

"""

@Suite struct PrometheusTextTests {
    @Test func parseShouldGroupSamplesIntoTheirFamilies() {
        let parsed = PrometheusText.parse(coordinatorText)
        #expect(parsed.skippedLines == 0)
        #expect(parsed.families.map(\.name) == [
            "tandem_requests_total", "tandem_request_duration_seconds", "tandem_engine_running_sequences",
            "tandem_engine_kv_usage_ratio", "tandem_engine_prefix_cache_hit_tokens_total",
        ])
        let histogram = parsed.families[1]
        #expect(histogram.type == "histogram")
        #expect(histogram.samples.map(\.name) == [
            "tandem_request_duration_seconds_bucket", "tandem_request_duration_seconds_bucket",
            "tandem_request_duration_seconds_sum", "tandem_request_duration_seconds_count",
        ])
        #expect(histogram.samples[1].label("le") == "+Inf")
        let running = parsed.families[2]
        #expect(running.help == "Sequences holding KV blocks (being prefilled or decoded).")
        #expect(running.type == "gauge")
        #expect(running.samples == [PrometheusText.Sample(name: "tandem_engine_running_sequences",
                                                          labels: [.init("model", "m")], value: "2")])
    }

    @Test func parseShouldUnescapeLabelsAndSkipWhatItCannotRead() {
        let text = """
        # a plain comment
        x_total{path="a\\\\b",msg="say \\"hi\\"\\nbye", empty=""} 1 1700000000000
        not a sample line
        y{unterminated="oops} 3
        z{a="1"} twelve
        bare 4.5e+06
        inf_gauge -Inf
        """
        let parsed = PrometheusText.parse(text)
        #expect(parsed.skippedLines == 3)
        #expect(parsed.families.map(\.name) == ["x_total", "bare", "inf_gauge"])
        let x = parsed.families[0].samples[0]
        #expect(x.labels == [.init("path", #"a\b"#), .init("msg", "say \"hi\"\nbye"), .init("empty", "")])
        #expect(x.timestamp == "1700000000000")
        #expect(parsed.families[1].samples[0].value == "4.5e+06")
        #expect(parsed.families[1].type == nil)
    }

    @Test func renderShouldRoundTripCanonicalText() {
        let parsed = PrometheusText.parse(coordinatorText)
        let rendered = PrometheusText.render(parsed.families)
        #expect(PrometheusText.parse(rendered) == parsed)
        #expect(rendered.contains("# HELP tandem_engine_kv_usage_ratio kv_blocks_used / kv_blocks_total.\n# TYPE tandem_engine_kv_usage_ratio gauge\ntandem_engine_kv_usage_ratio{model=\"m\"} 0.125\n"))
        let tricky = PrometheusText.Family(name: "t", type: "gauge", help: "line\nbreak \\ slash",
                                           samples: [.init(name: "t", labels: [.init("v", "a\"b\\c\nd")], value: "1")])
        let text = PrometheusText.render([tricky])
        #expect(text == "# HELP t line\\nbreak \\\\ slash\n# TYPE t gauge\nt{v=\"a\\\"b\\\\c\\nd\"} 1\n")
        #expect(PrometheusText.parse(text).families == [tricky])
    }

    @Test func relabeledShouldPutNewLabelsFirstAndKeepClashesAsExported() {
        let family = PrometheusText.Family(name: "e", type: "gauge", samples: [
            .init(name: "e", labels: [.init("model", "m"), .init("rank", "0")], value: "1"),
        ])
        let out = family.relabeled([.init("model", "stories"), .init("deployment", "1")])
        #expect(out.samples[0].labels == [.init("model", "stories"), .init("deployment", "1"),
                                          .init("exported_model", "m"), .init("rank", "0")])
    }

    @Test func mergeShouldKeepOneFamilyPerName() {
        let a = [PrometheusText.Family(name: "g", type: "gauge", help: "G", samples: [.init(name: "g", labels: [.init("d", "0")], value: "1")])]
        let b = [PrometheusText.Family(name: "g", samples: [.init(name: "g", labels: [.init("d", "1")], value: "2")]),
                 PrometheusText.Family(name: "h", type: "counter", samples: [.init(name: "h", value: "3")])]
        let merged = PrometheusText.merge([a, b])
        #expect(merged.map(\.name) == ["g", "h"])
        #expect(merged[0].type == "gauge" && merged[0].help == "G")
        #expect(merged[0].samples.map(\.value) == ["1", "2"])
    }
}

@Suite struct UpstreamMetricsTests {
    static func target(_ model: String, _ deployment: Int, _ url: String) -> UpstreamMetrics.Target {
        UpstreamMetrics.Target(model: model, deployment: deployment, url: UpstreamURL(url)!)
    }

    @Test func expositionShouldRelabelEngineFamiliesAndReportUp() {
        let scrapes = [
            UpstreamMetrics.Scrape(target: Self.target("small", 0, "http://a:1"), text: coordinatorText),
            UpstreamMetrics.Scrape(target: Self.target("small", 1, "http://b:1"), text: nil),
            UpstreamMetrics.Scrape(target: Self.target("big", 0, "http://c:1"),
                                   text: coordinatorText.replacingOccurrences(of: "} 2\n", with: "} 5\n")),
        ]
        let text = UpstreamMetrics.exposition(scrapes, errorCounts: ["small\u{0}1": 4])
        let families = PrometheusText.parse(text)
        #expect(families.skippedLines == 0)
        let byName = Dictionary(uniqueKeysWithValues: families.families.map { ($0.name, $0) })
        // Only the engine's families are re-exported, each once.
        #expect(byName["tandem_requests_total"] == nil)
        #expect(byName["tandem_request_duration_seconds"] == nil)
        #expect(families.families.filter { $0.name == "tandem_engine_running_sequences" }.count == 1)
        let running = byName["tandem_engine_running_sequences"]!
        #expect(running.type == "gauge")
        #expect(running.samples.map(\.labels) == [
            [.init("model", "small"), .init("deployment", "0"), .init("exported_model", "m")],
            [.init("model", "big"), .init("deployment", "0"), .init("exported_model", "m")],
        ])
        #expect(running.samples.map(\.value) == ["2", "5"])
        #expect(byName["tandem_engine_prefix_cache_hit_tokens_total"]?.type == "counter")
        let up = byName["tandem_upstream_up"]!
        #expect(up.samples.map { "\($0.label("model")!)/\($0.label("deployment")!)=\($0.value)" } == ["small/0=1", "small/1=0", "big/0=1"])
        let errors = byName["tandem_upstream_scrape_errors_total"]!
        #expect(errors.type == "counter")
        #expect(errors.samples.map(\.value) == ["0", "4", "0"])
    }

    @Test func collectShouldScrapeEachURLOnceAndCountFailures() async {
        let calls = Locked<[String]>([])
        let collector = UpstreamMetrics(
            targets: { [Self.target("small", 0, "http://a:1"), Self.target("alias-model", 0, "http://a:1/v1"),
                        Self.target("small", 1, "http://down:1")] },
            timeout: { .milliseconds(50) },
            fetch: { url, _ in
                calls.withLock { $0.append(url.base) }
                if url.base.contains("down") { throw BackendError(.upstreamUnavailable, "refused") }
                return coordinatorText
            })
        _ = await collector.collect()
        let text = await collector.collect()
        #expect(calls.withLock { $0.sorted() } == ["http://a:1", "http://a:1", "http://down:1", "http://down:1"])
        let byName = Dictionary(uniqueKeysWithValues: PrometheusText.parse(text).families.map { ($0.name, $0) })
        #expect(byName["tandem_upstream_scrape_errors_total"]!.samples.map(\.value) == ["0", "0", "2"])
        #expect(byName["tandem_engine_kv_usage_ratio"]!.samples.map { $0.label("model")! } == ["small", "alias-model"])
    }

    @Test func targetsShouldBeTheCoordinatorDeployments() {
        let c = GatewayConfiguration(keysFile: "k", tenants: [:], models: [
            GatewayModelConfiguration(name: "a", deployments: [
                DeploymentConfiguration(url: "http://10.0.0.1:8001"),
                DeploymentConfiguration(url: "https://api.example.com/v1", kind: .external),
                DeploymentConfiguration(url: "http://10.0.0.2:8001"),
            ]),
        ])
        #expect(UpstreamMetrics.targets(of: c) == [Self.target("a", 0, "http://10.0.0.1:8001"), Self.target("a", 2, "http://10.0.0.2:8001")])
    }
}
