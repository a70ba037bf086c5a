import ArgumentParser
import Foundation
import Logging
import TandemAPI
import TandemCore
import TandemEngineCore
import TandemModel
import TandemServing
import TandemTransport

/// `tandem serve`: one model deployment. Run it under mpirun with N ranks for tensor
/// parallelism (rank 0 serves the OpenAI-compatible API), or alone for one rank.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve one model (rank 0: engine + OpenAI-compatible HTTP; other MPI ranks: shards).",
        discussion: "Engine settings (the same names, with _ for -, in a topology's placement):\n" + ServeSettings.helpText)

    @Option(help: "Model path (default: the SmolLM2 model in models/).")
    var model: String?

    @Option(name: .customLong("model-name"), help: "The name clients use for this model.")
    var modelName = "smollm2"

    @Option(help: "Listen address of rank 0.")
    var host = "127.0.0.1"

    @Option(help: "Listen port of rank 0 (0: any free port).")
    var port = 8100

    @Option(name: .customLong("internal-key-file"), help: "File (mode 0600) holding the key the gateway must send as 'Authorization: Bearer <key>' on /v1/* and /metrics (tandem up generates it). Without it the API is open to whoever reaches the port.")
    var internalKeyFile: String?


    @Option(help: "Transport between ranks: mpi, rdma (required) or auto (RDMA verbs if every rank can and --rdma-address is given, else MPI).")
    var transport = "auto"

    @Option(name: .customLong("rdma-address"), help: "IPv4 address of rank 0's RDMA interface (with --transport rdma/auto).")
    var rdmaAddress: String?

    @Option(name: .customLong("rdma-port"), help: "Port rank 0 listens on for the verbs connection.")
    var rdmaPort: UInt16 = 18515

    @Option(name: .customLong("max-link-latency-us"), help: "Refuse to start when the ranks' measured 4 KiB all-reduce median exceeds this many microseconds (default: no bound).")
    var maxLinkLatencyUs: Double?

    @Option(name: .customLong("otlp-endpoint"), help: "OTLP/HTTP receiver for request spans (e.g. http://127.0.0.1:4318; /v1/traces is added).")
    var otlpEndpoint: String?

    @Option(name: .customLong("trace-sample-ratio"), help: "Share of new traces sampled (0...1); a traceparent from the gateway keeps its decision.")
    var traceSampleRatio = 1.0

    @Option(name: .customLong("reasoning-open"), help: "Open tag of the model's reasoning block (with --reasoning-close: split reasoning from the answer).")
    var reasoningOpen: String?

    @Option(name: .customLong("reasoning-close"), help: "Close tag of the model's reasoning block.")
    var reasoningClose: String?

    @Option(name: .customLong("sampling-defaults"), help: "What a request that leaves them out gets, as JSON: any of temperature, top_p, top_k, min_p, repetition_penalty (e.g. '{\"temperature\": 0.2, \"top_p\": 0.9}'). Fields not given come from the checkpoint's generation_config.json, else OpenAI's defaults.")
    var samplingDefaults: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical")
    var logLevel = "notice"

    /// The engine settings (`ServeSettings.settings`, listed in the help's discussion).
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settingArguments: [String] = []

    func validate() throws {
        do { _ = try ServeSettings.parse(arguments: settingArguments) } catch { throw ValidationError("\(error)") }
        guard TransportPreference(argument: transport) != nil else {
            throw ValidationError("--transport must be mpi, rdma or auto, not '\(transport)'")
        }
        if let b = maxLinkLatencyUs, !(b > 0) { throw ValidationError("--max-link-latency-us must be positive") }
        if let e = otlpEndpoint, !(e.hasPrefix("http://") || e.hasPrefix("https://")) {
            throw ValidationError("--otlp-endpoint '\(e)' is not an http:// or https:// URL (an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318)")
        }
        if !(0...1).contains(traceSampleRatio) { throw ValidationError("--trace-sample-ratio must be between 0 and 1") }
        if (reasoningOpen == nil) != (reasoningClose == nil) {
            throw ValidationError("--reasoning-open and --reasoning-close go together")
        }
        if let samplingDefaults {
            do { _ = try SamplingDefaults.parse(json: samplingDefaults) } catch { throw ValidationError("--sampling-defaults: \(error.description)") }
        }
    }

    func run() async throws {
        var logger = Logger(label: "tandem.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        var o = ServeOptions(modelPath: try model ?? DefaultModel.path(), modelName: modelName)
        o.host = host
        o.port = port
        o.settings = try ServeSettings.parse(arguments: settingArguments)
        o.weights = WeightQuantizationPlan(linear: o.settings.weights)
        o.maxLinkLatencyMicroseconds = maxLinkLatencyUs
        o.otlpEndpoint = otlpEndpoint
        o.traceSampleRatio = traceSampleRatio
        if let samplingDefaults { o.samplingDefaults = try SamplingDefaults.parse(json: samplingDefaults) }
        if let open = reasoningOpen, let close = reasoningClose {
            o.reasoning = ReasoningConfiguration(openTag: open, closeTag: close)
        }
        let world = try MPICommunicator.world()
        // Only rank 0 serves HTTP, so only its host needs the key file.
        if let internalKeyFile, world.rank == 0 {
            do { o.internalKey = try InternalKey.read(path: internalKeyFile) } catch {
                throw ValidationError("--internal-key-file \(error.description)")
            }
        }
        let communicator: any Communicator
        if world.size == 1 {
            communicator = world
            o.transportDetail = "mpi (one rank, no link)"
        } else {
            let choice = try TransportBootstrap.choose(world: world, preference: TransportPreference(argument: transport)!,
                                                       rdmaAddress: rdmaAddress, rdmaPort: rdmaPort, logger: logger)
            communicator = choice.communicator
            o.transportDetail = choice.detail
        }
        // On a throw every rank exits non-zero (MPI is finalised at exit), so mpirun does too.
        try await Coordinator.run(o, communicator: communicator, logger: logger)
        world.shutdown()
    }
}

extension KVCacheDType: ExpressibleByArgument {}
