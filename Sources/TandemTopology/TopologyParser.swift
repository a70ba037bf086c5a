import Foundation
import TandemCore
import TandemModel
import TandemEngineCore
import TandemGatewayConfig
import Yams

/// YAML text → `Topology`, with every structural problem reported at its place.
public enum TopologyParser {
    static let topKeys = ["version", "nodes", "transport", "models", "router", "gateway", "observability"]
    static let nodeKeys = ["name", "host", "address", "interface", "rdma", "cores", "memory_gib"]
    static let rdmaKeys = ["device", "port", "gid_index"]
    static let transportKeys = ["kind", "mode", "max_link_latency_us"]
    static let modelKeys = ["name", "aliases", "source"] + ServeSettings.settings.filter(\.modelLevel).map(\.key) + ["placement", "external", "reasoning", "defaults", "fallback",
                            "cost_per_token", "prices", "expected_latency_ms", "max_prompt_tokens", "default_max_tokens"]
    static let placementKeys = ["nodes", "port"] + ServeSettings.settings.filter { !$0.modelLevel }.map(\.key) + ["max_concurrent"]
    static let externalKeys = ["url", "upstream_model", "api_key_env"]
    static let reasoningKeys = ["tags", "token_floor", "floor_action"]
    static let tagKeys = ["open", "close"]
    // `router:` and the gateway's sections are the gateway's own types: their keys are those types' keys.
    static let gatewayKeys = ["node", "listen", "keys_file", "limits", "upstream", "health", "tenants", "allow_demo_keys", "usage_log"]
    static let observabilityKeys = ["log_level", "tracing"]

    static let big = 1...Int(Int32.max)

    /// Reads and parses `path`. Throws `TopologyError` with every problem found.
    public static func load(path: String) throws -> (Topology, [TopologyDiagnostic]) {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TopologyError(diagnostics: [TopologyDiagnostic(.error, SourceLocation(file: path, line: 1, column: 1),
                                                                 "cannot read the file (missing, unreadable or not UTF-8)")])
        }
        return try parse(text, file: path)
    }

    /// Parses `text` (named `file` in messages; relative paths resolve against its folder).
    public static func parse(_ text: String, file: String) throws -> (Topology, [TopologyDiagnostic]) {
        let sink = DiagnosticSink(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw TopologyError(diagnostics: [yamlDiagnostic(e, file: file)])
        }
        guard let root else {
            throw TopologyError(diagnostics: [TopologyDiagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "the file is empty; expected a mapping with keys \(topKeys.joined(separator: ", "))")])
        }
        let topology = read(root, sink: sink, file: file)
        if sink.hasErrors { throw TopologyError(diagnostics: sink.sorted) }
        return (topology!, sink.sorted)
    }

    static func yamlDiagnostic(_ e: YamlError, file: String) -> TopologyDiagnostic {
        switch e {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let c = context.map { "\($0.text) " } ?? ""
            return TopologyDiagnostic(.error, SourceLocation(file: file, line: mark.line, column: mark.column), "invalid YAML: \(c)\(problem)")
        default:
            return TopologyDiagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(e)")
        }
    }

    static func read(_ root: Node, sink: DiagnosticSink, file: String) -> Topology? {
        guard let top = MappingReader(root, path: "", sink: sink) else { return nil }
        top.allow(topKeys)
        if let v = top.int("version", in: 1...1) { _ = v }
        let dir = (absolute(file) as NSString).deletingLastPathComponent

        var nodes: [NodeSpec] = []
        for (i, n) in top.list("nodes", required: true) ?? [] {
            guard let m = MappingReader(n, path: "nodes[\(i)]", sink: sink) else { continue }
            m.allow(nodeKeys)
            let name = m.string("name", required: true)
            let host = m.string("host", required: true)
            var rdma: RDMASpec?
            if let r = m.mapping("rdma") {
                r.allow(rdmaKeys)
                let device = r.string("device", required: true)
                let port = r.int("port", in: 1...255) ?? 1
                let gid = r.int("gid_index", in: 0...255) ?? 0
                if let device { rdma = RDMASpec(device: device, port: port, gidIndex: gid) }
            }
            let cores = m.int("cores", in: 1...4096)
            let memory = m.double("memory_gib", min: 0.001)
            if let name, let host {
                nodes.append(NodeSpec(name: name, host: host, address: m.string("address") ?? host, interface: m.string("interface"),
                                      rdma: rdma, cores: cores, memoryGiB: memory))
            }
        }

        var transport = TransportSpec()
        if let t = top.mapping("transport") {
            t.allow(transportKeys)
            if let k = t.choice("kind", TransportKind.allCases.map(\.rawValue)) { transport.kind = TransportKind(rawValue: k)! }
            if let m = t.choice("mode", TransportMode.allCases.map(\.rawValue)) { transport.mode = TransportMode(rawValue: m)! }
            transport.maxLinkLatencyUs = t.double("max_link_latency_us", min: 0.001)
        }

        var models: [ModelSpec] = []
        for (i, n) in top.list("models", required: true) ?? [] {
            if let model = readModel(n, path: "models[\(i)]", sink: sink, dir: dir) { models.append(model) }
        }

        var router = RoutingConfiguration()
        if let node = top["router"], let r = MappingReader(node, path: "router", sink: sink) {
            r.allow(RoutingConfiguration.fieldNames)
            var keysKnown = true
            if let p = r.mapping("policies") {
                for e in p.entries {
                    guard let pm = MappingReader(e.value, path: p.fieldPath(e.key), sink: sink) else { keysKnown = false; continue }
                    pm.allow(RoutingPolicy.fieldNames)
                    for (j, rn) in pm.list("rules") ?? [] {
                        guard let rm = MappingReader(rn, path: "\(pm.path).rules[\(j)]", sink: sink) else { keysKnown = false; continue }
                        rm.allow(RoutingRule.fieldNames)
                        rm.mapping("when")?.allow(RuleCondition.fieldNames)
                    }
                }
            }
            if keysKnown, let decoded: RoutingConfiguration = r.decode(node) {
                for p in decoded.problems { sink.error(r.location(p.field), "\(r.fieldPath(p.field)): \(p.message)") }
                router = decoded
            }
        }

        var gateway = GatewaySpec(keysFile: "", keysFileAsWritten: "")
        if let g = top.mapping("gateway", required: true) {
            g.allow(gatewayKeys)
            gateway.node = g.string("node")
            gateway.allowDemoKeys = g.bool("allow_demo_keys") ?? false
            if let k = g.string("keys_file", required: true) {
                gateway.keysFileAsWritten = k
                gateway.keysFile = resolve(k, dir: dir)
            }
            if let u = g.string("usage_log") { gateway.usageLog = resolve(u, dir: dir) }
            if let v = g.section("listen", as: ListenConfiguration.self) { gateway.listen = v }
            if let v = g.section("limits", as: LimitsConfiguration.self) { gateway.limits = v }
            if let v = g.section("upstream", as: UpstreamConfiguration.self) { gateway.upstream = v }
            if let v = g.section("health", as: HealthConfiguration.self) { gateway.health = v }
            if let t = g.mapping("tenants") {
                for e in t.entries {
                    if let tenant = t.section(e.key, as: TenantConfiguration.self) { gateway.tenants[e.key] = tenant }
                }
            }
        }

        var observability = ObservabilitySpec()
        if let o = top.mapping("observability") {
            o.allow(observabilityKeys)
            if let l = o.choice("log_level", ObservabilitySpec.levels) { observability.logLevel = l }
            if let tr = o.section("tracing", as: TracingConfiguration.self) { observability.tracing = tr }
        }

        return Topology(file: file, nodes: nodes, transport: transport, models: models, router: router,
                        gateway: gateway, observability: observability, locations: sink.locations)
    }

    static func readModel(_ n: Node, path: String, sink: DiagnosticSink, dir: String) -> ModelSpec? {
        guard let m = MappingReader(n, path: path, sink: sink) else { return nil }
        m.allow(modelKeys)
        guard let name = m.string("name", required: true) else { return nil }
        var model = ModelSpec(name: name)
        model.aliases = m.strings("aliases")?.map(\.0) ?? []
        if let s = m.string("source") {
            model.source = s == "default" ? .default : .path(resolve(s, dir: dir))
        }
        if let p = m.mapping("placement") {
            p.allow(placementKeys)
            let nodes = p.strings("nodes")
            if p["nodes"] == nil { sink.error(p.at, "\(p.path): missing required key 'nodes' (one node name per tensor-parallel rank, e.g. [spark, dark])") }
            if let nodes, nodes.isEmpty { sink.error(p.location("nodes"), "\(p.fieldPath("nodes")): must name at least one node (one entry per tensor-parallel rank)") }
            let port = p.int("port", required: true, in: 1...65535)
            var placement = PlacementSpec(nodes: nodes?.map(\.0) ?? [], port: port ?? 0)
            placement.maxConcurrent = p.int("max_concurrent", in: 1...1 << 20)
            // One table of engine settings: most are the placement's keys, a few the model's own.
            for setting in ServeSettings.settings {
                let section = setting.modelLevel ? m : p
                guard let (text, at) = section.scalar(setting.key) else { continue }
                if let problem = placement.settings.set(setting, text) { sink.error(at, "\(section.fieldPath(setting.key)): \(problem)") }
            }
            model.placement = placement
        } else {
            for setting in ServeSettings.settings where setting.modelLevel && m[setting.key] != nil {
                sink.error(m.location(setting.key), "\(m.fieldPath(setting.key)): applies to models Tandem deploys ('placement'); an external upstream serves its own weights")
            }
        }
        if let e = m.mapping("external") {
            e.allow(externalKeys)
            if let url = e.string("url", required: true) {
                model.external = ExternalSpec(url: url, upstreamModel: e.string("upstream_model"), apiKeyEnv: e.string("api_key_env"))
            }
        }
        switch (m["placement"], m["external"]) {
        case (nil, nil): sink.error(m.at, "\(path) ('\(name)'): needs 'placement' (run it on nodes) or 'external' (an OpenAI-compatible URL)")
        case (.some, .some): sink.error(m.location("external"), "\(path) ('\(name)'): 'placement' and 'external' exclude each other; keep one")
        default: break
        }
        if let r = m.mapping("reasoning") {
            r.allow(reasoningKeys)
            var spec = ReasoningSpec()
            if let t = r.mapping("tags") {
                t.allow(tagKeys)
                if let o = t.string("open", required: true) { spec.openTag = o }
                if let c = t.string("close", required: true) { spec.closeTag = c }
            }
            spec.tokenFloor = r.int("token_floor", in: 1...big.upperBound)
            if let a = r.choice("floor_action", GatewayModelConfiguration.FloorAction.allCases.map(\.rawValue)),
               let action = GatewayModelConfiguration.FloorAction(rawValue: a) { spec.floorAction = action }
            model.reasoning = spec
        }
        if let d = m.mapping("defaults") {
            d.allow(SamplingDefaults.keys)
            var defaults = SamplingDefaults()
            defaults.temperature = d.double("temperature").map(Float.init)
            defaults.topP = d.double("top_p").map(Float.init)
            defaults.topK = d.int("top_k", in: -1...Int(Int32.max))
            defaults.minP = d.double("min_p").map(Float.init)
            defaults.repetitionPenalty = d.double("repetition_penalty").map(Float.init)
            for key in SamplingDefaults.keys {
                var alone = SamplingDefaults()
                switch key {
                case "temperature": alone.temperature = defaults.temperature
                case "top_p": alone.topP = defaults.topP
                case "top_k": alone.topK = defaults.topK
                case "min_p": alone.minP = defaults.minP
                default: alone.repetitionPenalty = defaults.repetitionPenalty
                }
                if let problem = alone.validationProblem() { sink.error(d.location(key), "\(d.fieldPath(key)): \(problem)") }
            }
            if m["external"] != nil {
                sink.error(m.location("defaults"), "\(path) ('\(name)'): 'defaults' applies to deployed models only; an external upstream applies its own")
            }
            model.samplingDefaults = defaults
        }
        model.fallback = m.string("fallback")
        model.costPerToken = m.double("cost_per_token", min: 0)
        model.prices = m.section("prices", as: TokenPrices.self)
        model.expectedLatencyMs = m.int("expected_latency_ms", in: 0...big.upperBound)
        model.maxPromptTokens = m.int("max_prompt_tokens", in: 1...big.upperBound)
        model.defaultMaxTokens = m.int("default_max_tokens", in: 1...big.upperBound)
        return model
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func resolve(_ path: String, dir: String) -> String {
        let p = path.hasPrefix("/") ? path : dir + "/" + path
        return (p as NSString).standardizingPath
    }
}
