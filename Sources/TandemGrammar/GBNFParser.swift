/// Parses a GBNF grammar (llama.cpp's `grammar` field): `name ::= alternatives` rules with
/// `"literals"`, `[classes]` (ranges, `^` negation), `.`, rule names, `( groups )`, `|`, and the
/// quantifiers `* + ? {m} {m,} {m,n}`; `#` starts a comment. The start rule is `root`. Rules are
/// inlined where used, recursion unrolled a bounded number of levels (`ByteNFA`).
public struct GBNFParser {
    /// Levels a recursive rule is unrolled (pass to `CompiledGrammar`): llama.cpp's json.gbnf
    /// then nests values 3 deep.
    public static let recursionDepth = 3

    let s: [Unicode.Scalar]
    var i = 0

    public static func parse(_ source: String) throws(GrammarError) -> (Pattern, rules: [String: Pattern]) {
        var p = GBNFParser(s: Array(source.unicodeScalars))
        var rules: [String: Pattern] = [:]
        p.skipSpace()
        while p.i < p.s.count {
            let at = p.i
            let name = p.name()
            guard !name.isEmpty else { throw p.error("expected a rule name") }
            p.skipSpace()
            guard p.consume("::=") else { throw p.error("expected '::=' after rule name '\(name)'") }
            if rules[name] != nil { throw GrammarError(keyword: name, path: "character \(at)", "grammar: rule '\(name)' is defined twice") }
            rules[name] = try p.alternatives()
            p.skipSpace()
        }
        guard rules["root"] != nil else { throw GrammarError(keyword: "root", path: "", "grammar: no 'root' rule") }
        for (name, rule) in rules { try check(rule, rules: rules, in: name) }
        return (.reference("root"), rules)
    }

    static func check(_ p: Pattern, rules: [String: Pattern], in rule: String) throws(GrammarError) {
        switch p {
        case .reference(let n):
            if rules[n] == nil { throw GrammarError(keyword: n, path: "rule \(rule)", "grammar: rule '\(rule)' uses undefined rule '\(n)'") }
        case .sequence(let items), .choice(let items): for item in items { try check(item, rules: rules, in: rule) }
        case .repetition(let item, _, _, _): try check(item, rules: rules, in: rule)
        default: break
        }
    }

    func error(_ message: String) -> GrammarError {
        var line = 1
        for c in s[..<min(i, s.count)] where c == "\n" { line += 1 }
        return GrammarError(keyword: "grammar", path: "line \(line)", "grammar: \(message) (line \(line))")
    }

    var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }

    mutating func consume(_ text: String) -> Bool {
        let t = Array(text.unicodeScalars)
        guard i + t.count <= s.count, Array(s[i..<(i + t.count)]) == t else { return false }
        i += t.count
        return true
    }

    mutating func skipSpace() {
        while let c = peek {
            if c == "#" {
                while let d = peek, d != "\n" { _ = d; i += 1 }
            } else if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
            } else {
                return
            }
        }
    }

    static func isNameScalar(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "-" || c == "_"
    }

    mutating func name() -> String {
        var out = ""
        while let c = peek, Self.isNameScalar(c) { out.unicodeScalars.append(c); i += 1 }
        return out
    }

    /// Whether a new rule (`name ::=`) starts here.
    func atRuleStart() -> Bool {
        var j = i
        while j < s.count, Self.isNameScalar(s[j]) { j += 1 }
        guard j > i else { return false }
        while j < s.count, s[j] == " " || s[j] == "\t" || s[j] == "\n" || s[j] == "\r" { j += 1 }
        return j + 3 <= s.count && s[j] == ":" && s[j + 1] == ":" && s[j + 2] == "="
    }

    mutating func alternatives() throws(GrammarError) -> Pattern {
        var options = [try sequence()]
        skipSpace()
        while peek == "|" {
            i += 1
            options.append(try sequence())
            skipSpace()
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    mutating func sequence() throws(GrammarError) -> Pattern {
        var items: [Pattern] = []
        while true {
            skipSpace()
            guard let c = peek, c != "|", c != ")", !atRuleStart() else { break }
            var item: Pattern
            switch c {
            case "\"":
                i += 1
                var bytes: [UInt8] = []
                while let d = peek, d != "\"" {
                    if d == "\\" { i += 1; bytes += Array(String(try escape()).utf8) } else { bytes += Array(String(d).utf8); i += 1 }
                }
                guard peek == "\"" else { throw error("unterminated string literal") }
                i += 1
                item = bytes.isEmpty ? .empty : .literal(bytes)
            case "[":
                item = try characterClass()
            case ".":
                i += 1
                item = ScalarRanges([10...10]).complement().pattern()
            case "(":
                i += 1
                item = try alternatives()
                skipSpace()
                guard peek == ")" else { throw error("missing ')'") }
                i += 1
            default:
                let n = name()
                guard !n.isEmpty else { throw error("unexpected '\(c)'") }
                item = .reference(n)
            }
            item = try quantifiers(item)
            items.append(item)
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .sequence(items)
        }
    }

    mutating func quantifiers(_ item: Pattern) throws(GrammarError) -> Pattern {
        var result = item
        while let c = peek {
            switch c {
            case "*": i += 1; result = .star(result)
            case "+": i += 1; result = .plus(result)
            case "?": i += 1; result = .optional(result)
            case "{":
                i += 1
                let lo = number() ?? 0
                var hi: Int? = lo
                if peek == "," { i += 1; hi = number() }
                guard peek == "}" else { throw error("bad repetition, expected '}'") }
                i += 1
                if let hi, hi < lo { throw error("repetition maximum below minimum") }
                if lo > RegexParser.maxRepeat || (hi ?? 0) > RegexParser.maxRepeat { throw error("repetition counts above \(RegexParser.maxRepeat) are not supported") }
                result = .count(result, lo, hi)
            default: return result
            }
        }
        return result
    }

    mutating func number() -> Int? {
        var v: Int? = nil
        while let c = peek, c >= "0" && c <= "9" {
            v = min((v ?? 0) * 10 + Int(c.value - 48), 1_000_000)
            i += 1
        }
        return v
    }

    mutating func escape() throws(GrammarError) -> Unicode.Scalar {
        guard let c = peek else { throw error("trailing backslash") }
        i += 1
        func hex(_ n: Int, _ p: inout GBNFParser) throws(GrammarError) -> Unicode.Scalar {
            guard p.i + n <= p.s.count, let v = UInt32(String(String.UnicodeScalarView(p.s[p.i..<(p.i + n)])), radix: 16),
                  let u = Unicode.Scalar(v) else { throw p.error("bad hex escape") }
            p.i += n
            return u
        }
        switch c {
        case "n": return "\n"
        case "r": return "\r"
        case "t": return "\t"
        case "x": return try hex(2, &self)
        case "u": return try hex(4, &self)
        case "U": return try hex(8, &self)
        default: return c
        }
    }

    mutating func characterClass() throws(GrammarError) -> Pattern {
        i += 1
        var negated = false
        if peek == "^" { negated = true; i += 1 }
        var set = ScalarRanges()
        while let c = peek, c != "]" {
            i += 1
            let lo = c == "\\" ? try escape() : c
            var hi = lo
            if peek == "-", i + 1 < s.count, s[i + 1] != "]" {
                i += 1
                let d = peek!
                i += 1
                hi = d == "\\" ? try escape() : d
            }
            guard lo.value <= hi.value else { throw error("class range out of order") }
            set.insert(lo.value...hi.value)
        }
        guard peek == "]" else { throw error("missing ']'") }
        i += 1
        return (negated ? set.complement() : set).pattern()
    }
}
