import ArgumentParser
import Foundation
import TandemCluster
import TandemCore
import TandemKernels
import TandemModel
import TandemTransport

/// `tandem bench-model`: prompt processing and generation speed of the forward pass alone, the way
/// llama.cpp's `llama-bench` measures them (pp: one chunk of N prompt tokens from position 0;
/// tg: N tokens one at a time from position 0; both from `--depth` instead when given, like
/// llama-bench's -d; fixed token ids; no sampling, no HTTP), so the two
/// can be compared line by line on the same weights. Under mpirun it runs tensor-parallel: every
/// rank runs its shard in lockstep and rank 0 prints, with the time spent in all-reduces.
struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Prefill and decode tokens/s of the forward pass (llama-bench style), TP under mpirun.",
        discussion: """
            Example: tandem bench-model --model models/SmolLM2-135M-Instruct.Q4_1.gguf --weights fp8 --threads 2
                     tandem bench-model --kv-dtype fp8 --depth 4096 --prompt 0 --generate 32
                     mpirun --allow-run-as-root --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 -np 2 tandem bench-model --threads 1
            """)

    @Option(help: "Model path (default: the SmolLM2 model in models/).")
    var model: String?

    @Option(help: "Linear-layer weights: native (as stored), f32, fp8, nvfp4 or mxfp4, re-quantised at load.")
    var weights = "native"

    @Option(name: .customLong("kv-dtype"), help: "How the KV cache stores K/V: f32 or fp8 (E4M3, a scale per token and KV head).")
    var kvDType: KVCacheDType = .f32

    @Option(help: "How a mixture of experts is split over the ranks: tensor or expert.")
    var parallel: ExpertParallelism = .tensor

    @Option(help: "Kernel threads per rank.")
    var threads = 1

    @Option(help: "Prompt tokens processed as one chunk (pp); 0 skips it.")
    var prompt = 512

    @Option(help: "Tokens generated one at a time (tg); 0 skips it.")
    var generate = 128

    @Option(help: "Tokens already in the KV cache when pp and tg start (llama-bench -d), prefilled once in chunks of 512.")
    var depth = 0

    @Option(help: "Repetitions (the median is reported).")
    var repeats = 3

    @Flag(help: "Print one JSON object instead of a Markdown row (rank 0).")
    var json = false

    func validate() throws {
        guard WeightFormat(rawValue: weights) != nil else {
            throw ValidationError("--weights must be one of \(WeightFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...KernelThreads.maximum).contains(threads) else { throw ValidationError("--threads must be in 1...\(KernelThreads.maximum)") }
        guard prompt >= 0, generate >= 0, prompt + generate > 0 else { throw ValidationError("--prompt and --generate must be >= 0, not both 0") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1") }
        guard depth >= 0 else { throw ValidationError("--depth must be >= 0") }
    }

    func run() throws {
        let path = try model ?? DefaultModel.path()
        try KernelThreads.setCount(threads)
        let world = try MPICommunicator.world()
        defer {
            world.shutdown()
            try? MPIRuntime.shared.finalize()
        }
        var loaded = try ModelLoader.load(path: path)
        let format = WeightFormat(rawValue: weights)!
        if format != .native {
            (loaded, _) = try loaded.quantized(with: WeightQuantizationPlan(linear: format), pool: KernelThreadPool(threads: threads))
        }
        let c = loaded.configuration
        let longest = depth + max(prompt, generate)
        guard longest <= c.contextLength else {
            throw ValidationError("\(longest) tokens exceed the model's context of \(c.contextLength)")
        }
        let group = TimedGroup(CommunicatorGroup(world))
        let runner = try ModelRunner(model: loaded.model, group: group, blocks: .positions(longest), kvDType: kvDType,
                                     experts: parallel)
        let sequence = runner.sequence()
        // Fixed, valid token ids (llama-bench uses arbitrary ids too): a deterministic spread.
        let tokens = (0..<longest).map { TokenID(($0 * 7919 + 13) % c.vocabSize) }

        try sequence.run([tokens[0]])  // warm-up
        sequence.reset()
        for s in stride(from: 0, to: depth, by: 512) {
            try sequence.run(Array(tokens[s..<min(s + 512, depth)]), wantsLogits: false)
        }
        let clock = ContinuousClock()
        var pp: [Double] = [], tg: [Double] = [], tgReduce: [Double] = []
        for _ in 0..<repeats {
            if prompt > 0 {
                try world.barrier()
                let s = clock.now
                try sequence.run(Array(tokens[depth..<depth + prompt]))
                pp.append(Double(prompt) / (clock.now - s).seconds)
                sequence.rewind(to: depth)
            }
            if generate > 0 {
                try world.barrier()
                group.reset()
                let s = clock.now
                for i in 0..<generate { try sequence.run([tokens[depth + i]]) }
                let total = (clock.now - s).seconds
                tg.append(Double(generate) / total)
                tgReduce.append(group.seconds / Double(generate))
                sequence.rewind(to: depth)
            }
        }
        guard world.rank == 0 else { return }
        func median(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.sorted()[v.count / 2] }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        // Two all-reduces per layer of dim floats per token (activations travel as f32).
        let reduceBytesPerToken = world.size > 1 ? 2 * c.layerCount * c.dim * 4 : 0
        let reduceMicros = median(tgReduce).map { $0 * 1e6 / Double(2 * c.layerCount) }
        if json {
            var o: [String: Any] = ["model": name, "weights": weights, "kv_dtype": kvDType.rawValue, "threads": threads, "ranks": world.size,
                                    "transport": world.transportName, "prompt": prompt, "generate": generate, "depth": depth,
                                    "repeats": repeats, "allreduce_bytes_per_token": reduceBytesPerToken]
            if let v = median(pp) { o["pp_tokens_per_s"] = v }
            if let v = median(tg) { o["tg_tokens_per_s"] = v }
            // MoE models: how the experts were split (absent for dense models).
            if c.experts != nil { o["parallel"] = runner.plan.expertParallelism.rawValue }
            if world.size > 1, let v = reduceMicros { o["tg_allreduce_us_per_call"] = v }
            let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let f = { (v: Double?) in v.map { String(format: "%.1f", $0) } ?? "-" }
            let setting = weights + (kvDType == .f32 ? "" : ", \(kvDType.rawValue) KV") + (depth == 0 ? "" : ", depth \(depth)")
            print("| \(name) | \(setting) | \(world.size) | \(threads) | \(f(median(pp))) | \(f(median(tg))) | \(world.size > 1 ? f(reduceMicros) : "-") |")
        }
    }
}

/// A group that times its all-reduces (decode: two per layer per token).
final class TimedGroup: TensorParallelGroup {
    let inner: TensorParallelGroup
    private(set) var seconds = 0.0
    private let clock = ContinuousClock()

    init(_ inner: TensorParallelGroup) { self.inner = inner }
    var rank: Int { inner.rank }
    var size: Int { inner.size }
    func reset() { seconds = 0 }

    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        let s = clock.now
        try inner.allReduceSum(buffer)
        let d = clock.now - s
        seconds += d.seconds
    }

    func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into result: UnsafeMutableBufferPointer<Float>?) throws {
        try inner.gather(local, counts: counts, into: result)
    }
}
