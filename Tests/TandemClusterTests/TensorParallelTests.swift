import Foundation
import Testing
import TandemCore
import TandemEngine
import TandemEngineCore
import TandemModel
import TandemTransport
@testable import TandemCluster
import TandemTestSupport

/// Tensor parallelism with ranks as threads (`InProcessCommunicator`): the same step plans, the
/// same protobuf messages and the same collectives as across processes.
@Suite("tensor parallel in one process")
struct TensorParallelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let storiesPath = (ProcessInfo.processInfo.environment["TANDEM_STORIES260K_DIR"] ?? root + "/../shared/models/stories260K") + "/stories260K.bin"
    static let smolPath = ProcessInfo.processInfo.environment["TANDEM_SMOLLM2_PATH"] ?? root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"

    static func greedyTP(_ model: LoadedModel, ranks: Int, prompt: [TokenID], count: Int, kvDType: KVCacheDType = .f32,
                         experts: ExpertParallelism = .tensor,
                         speculation: SpeculationConfiguration = SpeculationConfiguration(),
                         statistics: ((EngineStats) -> Void)? = nil) async throws -> [TokenID] {
        let comms = InProcessCommunicator.group(size: ranks)
        let cluster = try comms.map {
            try ClusterRank(model: model, communicator: $0, blockCount: 64, blockSize: 16, kvDType: kvDType, experts: experts,
                            host: "rank\($0.rank)")
        }
        let workers = cluster.dropFirst().map { rank in
            Thread.detachNewThreadWithResult {
                _ = try rank.handshake()
                try rank.serveWorker()
            }
        }
        _ = try cluster[0].handshake()
        let engine = try Engine(model: model, executor: cluster[0].coordinatorExecutor(),
                                configuration: EngineConfiguration(scheduler: SchedulerConfiguration(maxModelLength: 512), seed: 1,
                                                                   speculation: speculation))
        engine.start()
        let r = try await engine.generate(EngineRequest(id: "tp", promptTokens: prompt, maxTokens: count, ignoreEndOfSequence: true))
        statistics?(engine.statistics)
        engine.shutdown()
        try cluster[0].shutdownWorkers(reason: "test done")
        for w in workers { try w.wait() }
        return r.tokens
    }

    static func greedyReference(_ model: LoadedModel, prompt: [TokenID], count: Int) throws -> [TokenID] {
        let s = LlamaSession(model: model.model)
        var logits = try s.prefill(prompt)
        var out: [TokenID] = []
        for _ in 0..<count {
            let next = TokenID(logits.indices.max { logits[$0] < logits[$1] }!)
            out.append(next)
            logits = try s.prefill([next])
        }
        return out
    }

    @Test("stories260K: TP=2 greedy is token-identical to TP=1", arguments: [2, 4])
    func stories(ranks: Int) async throws {
        let m = try ModelLoader.load(path: Self.storiesPath)
        let got = try await Self.greedyTP(m, ranks: ranks, prompt: [1], count: 60)
        #expect(got == (try Self.greedyReference(m, prompt: [1], count: 60)))
    }

    /// Verification chunks (the newest token plus its draft, logits for every position) cross the
    /// wire to the workers, which compute their shard of every position.
    @Test("stories260K: TP=2 greedy with prompt-lookup speculation is token-identical to TP=1 without")
    func storiesSpeculative() async throws {
        let m = try ModelLoader.load(path: Self.storiesPath)
        nonisolated(unsafe) var stats: EngineStats?
        let got = try await Self.greedyTP(m, ranks: 2, prompt: [1], count: 60,
                                          speculation: SpeculationConfiguration(method: .promptLookup, maxDraftTokens: 4, maxBatch: 0, costModel: false)) { stats = $0 }
        #expect(got == (try Self.greedyReference(m, prompt: [1], count: 60)))
        #expect((stats?.specAcceptedTokens ?? 0) > 0, "\(String(describing: stats))")
    }

    @Test("SmolLM2 (3 KV heads split 2 + 1): TP=2 greedy is token-identical to TP=1")
    func smol() async throws {
        let m = try ModelLoader.load(path: Self.smolPath)
        let prompt = m.tokenizer.encode("The capital of France is")
        let got = try await Self.greedyTP(m, ranks: 2, prompt: prompt, count: 12)
        #expect(got == (try Self.greedyReference(m, prompt: prompt, count: 12)))
    }

    /// Families with attention biases (qwen2: sliced with their heads) and per-head Q/K norms with
    /// their own head width (qwen3: the same weights on every rank), fused Q/K/V and gate/up
    /// (phi3: each rank's rows of each part), post-norms after the all-reduce and soft-capped
    /// logits (gemma2), tiny random-weight fixtures.
    @Test("Qwen2 / Qwen3 / Phi-3 / Gemma 2 / Gemma 3: TP=2 greedy is token-identical to TP=1", arguments: ["qwen2", "qwen3", "phi3", "gemma2", "gemma3"])
    func families(arch: String) async throws {
        let path = Self.root + "/Tests/TandemModelTests/Fixtures/family_\(arch).gguf"
        let m = try ModelLoader.load(path: path)
        let prompt: [TokenID] = [3, 17, 42, 5, 88, 23]
        let count = min(40, m.configuration.contextLength - prompt.count - 1)
        let one = try await Self.greedyTP(m, ranks: 1, prompt: prompt, count: count)
        let two = try await Self.greedyTP(m, ranks: 2, prompt: prompt, count: count)
        #expect(two == one)
        #expect(Set(one).count > 1, "a constant greedy text would prove little: \(one)")
    }

    /// Mixtures of experts: the router on every rank, the experts split by columns (tensor) or
    /// whole (expert: 6 or 8 experts over 2 ranks), the shared expert column-split; gpt-oss's
    /// sinks split with their heads, its output and expert down biases added once.
    @Test("Mixtral / Qwen3-MoE / Qwen2-MoE / gpt-oss / Llama 4: tensor- and expert-parallel greedy over 2 ranks equal 1 rank",
          arguments: ["mixtral", "qwen3moe", "qwen2moe", "gptoss", "llama4"])
    func mixtures(arch: String) async throws {
        let m = try ModelLoader.load(path: Self.root + "/Tests/TandemModelTests/Fixtures/family_\(arch).gguf")
        let prompt: [TokenID] = [3, 17, 42, 5, 88, 23]
        let one = try await Self.greedyTP(m, ranks: 1, prompt: prompt, count: 30)
        #expect(Set(one).count > 1, "a constant greedy text would prove little: \(one)")
        for parallel in ExpertParallelism.allCases {
            let two = try await Self.greedyTP(m, ranks: 2, prompt: prompt, count: 30, experts: parallel)
            #expect(two == one, "\(arch) \(parallel)")
        }
    }

    /// K-quant experts (Q4_K, 256-value super-blocks): whole experts per rank split cleanly; a
    /// column split of a 256-wide expert would cut its super-blocks and is refused.
    @Test("Q4_K experts: expert-parallel greedy over 2 ranks equals 1 rank; a column split is refused")
    func kQuantExperts() async throws {
        let m = try ModelLoader.load(path: Self.root + "/Tests/TandemModelTests/Fixtures/family_mixtral_q4k.gguf")
        let prompt: [TokenID] = [3, 17, 42, 5, 88, 23]
        let one = try await Self.greedyTP(m, ranks: 1, prompt: prompt, count: 30, experts: .expert)
        #expect(Set(one).count > 1, "a constant greedy text would prove little: \(one)")
        #expect(try await Self.greedyTP(m, ranks: 2, prompt: prompt, count: 30, experts: .expert) == one)
        await #expect { _ = try await Self.greedyTP(m, ranks: 2, prompt: prompt, count: 4, experts: .tensor) } throws: { error in
            "\(error)".contains("256")
        }
    }

    @Test func anExpertPlacementMismatchIsRefusedAtConnect() throws {
        let m = try ModelLoader.load(path: Self.root + "/Tests/TandemModelTests/Fixtures/family_qwen2moe.gguf")
        let comms = InProcessCommunicator.group(size: 2)
        let r0 = try ClusterRank(model: m, communicator: comms[0], blockCount: 8, blockSize: 16, experts: .expert, host: "spark")
        let r1 = try ClusterRank(model: m, communicator: comms[1], blockCount: 8, blockSize: 16, experts: .tensor, host: "dark")
        #expect(r0.hello.experts == 0..<3 && r1.hello.experts == 0..<6)
        let worker = Thread.detachNewThreadWithResult { _ = try r1.handshake() }
        #expect { _ = try r0.handshake() } throws: { "\($0)".contains("expert-parallel") && "\($0)".contains("tensor-parallel") }
        #expect(throws: WireError.self) { try worker.wait() }
    }

    /// SmolLM2 is held to a logits bound instead (QuantizationShardTests): FP8 codes turn the
    /// all-reduce's last-bit differences into whole E4M3 steps, and its greedy text parts from
    /// TP=1 after 6 tokens of "The capital of France is".
    @Test("stories260K with FP8 K/V: TP=2 greedy is token-identical to TP=1")
    func fp8() async throws {
        let stories = try ModelLoader.load(path: Self.storiesPath)
        let one = try await Self.greedyTP(stories, ranks: 1, prompt: [1], count: 60, kvDType: .fp8)
        let two = try await Self.greedyTP(stories, ranks: 2, prompt: [1], count: 60, kvDType: .fp8)
        #expect(two == one)
    }

    @Test func aKVDTypeMismatchIsRefusedAtConnect() throws {
        let a = try ModelLoader.load(path: Self.storiesPath)
        let comms = InProcessCommunicator.group(size: 2)
        let r0 = try ClusterRank(model: a, communicator: comms[0], blockCount: 8, blockSize: 16, kvDType: .fp8, host: "spark")
        let r1 = try ClusterRank(model: a, communicator: comms[1], blockCount: 8, blockSize: 16, kvDType: .f32, host: "dark")
        let worker = Thread.detachNewThreadWithResult { _ = try r1.handshake() }
        #expect { _ = try r0.handshake() } throws: { "\($0)".contains("(fp8 K/V)") && "\($0)".contains("(f32 K/V)") }
        #expect(throws: WireError.self) { try worker.wait() }
    }

    @Test func aModelMismatchIsRefusedAtConnectNamingBothSides() throws {
        let a = try ModelLoader.load(path: Self.storiesPath)
        let comms = InProcessCommunicator.group(size: 2)
        let r0 = try ClusterRank(model: a, communicator: comms[0], blockCount: 8, blockSize: 16, host: "spark")
        let r1 = try ClusterRank(model: a, communicator: comms[1], blockCount: 9, blockSize: 16, host: "dark")
        let worker = Thread.detachNewThreadWithResult { _ = try r1.handshake() }
        #expect { _ = try r0.handshake() } throws: { "\($0)".contains("spark") && "\($0)".contains("dark") }
        #expect(throws: WireError.self) { try worker.wait() }
    }
}

/// A thread whose result (or error) can be waited for.
final class ThreadResult: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var error: Error?
    func finish(_ e: Error?) { error = e; done.signal() }
    func wait() throws { done.wait(); if let error { throw error } }
}

extension Thread {
    static func detachNewThreadWithResult(_ body: @escaping @Sendable () throws -> Void) -> ThreadResult {
        let r = ThreadResult()
        Thread.detachNewThread {
            do { try body(); r.finish(nil) } catch { r.finish(error) }
        }
        return r
    }
}
