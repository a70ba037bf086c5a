import ArgumentParser
import Foundation
import TandemAPI
import TandemCore
import TandemJinja
import TandemModel

/// `tandem chat-template`: renders Jinja chat templates with Tandem's interpreter: a model's own
/// `chat_template` for a conversation, or a batch of (template file, variables) cases (the
/// corpus test compares these with Python's `jinja2`).
struct ChatTemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-template",
        abstract: "Render a model's chat template (or template files) for a conversation.")

    @Option(help: "A model file or directory: render its own chat_template.")
    var model: String?

    @Option(help: "With --model: a JSON file with a chat request's messages, tools, tool_choice and chat_template_kwargs (rendered as `serve` renders them).")
    var variables: String?

    @Option(help: "A JSON file: an array of {\"template\": PATH, \"context\": {variables}}. Prints one JSON object per case: {\"text\"} or {\"error\"}.")
    var cases: String?

    @Option(help: "What strftime_now formats (YYYY-MM-DDTHH:MM:SS in TZ's zone; default: now).")
    var now: String?

    func run() throws {
        if let cases {
            try runCases(cases)
            return
        }
        guard let model, let variables else { throw ValidationError("pass --cases FILE, or --model and --variables") }
        let loaded: LoadedModel
        do { loaded = try ModelLoader.load(path: model, tokenizerPath: nil) } catch let e as ModelLoadError {
            throw ValidationError(e.description)
        }
        guard let template = loaded.chatTemplate else { throw ValidationError("\(model) has no chat template") }
        // The same path as `serve`: the body validated as a chat request, then the model's template.
        var body = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: variables)))).objectPairs
        body.append(("model", "m"))
        let request: CompletionRequest
        do { request = try RequestValidator.validate(.object(body), endpoint: .chatCompletions) } catch {
            throw ValidationError("\(variables): \(error.message)")
        }
        guard case .chat(let messages) = request.input else { throw ValidationError("\(variables): no messages") }
        let prompt = try template.prompt(messages, tools: request.toolChoice == .none ? [] : request.tools,
                                         addGenerationPrompt: true, options: request.chatTemplateKwargs.objectPairs)
        print(prompt.text, terminator: "")
    }

    private func instant() throws -> Date {
        guard let now else { return Date() }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        guard let d = f.date(from: now) else { throw ValidationError("--now \(now): expected YYYY-MM-DDTHH:MM:SS") }
        return d
    }

    private func runCases(_ path: String) throws {
        let document = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        guard case .array(let list) = document else { throw ValidationError("\(path): expected a JSON array of cases") }
        var parsed: [String: Result<JinjaTemplate, any Error>] = [:]
        let now = try instant()
        for item in list {
            guard let file = item["template"]?.stringValue else { throw ValidationError("\(path): a case without \"template\"") }
            if parsed[file] == nil {
                let source = try String(contentsOfFile: file, encoding: .utf8)
                parsed[file] = Result { try JinjaTemplate(source) }
            }
            let context = item["context"]?.objectPairs ?? []
            // Special tokens are template text; everything else is data.
            let special = context.filter { $0.0.hasSuffix("_token") }
            let data = context.filter { !$0.0.hasSuffix("_token") }
            let outcome: JSONValue
            switch parsed[file]! {
            case .failure(let e): outcome = .object([("error", .string("parse: \(e)"))])
            case .success(let t):
                do {
                    outcome = .object([("text", .string(try t.render(data: data, template: special, now: now).text))])
                } catch {
                    outcome = .object([("error", .string("\(error)"))])
                }
            }
            print(JSONWriter.string(outcome))
        }
    }
}

