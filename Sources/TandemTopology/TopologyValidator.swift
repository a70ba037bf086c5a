import Foundation
import TandemCore
import TandemModel

/// What validation needs to know about a model file: its configuration and how it splits.
public struct ModelFacts: Sendable, Equatable {
    public var path: String
    public var configuration: ModelConfiguration
    public var formatDescription: String
    /// The plan for the placement's TP size (nil when it cannot be split; see `shardingProblem`).
    public var plan: ShardingPlan?
    public var shardingProblem: String?

    public init(path: String, configuration: ModelConfiguration, formatDescription: String,
                plan: ShardingPlan? = nil, shardingProblem: String? = nil) {
        self.path = path
        self.configuration = configuration
        self.formatDescription = formatDescription
        self.plan = plan
        self.shardingProblem = shardingProblem
    }
}

/// Looks a model file up (the real one loads it; tests inject a fake).
public protocol ModelInspector {
    /// `experts`: how an MoE model's experts are split (the placement's `parallel`).
    func inspect(path: String, ranks: Int, experts: ExpertParallelism) throws -> ModelFacts
}

/// Loads the model (memory-mapped) and computes its sharding plan.
public final class LoadingModelInspector: ModelInspector {
    private var cache: [String: LoadedModel] = [:]
    public init() {}

    public func inspect(path: String, ranks: Int, experts: ExpertParallelism) throws -> ModelFacts {
        let loaded: LoadedModel
        if let l = cache[path] { loaded = l } else {
            loaded = try ModelLoader.load(path: path)
            cache[path] = loaded
        }
        var facts = ModelFacts(path: path, configuration: loaded.configuration, formatDescription: loaded.formatDescription)
        do { facts.plan = try ShardingPlan.make(model: loaded.model, ranks: ranks, experts: experts) } catch let e as ShardingError {
            facts.shardingProblem = e.message
        }
        return facts
    }
}

/// The default model's file: $TANDEM_MODEL, else $TANDEM_MODELS_DIR/<file>, else `models/<file>` in
/// the working directory or next to the topology folder (the repository layout).
public enum DefaultModelFile {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    public static func path(topologyFile: String) -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["TANDEM_MODEL"] { return p }
        if let d = env["TANDEM_MODELS_DIR"] { return d + "/" + fileName }
        let cwd = FileManager.default.currentDirectoryPath + "/models/" + fileName
        let dir = (TopologyParser.absolute(topologyFile) as NSString).deletingLastPathComponent
        let beside = ((dir + "/../models/" + fileName) as NSString).standardizingPath
        for p in [cwd, beside] where FileManager.default.fileExists(atPath: p) { return p }
        return cwd
    }
}

/// A checked topology: the parsed file plus what was learnt about each placed model.
public struct ResolvedTopology: Sendable {
    public var topology: Topology
    /// By model name, for models with a placement whose file could be read.
    public var facts: [String: ModelFacts]
    public var diagnostics: [TopologyDiagnostic]

    public func modelPath(_ m: ModelSpec) -> String {
        switch m.source {
        case .default: DefaultModelFile.path(topologyFile: topology.file)
        case .path(let p): p
        }
    }
}

/// Semantic checks: names that refer to things that exist, ports that do not collide, TP that
/// the model can be split into, memory that fits each node.
public enum TopologyValidator {
    /// Parses, then checks `path`. Throws `TopologyError` listing every error (and warning).
    public static func load(path: String, inspector: ModelInspector = LoadingModelInspector()) throws -> ResolvedTopology {
        let (t, warnings) = try TopologyParser.load(path: path)
        return try validate(t, parseWarnings: warnings, inspector: inspector)
    }

    public static func load(text: String, file: String, inspector: ModelInspector) throws -> ResolvedTopology {
        let (t, warnings) = try TopologyParser.parse(text, file: file)
        return try validate(t, parseWarnings: warnings, inspector: inspector)
    }

    public static func validate(_ t: Topology, parseWarnings: [TopologyDiagnostic] = [], inspector: ModelInspector) throws -> ResolvedTopology {
        let sink = DiagnosticSink(file: t.file)
        for d in parseWarnings { sink.warning(d.location, d.message) }
        let nodeNames = t.nodes.map(\.name)
        let nodeList = nodeNames.joined(separator: ", ")

        // Nodes: unique names.
        var seenNodes: [String: Int] = [:]
        for (i, n) in t.nodes.enumerated() {
            if let first = seenNodes[n.name] {
                sink.error(t.location("nodes[\(i)].name"), "node name '\(n.name)' is used twice (first at line \(t.location("nodes[\(first)].name").line)); node names must be unique")
            } else { seenNodes[n.name] = i }
        }
        if t.nodes.isEmpty { sink.error(t.location("nodes"), "nodes: at least one node is needed") }
        if t.models.isEmpty { sink.error(t.location("models"), "models: at least one model is needed") }

        // Model names, aliases and policy names share one namespace (what clients send as `model`).
        var names: [String: String] = [:]  // name -> where first defined (path)
        func claim(_ name: String, _ path: String, _ what: String) {
            if let first = names[name] {
                sink.error(t.location(path), "\(what) '\(name)' is already used (line \(t.location(first).line)); model names, aliases and policy names must all differ")
            } else { names[name] = path }
        }
        for (i, m) in t.models.enumerated() {
            claim(m.name, "models[\(i)].name", "model name")
            for (j, a) in m.aliases.enumerated() { claim(a, "models[\(i)].aliases[\(j)]", "alias") }
        }
        for name in t.router.policies.keys.sorted() { claim(name, "router.policies.\(name)", "policy name") }
        let modelNames = t.models.map(\.name)
        let modelList = modelNames.joined(separator: ", ")

        // Placement, ports, TP, memory.
        var ports: [String: (Int, String, String)] = [:]  // "host:port" -> (line, owner, path)
        func claimPort(host: String, port: Int, owner: String, path: String) {
            let key = "\(host):\(port)"
            if let (line, first, _) = ports[key] {
                sink.error(t.location(path), "port \(port) on \(host) is already used by \(first) (line \(line)); every coordinator and the gateway need their own port on a host")
            } else { ports[key] = (t.location(path).line, owner, path) }
        }
        var facts: [String: ModelFacts] = [:]
        var memoryUse: [String: [(String, Int)]] = [:]  // node -> (what, bytes)
        var ranksOnNode: [String: Int] = [:]
        for (i, m) in t.models.enumerated() {
            let base = "models[\(i)]"
            if let f = m.fallback {
                if f == m.name { sink.error(t.location("\(base).fallback"), "model '\(m.name)': fallback names the model itself") }
                else if !modelNames.contains(f) { sink.error(t.location("\(base).fallback"), "model '\(m.name)': fallback '\(f)' is not a model in this file; models: \(modelList)") }
            }
            guard let p = m.placement else { continue }
            var placedOK = !p.nodes.isEmpty
            for (j, n) in p.nodes.enumerated() where seenNodes[n] == nil {
                sink.error(t.location("\(base).placement.nodes[\(j)]"), "model '\(m.name)' is placed on node '\(n)', which is not defined; nodes: \(nodeList)")
                placedOK = false
            }
            if let first = p.nodes.first, let host = t.node(first)?.host {
                claimPort(host: host, port: p.port, owner: "model '\(m.name)'", path: "\(base).placement.port")
            }
            let multiNode = Set(p.nodes).count > 1
            if multiNode && t.transport.kind == .rdma && t.transport.mode == .required {
                for n in Set(p.nodes).sorted() where t.node(n)?.rdma == nil {
                    sink.error(t.location("\(base).placement.nodes"), "model '\(m.name)' spans nodes and transport is rdma/required, but node '\(n)' has no 'rdma' section (device, port, gid_index)")
                }
            }
            // The model file: exists, loads, splits.
            let path = m.source == .default ? DefaultModelFile.path(topologyFile: t.file) : "\(m.source)"
            let sourcePath = "\(base).source"
            guard FileManager.default.fileExists(atPath: path) else {
                let hint = m.source == .default ? "the default model is fetched by deploy/fetch-model.sh (or set TANDEM_MODEL / TANDEM_MODELS_DIR)" : "paths are relative to the topology file's folder"
                sink.error(t.location(t.locations[sourcePath] != nil ? sourcePath : "\(base).name"), "model '\(m.name)': model file \(path) does not exist; \(hint)")
                continue
            }
            guard p.tensorParallel >= 1 else { continue }
            let f: ModelFacts
            do { f = try inspector.inspect(path: path, ranks: p.tensorParallel, experts: p.settings.expertParallelism) } catch {
                sink.error(t.location(t.locations[sourcePath] != nil ? sourcePath : "\(base).name"), "model '\(m.name)': cannot load \(path): \(error)")
                continue
            }
            facts[m.name] = f
            let kvHeads = f.configuration.kvHeadCount
            if p.tensorParallel > kvHeads {
                sink.error(t.location("\(base).placement.nodes"), "model '\(m.name)': tensor-parallel size \(p.tensorParallel) (one rank per placement.nodes entry) is larger than its \(kvHeads) KV heads; attention is split by KV heads, so allowed: 1...\(kvHeads) ranks")
            } else if let problem = f.shardingProblem {
                sink.error(t.location("\(base).placement.nodes"), "model '\(m.name)': cannot split over \(p.tensorParallel) ranks: \(problem)")
            }
            if placedOK {
                for (r, n) in p.nodes.enumerated() {
                    let weights = f.plan?.shards[r].weightBytes ?? 0
                    memoryUse[n, default: []].append(("\(m.name) rank \(r): \(mib(weights)) weights + \(p.settings.kvMiB) MiB KV", weights + p.settings.kvBudgetBytes))
                    ranksOnNode[n, default: 0] += 1
                }
            }
        }
        for (i, n) in t.nodes.enumerated() {
            let uses = memoryUse[n.name] ?? []
            let total = uses.reduce(0) { $0 + $1.1 }
            if let limit = n.memoryBytes, total > limit {
                sink.error(t.location("nodes[\(i)].memory_gib"), "node '\(n.name)': its ranks need \(mib(total)) but memory_gib allows \(mib(limit)) (\(uses.map(\.0).joined(separator: "; "))); lower kv_mib, place fewer ranks here, or raise memory_gib")
            }
            if let cores = n.cores, let r = ranksOnNode[n.name], r > cores {
                sink.warning(t.location("nodes[\(i)].cores"), "node '\(n.name)': \(r) ranks on \(cores) cores; ranks will share cores (mpirun --oversubscribe)")
            }
        }

        // Gateway.
        let gatewayNode = t.gateway.node ?? t.nodes.first?.name
        if let g = t.gateway.node, seenNodes[g] == nil {
            sink.error(t.location("gateway.node"), "gateway is placed on node '\(g)', which is not defined; nodes: \(nodeList)")
        } else if let gn = gatewayNode, let node = t.node(gn) {
            let host = isWildcard(t.gateway.host) ? node.host : t.gateway.host
            let gatewayHost = isLoopback(host) ? node.host : host
            claimPort(host: gatewayHost, port: t.gateway.port, owner: "the gateway", path: "gateway.listen.port")
        }
        if !t.gateway.keysFile.isEmpty && !FileManager.default.fileExists(atPath: t.gateway.keysFile) {
            sink.error(t.location("gateway.keys_file"), "gateway.keys_file: \(t.gateway.keysFile) does not exist (paths are relative to the topology file's folder); make one with `tandem gateway --hash-key KEY` (see gateway/README.md)")
        }
        let routable = Set(modelNames + t.models.flatMap(\.aliases) + t.router.policies.keys)
        for (name, tenant) in t.gateway.tenants.sorted(by: { $0.key < $1.key }) {
            for (j, a) in tenant.allowedModels.enumerated() where a != "*" && !routable.contains(a) {
                sink.error(t.location("gateway.tenants.\(name).allowed_models[\(j)]"), "tenant '\(name)': allowed model '\(a)' is not a model, alias or policy in this file; allowed: *, \(routable.sorted().joined(separator: ", "))")
            }
        }
        // Router policies refer to models.
        for (name, p) in t.router.policies.sorted(by: { $0.key < $1.key }) {
            let base = "router.policies.\(name)"
            if !modelNames.contains(p.default) { sink.error(t.location("\(base).default"), "policy '\(name)': default '\(p.default)' is not a model; models: \(modelList)") }
            for (j, c) in (p.candidates ?? []).enumerated() where !modelNames.contains(c) {
                sink.error(t.location("\(base).candidates[\(j)]"), "policy '\(name)': candidate '\(c)' is not a model; models: \(modelList)")
            }
            for (j, r) in p.rules.enumerated() where !modelNames.contains(r.model) {
                sink.error(t.location("\(base).rules[\(j)].model"), "policy '\(name)' rule '\(r.name)': model '\(r.model)' is not a model; models: \(modelList)")
            }
        }
        if sink.hasErrors { throw TopologyError(diagnostics: sink.sorted) }
        return ResolvedTopology(topology: t, facts: facts, diagnostics: sink.sorted)
    }

    static func isLoopback(_ h: String) -> Bool { ["127.0.0.1", "localhost", "::1"].contains(h) }
    static func isWildcard(_ h: String) -> Bool { ["0.0.0.0", "::", "*"].contains(h) }
}

func mib(_ bytes: Int) -> String {
    let m = Double(bytes) / Double(1 << 20)
    return m >= 100 ? "\(Int(m.rounded())) MiB" : String(format: "%.1f MiB", m)
}
