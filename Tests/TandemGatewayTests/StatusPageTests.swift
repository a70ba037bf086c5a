import Foundation
import Testing
import TandemAPI
import TandemGatewayConfig
@testable import TandemGateway

/// The `/status` page's rendering from a configuration and a metrics text (e2e/test_status_page.py
/// renders the real one in headless Chromium).
@Suite struct StatusPageTests {
    static let configuration = #"""
    {
      "keys_file": "keys.json",
      "tenants": {"acme": {"allowed_models": ["*"], "budget_per_month": 20}, "b<i>": {"allowed_models": ["*"]}},
      "models": [
        {"name": "small", "aliases": ["fast"], "deployments": [{"url": "http://127.0.0.1:9001"}, {"url": "http://127.0.0.1:9002"}]},
        {"name": "cloud", "deployments": [{"url": "https://api.example.com/v1", "kind": "external", "upstream_model": "gpt"}]}
      ]
    }
    """#

    static func metrics(generated: Int) -> String {
        """
        # TYPE tandem_requests_total counter
        tandem_requests_total{model="small",tenant="acme",status="200"} 7
        tandem_requests_total{model="small",tenant="acme",status="429"} 2
        tandem_requests_total{model="cloud",tenant="b<i>",status="502"} 1
        # TYPE tandem_tenant_spend_dollars_total counter
        tandem_tenant_spend_dollars_total{model="small",tenant="acme"} 0.25
        tandem_tenant_spend_dollars_total{model="cloud",tenant="acme"} 1.5
        # TYPE tandem_upstream_up gauge
        tandem_upstream_up{model="small",deployment="0"} 1
        tandem_upstream_up{model="small",deployment="1"} 0
        # TYPE tandem_engine_kv_blocks_used gauge
        tandem_engine_kv_blocks_used{model="small",deployment="0",exported_model="m"} 12
        # TYPE tandem_engine_kv_blocks_total gauge
        tandem_engine_kv_blocks_total{model="small",deployment="0",exported_model="m"} 64
        # TYPE tandem_engine_kv_usage_ratio gauge
        tandem_engine_kv_usage_ratio{model="small",deployment="0",exported_model="m"} 0.1875
        # TYPE tandem_engine_generation_tokens_total counter
        tandem_engine_generation_tokens_total{model="small",deployment="0",exported_model="m"} \(generated)
        # TYPE tandem_engine_prefix_cache_hit_tokens_total counter
        tandem_engine_prefix_cache_hit_tokens_total{model="small",deployment="0",exported_model="m"} 30
        # TYPE tandem_engine_prefix_cache_queried_tokens_total counter
        tandem_engine_prefix_cache_queried_tokens_total{model="small",deployment="0",exported_model="m"} 120

        """
    }

    func input(generated: Int) throws -> StatusPage.Input {
        let c = try JSONDecoder().decode(GatewayConfiguration.self, from: Data(Self.configuration.utf8))
        return StatusPage.Input(
            configuration: c, readiness: ["small": .ready, "cloud": .unavailable("replica 0: <down>")],
            metricsText: Self.metrics(generated: generated),
            errors: [APIMetrics.ErrorRecord(time: 0, model: "cloud", tenant: "b<i>", status: 502, message: "upstream said <no>", requestID: "r1")],
            spend: ["acme": (day: 0.5, month: 1.75)], now: Date(timeIntervalSince1970: 0))
    }

    /// The cell texts of table `id`'s rows (first: the header).
    func rows(_ html: String, _ id: String) -> [[String]] {
        guard let start = html.range(of: "<table id=\"\(id)\">"), let end = html.range(of: "</table>", range: start.upperBound..<html.endIndex) else { return [] }
        return html[start.upperBound..<end.lowerBound].components(separatedBy: "<tr>").dropFirst().map { row in
            row.components(separatedBy: "<t").dropFirst().map { cell in
                var text = String(cell.drop(while: { $0 != ">" }).dropFirst())
                while let open = text.range(of: "<"), let close = text.range(of: ">", range: open.upperBound..<text.endIndex) {
                    text.removeSubrange(open.lowerBound..<close.upperBound)
                }
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }

    @Test func showsEachDeploymentModelTenantAndError() async throws {
        let page = StatusPage()
        let html = await page.render(try input(generated: 100), at: .now)
        let deployments = rows(html, "deployments")
        #expect(deployments.count == 4)
        #expect(deployments[1] == ["small", "0", "http://127.0.0.1:9001", "coordinator", "up", "–", "18.8%", "12 / 64", "–", "–", "–", "25.0%", "–"])
        #expect(deployments[2][4] == "down")
        #expect(deployments[3][0] == "cloud" && deployments[3][4] == "–") // external: not scraped
        let models = rows(html, "models")
        #expect(models[1].prefix(6) == ["small", "fast", "ready", "7", "2", "0"])
        #expect(models[2][2].hasPrefix("unavailable") && models[2][5] == "1")
        let tenants = rows(html, "tenants")
        #expect(tenants[1] == ["acme", "9", "0", "0", "$1.7500", "$0.5000", "$1.7500 / $20.0000"])
        #expect(tenants[2][0] == "b&lt;i&gt;")
        // Names and messages from configuration and upstreams are escaped.
        #expect(!html.contains("<i>") && !html.contains("<down>") && !html.contains("<no>"))
        #expect(html.contains("upstream said &lt;no&gt;"))
        #expect(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
    }

    @Test func tokensPerSecondIsTheCounterChangeSinceTheLastRendering() async throws {
        let page = StatusPage()
        let t0 = ContinuousClock.now
        _ = await page.render(try input(generated: 100), at: t0)
        let html = await page.render(try input(generated: 350), at: t0 + .seconds(5))
        #expect(rows(html, "deployments")[1][10] == "50.0")
    }
}
