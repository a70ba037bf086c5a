import Foundation
import Logging
import TandemAPI
import TandemCluster
import TandemCore
import TandemEngine
import TandemEngineCore
import TandemKernels
import TandemModel
import TandemTransport

/// What one `tandem serve` rank runs: rank 0 coordinates (engine + OpenAI-compatible HTTP on
/// `host:port`), the other ranks serve their shard until rank 0 tells them to stop.
public struct ServeOptions: Sendable {
    public var modelPath: String
    public var modelName: String
    public var host = "127.0.0.1"
    public var port = 8100
    /// The secret the gateway presents (`--internal-key-file`); nil: no authentication (today's
    /// behaviour for a coordinator started by hand; keep it on loopback).
    public var internalKey: String?
    /// The engine's settings (`ServeSettings.settings`: K/V memory and dtype, block size, batch
    /// limits, prefix cache, eviction, step timeout).
    public var settings = ServeSettings()
    public var reasoning: ReasoningConfiguration?
    /// This rank's transport in words (what it is, or why RDMA was not used), for the pre-flight report.
    public var transportDetail: String?
    /// Refuse to start a multi-rank deployment whose measured all-reduce median (4 KiB) is above
    /// this many microseconds (nil: no bound).
    public var maxLinkLatencyMicroseconds: Double?
    /// Re-quantise linear layers at load (every rank the same way, before slicing).
    public var weights: WeightQuantizationPlan = .native
    /// Sampling settings for what a request leaves out (`--sampling-defaults`, topology
    /// `defaults:`); each field not set here comes from the checkpoint's `generation_config.json`,
    /// else OpenAI's default.
    public var samplingDefaults = SamplingDefaults()
    /// OTLP/HTTP receiver for the spans of traced requests (`--otlp-endpoint`); nil: no tracing.
    public var otlpEndpoint: String?
    /// Share of new traces sampled; a request's `traceparent` (the gateway's) keeps its decision.
    public var traceSampleRatio = 1.0

    public init(modelPath: String, modelName: String) {
        self.modelPath = modelPath
        self.modelName = modelName
    }
}

public enum Coordinator {
    /// Runs this process's rank until shutdown. `communicator` is the deployment's group.
    public static func run(_ o: ServeOptions, communicator: Communicator, logger: Logger) async throws {
        var model = try ModelLoader.load(path: o.modelPath)
        if communicator.rank == 0, let problem = model.chatTemplateProblem { logger.warning("\(problem)") }
        if !o.weights.isNative {
            let report: WeightQuantizationReport
            (model, report) = try model.quantized(with: o.weights, pool: KernelThreadPool(threads: 1))
            if communicator.rank == 0 { logger.notice("weights: \(report.summary)") }
        }
        // Before any forward pass, on every rank (all ranks get the same settings).
        WeightMatrix.batchInvariant = o.settings.batchInvariant
        let host = ProcessInfo.processInfo.hostName
        // Every rank must agree on the block count: the runner sizes it from the largest shard.
        let rank = try ClusterRank(model: model, communicator: communicator, blocks: .budget(bytes: o.settings.kvBudgetBytes, minimum: 8),
                                   blockSize: o.settings.blockSize, kvDType: o.settings.kvDType,
                                   experts: o.settings.expertParallelism, host: host, logger: logger)
        let blocks = rank.runner.blockCount
        let hellos = try rank.handshake()
        for h in hellos where communicator.rank == 0 {
            logger.notice("rank \(h.rank) on \(h.host): transport \(h.transport), kv heads \(h.kvHeads), ffn \(h.ffnColumns), weights \(h.weightBytes / 1_048_576) MiB, resident \(h.residentBytes / 1_048_576) MiB")
        }
        let resident = try rank.warmUpAndMeasureResident()
        for (r, bytes) in resident.enumerated() {
            logger.notice("rank \(r) resident after warm-up: \(bytes / 1_048_576) MiB (weight share \(hellos[r].weightBytes / 1_048_576) MiB)")
        }
        do {
            try rank.preflight(transport: o.transportDetail ?? communicator.transportName,
                               maxLinkLatencyMicroseconds: o.maxLinkLatencyMicroseconds) { report in
                logger.notice("pre-flight: \(report.messageBytes)-byte all-reduce x\(report.iterations) per rank; link median \(String(format: "%.1f", report.linkMedianMicroseconds)) µs, p99 \(String(format: "%.1f", report.linkP99Microseconds)) µs, bound \(o.maxLinkLatencyMicroseconds.map { String(format: "%.1f µs", $0) } ?? "none")")
                for r in report.ranks { logger.notice("pre-flight \(r.line)") }
            }
        } catch let refused as PreflightRefused {
            if communicator.rank == 0 { logger.critical("\(refused.message)") }
            throw refused
        }
        if communicator.rank != 0 {
            try rank.serveWorker()
            return
        }
        let engine = try Engine(model: model, executor: FaultInjection.wrap(rank.coordinatorExecutor()), configuration: EngineConfiguration(
            scheduler: o.settings.scheduler(maxModelLength: model.configuration.contextLength),
            evictionPolicy: o.settings.eviction, stepTimeout: o.settings.stepTimeout, speculation: o.settings.speculation), logger: logger)
        engine.onStall = { message in
            logger.critical("\(message); exiting so the supervisor restarts the deployment")
            // _exit, not exit: exit runs atexit handlers (MPI's among them) while the step thread
            // is blocked in a collective with the stalled rank, and never returns.
            fflush(nil)
            _exit(3)
        }
        engine.start()
        engine.grammars.warmUp() // the token trie of constrained decoding, off the first request's path
        if o.internalKey == nil && !RequestBounds.isLoopback(o.host) {
            logger.warning("listening on \(o.host) without --internal-key-file: anyone who reaches this port is served and may name any tenant and cache salt; bind to 127.0.0.1 or give the gateway's internal key")
        }
        var defaults = o.samplingDefaults
        if let config = try SamplingDefaults.generationConfig(nextTo: o.modelPath) {
            for problem in config.ignored { logger.warning("\(config.path): \(problem); ignored") }
            defaults = defaults.merged(over: config.defaults)
        }
        let backend = EngineBackend(engine: engine, modelName: o.modelName, reasoning: o.reasoning, samplingDefaults: defaults)
        logger.notice("sampling defaults: \(backend.samplingDefaults.summary) (declared: \(defaults.summary))")
        let tracer = o.otlpEndpoint.map {
            Tracer(serviceName: "tandem-coordinator", endpoint: $0, sampleRatio: o.traceSampleRatio, logger: logger)
        }
        let exporter = tracer.map { t in Task { await t.run() } }
        defer { exporter?.cancel() }
        let app = OpenAIServer.application(
            dispatcher: DirectDispatcher(backend: backend, modelNames: [o.modelName], internalKey: o.internalKey,
                                         samplingDefaults: backend.samplingDefaults),
            host: o.host, port: o.port,
            metrics: APIMetrics(collectors: [{ [modelName = o.modelName] in engine.statistics.prometheusText(model: modelName) }],
                                maxTenantLabels: 64),
            logger: logger, tracer: tracer,
            onServerRunning: { port in
                var metadata: Logger.Metadata = [
                    "model": .string(o.modelName), "url": .string("http://\(o.host):\(port)/v1"),
                    "ranks": .stringConvertible(communicator.size), "kv_blocks": .stringConvertible(blocks)]
                for s in ServeSettings.settings { metadata[s.key] = .string(s.value(in: o.settings)) }
                logger.notice("tandem coordinator ready", metadata: metadata)
            })
        do {
            try await app.runService()
        } catch {
            engine.shutdown()
            try? rank.shutdownWorkers(reason: "coordinator failed: \(error)")
            throw error
        }
        engine.shutdown()
        exporter?.cancel()
        _ = await exporter?.value
        try rank.shutdownWorkers(reason: "coordinator stopped")
    }
}
