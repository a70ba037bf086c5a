import Foundation
import TandemCore
import TandemEngineCore
import TandemGrammar
import TandemModel

/// What a request asks its output to follow (`response_format`, vLLM's `guided_*`, llama.cpp's
/// `grammar`).
public enum ConstraintSpec: Sendable, Equatable {
    /// `response_format: json_object`: any JSON object.
    case jsonObject
    /// `response_format: json_schema`, `guided_json`.
    case jsonSchema(JSONValue)
    /// `guided_regex`.
    case regex(String)
    /// `guided_choice`: exactly one of the strings.
    case choice([String])
    /// `grammar`, `guided_grammar`: GBNF.
    case grammar(String)
    /// `tool_choice` required or a named function: calls of these tools in the chat format's
    /// way, each call's arguments valid for its function's parameters.
    case toolCalls([ToolDefinition], format: ToolCallFormat, multiple: Bool)

    /// The request field it came from, for errors.
    public var kind: String {
        switch self {
        case .jsonObject, .jsonSchema: "response_format"
        case .regex: "guided_regex"
        case .choice: "guided_choice"
        case .grammar: "grammar"
        case .toolCalls: "tools"
        }
    }

    var cacheKey: String {
        switch self {
        case .jsonObject: "o"
        case .jsonSchema(let s): "s" + JSONWriter.string(s)
        case .regex(let r): "r" + r
        case .choice(let c): "c" + JSONWriter.string(.array(c.map(JSONValue.string)))
        case .grammar(let g): "g" + g
        case .toolCalls(let tools, let format, let multiple):
            "t\(multiple)\(format)" + JSONWriter.string(.array(tools.map(\.json)))
        }
    }
}

/// Compiled constraints of one model, by request spec: the token trie is built once (at
/// `warmUp`, which a coordinator calls at start, or on first use), each distinct schema, regex or
/// grammar compiled once and kept (up to `capacity`, least recently used dropped), so its masks
/// serve every later request with the same constraint.
public final class GrammarCache: @unchecked Sendable {
    let tokenizer: any Tokenizer
    private let lock = NSLock()
    private var vocabularyStorage: TokenVocabulary?
    private var entries: [String: (grammar: CompiledGrammar, used: UInt64)] = [:]
    private var clock: UInt64 = 0
    public let capacity: Int

    public init(tokenizer: any Tokenizer, capacity: Int = 64) {
        self.tokenizer = tokenizer
        self.capacity = capacity
    }

    /// The tokenizer's vocabulary for masks: each token's bytes in mid-text position (no
    /// dummy-prefix stripping), control tokens empty, end-of-turn tokens apart.
    public var vocabulary: TokenVocabulary {
        lock.withLock {
            if let v = vocabularyStorage { return v }
            let vocab = tokenizer.vocabulary
            // A previous token that is neither nil nor BOS: mid-text spelling.
            let middle = TokenID(-1)
            let bytes = (0..<vocab.count).map { tokenizer.bytes(for: TokenID($0), after: middle) }
            var ends = vocab.stopTokens
            if let eos = vocab.eos { ends.insert(eos) }
            let v = TokenVocabulary(tokenBytes: bytes, endTokens: ends)
            vocabularyStorage = v
            return v
        }
    }

    /// Whether the vocabulary (and its token trie) is built.
    public var isWarm: Bool { lock.withLock { vocabularyStorage != nil } }

    /// Builds the vocabulary and its token trie on a background thread, so the first constrained
    /// request does not wait for it (one that comes sooner waits on the lock, as before).
    public func warmUp() {
        DispatchQueue.global(qos: .utility).async { [self] in _ = vocabulary }
    }

    /// The compiled constraint for `spec`; a `GrammarError` names what cannot be used.
    public func constraint(for spec: ConstraintSpec) throws(GrammarError) -> OutputConstraint {
        let key = spec.cacheKey
        let cached: CompiledGrammar? = lock.withLock {
            clock += 1
            guard let e = entries[key] else { return nil }
            entries[key] = (e.grammar, clock)
            return e.grammar
        }
        if let cached { return OutputConstraint(cached, kind: spec.kind) }
        let vocabulary = self.vocabulary
        let grammar: CompiledGrammar
        switch spec {
        case .jsonObject:
            grammar = try CompiledGrammar(JSONSchemaCompiler.anyObject(), vocabulary: vocabulary)
        case .jsonSchema(let schema):
            grammar = try JSONSchemaCompiler.grammar(schema, vocabulary: vocabulary)
        case .regex(let source):
            grammar = try CompiledGrammar(try RegexParser.parse(source, keyword: "guided_regex"), vocabulary: vocabulary)
        case .choice(let options):
            guard !options.isEmpty else { throw GrammarError(keyword: "guided_choice", path: "", "guided_choice must not be empty") }
            grammar = try CompiledGrammar(.choice(options.map { Pattern.literal($0) }), vocabulary: vocabulary)
        case .toolCalls(let tools, let format, let multiple):
            var open = "", close = ""
            var layout = JSONSchemaCompiler.ToolCallLayout.perCall
            switch format {
            case .tagged(let o, let c): open = o; close = c
            case .bareJSON: break
            case .list(let o, let c): open = o; close = c; layout = .list
            case .named(let o, let separator): open = o; layout = .named(separator: separator)
            case .deepSeek:
                let f = format.deepSeekFraming!
                open = ToolCallFormat.deepSeekCallsBegin
                close = ToolCallFormat.deepSeekCallsEnd
                layout = .framed(callOpen: ToolCallFormat.deepSeekCallBegin, beforeName: f.beforeName, afterName: f.afterName,
                                 afterArguments: f.afterArguments, callClose: ToolCallFormat.deepSeekCallEnd)
            case .harmony:
                // The commentary message of a call; `<|call|>` ends the turn (one call per turn).
                layout = .framed(callOpen: "<|channel|>commentary to=functions.", beforeName: "",
                                 afterName: " <|constrain|>json<|message|>", afterArguments: "", callClose: "<|call|>")
            }
            grammar = try JSONSchemaCompiler.toolCalls(tools.map { ($0.name, $0.parameters) }, open: open, close: close,
                                                       argumentsKey: format.argumentsKey, multiple: multiple, layout: layout,
                                                       vocabulary: vocabulary)
        case .grammar(let source):
            let (p, rules) = try GBNFParser.parse(source)
            grammar = try CompiledGrammar(p, rules: rules, vocabulary: vocabulary, recursionDepth: GBNFParser.recursionDepth)
        }
        lock.withLock {
            clock += 1
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
                entries.removeValue(forKey: oldest)
            }
            entries[key] = (grammar, clock)
        }
        return OutputConstraint(grammar, kind: spec.kind)
    }
}
