import AsyncHTTPClient
import Foundation
import NIOCore
import TandemAPI

/// The gateway's view of its coordinators' engines: when the gateway's `/metrics` is scraped,
/// each coordinator's `/metrics` is read (concurrently, each within a short timeout) and its
/// `tandem_engine_*` families are re-exported with `model` (the gateway's model name) and
/// `deployment` (the deployment's index in that model, as in `X-Tandem-Replica`) put first; the
/// coordinator's own `model` label is kept as `exported_model`. Alongside:
///
/// * `tandem_upstream_up{model,deployment}`: 1 when the last scrape answered, else 0;
/// * `tandem_upstream_scrape_errors_total{model,deployment}`: scrapes that failed;
/// * `tandem_upstream_scrape_duration_seconds{model,deployment}`: how long the last one took.
///
/// Only `kind: coordinator` deployments are scraped; a URL shared by several models is read once.
public final class UpstreamMetrics: Sendable {
    /// One deployment whose engine statistics are re-exported.
    public struct Target: Sendable, Equatable {
        public var model: String
        /// Index among the model's deployments.
        public var deployment: Int
        public var url: UpstreamURL

        public init(model: String, deployment: Int, url: UpstreamURL) {
            self.model = model
            self.deployment = deployment
            self.url = url
        }

        var key: String { "\(model)\u{0}\(deployment)" }
    }

    /// Reads one coordinator's `/metrics` text (throws when it does not answer 200 in time).
    public typealias Fetch = @Sendable (UpstreamURL, Duration) async throws -> String

    /// The families re-exported from each coordinator.
    public static let familyPrefix = "tandem_engine_"

    private let targets: @Sendable () async -> [Target]
    private let timeout: @Sendable () async -> Duration
    private let fetch: Fetch
    private let errors = Locked<[String: Int]>([:])

    public init(targets: @escaping @Sendable () async -> [Target], timeout: @escaping @Sendable () async -> Duration,
                fetch: @escaping Fetch) {
        self.targets = targets
        self.timeout = timeout
        self.fetch = fetch
    }

    /// The coordinator deployments of a configuration.
    public static func targets(of configuration: GatewayConfiguration) -> [Target] {
        configuration.models.flatMap { m in
            m.deployments.enumerated().compactMap { i, d -> Target? in
                guard d.kind == .coordinator, let url = UpstreamURL(d.url) else { return nil }
                return Target(model: m.name, deployment: i, url: url)
            }
        }
    }

    /// The internal key of the coordinator at `base` (the first deployment with that URL that has one).
    public static func internalKey(of base: String, in configuration: GatewayConfiguration) -> String? {
        configuration.models.flatMap(\.deployments).first { d in
            d.kind == .coordinator && d.internalKey != nil && UpstreamURL(d.url)?.base == base
        }?.internalKey
    }

    /// `GET <url>/metrics` through `client` (its pooled connections), bounded by the timeout, with
    /// `Authorization: Bearer <key>` when `key` gives one for the URL's base.
    public static func httpFetch(client: HTTPClient, key: @escaping @Sendable (String) async -> String? = { _ in nil }) -> Fetch {
        { url, timeout in
            let secret = await key(url.base)
            return try await withDeadline(.now + timeout, timeoutError: BackendError(.timeout, "metrics of \(url.base)")) {
                var request = HTTPClientRequest(url: url.appending("/metrics"))
                if let secret { request.headers.add(name: "Authorization", value: "Bearer \(secret)") }
                let response = try await client.execute(request,
                                                        timeout: .nanoseconds(APIMetrics.nanoseconds(timeout)), logger: nil)
                let body = try await response.body.collect(upTo: 8 << 20)
                guard response.status == .ok else {
                    throw BackendError(.upstreamUnavailable, "\(url.base)/metrics answered \(response.status.code)")
                }
                return String(buffer: body)
            }
        }
    }

    /// Scrapes every target now and returns the exposition text to append to the gateway's.
    public func collect() async -> String {
        let targets = await self.targets()
        guard !targets.isEmpty else { return "" }
        let timeout = await self.timeout()
        let fetch = self.fetch
        let urls = Array(Set(targets.map(\.url.base))).sorted()
        let results = await withTaskGroup(of: (String, Result<String, any Error>, Duration).self) { group in
            for base in urls {
                group.addTask {
                    let start = ContinuousClock.now
                    do {
                        let text = try await fetch(UpstreamURL(base)!, timeout)
                        return (base, .success(text), .now - start)
                    } catch {
                        return (base, .failure(error), .now - start)
                    }
                }
            }
            var byURL: [String: (Result<String, any Error>, Duration)] = [:]
            for await (base, result, took) in group { byURL[base] = (result, took) }
            return byURL
        }
        var scrapes: [Scrape] = []
        for t in targets {
            guard let (result, took) = results[t.url.base] else { continue }
            switch result {
            case .success(let text): scrapes.append(Scrape(target: t, text: text, duration: took))
            case .failure: scrapes.append(Scrape(target: t, text: nil, duration: took))
            }
        }
        let counts = errors.withLock { errors -> [String: Int] in
            for s in scrapes where s.text == nil { errors[s.target.key, default: 0] += 1 }
            return errors
        }
        return Self.exposition(scrapes, errorCounts: counts)
    }

    /// What one target's scrape gave: its text, or nil when it failed.
    public struct Scrape: Sendable {
        public var target: Target
        public var text: String?
        public var duration: Duration

        public init(target: Target, text: String?, duration: Duration = .zero) {
            self.target = target
            self.text = text
            self.duration = duration
        }
    }

    /// The exposition for a round of scrapes (pure: what `collect` renders).
    public static func exposition(_ scrapes: [Scrape], errorCounts: [String: Int]) -> String {
        func labels(_ t: Target) -> [PrometheusText.Label] {
            [PrometheusText.Label("model", t.model), PrometheusText.Label("deployment", String(t.deployment))]
        }
        var up = PrometheusText.Family(name: "tandem_upstream_up", type: "gauge",
                                       help: "1 when the deployment's /metrics answered the gateway's last scrape, else 0.")
        var errors = PrometheusText.Family(name: "tandem_upstream_scrape_errors_total", type: "counter",
                                           help: "Scrapes of the deployment's /metrics that failed or timed out.")
        var duration = PrometheusText.Family(name: "tandem_upstream_scrape_duration_seconds", type: "gauge",
                                             help: "How long the last scrape of the deployment's /metrics took.")
        var engine: [[PrometheusText.Family]] = []
        for s in scrapes {
            let l = labels(s.target)
            up.samples.append(.init(name: up.name, labels: l, value: s.text == nil ? "0" : "1"))
            errors.samples.append(.init(name: errors.name, labels: l, value: String(errorCounts[s.target.key, default: 0])))
            let seconds = Double(APIMetrics.nanoseconds(s.duration)) / 1e9
            duration.samples.append(.init(name: duration.name, labels: l, value: String(seconds)))
            guard let text = s.text else { continue }
            let families = PrometheusText.parse(text).families.filter { $0.name.hasPrefix(familyPrefix) }
            engine.append(families.map { $0.relabeled(l) })
        }
        return PrometheusText.render([up, errors, duration] + PrometheusText.merge(engine))
    }
}
