import TandemCore

/// JSON Schema → `Pattern` for the JSON text of a valid instance, with free whitespace between
/// tokens so a model's own formatting is kept: each gap is nothing, one space, or a line break
/// and up to `maxIndent` spaces or tabs (compact, `{"a": 1}` and pretty-printed JSON alike).
///
/// Covered: `type` (and type lists, OpenAPI `nullable`), `properties`/`required` (properties are
/// written in schema order; only listed properties are generated), `additionalProperties` as a
/// schema for maps, `enum`, `const`, `items`/`prefixItems`, `minItems`/`maxItems`, `$ref` into
/// `$defs`/`definitions` (recursion unrolled `recursionDepth` levels), `anyOf`/`oneOf`, `allOf`
/// of object schemas, strings with `minLength`/`maxLength`/`pattern`/`format` (date, time,
/// date-time, email, uuid, ipv4, uri; a pattern or format combines with the length bounds),
/// numbers and integers with bounds. Strings are capped at `maxStringLength` characters and
/// arrays at `maxItemsLimit` items even where the schema allows more. Annotations (`title`,
/// `description`, `default`, `examples`, ...) are ignored. Any other keyword is refused, named.
/// Every generated text validates against the schema; some valid instances are not offered (other
/// property orders, extra properties, numbers between bounds that are not integers or `x.ddd`).
public struct JSONSchemaCompiler {
    public var maxIndent = 16
    /// Nesting allowed where a schema permits any JSON value.
    public var anyValueDepth = 3
    /// Levels a recursive `$ref` is unrolled (pass to `CompiledGrammar`).
    public static let recursionDepth = 3

    private let root: JSONValue
    private(set) var rules: [String: Pattern] = [:]
    var itemsCap = maxItemsLimit
    /// Prepended to rule names, so several schemas can share one rule table.
    var rulePrefix = ""

    public static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
        "writeOnly", "discriminator", "$anchor", "contentMediaType", "contentEncoding", "example", "xml", "externalDocs",
    ]
    static let handled: Set<String> = [
        "type", "nullable", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems",
        "minItems", "maxItems", "$ref", "$defs", "definitions", "anyOf", "oneOf", "allOf", "minLength", "maxLength",
        "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "strict", "additionalItems",
        "unevaluatedProperties",
    ]

    /// The pattern and named rules for `schema` (a `$ref` becomes a rule named by its pointer),
    /// arrays generated with at most `itemsCap` items.
    public static func compile(_ schema: JSONValue, itemsCap: Int = maxItemsLimit) throws(GrammarError) -> (Pattern, rules: [String: Pattern]) {
        var c = JSONSchemaCompiler(root: schema)
        c.itemsCap = itemsCap
        let p = try c.value(schema, path: "#")
        return (.sequence([c.ws, p, c.ws]), c.rules)
    }

    /// Renderings tried in turn when a schema's automaton is too large: at most this many items
    /// per array, recursion unrolled this deep. Each generates a subset of the valid instances.
    public static let fallbacks: [(itemsCap: Int, recursionDepth: Int)] = [(maxItemsLimit, recursionDepth), (8, 3), (4, 2), (2, 2), (1, 1)]

    /// `schema` compiled for `vocabulary`, in the first rendering of `fallbacks` that fits.
    public static func grammar(_ schema: JSONValue, vocabulary: TokenVocabulary) throws(GrammarError) -> CompiledGrammar {
        try fitting(vocabulary) { cap throws(GrammarError) in try compile(schema, itemsCap: cap) }
    }

    /// Function calls as a chat format writes them: `open`, a JSON object with the function's
    /// name and its arguments (valid for that function's parameter schema) under
    /// `argumentsKey`, `close`; one call, or several separated by whitespace when `multiple`.
    /// How calls sit in an answer: each between `open` and `close`; all in one JSON list between
    /// them (`[TOOL_CALLS][…]`); or each `open` + name + separator + arguments
    /// (`[TOOL_CALLS]name[ARGS]{…}`).
    public enum ToolCallLayout: Sendable, Equatable {
        case perCall
        case list
        case named(separator: String)
        /// Each call `callOpen` + `beforeName` + name + `afterName` + arguments + `afterArguments`
        /// + `callClose`, all of them (whitespace between) between `open` and `close` (DeepSeek).
        case framed(callOpen: String, beforeName: String, afterName: String, afterArguments: String, callClose: String)
    }

    public static func toolCalls(_ tools: [(name: String, parameters: JSONValue)], open: String, close: String,
                                 argumentsKey: String, multiple: Bool, layout: ToolCallLayout = .perCall,
                                 vocabulary: TokenVocabulary) throws(GrammarError) -> CompiledGrammar {
        try fitting(vocabulary) { cap throws(GrammarError) in
            var rules: [String: Pattern] = [:]
            var bodies: [Pattern] = []
            for (i, tool) in tools.enumerated() {
                var c = JSONSchemaCompiler(root: tool.parameters)
                c.itemsCap = cap
                c.rulePrefix = "tool\(i):"
                let arguments = try c.value(tool.parameters, path: "#")
                rules.merge(c.rules) { a, _ in a }
                let ws = c.ws
                if case .named(let separator) = layout {
                    bodies.append(.sequence([.literal(tool.name), .literal(separator), arguments]))
                } else if case .framed(let callOpen, let beforeName, let afterName, let afterArguments, let callClose) = layout {
                    bodies.append(.sequence([.literal(callOpen + beforeName + tool.name + afterName), arguments,
                                             .literal(afterArguments + callClose)]))
                } else {
                    bodies.append(.sequence([
                        .literal("{"), ws, .literal("\"name\""), ws, .literal(":"), ws, .literal(JSONWriter.string(.string(tool.name))), ws,
                        .literal(","), ws, .literal(JSONWriter.string(.string(argumentsKey))), ws, .literal(":"), ws, arguments, ws, .literal("}"),
                    ]))
                }
            }
            let ws = JSONSchemaCompiler(root: .null).ws
            let body: Pattern = .choice(bodies)
            switch layout {
            case .perCall:
                let call: Pattern = .sequence([.literal(open), ws, body, ws, .literal(close)])
                return (.sequence([ws, multiple ? .repetition(call, min: 1, max: nil, separator: ws) : call, ws]), rules)
            case .list:
                let items: Pattern = multiple ? .repetition(body, min: 1, max: nil, separator: .sequence([ws, .literal(","), ws])) : body
                return (.sequence([.literal(open), .literal("["), ws, items, ws, .literal("]"), .literal(close)]), rules)
            case .named:
                let call: Pattern = .sequence([.literal(open), body])
                return (multiple ? .repetition(call, min: 1, max: nil, separator: nil) : call, rules)
            case .framed:
                let calls: Pattern = multiple ? .repetition(body, min: 1, max: nil, separator: ws) : body
                return (.sequence([.literal(open), calls, .literal(close)]), rules)
            }
        }
    }

    /// The first rendering of `fallbacks` whose automaton fits.
    static func fitting(_ vocabulary: TokenVocabulary,
                        _ build: (Int) throws(GrammarError) -> (Pattern, [String: Pattern])) throws(GrammarError) -> CompiledGrammar {
        var last: GrammarError?
        for (cap, depth) in fallbacks {
            let (p, rules) = try build(cap)
            do {
                return try CompiledGrammar(p, rules: rules, vocabulary: vocabulary, recursionDepth: depth)
            } catch {
                guard error.isSizeLimit else { throw error }
                last = error
            }
        }
        throw last!
    }

    /// Any JSON object (`response_format: json_object`), nested up to `depth` levels.
    public static func anyObject(depth: Int = 4) -> Pattern {
        var c = JSONSchemaCompiler(root: .object([]))
        c.anyValueDepth = depth
        return .sequence([c.ws, c.anyObject(depth: depth), c.ws])
    }

    init(root: JSONValue) { self.root = root }

    var ws: Pattern {
        .optional(.choice([
            .literal(" "),
            .sequence([.optional(.literal("\r")), .literal("\n"), .counted(.star(.bytes(ByteSet(" \t".utf8))), minLength: 0, maxLength: maxIndent)]),
        ]))
    }

    func error(_ keyword: String, _ path: String, _ message: String) -> GrammarError {
        GrammarError(keyword: keyword, path: path, "response_format schema: \(message)")
    }

    mutating func value(_ schema: JSONValue, path: String) throws(GrammarError) -> Pattern {
        switch schema {
        case .bool(true): return anyValue(depth: anyValueDepth)
        case .bool(false): return .never
        case .object(let pairs):
            for (key, value) in pairs where !Self.handled.contains(key) && !Self.annotations.contains(key) {
                if key == "uniqueItems", value == .bool(false) { continue }
                throw error(key, path, "the keyword '\(key)' is not supported for constrained output")
            }
        default:
            throw error("", path, "a schema must be an object or a boolean, got \(schema.typeName)")
        }
        if let ref = schema["$ref"]?.stringValue {
            try define(ref, path: path)
            return .reference(rulePrefix + ref)
        }
        if let options = schema["anyOf"] ?? schema["oneOf"] {
            guard case .array(let items) = options, !items.isEmpty else {
                throw error("anyOf", path, "'anyOf'/'oneOf' must be a non-empty array")
            }
            var alternatives: [Pattern] = []
            for (i, item) in items.enumerated() {
                alternatives.append(try value(merged(item, into: schema, dropping: ["anyOf", "oneOf"]), path: "\(path)/anyOf/\(i)"))
            }
            return .choice(alternatives)
        }
        if let all = schema["allOf"] {
            guard case .array(let items) = all, !items.isEmpty else {
                throw error("allOf", path, "'allOf' must be a non-empty array")
            }
            var combined = schema
            combined = dropping(combined, ["allOf"])
            for item in items {
                var resolved = item
                if let ref = item["$ref"]?.stringValue { resolved = try resolve(ref, path: path) }
                combined = try mergeAll(combined, resolved, path: path)
            }
            return try value(combined, path: path)
        }
        if let constant = schema["const"] { return .literal(JSONWriter.string(constant)) }
        if let options = schema["enum"] {
            guard case .array(let items) = options, !items.isEmpty else {
                throw error("enum", path, "'enum' must be a non-empty array")
            }
            return .choice(items.map { .literal(JSONWriter.string($0)) })
        }
        var types: [String]
        switch schema["type"] {
        case .string(let t)?: types = [t]
        case .array(let list)?: types = list.compactMap(\.stringValue)
        case nil: types = inferredTypes(schema)
        default: throw error("type", path, "'type' must be a string or an array of strings")
        }
        if schema["nullable"] == .bool(true), !types.contains("null") { types.append("null") }
        if types.isEmpty { return anyValue(depth: anyValueDepth) }
        var alternatives: [Pattern] = []
        for type in types {
            switch type {
            case "string": alternatives.append(try string(schema, path: path))
            case "integer": alternatives.append(try integer(schema, path: path))
            case "number": alternatives.append(try number(schema, path: path))
            case "boolean": alternatives.append(.choice([.literal("true"), .literal("false")]))
            case "null": alternatives.append(.literal("null"))
            case "object": alternatives.append(try object(schema, path: path))
            case "array": alternatives.append(try array(schema, path: path))
            default: throw error("type", path, "unknown type '\(type)'")
            }
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    func inferredTypes(_ schema: JSONValue) -> [String] {
        if schema["properties"] != nil || schema["additionalProperties"] != nil || schema["required"] != nil { return ["object"] }
        if schema["items"] != nil || schema["prefixItems"] != nil || schema["minItems"] != nil || schema["maxItems"] != nil { return ["array"] }
        if schema["pattern"] != nil || schema["format"] != nil || schema["minLength"] != nil || schema["maxLength"] != nil { return ["string"] }
        if schema["minimum"] != nil || schema["maximum"] != nil || schema["exclusiveMinimum"] != nil || schema["exclusiveMaximum"] != nil { return ["number"] }
        return []
    }

    // MARK: - $ref

    mutating func define(_ ref: String, path: String) throws(GrammarError) {
        let name = rulePrefix + ref
        guard rules[name] == nil else { return }
        let target = try resolve(ref, path: path)
        rules[name] = .never // placeholder while the target (which may refer to itself) compiles
        rules[name] = try value(target, path: ref)
    }

    func resolve(_ ref: String, path: String) throws(GrammarError) -> JSONValue {
        guard ref.hasPrefix("#") else {
            throw error("$ref", path, "'$ref' must be a local reference (#/...), got '\(ref)'")
        }
        var node = root
        for raw in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if case .array(let items) = node, let i = Int(key), items.indices.contains(i) {
                node = items[i]
            } else if let next = node[key] {
                node = next
            } else {
                throw error("$ref", path, "'$ref' '\(ref)' does not resolve")
            }
        }
        return node
    }

    // MARK: - Combining schemas

    func dropping(_ schema: JSONValue, _ keys: Set<String>) -> JSONValue {
        guard case .object(let pairs) = schema else { return schema }
        return .object(pairs.filter { !keys.contains($0.0) })
    }

    /// `item` with the parent's other keywords it does not set (anyOf branches share siblings).
    func merged(_ item: JSONValue, into parent: JSONValue, dropping keys: Set<String>) -> JSONValue {
        guard case .object(let parentPairs) = dropping(parent, keys.union(Self.annotations)), case .object(var pairs) = item,
              item["$ref"] == nil else { return item }
        for (k, v) in parentPairs where item[k] == nil { pairs.append((k, v)) }
        return .object(pairs)
    }

    /// `allOf`: properties and required lists are joined; other keywords must agree.
    func mergeAll(_ a: JSONValue, _ b: JSONValue, path: String) throws(GrammarError) -> JSONValue {
        guard case .object(var pairs) = a, case .object(let other) = b else {
            throw error("allOf", path, "'allOf' items must be schema objects")
        }
        for (k, v) in other {
            guard let existing = a[k] else { pairs.append((k, v)); continue }
            switch k {
            case "properties":
                guard case .object(var props) = existing, case .object(let more) = v else { continue }
                for (name, s) in more where !props.contains(where: { $0.0 == name }) { props.append((name, s)) }
                pairs = pairs.map { $0.0 == k ? (k, .object(props)) : $0 }
            case "required":
                guard case .array(let r1) = existing, case .array(let r2) = v else { continue }
                pairs = pairs.map { $0.0 == k ? (k, .array(r1 + r2.filter { !r1.contains($0) })) : $0 }
            default:
                if Self.annotations.contains(k) { continue }
                guard existing == v else {
                    throw error("allOf", path, "'allOf' items disagree on '\(k)'; only object schemas that add properties can be combined")
                }
            }
        }
        return .object(pairs)
    }

    // MARK: - Types

    func count(_ schema: JSONValue, _ key: String, path: String) throws(GrammarError) -> Int? {
        guard let v = schema[key] else { return nil }
        guard let n = v.intValue, n >= 0 else { throw error(key, path, "'\(key)' must be a non-negative integer") }
        return Int(min(n, Int64(Int32.max)))
    }

    /// Any decoded character of a JSON string.
    static let anyCharacter: Pattern = .star(.character(ascii: ByteSet(range: 0, 0x7F)))

    public static let maxStringLength = 2000

    mutating func string(_ schema: JSONValue, path: String) throws(GrammarError) -> Pattern {
        let quote = Pattern.literal("\"")
        var text = Self.anyCharacter
        if let pattern = schema["pattern"] {
            guard let source = pattern.stringValue else { throw error("pattern", path, "'pattern' must be a string") }
            do { text = try RegexParser.parse(source) } catch {
                throw self.error("pattern", path, "\(error.message)")
            }
        } else if let format = schema["format"]?.stringValue, let f = Self.formats[format] {
            text = f
        }
        let lo = try count(schema, "minLength", path: path) ?? 0
        let hi = try count(schema, "maxLength", path: path)
        if let hi, hi < lo { throw error("maxLength", path, "maxLength \(hi) is below minLength \(lo)") }
        guard lo <= Self.maxStringLength else {
            throw error("minLength", path, "minLength above \(Self.maxStringLength) is not supported for constrained output")
        }
        // Longer bounds generate at most maxStringLength characters (still valid).
        let cappedHi = hi.map { min($0, Self.maxStringLength) }
        return .sequence([quote, .jsonString(text, minLength: lo, maxLength: cappedHi), quote])
    }

    static let formats: [String: Pattern] = {
        func re(_ s: String) -> Pattern { (try? RegexParser.parse(s)) ?? .never }
        // Year 0001-9999; February to the 28th (valid every year).
        let date = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-"
            + "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
        let time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
        return [
            "date": re(date),
            "time": re(time),
            "date-time": re(date + "T" + time),
            "email": re("[a-zA-Z0-9_+-]+(\\.[a-zA-Z0-9_+-]+)*@[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*\\.[a-zA-Z]{2,}"),
            "uuid": re("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
            "ipv4": re("((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"),
            "uri": re("https?://[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*(/[a-zA-Z0-9._~%!$&'()*+,;=:@-]*)*"),
        ]
    }()

    func bound(_ schema: JSONValue, _ key: String, path: String) throws(GrammarError) -> Double? {
        guard let v = schema[key] else { return nil }
        if case .bool = v { return nil } // draft-4 exclusive flags, read with their bound
        guard let d = v.doubleValue else { throw error(key, path, "'\(key)' must be a number") }
        return d
    }

    /// (lower, lower exclusive, upper, upper exclusive) in draft-4 and 2020-12 spellings.
    func bounds(_ schema: JSONValue, path: String) throws(GrammarError) -> (Double?, Bool, Double?, Bool) {
        var lower = try bound(schema, "minimum", path: path), upper = try bound(schema, "maximum", path: path)
        var lowerExclusive = schema["exclusiveMinimum"] == .bool(true)
        var upperExclusive = schema["exclusiveMaximum"] == .bool(true)
        if let e = try bound(schema, "exclusiveMinimum", path: path), lower == nil || e >= lower! { lower = e; lowerExclusive = true }
        if let e = try bound(schema, "exclusiveMaximum", path: path), upper == nil || e <= upper! { upper = e; upperExclusive = true }
        return (lower, lowerExclusive, upper, upperExclusive)
    }

    func integer(_ schema: JSONValue, path: String) throws(GrammarError) -> Pattern {
        let (lower, lx, upper, ux) = try bounds(schema, path: path)
        if lower == nil && upper == nil { return NumberRanges.anyInteger }
        var lo: Int64? = nil, hi: Int64? = nil
        if let lower {
            let c = lower.rounded(.up)
            lo = Int64(max(-1e16, min(1e16, c))) + (lx && c == lower ? 1 : 0)
        }
        if let upper {
            let f = upper.rounded(.down)
            hi = Int64(max(-1e16, min(1e16, f))) - (ux && f == upper ? 1 : 0)
        }
        if let lo, let hi, lo > hi { throw error("minimum", path, "no integer lies within the bounds") }
        return NumberRanges.integers(lo, hi)
    }

    func number(_ schema: JSONValue, path: String) throws(GrammarError) -> Pattern {
        let (lower, lx, upper, ux) = try bounds(schema, path: path)
        if lower == nil && upper == nil { return NumberRanges.anyNumber }
        let p = NumberRanges.numbers(lower: lower, lowerExclusive: lx, upper: upper, upperExclusive: ux)
        if case .never = p {
            throw error("minimum", path, "the bounds hold no integer and no whole-number-part value this engine writes")
        }
        return p
    }

    public static let maxItemsLimit = 256

    mutating func array(_ schema: JSONValue, path: String) throws(GrammarError) -> Pattern {
        let sep: Pattern = .sequence([ws, .literal(","), ws])
        let open: Pattern = .sequence([.literal("["), ws]), close: Pattern = .sequence([ws, .literal("]")])
        var prefix: [JSONValue] = []
        if case .array(let items)? = schema["prefixItems"] { prefix = items }
        if case .array(let items)? = schema["items"] { prefix = items }
        if !prefix.isEmpty {
            var parts: [Pattern] = []
            for (i, item) in prefix.enumerated() { parts.append(try value(item, path: "\(path)/prefixItems/\(i)")) }
            return .sequence([open, .members(parts.map { ($0, required: true) }, separator: sep), close])
        }
        let lo = try count(schema, "minItems", path: path) ?? 0
        let hi = try count(schema, "maxItems", path: path)
        if let hi, hi < lo { throw error("maxItems", path, "maxItems \(hi) is below minItems \(lo)") }
        guard lo <= Self.maxItemsLimit else {
            throw error("minItems", path, "minItems above \(Self.maxItemsLimit) is not supported for constrained output")
        }
        // Longer bounds generate at most itemsCap items (still valid).
        let cappedHi = hi.map { min($0, max(itemsCap, lo)) }
        let item: Pattern
        if let items = schema["items"] { item = try value(items, path: "\(path)/items") } else { item = anyValue(depth: anyValueDepth - 1) }
        return .sequence([open, .repetition(item, min: lo, max: cappedHi, separator: sep), close])
    }

    mutating func object(_ schema: JSONValue, path: String) throws(GrammarError) -> Pattern {
        let sep: Pattern = .sequence([ws, .literal(","), ws])
        let open: Pattern = .sequence([.literal("{"), ws]), close: Pattern = .sequence([ws, .literal("}")])
        var required: [String] = []
        if let r = schema["required"] {
            guard case .array(let names) = r else { throw error("required", path, "'required' must be an array of strings") }
            required = names.compactMap(\.stringValue)
        }
        var properties: [(String, JSONValue)] = []
        if let p = schema["properties"] {
            guard case .object(let pairs) = p else { throw error("properties", path, "'properties' must be an object") }
            properties = pairs
        }
        for name in required where !properties.contains(where: { $0.0 == name }) { properties.append((name, .bool(true))) }
        let additional = schema["additionalProperties"]
        if properties.isEmpty {
            if additional == .bool(false) { return .sequence([.literal("{"), ws, .literal("}")]) }
            guard let additional, additional != .bool(true) else { return anyObject(depth: anyValueDepth) }
            let v = try value(additional, path: "\(path)/additionalProperties")
            let entry: Pattern = .sequence([string(anyLength: ()), ws, .literal(":"), ws, v])
            return .sequence([open, .repetition(entry, min: 0, max: nil, separator: sep), close])
        }
        var members: [(Pattern, required: Bool)] = []
        for (name, sub) in properties {
            let v = try value(sub, path: "\(path)/properties/\(name)")
            members.append((.sequence([.literal(JSONWriter.string(.string(name))), ws, .literal(":"), ws, v]), required.contains(name)))
        }
        return .sequence([open, .members(members, separator: sep), close])
    }

    func string(anyLength: ()) -> Pattern { .sequence([.literal("\""), .jsonString(Self.anyCharacter, minLength: 0, maxLength: nil), .literal("\"")]) }

    /// Any JSON value nested at most `depth` levels.
    func anyValue(depth: Int) -> Pattern {
        var alternatives: [Pattern] = [string(anyLength: ()), NumberRanges.anyNumber, .literal("true"), .literal("false"), .literal("null")]
        if depth > 0 {
            alternatives.append(anyObject(depth: depth))
            let sep: Pattern = .sequence([ws, .literal(","), ws])
            alternatives.append(.sequence([.literal("["), ws, .repetition(anyValue(depth: depth - 1), min: 0, max: nil, separator: sep), ws, .literal("]")]))
        }
        return .choice(alternatives)
    }

    func anyObject(depth: Int) -> Pattern {
        let sep: Pattern = .sequence([ws, .literal(","), ws])
        let entry: Pattern = .sequence([string(anyLength: ()), ws, .literal(":"), ws, anyValue(depth: depth - 1)])
        return .sequence([.literal("{"), ws, .repetition(entry, min: 0, max: nil, separator: sep), ws, .literal("}")])
    }
}
