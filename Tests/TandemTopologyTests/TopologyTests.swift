import Foundation
import Testing
import TandemCore
import TandemModel
import TandemGatewayConfig
@testable import TandemTopology

/// A model with SmolLM2's shape (3 KV heads) without loading a file.
struct FakeInspector: ModelInspector {
    var kvHeads = 3
    func inspect(path: String, ranks: Int, experts: ExpertParallelism) throws -> ModelFacts {
        // moe.gguf: a mixture of experts shaped like gpt-oss-120b (128 experts of 2880, 4 per
        // token, 36 layers, MXFP4: about 60 GiB).
        let moe = path.hasSuffix("moe.gguf")
        var c = ModelConfiguration(dim: 576, hiddenDim: 1536, layerCount: 30, headCount: 9, kvHeadCount: kvHeads,
                                   vocabSize: 49152, contextLength: 8192, tiedEmbeddings: true)
        if moe {
            c = ModelConfiguration(dim: 2880, hiddenDim: 2880, layerCount: 36, headCount: 64, kvHeadCount: 8,
                                   vocabSize: 201088, contextLength: 131072, tiedEmbeddings: false)
            c.experts = ExpertConfiguration(count: 128, perToken: 4, hiddenDim: 2880, normalizeWeights: true)
        }
        var f = ModelFacts(path: path, configuration: c, formatDescription: "fake")
        do { f.plan = try ShardingPlan.make(c, ranks: ranks, alignment: 32, bytesPerElement: moe ? 0.53 : 0.625, experts: experts) } catch let e as ShardingError {
            f.shardingProblem = e.message
        }
        return f
    }
}

/// A folder with a model file and a keys file, and topology text written there.
final class Fixture {
    let dir: String
    init() throws {
        dir = NSTemporaryDirectory() + "tandem-topology-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/model.gguf", contents: Data([0]))
        _ = FileManager.default.createFile(atPath: dir + "/moe.gguf", contents: Data([0]))
        try #"{"keys": []}"#.write(toFile: dir + "/keys.json", atomically: true, encoding: .utf8)
    }
    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func check(_ yaml: String, name: String = "t.yaml", kvHeads: Int = 3) -> Result<ResolvedTopology, TopologyError> {
        let path = dir + "/" + name
        try! yaml.write(toFile: path, atomically: true, encoding: .utf8)
        do { return .success(try TopologyValidator.load(path: path, inspector: FakeInspector(kvHeads: kvHeads))) }
        catch let e as TopologyError { return .failure(e) }
        catch { fatalError("\(error)") }
    }

    func errors(_ yaml: String) -> [TopologyDiagnostic] {
        switch check(yaml) {
        case .success: return []
        case .failure(let e): return e.errors
        }
    }
}

let valid = """
version: 1
nodes:
  - name: spark
    host: spark
    address: 10.77.0.1
    cores: 4
    memory_gib: 16
  - name: dark
    host: dark
    cores: 4
    memory_gib: 16
models:
  - name: small
    aliases: [fast]
    source: model.gguf
    placement:
      nodes: [spark]
      port: 8101
      kv_mib: 64
  - name: big
    source: model.gguf
    placement:
      nodes: [spark, dark]
      port: 8102
      kv_mib: 128
    reasoning: {token_floor: 256, floor_action: reject}
    fallback: small
router:
  policies:
    auto:
      candidates: [small, big]
      rules:
        - {name: hard, when: {keywords: [prove]}, model: big}
      default: small
gateway:
  node: spark
  listen: {host: 127.0.0.1, port: 8080}
  keys_file: keys.json
  tenants:
    demo: {allowed_models: ["*"]}
    trial: {requests_per_minute: 5, allowed_models: [fast, auto]}
"""

/// `valid` with one line replaced.
func edit(_ old: String, _ new: String) -> String {
    precondition(valid.contains(old), old)
    return valid.replacingOccurrences(of: old, with: new)
}

/// The line where `needle` (which may span lines) starts in `text`.
func lineOf(_ text: String, _ needle: String) -> Int {
    guard let r = text.range(of: needle) else { return 0 }
    return text[..<r.lowerBound].filter { $0 == "\n" }.count + 1
}

@Suite struct ValidationTests {
    @Test func validFileChecks() throws {
        let f = try Fixture()
        guard case .success(let r) = f.check(valid) else { Issue.record("expected valid: \(f.check(valid))"); return }
        #expect(r.topology.models.map(\.name) == ["small", "big"])
        #expect(r.topology.models[1].placement?.tensorParallel == 2)
        #expect(r.diagnostics.isEmpty)
    }

    func expectError(_ yaml: String, line needle: String, contains parts: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let f = try Fixture()
        let errs = f.errors(yaml)
        let line = lineOf(yaml, needle)
        let hit = errs.first { e in e.location.line == line && parts.allSatisfy { e.message.contains($0) } }
        #expect(hit != nil, "no error at line \(line) containing \(parts); got:\n\(errs.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
        if let hit {
            #expect(hit.description.hasPrefix("\(f.dir)/t.yaml:\(line):"), sourceLocation: sourceLocation)
            #expect(hit.description.contains(": error: "), sourceLocation: sourceLocation)
        }
    }

    @Test func unknownKey() throws {
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      colour: red"), line: "colour",
                        contains: ["unknown key 'colour'", "models[0].placement", "allowed: nodes, port, kv_mib"])
        try expectError(edit("version: 1", "version: 1\nextra: true"), line: "extra", contains: ["unknown key 'extra'", "top level"])
    }

    @Test func wrongTypes() throws {
        try expectError(edit("      port: 8101", "      port: eighty"), line: "eighty", contains: ["port", "expected an integer", "the string 'eighty'"])
        try expectError(edit("    cores: 4\n    memory_gib: 16\n  - name: dark", "    cores: [4]\n    memory_gib: 16\n  - name: dark"),
                        line: "cores: [4]", contains: ["nodes[0].cores", "expected an integer", "a list"])
        try expectError(edit("    aliases: [fast]", "    aliases: fast"), line: "aliases: fast", contains: ["expected a list of strings"])
        try expectError(edit("      port: 8101", "      port: 70000"), line: "70000", contains: ["out of range", "1...65535"])
    }

    @Test func badServeSettings() throws {
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      eviction: fifo"), line: "fifo",
                        contains: ["'fifo' is not allowed", "prefix-aware, lru"])
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      kv_dtype: fp16"), line: "fp16",
                        contains: ["models[0].placement.kv_dtype", "'fp16' is not allowed", "f32, fp8"])
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      prefix_cache: maybe"), line: "maybe",
                        contains: ["prefix_cache", "expected true or false"])
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      max_batched_tokens: 0"), line: "max_batched_tokens: 0",
                        contains: ["out of range"])
        try expectError(edit("models:\n", "transport: {max_link_latency_us: fast}\nmodels:\n"), line: "max_link_latency_us: fast",
                        contains: ["transport.max_link_latency_us", "expected a number"])
    }

    @Test func badChoice() throws {
        try expectError(edit("    source: model.gguf\n    placement:\n      nodes: [spark]", "    source: model.gguf\n    weights: int3\n    placement:\n      nodes: [spark]"),
                        line: "int3", contains: ["'int3' is not allowed", "native, f32, fp8, nvfp4, mxfp4"])
    }

    @Test("weights: a key of the model, through the serve-settings table; not for an external upstream, not in a placement")
    func weightsAreAModelLevelServeSetting() throws {
        let f = try Fixture()
        let yaml = edit("    source: model.gguf\n    placement:\n      nodes: [spark]", "    source: model.gguf\n    weights: fp8\n    placement:\n      nodes: [spark]")
        guard case .success(let r) = f.check(yaml) else { Issue.record("expected valid: \(f.check(yaml))"); return }
        #expect(r.topology.models[0].placement?.settings.weights == .fp8)
        #expect(r.topology.models[1].placement?.settings.weights == .native)
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      weights: fp8"), line: "weights: fp8",
                        contains: ["unknown key 'weights'", "models[0].placement"])
        let external = edit("    source: model.gguf\n    placement:\n      nodes: [spark]\n      port: 8101\n      kv_mib: 64",
                            "    weights: fp8\n    external: {url: \"http://10.0.0.9:9000\"}")
        try expectError(external, line: "weights: fp8", contains: ["models[0].weights", "external upstream"])
    }

    @Test func missingRequiredKey() throws {
        try expectError(edit("  keys_file: keys.json\n", ""), line: "  node: spark", contains: ["gateway: missing required key 'keys_file'"])
    }

    @Test func undefinedNode() throws {
        try expectError(edit("      nodes: [spark, dark]", "      nodes: [spark, moon]"), line: "[spark, moon]",
                        contains: ["placed on node 'moon'", "not defined", "nodes: spark, dark"])
        try expectError(edit("  node: spark", "  node: pluto"), line: "node: pluto", contains: ["gateway", "'pluto'"])
    }

    @Test func duplicatePorts() throws {
        try expectError(edit("      port: 8102", "      port: 8101"), line: "port: 8101\n      kv_mib: 128",
                        contains: ["port 8101 on spark is already used by model 'small'"])
        try expectError(edit("port: 8080", "port: 8101"), line: "port: 8101}", contains: ["port 8101", "model 'small'"])
    }

    @Test func tensorParallelLargerThanKVHeads() throws {
        try expectError(edit("      nodes: [spark, dark]", "      nodes: [spark, dark, spark, dark]"), line: "[spark, dark, spark, dark]",
                        contains: ["tensor-parallel size 4", "3 KV heads", "allowed: 1...3"])
    }

    @Test func memoryBudget() throws {
        try expectError(edit("      kv_mib: 128", "      kv_mib: 20000"), line: "memory_gib: 16\n  - name: dark",
                        contains: ["node 'spark'", "memory_gib allows 16384 MiB", "20000 MiB KV"])
    }

    /// A 60 GiB mixture of experts does not fit one 40 GiB node; split over two, whole experts
    /// per node or every expert column-split, it does (with the numbers when it does not).
    @Test func mixtureOfExpertsMemory() throws {
        let f = try Fixture()
        func moe(_ nodes: String, _ parallel: String) -> String {
            edit("    source: model.gguf\n    placement:\n      nodes: [spark, dark]\n      port: 8102\n      kv_mib: 128",
                 "    source: moe.gguf\n    placement:\n      nodes: \(nodes)\n      port: 8102\n      kv_mib: 128\n      parallel: \(parallel)")
                .replacingOccurrences(of: "memory_gib: 16", with: "memory_gib: 40")
        }
        guard case .failure(let one) = f.check(moe("[spark]", "tensor")) else { Issue.record("one 40 GiB node accepted 60 GiB"); return }
        #expect(one.errors.contains { $0.message.contains("node 'spark'") && $0.message.contains("memory_gib allows 40960 MiB") && $0.message.contains("big rank 0") },
                "\(one.errors)")
        for parallel in ["expert", "tensor"] {
            guard case .success(let r) = f.check(moe("[spark, dark]", parallel)) else {
                Issue.record("\(parallel): \(f.check(moe("[spark, dark]", parallel)))"); continue
            }
            #expect(r.topology.models[1].placement?.settings.expertParallelism.rawValue == parallel)
        }
        let bad = f.errors(moe("[spark, dark]", "tensor+expert"))
        #expect(bad.contains { $0.message.contains("tensor+expert") && $0.message.contains("expert") }, "\(bad)")
    }

    @Test func missingFiles() throws {
        try expectError(edit("    source: model.gguf\n    placement:\n      nodes: [spark]", "    source: nope.gguf\n    placement:\n      nodes: [spark]"),
                        line: "nope.gguf", contains: ["nope.gguf does not exist"])
        try expectError(edit("keys_file: keys.json", "keys_file: gone.json"), line: "gone.json", contains: ["gone.json does not exist"])
    }

    @Test func namesThatReferToNothing() throws {
        try expectError(edit("    fallback: small", "    fallback: tiny"), line: "fallback: tiny", contains: ["fallback 'tiny'", "models: small, big"])
        try expectError(edit("allowed_models: [fast, auto]", "allowed_models: [fast, huge]"), line: "[fast, huge]", contains: ["'huge'", "allowed: *"])
        try expectError(edit("      default: small", "      default: medium"), line: "default: medium", contains: ["default 'medium'"])
        try expectError(edit("    aliases: [fast]", "    aliases: [big]"), line: "- name: big", contains: ["model name 'big' is already used"])
        try expectError(edit("    aliases: [fast]", "    aliases: [fast, small]"), line: "[fast, small]", contains: ["alias 'small' is already used"])
    }

    @Test func duplicateKeyAndYAMLSyntax() throws {
        try expectError(edit("      kv_mib: 64", "      kv_mib: 64\n      kv_mib: 65"), line: "kv_mib: 65", contains: ["duplicate key"])
        let f = try Fixture()
        let errs = f.errors("nodes:\n  - name: [unclosed\n")
        #expect(errs.count == 1)
        #expect(errs.first?.message.hasPrefix("invalid YAML") == true)
        #expect((errs.first?.location.line ?? 0) >= 2)
    }

    @Test func everyErrorIsReported() throws {
        let f = try Fixture()
        // Structural errors are all reported (semantic checks run once the structure is sound).
        let yaml = edit("      port: 8101", "      port: x\n      colour: red").replacingOccurrences(of: "cores: 4\n    memory_gib: 16\n  - name: dark", with: "cores: four\n    memory_gib: 16\n  - name: dark")
        #expect(f.errors(yaml).count == 3)
        let semantic = edit("[spark, dark]", "[spark, mars]").replacingOccurrences(of: "    fallback: small", with: "    fallback: ghost")
        #expect(f.errors(semantic).count == 2)
    }

    @Test func coresWarning() throws {
        let f = try Fixture()
        guard case .success(let r) = f.check(edit("    cores: 4\n    memory_gib: 16\n  - name: dark", "    cores: 1\n    memory_gib: 16\n  - name: dark")) else {
            Issue.record("expected valid"); return
        }
        #expect(r.diagnostics.contains { $0.severity == .warning && $0.message.contains("2 ranks on 1 cores") })
    }
}

@Suite struct OutputTests {
    func resolved(_ yaml: String = valid) throws -> (Fixture, ResolvedTopology) {
        let f = try Fixture()
        guard case .success(let r) = f.check(yaml) else { throw TopologyError(diagnostics: []) }
        return (f, r)
    }

    @Test func hostfile() throws {
        let (_, r) = try resolved()
        #expect(LaunchPlanner.hostfile(r.topology, model: "big") == "spark slots=1\ndark slots=1\n")
        #expect(LaunchPlanner.hostfile(r.topology, model: "small") == "spark slots=1\n")
        #expect(LaunchPlanner.hostfile(r.topology, model: "nope") == nil)
        let (_, r2) = try resolved(edit("[spark, dark]", "[spark, spark, dark]"))
        #expect(LaunchPlanner.hostfile(r2.topology, model: "big") == "spark slots=2\ndark slots=1\n")
    }

    @Test func nodeLines() throws {
        let (_, r) = try resolved()
        // dark has no address of its own (the host is the data plane) and no interface.
        #expect(TopologyReport.nodeLines(r.topology) == "spark spark 10.77.0.1 -\ndark dark dark -\n")
        let (_, r2) = try resolved(edit("address: 10.77.0.1", "address: 10.77.0.1\n    interface: tandem0"))
        #expect(TopologyReport.nodeLines(r2.topology).hasPrefix("spark spark 10.77.0.1 tandem0\n"))
    }

    @Test func show() throws {
        let (f, r) = try resolved()
        let s = TopologyReport.show(r)
        #expect(s.contains("spark: host spark, data plane 10.77.0.1, 4 cores, 16 GiB"))
        #expect(s.contains("TP=2 on spark, dark; coordinator http://spark:8102 (rank 0 on spark)"))
        #expect(s.contains("rank 0 on spark (spark): kv heads 0..<2, query heads 0..<6"))
        #expect(s.contains("rank 1 on dark (dark): kv heads 2..<3, query heads 6..<9"))
        #expect(s.contains("spark: 2 ranks"))
        #expect(s.contains("dark: 1 rank,"))
        #expect(s.contains("\(f.dir)/model.gguf"))
        #expect(s.contains("fallback small"))
    }

    @Test func gatewayConfig() throws {
        let (f, r) = try resolved()
        let json = GatewayConfigGenerator.json(r)
        let o = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        #expect((o["listen"] as? [String: Any])?["port"] as? Int == 8080)
        #expect(o["keys_file"] as? String == f.dir + "/keys.json")
        let models = o["models"] as! [[String: Any]]
        #expect(models.map { $0["name"] as! String } == ["small", "big"])
        let deps = models[1]["deployments"] as! [[String: Any]]
        // Rank 0 of big runs on the gateway's node: its coordinator is reached on loopback.
        #expect(deps.first?["url"] as? String == "http://127.0.0.1:8102")
        #expect(deps.first?["kind"] as? String == "coordinator")
        #expect(models[1]["reasoning"] as? Bool == true)
        #expect(models[1]["reasoning_floor_action"] as? String == "reject")
        #expect(models[1]["fallback"] as? String == "small")
        let tenants = o["tenants"] as! [String: Any]
        #expect((tenants["trial"] as? [String: Any])?["requests_per_minute"] as? Int == 5)
        let policy = ((o["routing"] as! [String: Any])["policies"] as! [String: Any])["auto"] as! [String: Any]
        #expect(policy["default"] as? String == "small")
    }

    @Test func launchPlan() throws {
        let (_, r) = try resolved(edit("    host: spark\n", "    host: 127.0.0.1\n"))
        let plan = LaunchPlanner.make(r, options: LaunchOptions(tandemBin: "/bin/tandem", runDir: "/run/x", localNodes: ["spark"]))
        let small = plan.deployments[0], big = plan.deployments[1]
        #expect(small.argv.prefix(2) == ["/bin/tandem", "serve"])
        #expect(small.argv.contains("--kv-mib") && small.argv.contains("64"))
        #expect(small.url == "http://127.0.0.1:8101")
        #expect(big.remote)
        #expect(big.argv.first == "mpirun")
        #expect(big.argv.contains("/run/x/hostfile-big"))
        #expect(big.hostfile?.contents == "127.0.0.1 slots=1\ndark slots=1\n")
        #expect(plan.gatewayArgv == ["/bin/tandem", "gateway", "--config", "/run/x/gateway.json", "--log-level", "info"])
        let (_, local) = try resolved(edit("[spark, dark]", "[spark, spark]").replacingOccurrences(of: "    host: spark\n", with: "    host: 127.0.0.1\n"))
        let lp = LaunchPlanner.make(local, options: LaunchOptions(tandemBin: "t", runDir: "/r", localNodes: ["spark"]))
        #expect(Array(lp.deployments[1].argv.prefix(LaunchPlanner.localMPIRun.count + 2)) == LaunchPlanner.localMPIRun + ["-np", "2"])
        #expect(lp.deployments[1].hostfile == nil)
    }

    @Test("launch plan: weights, engine limits, cache policy, reasoning tags, transport and the link bound reach serve")
    func launchPlanPassesServeSettings() throws {
        let yaml = edit("    host: spark\n", "    host: 127.0.0.1\n")
            .replacingOccurrences(of: "      kv_mib: 128\n", with: "      kv_mib: 128\n      kv_dtype: fp8\n      max_batched_tokens: 1024\n      max_waiting: 32\n"
                                  + "      prefix_cache: false\n      eviction: lru\n      block_size: 32\n")
            .replacingOccurrences(of: "    reasoning: {token_floor: 256, floor_action: reject}",
                                  with: "    weights: nvfp4\n    reasoning: {tags: {open: \"<r>\", close: \"</r>\"}, token_floor: 256, floor_action: reject}")
            .replacingOccurrences(of: "models:\n", with: "transport: {kind: rdma, mode: required, max_link_latency_us: 75}\nmodels:\n")
            .replacingOccurrences(of: "    host: dark\n", with: "    host: dark\n    rdma: {device: mlx5_0}\n")
            .replacingOccurrences(of: "    address: 10.77.0.1\n", with: "    address: 10.77.0.1\n    rdma: {device: mlx5_0}\n")
        let (_, r) = try resolved(yaml)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics)")
        let p = try #require(r.topology.models[1].placement)
        let e = p.settings
        #expect(e.maxBatchedTokens == 1024 && e.maxWaiting == 32 && e.prefixCache == false && e.eviction == .lru && e.blockSize == 32)
        #expect(e.kvDType == .fp8 && r.topology.models[0].placement?.settings.kvDType == .f32)
        #expect(r.topology.transport.maxLinkLatencyUs == 75)
        let plan = LaunchPlanner.make(r, options: LaunchOptions(tandemBin: "/bin/tandem", runDir: "/run/x", localNodes: ["spark"]))
        let small = plan.deployments[0].argv, big = plan.deployments[1].argv
        func value(_ argv: [String], _ flag: String) -> String? { argv.firstIndex(of: flag).map { argv[$0 + 1] } }
        #expect(value(big, "--weights") == "nvfp4")
        #expect(value(big, "--max-batched-tokens") == "1024")
        #expect(value(big, "--max-waiting") == "32")
        #expect(value(big, "--prefix-cache") == "off")
        #expect(value(big, "--eviction") == "lru")
        #expect(value(big, "--block-size") == "32")
        #expect(value(big, "--kv-mib") == "128")
        #expect(value(big, "--kv-dtype") == "fp8")
        #expect(value(big, "--max-running") == "32")
        #expect(value(big, "--reasoning-open") == "<r>" && value(big, "--reasoning-close") == "</r>")
        #expect(value(big, "--transport") == "rdma")
        #expect(value(big, "--rdma-address") == "10.77.0.1")
        #expect(value(big, "--max-link-latency-us") == "75.0")
        // TP=1 has no link: no transport flags; engine settings the topology leaves out are
        // passed with serve's defaults (one type declares both).
        #expect(value(small, "--weights") == "native")
        #expect(value(small, "--kv-dtype") == "f32")
        #expect(value(small, "--transport") == nil && value(small, "--max-link-latency-us") == nil)
        #expect(value(small, "--prefix-cache") == "on" && value(small, "--eviction") == "prefix-aware" && value(small, "--reasoning-open") == nil)
        // preferred RDMA asks serve for auto; MPI for mpi.
        let (_, pref) = try resolved(yaml.replacingOccurrences(of: "mode: required", with: "mode: preferred"))
        #expect(value(LaunchPlanner.make(pref, options: LaunchOptions(tandemBin: "t", runDir: "/r", localNodes: ["spark"])).deployments[1].argv, "--transport") == "auto")
        let (_, mpi) = try resolved()
        let mpiBig = LaunchPlanner.make(mpi, options: LaunchOptions(tandemBin: "t", runDir: "/r", localNodes: ["spark"])).deployments[1].argv
        #expect(value(mpiBig, "--transport") == "mpi" && value(mpiBig, "--rdma-address") == nil)
        let shown = TopologyReport.show(r)
        #expect(shown.contains("max batched tokens 1024, max waiting 32, prefix cache off, eviction lru"))
        #expect(shown.contains("kv 128 MiB per rank (fp8), block 32"))
        #expect(shown.contains("transport: rdma (required), max link latency 75.0 µs"))
    }

    @Test func diff() throws {
        let f = try Fixture()
        func resolved(_ yaml: String = valid) throws -> (Fixture, ResolvedTopology) {
            guard case .success(let r) = f.check(yaml, name: "\(UUID().uuidString).yaml") else { throw TopologyError(diagnostics: []) }
            return (f, r)
        }
        let (_, a) = try resolved()
        let (_, b) = try resolved(edit("      kv_mib: 128", "      kv_mib: 256").replacingOccurrences(of: "requests_per_minute: 5", with: "requests_per_minute: 9"))
        let d = TopologyReport.diff(a.topology, b.topology)
        #expect(d.contains("~ models.big.placement.kv_mib: 128 -> 256"))
        #expect(d.contains("~ gateway.tenants.trial: rpm 5 -> ") || d.contains("~ gateway.tenants.trial: rpm 5,"))
        #expect(d.contains("restart model 'big'"))
        #expect(!d.contains("restart model 'small'"))
        #expect(d.contains("reload it (SIGHUP)"))
        #expect(TopologyReport.diff(a.topology, a.topology) == "no changes\n")
        let (_, c) = try resolved(edit("port: 8080", "port: 9090"))
        #expect(TopologyReport.diff(a.topology, c.topology).contains("restart the gateway"))
        // The same as steps `tandem up` applies on SIGHUP.
        let steps = TopologyReport.changes(a.topology, b.topology)
        #expect(steps.restart == ["big"] && steps.start.isEmpty && steps.stop.isEmpty && steps.gateway == .reload && !steps.logLevel)
        #expect(TopologyReport.changes(a.topology, a.topology).isEmpty)
        #expect(TopologyReport.changes(a.topology, c.topology).gateway == .restart)
        let (_, tenantOnly) = try resolved(edit("requests_per_minute: 5", "requests_per_minute: 9"))
        let t = TopologyReport.changes(a.topology, tenantOnly.topology)
        #expect(t.restart.isEmpty && t.gateway == .reload, "a tenant's limit only reloads the gateway")
    }

    @Test("observability.tracing reaches every coordinator's flags and the gateway's config; a change restarts everything")
    func tracingSettings() throws {
        let f = try Fixture()
        let traced = valid + "\nobservability:\n  tracing: {otlp_endpoint: \"http://10.0.0.9:4318\", sample_ratio: 0.5}\n"
        guard case .success(let r) = f.check(traced, name: "traced.yaml"), case .success(let plain) = f.check(valid, name: "plain.yaml") else {
            Issue.record("expected valid: \(f.errors(traced))")
            return
        }
        #expect(r.topology.observability.tracing == TracingConfiguration(otlpEndpoint: "http://10.0.0.9:4318", sampleRatio: 0.5))
        let plan = LaunchPlanner.make(r, options: LaunchOptions(tandemBin: "/bin/tandem", runDir: "/run/x", localNodes: ["spark"]))
        for d in plan.deployments {
            let i = try #require(d.argv.firstIndex(of: "--otlp-endpoint"))
            #expect(Array(d.argv[i...(i + 3)]) == ["--otlp-endpoint", "http://10.0.0.9:4318", "--trace-sample-ratio", "0.5"])
        }
        #expect(GatewayConfigGenerator.configuration(r).tracing?.otlpEndpoint == "http://10.0.0.9:4318")
        #expect(!LaunchPlanner.make(plain, options: LaunchOptions(tandemBin: "t", runDir: "/r", localNodes: ["spark"])).deployments[0].argv.contains("--otlp-endpoint"))
        let c = TopologyReport.changes(plain.topology, r.topology)
        #expect(c.tracing && c.restart.isEmpty && c.gateway == .unchanged && c.actions == ["restart everything to change tracing"])
        let errs = f.errors(valid + "\nobservability:\n  tracing: {otlp_endpoint: \"10.0.0.9:4318\", sample_ratio: 2}\n")
        #expect(errs.contains { $0.message.contains("otlp_endpoint") } && errs.contains { $0.message.contains("sample_ratio") }, "\(errs)")
    }

    @Test func shellQuoting() {
        #expect(shellQuote(["a", "b c", "it's", "--x=1"]) == "a 'b c' 'it'\\''s' --x=1")
    }

    @Test func repositoryTopologiesParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        for name in ["local.yaml", "two-node.yaml"] {
            let (t, _) = try TopologyParser.load(path: root + "/topology/" + name)
            #expect(!t.models.isEmpty)
        }
        let (local, _) = try TopologyParser.load(path: root + "/topology/local.yaml")
        #expect(local.models[0].placement?.nodes == ["local", "local"])
        #expect(local.gateway.port == 8080 && local.gateway.host == "127.0.0.1")
        let (two, _) = try TopologyParser.load(path: root + "/topology/two-node.yaml")
        #expect(two.models.map { $0.placement?.nodes ?? [] } == [["spark"], ["spark", "dark"]])
        #expect(two.gateway.node == "spark")
    }
}

/// The topology's `router:` and gateway sections are the gateway's own configuration types: the
/// keys, the range checks and the defaults come from `TandemGatewayConfig`, and what
/// `topology gateway-config` writes is what the gateway decodes.
@Suite struct GatewaySectionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("the generated gateway configuration decodes as the gateway's type, equal to what the topology holds")
    func generatedConfigurationRoundTrips() throws {
        let f = try Fixture()
        let yaml = edit("router:\n", "router:\n  max_load_imbalance: 3\n")
            .replacingOccurrences(of: "  keys_file: keys.json\n", with: "  keys_file: keys.json\n  upstream: {read_timeout_ms: 5000, pool_max_connections: 16}\n  usage_log: usage.jsonl\n")
            .replacingOccurrences(of: "    fallback: small\n", with: "    fallback: small\n    prices: {input_per_million: 0.5, output_per_million: 2}\n")
        guard case .success(let r) = f.check(yaml) else { Issue.record("expected valid: \(f.check(yaml))"); return }
        let json = GatewayConfigGenerator.json(r)
        let decoded = try JSONDecoder().decode(GatewayConfiguration.self, from: Data(json.utf8))
        #expect(decoded == GatewayConfigGenerator.configuration(r))
        #expect(decoded.upstream.poolMaxConnections == 16 && decoded.upstream.readTimeoutMs == 5000)
        #expect(decoded.upstream.connectTimeoutMs == UpstreamConfiguration().connectTimeoutMs)
        #expect(decoded.routing.maxLoadImbalance == 3)
        #expect(decoded.routing.policies["auto"]?.rules.first?.when.keywords == ["prove"])
        #expect(decoded.tenants["trial"]?.requestsPerMinute == 5 && decoded.tenants["trial"]?.allowedModels == ["fast", "auto"])
        #expect(decoded.models.map(\.name) == ["small", "big"])
        #expect(decoded.models[1].reasoning && decoded.models[1].reasoningTokenFloor == 256 && decoded.models[1].reasoningFloorAction == .reject)
        #expect(decoded.models[1].prices == TokenPrices(inputPerMillion: 0.5, outputPerMillion: 2))
        #expect(decoded.usageLog == f.dir + "/usage.jsonl")
    }

    func expectError(_ yaml: String, line needle: String, contains parts: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let f = try Fixture()
        let errs = f.errors(yaml)
        let line = lineOf(yaml, needle)
        #expect(errs.contains { e in e.location.line == line && parts.allSatisfy { e.message.contains($0) } },
                "no error at line \(line) containing \(parts); got:\n\(errs.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    @Test("values the gateway would refuse are refused at their line, with the gateway's own checks")
    func gatewayChecksAtTheirLine() throws {
        // The gateway reads max_load_imbalance as an integer: 2.5 would make a configuration it cannot load.
        try expectError(edit("router:\n", "router:\n  max_load_imbalance: 2.5\n"), line: "max_load_imbalance",
                        contains: ["router.max_load_imbalance", "expected an integer"])
        try expectError(edit("  keys_file: keys.json\n", "  keys_file: keys.json\n  limits: {max_body_bytes: 0}\n"), line: "limits:",
                        contains: ["gateway.limits.max_body_bytes", "must be positive"])
        try expectError(edit("  keys_file: keys.json\n", "  keys_file: keys.json\n  health: {failure_threshold: 0}\n"), line: "health:",
                        contains: ["gateway.health.failure_threshold", "must be >= 1"])
        try expectError(edit("  keys_file: keys.json\n", "  keys_file: keys.json\n  upstream:\n    colour: red\n"), line: "colour",
                        contains: ["unknown key 'colour'", "gateway.upstream", "pool_max_connections"])
        try expectError(edit("requests_per_minute: 5", "requests_per_minute: many"), line: "many",
                        contains: ["gateway.tenants.trial.requests_per_minute", "expected an integer"])
        try expectError(edit("requests_per_minute: 5", "requests_per_minute: -5"), line: "-5",
                        contains: ["gateway.tenants.trial.requests_per_minute", "must be positive"])
        try expectError(edit("        - {name: hard, when: {keywords: [prove]}, model: big}", "        - {name: hard, model: big}"), line: "name: hard",
                        contains: ["router.policies.auto.rules[0]", "missing required key 'when'"])
        try expectError(edit("when: {keywords: [prove]}", "when: {keyword: [prove]}"), line: "keyword:",
                        contains: ["unknown key 'keyword'", "min_prompt_tokens"])
        try expectError(edit("    fallback: small\n", "    fallback: small\n    prices: {input_per_million: -1, output_per_million: 2}\n"),
                        line: "prices:", contains: ["models[1].prices.input_per_million", "must be a number >= 0"])
    }

    @Test("topology/schema.json lists exactly the gateway types' keys for the sections that are those types")
    func schemaMatchesTheGatewayTypes() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.root + "/topology/schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        func object(_ o: Any?, _ key: String) -> [String: Any] { (o as? [String: Any])?[key] as? [String: Any] ?? [:] }
        func keys(_ o: Any?) -> Set<String> { Set(object(o, "properties").keys) }
        let top = object(schema, "properties")
        let gateway = object(top["gateway"], "properties")
        #expect(keys(gateway["listen"]) == Set(ListenConfiguration.fieldNames))
        #expect(keys(gateway["limits"]) == Set(LimitsConfiguration.fieldNames))
        #expect(keys(gateway["upstream"]) == Set(UpstreamConfiguration.fieldNames))
        #expect(keys(gateway["health"]) == Set(HealthConfiguration.fieldNames))
        #expect(keys(object(gateway["tenants"], "additionalProperties")) == Set(TenantConfiguration.fieldNames))
        #expect(keys(top["router"]) == Set(RoutingConfiguration.fieldNames))
        #expect(keys(object(object(top["models"], "items")["properties"], "prices")) == Set(TokenPrices.fieldNames))
        let policy = object(object(top["router"], "properties")["policies"], "additionalProperties")
        #expect(keys(policy) == Set(RoutingPolicy.fieldNames))
        let rule = object(object(policy, "properties")["rules"], "items")
        #expect(keys(rule) == Set(RoutingRule.fieldNames))
        #expect(keys(object(rule, "properties")["when"]) == Set(RuleCondition.fieldNames))
        #expect((object(top["router"], "properties")["max_load_imbalance"] as? [String: Any])?["type"] as? String == "integer")
    }
}
