import Foundation
import TandemAPI
import TandemCore
import TandemGatewayConfig

/// `GET /status`: the cluster at a glance, as one self-contained HTML page (inline CSS, no scripts,
/// no external assets) that reloads itself every `refreshSeconds`. Behind the same operator key as
/// `/metrics` (`admin_key_file`; open on a loopback listen address without one).
///
/// Everything on it comes from what the gateway already knows: its configuration (models, their
/// deployments, tenants and budgets), the readiness probes, its Prometheus exposition (its own
/// request, token and spend counters and every coordinator's re-exported `tandem_engine_*`
/// families: KV use, running and waiting sequences, generated tokens, prefix-cache hits), the
/// spend ledger and the newest error records (`APIMetrics.recentErrors`). Tokens/s is the change
/// of each deployment's generated-token counter since the page was last rendered.
public actor StatusPage {
    public static let refreshSeconds = 5

    /// What one rendering shows.
    public struct Input: Sendable {
        public var configuration: GatewayConfiguration
        public var readiness: [String: BackendHealth]
        /// The gateway's `/metrics` text (with the coordinators' families).
        public var metricsText: String
        public var errors: [APIMetrics.ErrorRecord]
        /// Today's and this month's spend by tenant (UTC periods).
        public var spend: [String: (day: Double, month: Double)]
        public var now: Date

        public init(configuration: GatewayConfiguration, readiness: [String: BackendHealth], metricsText: String,
                    errors: [APIMetrics.ErrorRecord], spend: [String: (day: Double, month: Double)], now: Date) {
            self.configuration = configuration
            self.readiness = readiness
            self.metricsText = metricsText
            self.errors = errors
            self.spend = spend
            self.now = now
        }
    }

    /// Generated-token counters by deployment at the previous rendering.
    private var previous: (at: ContinuousClock.Instant, generated: [String: Double])?

    public init() {}

    /// The page for `input`; tokens/s against the previous call.
    public func render(_ input: Input, at instant: ContinuousClock.Instant = .now) -> String {
        let samples = Samples(PrometheusText.parse(input.metricsText))
        var generated: [String: Double] = [:]
        var rates: [String: Double] = [:]
        for m in input.configuration.models {
            for i in m.deployments.indices {
                let key = "\(m.name)#\(i)"
                guard let total = samples.sum("tandem_engine_generation_tokens_total", ["model": m.name, "deployment": String(i)]) else { continue }
                generated[key] = total
                if let previous, let before = previous.generated[key] {
                    let seconds = Double((instant - previous.at).components.seconds)
                        + Double((instant - previous.at).components.attoseconds) * 1e-18
                    if seconds > 0 { rates[key] = max(0, total - before) / seconds }
                }
            }
        }
        previous = (instant, generated)
        return Self.html(input, samples: samples, rates: rates)
    }

    /// Samples of a parsed exposition, looked up by family name and labels.
    struct Samples {
        let byName: [String: [PrometheusText.Sample]]

        init(_ parsed: PrometheusText.Parsed) {
            var byName: [String: [PrometheusText.Sample]] = [:]
            for family in parsed.families { for s in family.samples { byName[s.name, default: []].append(s) } }
            self.byName = byName
        }

        /// The sum of `name`'s samples whose labels include `labels` (nil when none match).
        func sum(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            let matching = (byName[name] ?? []).filter { s in labels.allSatisfy { s.label($0.key) == $0.value } }
            guard !matching.isEmpty else { return nil }
            return matching.reduce(0) { $0 + (Double($1.value) ?? 0) }
        }

        /// Sums of `name` grouped by the value of label `by`, among samples including `labels`.
        func grouped(_ name: String, by: String, _ labels: [String: String] = [:]) -> [String: Double] {
            var out: [String: Double] = [:]
            for s in byName[name] ?? [] where labels.allSatisfy({ s.label($0.key) == $0.value }) {
                if let key = s.label(by) { out[key, default: 0] += Double(s.value) ?? 0 }
            }
            return out
        }
    }

    // MARK: HTML

    static func escape(_ s: String) -> String { htmlEscape(s) }

    static func number(_ v: Double?, digits: Int = 0) -> String {
        guard let v, v.isFinite else { return "–" }
        return String(format: "%.\(digits)f", v)
    }

    static func percent(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "–" }
        return String(format: "%.1f%%", v * 100)
    }

    static func dollars(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "–" }
        return String(format: "$%.4f", v)
    }

    static func cell(_ text: String, _ cls: String? = nil) -> String {
        cls.map { "<td class=\"\($0)\">\(text)</td>" } ?? "<td>\(text)</td>"
    }

    static func html(_ input: Input, samples: Samples, rates: [String: Double]) -> String {
        let c = input.configuration
        let stamp = ISO8601DateFormatter().string(from: input.now)
        var body = ""

        // Models and their deployments.
        body += "<h2>Deployments</h2>\n<table id=\"deployments\">\n<tr><th>model</th><th>deployment</th><th>url</th><th>kind</th>"
            + "<th>reachable</th><th>engine</th><th>KV use</th><th>KV blocks</th><th>running</th><th>waiting</th>"
            + "<th>tokens/s</th><th>prefix-cache hits</th><th>preemptions</th></tr>\n"
        for m in c.models {
            for (i, d) in m.deployments.enumerated() {
                let labels = ["model": m.name, "deployment": String(i)]
                let coordinator = d.kind == .coordinator
                let up = samples.sum("tandem_upstream_up", labels)
                let healthy = samples.sum("tandem_engine_healthy", labels)
                let used = samples.sum("tandem_engine_kv_blocks_used", labels), total = samples.sum("tandem_engine_kv_blocks_total", labels)
                let hits = samples.sum("tandem_engine_prefix_cache_hit_tokens_total", labels)
                let queried = samples.sum("tandem_engine_prefix_cache_queried_tokens_total", labels)
                let reach = !coordinator ? "–" : up == 1 ? "up" : up == 0 ? "down" : "–"
                let engine = healthy.map { $0 >= 1 ? "healthy" : "unhealthy" } ?? "–"
                body += "<tr>" + cell(escape(m.name)) + cell(String(i)) + cell(escape(d.url)) + cell(escape(d.kind.rawValue))
                    + cell(reach, reach == "up" ? "ok" : reach == "down" ? "bad" : nil)
                    + cell(engine, engine == "healthy" ? "ok" : engine == "unhealthy" ? "bad" : nil)
                    + cell(percent(samples.sum("tandem_engine_kv_usage_ratio", labels)))
                    + cell(used.map { "\(number($0)) / \(number(total))" } ?? "–")
                    + cell(number(samples.sum("tandem_engine_running_sequences", labels)))
                    + cell(number(samples.sum("tandem_engine_waiting_sequences", labels)))
                    + cell(number(rates["\(m.name)#\(i)"], digits: 1))
                    + cell(queried.map { $0 > 0 ? percent((hits ?? 0) / $0) : "0.0%" } ?? "–")
                    + cell(number(samples.sum("tandem_engine_preemptions_total", labels))) + "</tr>\n"
            }
        }
        body += "</table>\n"

        body += "<h2>Models</h2>\n<table id=\"models\">\n<tr><th>model</th><th>aliases</th><th>ready</th><th>requests 2xx</th>"
            + "<th>4xx</th><th>5xx</th><th>running</th><th>prompt tokens</th><th>generated tokens</th></tr>\n"
        for m in c.models {
            let byStatus = samples.grouped("tandem_requests_total", by: "status", ["model": m.name])
            func count(_ range: ClosedRange<Int>) -> Double {
                byStatus.filter { Int($0.key).map(range.contains) ?? false }.values.reduce(0, +)
            }
            let ready = input.readiness[m.name]
            let readyText: String = switch ready {
            case .ready?: "<span class=\"ok\">ready</span>"
            case .unavailable(let why)?: "<span class=\"bad\">unavailable</span> <small>\(escape(why))</small>"
            case nil: "–"
            }
            body += "<tr>" + cell(escape(m.name)) + cell(escape(m.aliases.joined(separator: ", "))) + cell(readyText)
                + cell(number(count(200...299))) + cell(number(count(400...499))) + cell(number(count(500...599)))
                + cell(number(samples.sum("tandem_running_requests", ["model": m.name]) ?? 0))
                + cell(number(samples.sum("tandem_prompt_tokens_total", ["model": m.name]) ?? 0))
                + cell(number(samples.sum("tandem_generated_tokens_total", ["model": m.name]) ?? 0)) + "</tr>\n"
        }
        body += "</table>\n"

        body += "<h2>Tenants</h2>\n<table id=\"tenants\">\n<tr><th>tenant</th><th>requests</th><th>prompt tokens</th>"
            + "<th>generated tokens</th><th>spend (total)</th><th>today / budget</th><th>this month / budget</th></tr>\n"
        for name in c.tenants.keys.sorted() {
            let t = c.tenants[name]!
            let spent = input.spend[name]
            func budget(_ used: Double?, _ limit: Double?) -> String {
                guard let limit else { return dollars(used ?? 0) }
                return "\(dollars(used ?? 0)) / \(dollars(limit))"
            }
            body += "<tr>" + cell(escape(name))
                + cell(number(samples.sum("tandem_requests_total", ["tenant": name]) ?? 0))
                + cell(number(samples.sum("tandem_prompt_tokens_total", ["tenant": name]) ?? 0))
                + cell(number(samples.sum("tandem_generated_tokens_total", ["tenant": name]) ?? 0))
                + cell(dollars(samples.sum("tandem_tenant_spend_dollars_total", ["tenant": name]) ?? 0))
                + cell(budget(spent?.day, t.budgetPerDay)) + cell(budget(spent?.month, t.budgetPerMonth)) + "</tr>\n"
        }
        body += "</table>\n"

        body += "<h2>Recent errors</h2>\n"
        if input.errors.isEmpty {
            body += "<p id=\"errors\">None since the gateway started.</p>\n"
        } else {
            body += "<table id=\"errors\">\n<tr><th>time (UTC)</th><th>status</th><th>model</th><th>tenant</th><th>request</th><th>message</th></tr>\n"
            let formatter = ISO8601DateFormatter()
            for e in input.errors.reversed() {
                body += "<tr>" + cell(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(e.time))))
                    + cell(String(e.status), e.status >= 500 ? "bad" : "warn") + cell(escape(e.model)) + cell(escape(e.tenant))
                    + cell("<code>\(escape(e.requestID))</code>") + cell(escape(e.message)) + "</tr>\n"
            }
            body += "</table>\n"
        }

        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="refresh" content="\(refreshSeconds)">
        <title>Tandem gateway status</title>
        <style>
        body { font: 15px/1.4 sans-serif; margin: 1.5em; color: #1b1f23; background: #fff; }
        h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
        table { border-collapse: collapse; } th, td { border: 1px solid #ccd; padding: .25em .6em; text-align: left; }
        th { background: #eef; } td { font-variant-numeric: tabular-nums; }
        .ok { color: #16702e; font-weight: bold; } .bad { color: #b00020; font-weight: bold; } .warn { color: #8a5a00; }
        small { color: #555; } p.meta { color: #555; margin: 0; }
        </style></head>
        <body>
        <h1>Tandem gateway</h1>
        <p class="meta">\(stamp) · \(c.models.count) models · \(c.tenants.count) tenants · refreshes every \(refreshSeconds) s</p>
        \(body)</body></html>

        """
    }
}
