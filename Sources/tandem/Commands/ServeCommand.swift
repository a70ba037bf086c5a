import ArgumentParser
import Foundation
import Logging
import TandemModel
import TandemServing
import TandemTransport

/// `tandem serve`: one model deployment. Run it under mpirun with N ranks for tensor
/// parallelism (rank 0 serves the OpenAI-compatible API), or alone for one rank.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve one model (rank 0: engine + OpenAI-compatible HTTP; other MPI ranks: shards).")

    @Option(help: "Model path (default: the SmolLM2 model in models/).")
    var model: String?

    @Option(name: .customLong("model-name"), help: "The name clients use for this model.")
    var modelName = "smollm2"

    @Option(help: "Listen address of rank 0.")
    var host = "127.0.0.1"

    @Option(help: "Listen port of rank 0 (0: any free port).")
    var port = 8100

    @Option(name: .customLong("kv-mib"), help: "KV cache memory per rank, MiB.")
    var kvMiB = 256

    @Option(name: .customLong("block-size"), help: "Tokens per KV block.")
    var blockSize = 16

    @Option(name: .customLong("max-running"), help: "Most sequences decoded together.")
    var maxRunning = 32

    @Option(name: .customLong("step-timeout"), help: "Seconds a step may take before the deployment is declared stalled.")
    var stepTimeout = 30

    @Option(help: "Linear-layer weights: native (as stored), f32, fp8, nvfp4 or mxfp4, re-quantised at load.")
    var weights: WeightFormat = .native

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical")
    var logLevel = "notice"

    func run() async throws {
        var logger = Logger(label: "tandem.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        var o = ServeOptions(modelPath: try model ?? DefaultModel.path(), modelName: modelName)
        o.host = host
        o.port = port
        o.kvBudgetBytes = kvMiB << 20
        o.blockSize = blockSize
        o.maxRunning = maxRunning
        o.stepTimeout = .seconds(stepTimeout)
        o.weights = WeightQuantizationPlan(linear: weights)
        let communicator = try MPICommunicator.world()
        try await Coordinator.run(o, communicator: communicator, logger: logger)
        communicator.shutdown()
    }
}
