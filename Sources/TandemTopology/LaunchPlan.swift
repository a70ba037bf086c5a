import Foundation
import TandemCore

/// How to start one model deployment.
public struct DeploymentLaunch: Sendable, Equatable {
    public var model: String
    public var tensorParallel: Int
    public var nodes: [String]
    /// Where the coordinator (rank 0) listens, as the gateway reaches it.
    public var url: String
    public var argv: [String]
    /// An Open MPI hostfile, when the ranks leave this machine.
    public var hostfile: (path: String, contents: String)?
    /// Whether some rank runs on another host (started over ssh by mpirun).
    public var remote: Bool
    /// The coordinator's internal key file (`--internal-key-file`; the gateway config names it too).
    public var internalKeyFile: String = ""

    public static func == (a: Self, b: Self) -> Bool {
        a.model == b.model && a.tensorParallel == b.tensorParallel && a.nodes == b.nodes && a.url == b.url && a.argv == b.argv
            && a.hostfile?.path == b.hostfile?.path && a.hostfile?.contents == b.hostfile?.contents && a.remote == b.remote
    }
}

/// Everything `tandem up` starts, as data: tested without processes.
public struct LaunchPlan: Sendable {
    public var deployments: [DeploymentLaunch]
    public var gatewayArgv: [String]
    public var gatewayConfigPath: String
    public var gatewayConfig: String
    /// Where clients reach the API (`http://host:port`).
    public var gatewayURL: String
    public var gatewayNode: String
    /// Secret files `up` must create (random keys, mode 0600) before starting anything: each
    /// deployment's internal key and the gateway's salt key.
    public var secretFiles: [String] = []
}

public struct LaunchOptions: Sendable {
    public var tandemBin: String
    public var runDir: String
    /// Nodes that are this machine (processes start here directly; others through mpirun's ssh).
    public var localNodes: Set<String>
    /// `--mca plm_rsh_agent` for mpirun (e.g. cluster/netns-rsh.sh in the namespace simulation).
    public var rshAgent: String?

    public init(tandemBin: String, runDir: String, localNodes: Set<String>, rshAgent: String? = nil) {
        self.tandemBin = tandemBin
        self.runDir = runDir
        self.localNodes = localNodes
        self.rshAgent = rshAgent
    }
}

public enum LaunchPlanner {
    /// mpirun flags that work for ranks sharing one machine.
    public static let localMPIRun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                                     "--mca", "mpi_yield_when_idle", "1", "--mca", "btl", "self,vader,tcp"]

    /// Nodes whose host names this machine (loopback, or the machine's host name).
    public static func localNodes(_ t: Topology, hostname: String = ProcessInfo.processInfo.hostName) -> Set<String> {
        let short = hostname.split(separator: ".").first.map(String.init) ?? hostname
        return Set(t.nodes.filter { TopologyValidator.isLoopback($0.host) || $0.host == hostname || $0.host == short }.map(\.name))
    }

    public static func make(_ r: ResolvedTopology, options o: LaunchOptions) -> LaunchPlan {
        let t = r.topology
        let logLevel = t.observability.logLevel
        var deployments: [DeploymentLaunch] = []
        for m in t.models {
            guard let p = m.placement, let endpoint = coordinatorEndpoint(t, placement: p) else { continue }
            let keyFile = "\(o.runDir)/\(m.name).internal-key"
            var serve = [o.tandemBin, "serve", "--model", r.modelPath(m), "--model-name", m.name,
                         "--host", endpoint.bind, "--port", "\(p.port)", "--internal-key-file", keyFile, "--log-level", serveLevel(logLevel)]
            serve += p.settings.arguments()
            serve += serveSettings(t, model: m, placement: p)
            if let tr = t.observability.tracing {
                serve += ["--otlp-endpoint", tr.otlpEndpoint, "--trace-sample-ratio", "\(tr.sampleRatio)"]
            }
            let remote = p.nodes.contains { !o.localNodes.contains($0) }
            var hostfile: (String, String)?
            if remote {
                let path = "\(o.runDir)/hostfile-\(m.name)"
                hostfile = (path, self.hostfile(t, model: m.name) ?? "")
                let multiPerNode = Set(p.nodes).count < p.nodes.count
                var mpi = ["mpirun", "--allow-run-as-root", "--hostfile", path, "--map-by", "slot", "--bind-to", "none",
                           "--mca", "mpi_yield_when_idle", "1", "--mca", "btl", multiPerNode ? "self,vader,tcp" : "self,tcp"]
                let interfaces = Set(p.nodes.compactMap { t.node($0)?.interface })
                if interfaces.count == 1, let i = interfaces.first, p.nodes.allSatisfy({ t.node($0)?.interface != nil }) {
                    mpi += ["--mca", "btl_tcp_if_include", i, "--mca", "oob_tcp_if_include", i]
                }
                if let agent = o.rshAgent { mpi += ["--mca", "plm_rsh_agent", agent, "--mca", "plm_rsh_no_tree_spawn", "1"] }
                serve = mpi + ["-np", "\(p.tensorParallel)"] + serve
            } else if p.tensorParallel > 1 {
                serve = localMPIRun + ["-np", "\(p.tensorParallel)"] + serve
            }
            deployments.append(DeploymentLaunch(model: m.name, tensorParallel: p.tensorParallel, nodes: p.nodes,
                                                url: "http://\(urlHost(endpoint.url)):\(p.port)", argv: serve,
                                                hostfile: hostfile, remote: remote, internalKeyFile: keyFile))
        }
        let saltKeyFile = "\(o.runDir)/gateway-salt.key"
        let configPath = "\(o.runDir)/gateway.json"
        let gatewayNode = t.gateway.node ?? t.nodes.first?.name ?? ""
        let gwHost = TopologyValidator.isWildcard(t.gateway.host) ? (t.node(gatewayNode)?.host ?? "127.0.0.1") : t.gateway.host
        let secrets = GatewayConfigGenerator.Secrets(
            internalKeyFiles: Dictionary(deployments.map { ($0.model, $0.internalKeyFile) }, uniquingKeysWith: { a, _ in a }),
            saltKeyFile: saltKeyFile)
        return LaunchPlan(deployments: deployments,
                          gatewayArgv: [o.tandemBin, "gateway", "--config", configPath, "--log-level", logLevel],
                          gatewayConfigPath: configPath, gatewayConfig: GatewayConfigGenerator.json(r, secrets: secrets),
                          gatewayURL: "http://\(urlHost(gwHost)):\(t.gateway.port)", gatewayNode: gatewayNode,
                          secretFiles: deployments.map(\.internalKeyFile) + [saltKeyFile])
    }

    /// Where a deployment's coordinator (rank 0) listens and how the gateway reaches it: on
    /// loopback when the gateway runs on the same node, else on that node's data-plane address
    /// only (never on a wildcard or the node's public host name).
    public static func coordinatorEndpoint(_ t: Topology, placement p: PlacementSpec) -> (bind: String, url: String)? {
        guard let first = t.node(p.nodes[0]) else { return nil }
        let gatewayNode = t.gateway.node ?? t.nodes.first?.name ?? ""
        if first.name == gatewayNode || TopologyValidator.isLoopback(first.host) { return ("127.0.0.1", "127.0.0.1") }
        return (first.address, first.address)
    }

    /// What the topology says about one deployment beyond where it listens and its engine
    /// settings (`ServeSettings`, weights included): the model's reasoning tags and sampling
    /// defaults (sections the gateway and the API read too), the cluster's transport and
    /// link-latency bound.
    static func serveSettings(_ t: Topology, model m: ModelSpec, placement p: PlacementSpec) -> [String] {
        var a: [String] = []
        if let r = m.reasoning { a += ["--reasoning-open", r.openTag, "--reasoning-close", r.closeTag] }
        if let d = m.samplingDefaults, !d.isEmpty { a += ["--sampling-defaults", samplingDefaultsJSON(d)] }
        if p.tensorParallel > 1 {
            a += ["--transport", t.transport.serveArgument]
            if t.transport.kind == .rdma, let first = t.node(p.nodes[0]) { a += ["--rdma-address", first.address] }
            if let bound = t.transport.maxLinkLatencyUs { a += ["--max-link-latency-us", "\(bound)"] }
        }
        return a
    }

    /// `--sampling-defaults`' JSON: the fields set, in a fixed order.
    static func samplingDefaultsJSON(_ d: SamplingDefaults) -> String {
        var parts: [String] = []
        if let v = d.temperature { parts.append("\"temperature\": \(v)") }
        if let v = d.topP { parts.append("\"top_p\": \(v)") }
        if let v = d.topK { parts.append("\"top_k\": \(v)") }
        if let v = d.minP { parts.append("\"min_p\": \(v)") }
        if let v = d.repetitionPenalty { parts.append("\"repetition_penalty\": \(v)") }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// The Open MPI hostfile for one model: its nodes' hosts in rank order, slots = ranks there.
    public static func hostfile(_ t: Topology, model: String) -> String? {
        guard let p = t.model(model)?.placement else { return nil }
        var order: [String] = []
        var slots: [String: Int] = [:]
        for n in p.nodes {
            if slots[n] == nil { order.append(n) }
            slots[n, default: 0] += 1
        }
        return order.map { "\(t.node($0)?.host ?? $0) slots=\(slots[$0]!)" }.joined(separator: "\n") + "\n"
    }

    static func urlHost(_ h: String) -> String { h.contains(":") && !h.hasPrefix("[") ? "[\(h)]" : h }

    /// `serve` uses swift-log level names too; `info` is chatty per request, so keep it as given.
    static func serveLevel(_ l: String) -> String { l }
}

/// POSIX shell quoting, for printing commands that can be pasted.
public func shellQuote(_ argv: [String]) -> String {
    argv.map { a in
        if !a.isEmpty && a.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@+%".contains($0) }) { return a }
        return "'" + a.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}
