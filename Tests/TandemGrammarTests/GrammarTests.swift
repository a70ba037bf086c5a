import TandemCore
import Testing
@testable import TandemGrammar

/// Whole-string match of `text` against a pattern, through the automaton the masks use.
func matches(_ p: Pattern, _ text: String, rules: [String: Pattern] = [:], depth: Int = 3) throws -> Bool {
    let dfa = LazyDFA(try ByteNFA(p, rules: rules, recursionDepth: depth))
    var state = dfa.start
    for b in text.utf8 {
        state = dfa.step(state, b)
        if state < 0 { return false }
    }
    return dfa.accepting[Int(state)]
}

func regex(_ source: String) throws -> Pattern { try RegexParser.parse(source) }

@Suite struct RegexTests {
    @Test func regexMatchesWholeStringsOnly() throws {
        let cases: [(String, [String], [String])] = [
            ("abc", ["abc"], ["ab", "abcd", ""]),
            ("^[a-z]+$", ["a", "hello"], ["", "Hello", "a1"]),
            ("a|bc|", ["a", "bc", ""], ["b", "abc"]),
            ("(ab)*c", ["c", "abc", "ababc"], ["ac", "abab"]),
            ("x{2,3}", ["xx", "xxx"], ["x", "xxxx"]),
            ("x{2,}", ["xx", "xxxxx"], ["x"]),
            ("x{0}y", ["y"], ["xy"]),
            ("\\d{3}-\\d{4}", ["555-1234"], ["555-123", "55a-1234"]),
            ("[^abc]", ["d", "é", "\u{1F600}"], ["a", "dd"]),
            ("[à-ÿ]+", ["é", "àÿ"], ["a", "Ā"]),
            ("\\w+@\\w+\\.com", ["me@x.com"], ["me@x.org", "@x.com"]),
            ("(?:a|b)+?c", ["abac"], ["c"]),
            ("(?<year>\\d{4})", ["2026"], ["26"]),
            ("\\u00e9\\x41", ["éA"], ["eA"]),
            ("[\\-.]", ["-", "."], ["x"]),
            ("a.c", ["abc", "aéc"], ["a\nc", "ac"]),
            ("\\s\\S", [" x", "\tY"], ["xx", "  "]),
        ]
        for (source, yes, no) in cases {
            let p = try regex(source)
            for s in yes { #expect(try matches(p, s), "\(source) should match \(s.debugDescription)") }
            for s in no { #expect(try !matches(p, s), "\(source) should not match \(s.debugDescription)") }
        }
    }

    @Test func unsupportedRegexFeaturesAreRefusedWithTheirPlace() {
        for source in ["(?=a)b", "(a)\\1", "\\bword", "a^b", "\\p{L}", "a{5,2}", "[z-a]", "(ab", "*a"] {
            #expect(throws: GrammarError.self, "\(source)") { try regex(source) }
        }
        do {
            _ = try regex("ab(?=c)")
            Issue.record("look-ahead accepted")
        } catch let error as GrammarError {
            #expect(error.keyword == "pattern")
            #expect(error.path == "character 4")
        } catch {
            Issue.record("\(error)")
        }
    }
}

@Suite struct NumberRangeTests {
    @Test func integerRangesMatchExactlyTheIntegersInside() throws {
        let ranges: [(Int64?, Int64?)] = [(0, 9), (0, 100), (1, 12), (7, 1234), (-15, 7), (-300, -21), (-1, 0), (18, 65),
                                           (0, nil), (nil, 5), (99, 101), (1000, 1000)]
        for (lo, hi) in ranges {
            let p = NumberRanges.integers(lo, hi)
            for n in Int64(-1300)...1300 {
                let inside = (lo.map { n >= $0 } ?? true) && (hi.map { n <= $0 } ?? true)
                #expect(try matches(p, String(n)) == inside, "\(n) in \(String(describing: lo))...\(String(describing: hi))")
            }
            #expect(try !matches(p, "-0"))
            #expect(try !matches(p, "01"))
        }
        #expect(try matches(NumberRanges.integers(0, nil), "9999999999999999"))
        #expect(try !matches(NumberRanges.integers(0, nil), "10000000000000000"))
    }

    @Test func boundedNumbersNeverLeaveTheirBounds() throws {
        let bounds: [(Double?, Bool, Double?, Bool)] = [(0, false, 1, false), (-2.5, false, 3.7, false), (0, true, 10, true),
                                                         (-10, false, -1, false), (1, false, nil, false), (nil, false, 0, true)]
        for (lo, lx, hi, hx) in bounds {
            let p = NumberRanges.numbers(lower: lo, lowerExclusive: lx, upper: hi, upperExclusive: hx)
            var accepted = 0
            for whole in -12...12 {
                for text in ["\(whole)", "\(whole).5", "\(whole).05", "\(whole).999"] + (whole == 0 ? ["-0.5"] : []) {
                    guard try matches(p, text) else { continue }
                    accepted += 1
                    let v = Double(text)!
                    if let lo { #expect(lx ? v > lo : v >= lo, "\(text) below \(lo)") }
                    if let hi { #expect(hx ? v < hi : v <= hi, "\(text) above \(hi)") }
                }
            }
            #expect(accepted > 0)
        }
        // Integers inside are always offered.
        let p = NumberRanges.numbers(lower: -2.5, lowerExclusive: false, upper: 3.7, upperExclusive: false)
        for n in -2...3 { #expect(try matches(p, "\(n)")) }
        #expect(try matches(p, "2.5"))
        #expect(try !matches(p, "4"))
    }
}

@Suite struct JSONSchemaCompilerTests {
    func accepts(_ schema: JSONValue, _ yes: [String], _ no: [String]) throws {
        let (p, rules) = try JSONSchemaCompiler.compile(schema)
        for s in yes { #expect(try matches(p, s, rules: rules), "should accept \(s)") }
        for s in no { #expect(try !matches(p, s, rules: rules), "should reject \(s)") }
    }

    @Test func objectsFollowPropertiesRequiredAndOrder() throws {
        let schema: JSONValue = ["type": "object", "properties": ["name": ["type": "string"], "age": ["type": "integer", "minimum": 0],
                                                                  "tags": ["type": "array", "items": ["type": "string"], "maxItems": 2]],
                                 "required": ["name"]]
        try accepts(schema,
                    [#"{"name":"a"}"#, #"{"name": "a", "age": 3}"#, "{\n  \"name\": \"b\",\n  \"tags\": [\"x\", \"y\"]\n}",
                     #"{"name":"é\n\"q\""}"#.replacingOccurrences(of: "\n", with: "\\n")],
                    [#"{}"#, #"{"age":3}"#, #"{"name":"a","age":-1}"#, #"{"name":"a","tags":["x","y","z"]}"#,
                     #"{"age":3,"name":"a"}"#, #"{"name":"a",}"#, #"{"name":"a","extra":1}"#, "{\"name\":\"a\u{1}\"}"])
    }

    @Test func stringLengthsCountDecodedCharacters() throws {
        try accepts(["type": "string", "maxLength": 3, "minLength": 2],
                    [#""ab""#, #""abc""#, #""é\"a""#, #""a\nb""#, #""\u0001x""#, #""😀é""#],
                    [#""a""#, #""abcd""#, #""é\"ab""#, "\"a\nb\"", #""\/x""#])
        try accepts(["type": "string", "pattern": "^[a-z]+$", "maxLength": 4], [#""abcd""#, #""a""#], [#""abcde""#, #""""#, #""aB""#])
        try accepts(["type": "string", "format": "email", "maxLength": 8], [#""a@b.com""#], [#""abc@d.com""#])
        try accepts(["type": "string", "pattern": "[a-z]{5}", "maxLength": 3], [], [#""abc""#, #""abcde""#])
    }

    @Test func enumsConstsUnionsAndNullable() throws {
        try accepts(["enum": ["red", "green", 3, nil]], [#""red""#, "3", "null"], [#""blue""#, "4"])
        try accepts(["const": ["a": 1]], [#"{"a":1}"#], [#"{"a":2}"#])
        try accepts(["anyOf": [["type": "integer"], ["type": "string", "maxLength": 1]]], ["12", #""x""#], [#""xy""#, "1.5"])
        try accepts(["type": ["string", "null"]], [#""s""#, "null"], ["1"])
        try accepts(["type": "string", "nullable": true], ["null"], ["true"])
        try accepts(["type": "string", "format": "date"], [#""2026-12-07""#], [#""2026-13-07""#, #""tomorrow""#])
        try accepts(["type": "string", "pattern": "^[A-Z]{2}-\\d+$"], [#""AB-12""#], [#""ab-12""#, #""AB-""#])
        try accepts(["type": "string", "pattern": "a\"b\\\\"], [#""a\"b\\""#], [#""a"b\""#])
    }

    @Test func referencesAndBoundedRecursion() throws {
        let tree: JSONValue = ["$defs": ["node": ["type": "object", "properties": [
            "v": ["type": "integer"], "kids": ["type": "array", "items": ["$ref": "#/$defs/node"]]], "required": ["v"]]],
            "$ref": "#/$defs/node"]
        try accepts(tree, [#"{"v":1}"#, #"{"v":1,"kids":[{"v":2},{"v":3,"kids":[]}]}"#], [#"{"kids":[]}"#])
        // Deeper than the unrolled recursion: not offered (never invalid).
        let deep = #"{"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[{"v":4,"kids":[{"v":5}]}]}]}]}"#
        #expect(try !matches(try JSONSchemaCompiler.compile(tree).0, deep, rules: JSONSchemaCompiler.compile(tree).rules))
    }

    @Test func unsupportedKeywordsAreNamed() {
        let cases: [(JSONValue, String)] = [
            (["type": "array", "uniqueItems": true], "uniqueItems"), (["type": "number", "multipleOf": 2], "multipleOf"),
            (["not": ["type": "string"]], "not"), (["type": "object", "patternProperties": [:]], "patternProperties"),
            (["$ref": "https://example.com/s.json"], "$ref"), (["type": "string", "pattern": "(?=x)"], "pattern"),
            (["type": "array", "minItems": 3, "maxItems": 2], "maxItems"),
        ]
        for (schema, keyword) in cases {
            do {
                _ = try JSONSchemaCompiler.compile(schema)
                Issue.record("\(schema) accepted")
            } catch {
                #expect(error.keyword == keyword, "\(error)")
            }
        }
    }

    @Test func anyJSONObjectAcceptsNestedValues() throws {
        let p = JSONSchemaCompiler.anyObject()
        #expect(try matches(p, #"{"a": [1, 2.5e3, {"b": null}], "c": {"d": true}}"#))
        #expect(try !matches(p, "[1]"))
        #expect(try !matches(p, #"{"a": tru}"#))
    }
}

@Suite struct GBNFTests {
    static let json = #"""
    root   ::= object
    value  ::= object | array | string | number | ("true" | "false" | "null") ws
    object ::=
      "{" ws (
                string ":" ws value
        ("," ws string ":" ws value)*
      )? "}" ws
    array  ::= "[" ws ( value ("," ws value)* )? "]" ws   # a comment
    string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
    number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
    ws ::= | " " | "\n" [ \t]{0,20}
    """#

    @Test func jsonGrammarAcceptsJSONObjects() throws {
        let (p, rules) = try GBNFParser.parse(Self.json)
        let nfa = try ByteNFA(p, rules: rules, recursionDepth: GBNFParser.recursionDepth)
        #expect(nfa.stateCount < ByteNFA.maxStates)
        #expect(try matches(p, #"{"a": [1, "x\n", {"b": null}]}"#.replacingOccurrences(of: "\n\"", with: "\\n\""), rules: rules))
        #expect(try matches(p, "{}", rules: rules))
        #expect(try !matches(p, "[]", rules: rules))
        #expect(try !matches(p, #"{"a" 1}"#, rules: rules))
    }

    @Test func grammarErrorsNameTheRuleOrLine() {
        do { _ = try GBNFParser.parse("root ::= item"); Issue.record("accepted") } catch { #expect(error.keyword == "item") }
        do { _ = try GBNFParser.parse("start ::= \"a\""); Issue.record("accepted") } catch { #expect(error.keyword == "root") }
        do { _ = try GBNFParser.parse("root ::= \"a\"\nx ::= [b"); Issue.record("accepted") } catch { #expect(error.path == "line 2") }
    }
}

@Suite struct TokenMaskTests {
    /// A vocabulary of byte strings, some multi-byte UTF-8, some that break UTF-8.
    static func vocabulary() -> TokenVocabulary {
        var pieces: [[UInt8]] = [[]] // 0: a control token
        for b in UInt8(0)...255 { pieces.append([b]) }
        for s in ["{\"", "\":", "\",", "\"}", "true", "fal", "se", "null", " \"", "12", "3.", "é", "ab", "abc", "\"a", "}\n",
                  ", \"", "name", "age", "\": \"", "\": ", "[\"", "\"]", "],", "}}", "{\n  \""] {
            pieces.append(Array(s.utf8))
        }
        pieces.append([0xC3]) // half of é
        pieces.append([0xA9, 0x22])
        return TokenVocabulary(tokenBytes: pieces, endTokens: [TokenID(pieces.count)])
    }

    @Test func trieMaskEqualsTheTokenByTokenCheck() throws {
        var pieces = Self.vocabulary().tokenBytes
        pieces.append([]) // the end token
        let vocab = TokenVocabulary(tokenBytes: pieces, endTokens: [TokenID(pieces.count - 1)])
        let schema: JSONValue = ["type": "object", "properties": ["name": ["type": "string", "maxLength": 4],
                                                                  "age": ["type": "integer", "minimum": 0, "maximum": 130],
                                                                  "ok": ["type": "boolean"]], "required": ["name", "age"]]
        let (p, rules) = try JSONSchemaCompiler.compile(schema)
        let grammar = try CompiledGrammar(p, rules: rules, vocabulary: vocab)
        var rng = SplitMix64(seed: 7)
        for _ in 0..<30 {
            var m = GrammarMatcher(grammar)
            for _ in 0..<60 {
                let mask = m.allowedTokens()
                // The independent check: run each token's bytes through the automaton.
                for t in 0..<vocab.size {
                    let id = TokenID(t)
                    let expected: Bool
                    if vocab.endTokens.contains(id) { expected = grammar.isAccepting(m.state) } else {
                        expected = !pieces[t].isEmpty && grammar.advance(m.state, bytes: pieces[t]) >= 0
                    }
                    #expect(mask.contains(id) == expected, "token \(t) \(pieces[t])")
                }
                let allowed = mask.tokens
                guard !allowed.isEmpty else { break }
                let pick = allowed[Int(rng.next() % UInt64(allowed.count))]
                if vocab.endTokens.contains(pick) { break }
                let accepted = m.accept(pick)
                #expect(accepted)
            }
        }
    }

    @Test func boundedStringMasksStayExactThroughTheString() throws {
        var pieces = Self.vocabulary().tokenBytes
        pieces.append([])
        let vocab = TokenVocabulary(tokenBytes: pieces, endTokens: [TokenID(pieces.count - 1)])
        let grammar = try CompiledGrammar(try JSONSchemaCompiler.compile(["type": "string", "minLength": 5, "maxLength": 60]).0,
                                          vocabulary: vocab)
        let abc = TokenID(pieces.firstIndex(of: Array("abc".utf8))!)
        var m = GrammarMatcher(grammar)
        let opened = m.accept(TokenID(1 + 0x22))
        #expect(opened)
        for step in 0..<21 {
            let mask = m.allowedTokens()
            for t in 0..<vocab.size where !vocab.endTokens.contains(TokenID(t)) {
                let expected = !pieces[t].isEmpty && grammar.advance(m.state, bytes: pieces[t]) >= 0
                #expect(mask.contains(TokenID(t)) == expected, "step \(step) token \(t) \(pieces[t])")
            }
            // 60 characters: the 20th "abc" fills the string, then only the closing quote fits.
            if step < 20 {
                let taken = m.accept(abc)
                #expect(taken)
            } else {
                #expect(!mask.contains(abc))
            }
        }
    }

    @Test func maskApplicationKeepsOnlyAllowedLogits() throws {
        let vocab = Self.vocabulary()
        let grammar = try CompiledGrammar(.literal("true"), vocabulary: vocab)
        var logits = [Float](repeating: 1, count: vocab.size + 3)
        grammar.mask(grammar.startState).apply(to: &logits)
        let kept = logits.indices.filter { logits[$0] > -.infinity }
        #expect(kept.map { vocab.tokenBytes[$0] }.allSatisfy { Array("true".utf8).starts(with: $0) })
        #expect(kept.contains(Int(1 + 116))) // the single byte "t"
        #expect(kept.count == 2) // "t" and "true"
    }
}

@Suite struct ToolCallGrammarTests {
    /// DeepSeek's framing (`ToolCallLayout.framed`): every call between the call tokens, all of
    /// them between the calls tokens; the arguments follow the function's schema.
    @Test func framedCallsFollowTheLayoutAndTheSchema() throws {
        var pieces: [[UInt8]] = [[]]
        for b in UInt8(0)...255 { pieces.append([b]) }
        let vocab = TokenVocabulary(tokenBytes: pieces + [[]], endTokens: [TokenID(pieces.count)])
        let params: JSONValue = ["type": "object", "properties": ["city": ["type": "string", "maxLength": 10]], "required": ["city"],
                                 "additionalProperties": false]
        let layout = JSONSchemaCompiler.ToolCallLayout.framed(callOpen: "<B>", beforeName: "function<S>", afterName: "\n```json\n",
                                                              afterArguments: "\n```", callClose: "<E>")
        func accepts(_ g: CompiledGrammar, _ text: String) -> Bool {
            let s = g.advance(g.startState, bytes: Array(text.utf8))
            return s >= 0 && g.isAccepting(s)
        }
        let one = try JSONSchemaCompiler.toolCalls([("get_weather", params), ("noop", ["type": "object"])], open: "<CALLS>", close: "</CALLS>",
                                                   argumentsKey: "arguments", multiple: false, layout: layout, vocabulary: vocab)
        let call = "<B>function<S>get_weather\n```json\n{\"city\": \"Paris\"}\n```<E>"
        #expect(accepts(one, "<CALLS>" + call + "</CALLS>"))
        #expect(accepts(one, "<CALLS><B>function<S>noop\n```json\n{}\n```<E></CALLS>"))
        #expect(!accepts(one, "<CALLS>" + call + "\n" + call + "</CALLS>"), "two calls where one is asked for")
        #expect(!accepts(one, "<CALLS><B>function<S>get_weather\n```json\n{\"town\": \"Paris\"}\n```<E></CALLS>"))
        #expect(!accepts(one, "<CALLS><B>get_weather<S>{\"city\": \"Paris\"}<E></CALLS>"))
        #expect(!accepts(one, "<CALLS><B>function<S>other\n```json\n{}\n```<E></CALLS>"))
        let many = try JSONSchemaCompiler.toolCalls([("get_weather", params)], open: "<CALLS>", close: "</CALLS>",
                                                    argumentsKey: "arguments", multiple: true, layout: layout, vocabulary: vocab)
        #expect(accepts(many, "<CALLS>" + call + "\n" + call + "</CALLS>"))
        #expect(accepts(many, "<CALLS>" + call + "</CALLS>"))
        #expect(!accepts(many, "<CALLS></CALLS>"))
    }
}
