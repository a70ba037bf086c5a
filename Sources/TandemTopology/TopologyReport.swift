import Foundation
import TandemEngineCore

/// Human-readable views of a checked topology: `show` and `diff`.
public enum TopologyReport {
    /// The resolved view: nodes, each model's ranks, hosts and sharding, memory per node, gateway.
    public static func show(_ r: ResolvedTopology) -> String {
        let t = r.topology
        var out: [String] = ["topology \(t.file)", "nodes:"]
        for n in t.nodes {
            var line = "  \(n.name): host \(n.host), data plane \(n.address)"
            if let i = n.interface { line += " (\(i))" }
            if let d = n.rdma { line += ", rdma \(d.device) port \(d.port) gid \(d.gidIndex)" }
            if let c = n.cores { line += ", \(c) cores" }
            if let m = n.memoryGiB { line += ", \(formatGiB(m)) GiB" }
            out.append(line)
        }
        out.append("transport: \(t.transport.kind.rawValue) (\(t.transport.mode.rawValue))"
                   + (t.transport.maxLinkLatencyUs.map { ", max link latency \($0) µs" } ?? ""))
        out.append("models:")
        var perNode: [String: (ranks: Int, weights: Int, kv: Int)] = [:]
        for m in t.models {
            var head = "  \(m.name)"
            if !m.aliases.isEmpty { head += " (aliases: \(m.aliases.joined(separator: ", ")))" }
            if let e = m.external {
                out.append(head + ": external \(e.url)" + (e.upstreamModel.map { " as \($0)" } ?? ""))
            } else if let p = m.placement {
                let f = r.facts[m.name]
                out.append(head + ": \(r.modelPath(m))" + (f.map { " [\($0.formatDescription)]" } ?? "") + ", weights \(p.settings.weights.rawValue)")
                let host = t.node(p.nodes[0])?.host ?? "?"
                out.append("    TP=\(p.tensorParallel) on \(p.nodes.joined(separator: ", ")); coordinator http://\(host):\(p.port) (rank 0 on \(p.nodes[0]))")
                let e = p.settings
                var engine = "    kv \(e.kvMiB) MiB per rank (\(e.kvDType.rawValue)), block \(e.blockSize), max running \(e.maxRunning), step timeout \(e.stepTimeoutSeconds) s"
                // The other settings where they differ from serve's defaults.
                let shown: Set<String> = ["kv-mib", "kv-dtype", "block-size", "max-running", "step-timeout"]
                for s in ServeSettings.settings where !shown.contains(s.name) && s.value(in: e) != s.value(in: ServeSettings()) {
                    engine += ", \(s.name.split(separator: "-").joined(separator: " ")) \(s.value(in: e))"
                }
                out.append(engine)
                for (rank, n) in p.nodes.enumerated() {
                    var line = "    rank \(rank) on \(n) (\(t.node(n)?.host ?? "?"))"
                    if let s = f?.plan?.shards[rank] {
                        line += ": kv heads \(s.kvHeads.lowerBound)..<\(s.kvHeads.upperBound), query heads \(s.queryHeads.lowerBound)..<\(s.queryHeads.upperBound), ffn \(s.ffnColumns.lowerBound)..<\(s.ffnColumns.upperBound), vocab \(s.vocabRows.lowerBound)..<\(s.vocabRows.upperBound), weights \(mib(s.weightBytes))"
                        perNode[n, default: (0, 0, 0)].weights += s.weightBytes
                    }
                    perNode[n, default: (0, 0, 0)].ranks += 1
                    perNode[n, default: (0, 0, 0)].kv += p.settings.kvBudgetBytes
                    out.append(line)
                }
            }
            var extra: [String] = []
            if let rs = m.reasoning {
                extra.append("reasoning \(rs.openTag)…\(rs.closeTag)" + (rs.tokenFloor.map { ", floor \($0) tokens (\(rs.floorAction.rawValue))" } ?? ""))
            }
            if let fb = m.fallback { extra.append("fallback \(fb)") }
            if !extra.isEmpty { out.append("    " + extra.joined(separator: "; ")) }
        }
        out.append("memory per node:")
        for n in t.nodes {
            let u = perNode[n.name] ?? (0, 0, 0)
            let limit = n.memoryBytes.map { " of \(mib($0))" } ?? ""
            out.append("  \(n.name): \(u.ranks) rank\(u.ranks == 1 ? "" : "s"), \(mib(u.weights + u.kv))\(limit) (weights \(mib(u.weights)) + kv \(mib(u.kv)))")
        }
        let g = t.gateway
        out.append("gateway: http://\(g.host):\(g.port) on \(g.node ?? t.nodes.first?.name ?? "?"), keys \(g.keysFileAsWritten), tenants \(g.tenants.keys.sorted().joined(separator: ", "))")
        if !t.router.policies.isEmpty {
            out.append("router policies: " + t.router.policies.sorted { $0.key < $1.key }.map { name, p in
                "\(name) (\(p.rules.count) rule\(p.rules.count == 1 ? "" : "s"), default \(p.default))"
            }.joined(separator: ", "))
        }
        out.append("log level: \(t.observability.logLevel)")
        if let tr = t.observability.tracing {
            out.append("tracing: OTLP to \(tr.otlpEndpoint), sample ratio \(tr.sampleRatio)")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Every setting as `path = value`, keyed by names (not list positions) so that reordering
    /// nodes or models is not a change.
    /// One line per node, in file order, for shell scripts (`cluster/netns.sh`):
    /// `name host address interface`, with `-` for a node without an interface.
    public static func nodeLines(_ t: Topology) -> String {
        t.nodes.map { "\($0.name) \($0.host) \($0.address) \($0.interface ?? "-")\n" }.joined()
    }

    public static func flatten(_ t: Topology) -> [(String, String)] {
        var out: [(String, String)] = []
        func add(_ k: String, _ v: Any?) { if let v { out.append((k, "\(v)")) } }
        for n in t.nodes {
            let b = "nodes.\(n.name)"
            add("\(b).host", n.host); add("\(b).address", n.address); add("\(b).interface", n.interface)
            add("\(b).rdma", n.rdma.map { "\($0.device) port \($0.port) gid \($0.gidIndex)" })
            add("\(b).cores", n.cores); add("\(b).memory_gib", n.memoryGiB.map(formatGiB))
        }
        add("transport", "\(t.transport.kind.rawValue)/\(t.transport.mode.rawValue)")
        add("transport.max_link_latency_us", t.transport.maxLinkLatencyUs)
        for m in t.models {
            let b = "models.\(m.name)"
            add("\(b).aliases", m.aliases.isEmpty ? nil : m.aliases.joined(separator: ", "))
            add("\(b).source", m.source.description)
            if let p = m.placement {
                add("\(b).placement.nodes", "[\(p.nodes.joined(separator: ", "))]"); add("\(b).placement.port", p.port)
                for s in ServeSettings.settings { add("\(b).placement.\(s.key)", s.value(in: p.settings)) }
                add("\(b).placement.max_concurrent", p.maxConcurrent)
            }
            if let e = m.external { add("\(b).external", "\(e.url) \(e.upstreamModel ?? "") \(e.apiKeyEnv ?? "")") }
            if let rs = m.reasoning { add("\(b).reasoning", "\(rs.openTag) \(rs.closeTag) \(rs.tokenFloor.map(String.init) ?? "-") \(rs.floorAction.rawValue)") }
            if let d = m.samplingDefaults { add("\(b).defaults", LaunchPlanner.samplingDefaultsJSON(d)) }
            add("\(b).fallback", m.fallback); add("\(b).cost_per_token", m.costPerToken)
            add("\(b).expected_latency_ms", m.expectedLatencyMs); add("\(b).max_prompt_tokens", m.maxPromptTokens)
            add("\(b).default_max_tokens", m.defaultMaxTokens)
        }
        add("router.affinity_prefix_chars", t.router.affinityPrefixChars); add("router.max_load_imbalance", t.router.maxLoadImbalance)
        for (name, p) in t.router.policies.sorted(by: { $0.key < $1.key }) {
            add("router.policies.\(name).default", p.default)
            add("router.policies.\(name).candidates", p.candidates.map { $0.joined(separator: ", ") })
            add("router.policies.\(name).rules", p.rules.map { r in
                let w = r.when
                return "\(r.name)→\(r.model) \(w.keywords ?? []) \(w.minPromptTokens ?? -1) \(w.maxPromptTokens ?? -1) \((w.headers ?? [:]).sorted { $0.key < $1.key })"
            }.joined(separator: "; "))
        }
        let g = t.gateway
        add("gateway.node", g.node); add("gateway.listen", "\(g.host):\(g.port)"); add("gateway.keys_file", g.keysFileAsWritten)
        add("gateway.limits", "\(g.limits.maxBodyBytes) \(g.limits.requestTimeoutMs)")
        let u = g.upstream
        add("gateway.upstream", "\(u.connectTimeoutMs) \(u.readTimeoutMs) \(u.poolMaxConnections) \(u.poolIdleTimeoutMs) \(u.metricsTimeoutMs)")
        add("gateway.health", "\(g.health.failureThreshold) \(g.health.cooldownMs) \(g.health.probeTimeoutMs)")
        for (name, tn) in g.tenants.sorted(by: { $0.key < $1.key }) {
            add("gateway.tenants.\(name)", "rpm \(tn.requestsPerMinute.map(String.init) ?? "-"), tpm \(tn.tokensPerMinute.map(String.init) ?? "-"), concurrent \(tn.maxConcurrent.map(String.init) ?? "-"), models [\(tn.allowedModels.joined(separator: ", "))]" + (tn.cacheSalt != nil ? ", salt set" : ""))
        }
        add("observability.log_level", t.observability.logLevel)
        if let tr = t.observability.tracing {
            add("observability.tracing", "\(tr.otlpEndpoint), sample ratio \(tr.sampleRatio), service \(tr.serviceName)")
        }
        return out
    }

    /// Lines `+ key = value`, `- key = value`, `~ key: old -> new`, then what to do about them.
    public static func diff(_ old: Topology, _ new: Topology) -> String {
        let (lines, _) = changedKeys(old, new)
        if lines.isEmpty { return "no changes\n" }
        return (lines + ["", "actions:"] + changes(old, new).actions.map { "  \($0)" }).joined(separator: "\n") + "\n"
    }

    /// The diff's lines and the keys they change.
    static func changedKeys(_ old: Topology, _ new: Topology) -> (lines: [String], keys: [String]) {
        let a = flatten(old), b = flatten(new)
        let am = Dictionary(a, uniquingKeysWith: { x, _ in x }), bm = Dictionary(b, uniquingKeysWith: { x, _ in x })
        var lines: [String] = []
        var changed: [String] = []
        for (k, v) in a where bm[k] == nil { lines.append("- \(k) = \(v)"); changed.append(k) }
        for (k, v) in b {
            if let o = am[k] {
                if o != v { lines.append("~ \(k): \(o) -> \(v)"); changed.append(k) }
            } else { lines.append("+ \(k) = \(v)"); changed.append(k) }
        }
        return (lines, changed)
    }

    /// What a change of topology takes: deployments whose launch settings changed restart,
    /// added ones start, removed ones stop; gateway-only changes reload the gateway.
    public static func changes(_ old: Topology, _ new: Topology) -> TopologyChanges {
        let changed = changedKeys(old, new).keys
        var c = TopologyChanges()
        let oldModels = Set(old.models.map(\.name)), newModels = Set(new.models.map(\.name))
        c.start = newModels.subtracting(oldModels).sorted()
        c.stop = oldModels.subtracting(newModels).sorted()
        let changedNodes = Set(changed.filter { $0.hasPrefix("nodes.") }.map { String($0.split(separator: ".")[1]) })
        for m in newModels.intersection(oldModels).sorted() {
            let launchKeys = ["source", "weights", "placement.", "reasoning", "defaults"].map { "models.\(m).\($0)" }
            let launchChanged = changed.contains { k in launchKeys.contains { k.hasPrefix($0) } && !k.hasSuffix("max_concurrent") }
            let onChangedNode = new.model(m)?.placement?.nodes.contains { changedNodes.contains($0) } ?? false
            if launchChanged || onChangedNode || (changed.contains { $0.hasPrefix("transport") } && new.model(m)?.placement != nil) {
                c.restart.append(m)
            }
        }
        if changed.contains(where: { $0.hasPrefix("gateway.listen") || $0 == "gateway.node" }) {
            c.gateway = .restart
        } else if changed.contains(where: { !$0.hasPrefix("nodes.") && !$0.hasPrefix("observability.") }) {
            c.gateway = .reload
        }
        c.logLevel = changed.contains("observability.log_level")
        c.tracing = changed.contains("observability.tracing")
        return c
    }
}

/// What applying a new topology to a running one takes (`TopologyReport.changes`).
public struct TopologyChanges: Sendable, Equatable {
    public enum Gateway: Sendable, Equatable { case unchanged, reload, restart }
    public var start: [String] = []
    public var stop: [String] = []
    public var restart: [String] = []
    public var gateway = Gateway.unchanged
    /// The log level changed: every process would have to start again.
    public var logLevel = false
    /// The tracing settings changed: read by every process at start, so the same.
    public var tracing = false

    public init() {}

    public var isEmpty: Bool { start.isEmpty && stop.isEmpty && restart.isEmpty && gateway == .unchanged && !logLevel && !tracing }

    /// The steps, as `tandem topology diff` prints them.
    public var actions: [String] {
        var out = start.map { "start model '\($0)'" } + stop.map { "stop model '\($0)'" } + restart.map { "restart model '\($0)'" }
        switch gateway {
        case .restart: out.append("restart the gateway (listen address changed)")
        case .reload: out.append("regenerate the gateway config and reload it (SIGHUP)")
        case .unchanged: break
        }
        if logLevel { out.append("restart everything to change the log level") }
        if tracing { out.append("restart everything to change tracing") }
        return out
    }
}

func formatGiB(_ v: Double) -> String { v == v.rounded() ? "\(Int(v))" : String(format: "%g", v) }
