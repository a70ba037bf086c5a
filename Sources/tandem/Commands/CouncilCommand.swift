import ArgumentParser
import Foundation
import TandemBench
import TandemGatewayConfig

/// `tandem council`: the same task set to two (or more) models, answers side by side.
struct CouncilCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "council",
        abstract: "Send the council tasks to two or more models and report them side by side, with automatic checks.",
        discussion: """
            Each of the seven council tasks (bench/scenarios/council.json) goes to every model, one \
            request at a time, the models interleaved task by task. Per task and model: seconds, \
            output and reasoning tokens, and checks of the answer (finished; the Docker Compose file \
            parses as YAML with the services asked for; the incident JSON parses with its keys; list \
            answers have enough items); with --price, what each answer cost. Writes council.md, \
            council.json and council_latency.svg into --out and prints the table.
            """)

    @Option(name: .customLong("base-url"), help: "Server base URL: once for all models (a gateway), or once per --model.")
    var baseURLs: [String] = []

    @Option(name: .customLong("model"), help: "A model name sent in the requests (repeat: two or more).")
    var models: [String] = []

    @Option(name: .customLong("label"), help: "A label per --model for the report (default: the model names).")
    var labels: [String] = []

    @Option(name: .customLong("api-key"), help: "Bearer key (default: $TANDEM_API_KEY or $OPENAI_API_KEY, if set).")
    var apiKey: String?

    @Option(name: .customLong("price"),
            help: "LABEL=INPUT,OUTPUT[,CACHED_INPUT]: a model's dollars per million tokens (the gateway's prices); adds a cost column.")
    var priceArguments: [String] = []

    @Option(name: .customLong("max-tokens-cap"), help: "Cap every task's max_tokens (small CPU runs).")
    var maxTokensCap: Int?

    @Option(help: "Sampling temperature.")
    var temperature: Double = 0

    @Option(name: .customLong("request-timeout"), help: "Seconds one request may take.")
    var requestTimeout: Double = 600

    @Option(help: "Output directory (default bench/out/council-<time>).")
    var out: String?

    func validate() throws {
        guard models.count >= 2 else { throw ValidationError("give two or more --model") }
        guard baseURLs.count <= 1 || baseURLs.count == models.count else {
            throw ValidationError("give one --base-url, or one per --model (\(models.count))")
        }
        guard labels.isEmpty || labels.count == models.count else { throw ValidationError("give one --label per --model, or none") }
        let names = labels.isEmpty ? models : labels
        guard Set(names).count == names.count else { throw ValidationError("the models' labels must differ: add --label") }
        if let c = maxTokensCap, c < 1 { throw ValidationError("--max-tokens-cap must be at least 1") }
        _ = try prices(for: names)
    }

    /// One price per label (nil where none is given), from the --price arguments.
    func prices(for names: [String]) throws -> [TokenPrices?] {
        var out = [TokenPrices?](repeating: nil, count: names.count)
        for arg in priceArguments {
            let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
            let numbers = parts.count == 2 ? parts[1].split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) } : []
            guard parts.count == 2, (2...3).contains(numbers.count), numbers.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                throw ValidationError("--price \(arg): write LABEL=INPUT,OUTPUT[,CACHED_INPUT] in dollars per million tokens, e.g. small=0.1,0.4")
            }
            guard let i = names.firstIndex(of: parts[0]) else {
                throw ValidationError("--price \(arg): no model is labelled \(parts[0]) (labels: \(names.joined(separator: ", ")))")
            }
            out[i] = TokenPrices(inputPerMillion: numbers[0]!, cachedInputPerMillion: numbers.count == 3 ? numbers[2] : nil,
                                 outputPerMillion: numbers[1]!)
        }
        return out
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let key = apiKey ?? env["TANDEM_API_KEY"] ?? env["OPENAI_API_KEY"]
        let urls = baseURLs.isEmpty ? ["http://127.0.0.1:8100"] : baseURLs
        let targets = models.indices.map { i in
            (label: labels.isEmpty ? models[i] : labels[i],
             target: BenchTarget(baseURL: urls.count == 1 ? urls[0] : urls[i], model: models[i], apiKey: key,
                                 temperature: temperature, requestTimeout: requestTimeout))
        }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let dir = out ?? "bench/out/council-\(stamp)"
        let report = try await CouncilSession.run(targets: targets, maxTokensCap: maxTokensCap,
                                                  prices: try prices(for: targets.map(\.label)), outputDirectory: dir)
        print(report.markdown(), terminator: "")
        print("wrote \(dir)/council.md, council.json, council_latency.svg")
    }
}
