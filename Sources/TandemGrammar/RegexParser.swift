/// Parses a regular expression (the ECMA-262 subset JSON Schema `pattern`, vLLM's
/// `guided_regex` and Outlines use) into a `Pattern` that matches exactly the whole string:
/// literals, `.`, classes with ranges and negation, `\d \w \s` and their negations, escapes
/// (`\n`, `\xHH`, `\uHHHH`), groups (capturing, `(?:`, named), `|`, and the quantifiers
/// `* + ? {n} {n,} {n,m}` (lazy and possessive forms match the same strings). `^` and `$` are
/// accepted at the ends only. Back-references, look-around and word boundaries are refused.
public struct RegexParser {
    let scalars: [Unicode.Scalar]
    var i = 0
    let keyword: String

    /// Repetition bound used for an unbounded quantifier's explicit maximum check.
    public static let maxRepeat = 1000

    public static func parse(_ source: String, keyword: String = "pattern") throws(GrammarError) -> Pattern {
        var p = RegexParser(scalars: Array(source.unicodeScalars), keyword: keyword)
        if p.peek == "^" { p.i += 1 }
        let result = try p.alternation()
        guard p.i == p.scalars.count else { throw p.error("unexpected '\(p.scalars[p.i])'") }
        return result
    }

    private init(scalars: [Unicode.Scalar], keyword: String) {
        self.scalars = scalars
        self.keyword = keyword
    }

    var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

    func error(_ message: String) -> GrammarError {
        GrammarError(keyword: keyword, path: "character \(i)", "\(keyword): \(message)")
    }

    mutating func alternation() throws(GrammarError) -> Pattern {
        var alternatives = [try concatenation()]
        while peek == "|" {
            i += 1
            alternatives.append(try concatenation())
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    mutating func concatenation() throws(GrammarError) -> Pattern {
        var items: [Pattern] = []
        while let c = peek, c != "|", c != ")" {
            if c == "$" {
                i += 1
                guard peek == nil || peek == ")" || peek == "|" else { throw error("'$' is supported only at the end") }
                continue
            }
            if c == "^" { throw error("'^' is supported only at the start") }
            let atom = try self.atom()
            items.append(try quantified(atom))
        }
        return items.count == 1 ? items[0] : .sequence(items)
    }

    mutating func quantified(_ atom: Pattern) throws(GrammarError) -> Pattern {
        var result = atom
        while let c = peek {
            var min = 0, max: Int? = nil
            switch c {
            case "*": i += 1
            case "+": i += 1; min = 1
            case "?": i += 1; max = 1
            case "{":
                guard let (lo, hi) = try braces() else { return result }
                min = lo; max = hi
            default: return result
            }
            if peek == "?" || peek == "+" { i += 1 }
            result = .repetition(result, min: min, max: max, separator: nil)
        }
        return result
    }

    /// `{n}`, `{n,}`, `{n,m}`; nil (and nothing consumed) when `{` starts no quantifier.
    mutating func braces() throws(GrammarError) -> (Int, Int?)? {
        let save = i
        i += 1
        func number(_ p: inout RegexParser) -> Int? {
            var v: Int? = nil
            while let c = p.peek, c >= "0" && c <= "9" { let d = Int(c.value - 48)
                v = (v ?? 0) * 10 + d
                if v! > 100_000 { v = 100_000 }
                p.i += 1
            }
            return v
        }
        guard let lo = number(&self) else { i = save; return nil }
        var hi: Int? = lo
        if peek == "," {
            i += 1
            hi = number(&self)
        }
        guard peek == "}" else { i = save; return nil }
        i += 1
        if let hi, hi < lo { throw error("{\(lo),\(hi)}: the maximum is below the minimum") }
        if lo > Self.maxRepeat || (hi ?? 0) > Self.maxRepeat { throw error("repetition counts above \(Self.maxRepeat) are not supported") }
        return (lo, hi)
    }

    mutating func atom() throws(GrammarError) -> Pattern {
        guard let c = peek else { throw error("unexpected end") }
        switch c {
        case "(":
            i += 1
            if peek == "?" {
                i += 1
                if peek == ":" {
                    i += 1
                } else if peek == "<" || peek == "P" {
                    if peek == "P" { i += 1 }
                    guard peek == "<" else { throw error("unsupported group syntax") }
                    if i + 1 < scalars.count, scalars[i + 1] == "=" || scalars[i + 1] == "!" { throw error("look-behind is not supported") }
                    while let d = peek, d != ">" { i += 1 }
                    guard peek == ">" else { throw error("unterminated group name") }
                    i += 1
                } else {
                    throw error("look-ahead and inline flags are not supported")
                }
            }
            let inner = try alternation()
            guard peek == ")" else { throw error("missing ')'") }
            i += 1
            return inner
        case ".":
            i += 1
            return ScalarRanges([10...10]).complement().pattern()
        case "[":
            return try characterClass()
        case "\\":
            i += 1
            return try escape(inClass: false).pattern()
        case "*", "+", "?":
            throw error("nothing to repeat before '\(c)'")
        default:
            i += 1
            return .literal(String(c))
        }
    }

    mutating func characterClass() throws(GrammarError) -> Pattern {
        i += 1
        var negated = false
        if peek == "^" { negated = true; i += 1 }
        var set = ScalarRanges()
        var first = true
        while let c = peek, c != "]" || first {
            first = false
            var lo: ScalarRanges
            if c == "\\" {
                i += 1
                lo = try escape(inClass: true)
            } else {
                i += 1
                lo = ScalarRanges([c.value...c.value])
            }
            // A range a-b (both single scalars).
            if peek == "-", i + 1 < scalars.count, scalars[i + 1] != "]", lo.ranges.count == 1, lo.ranges[0].count == 1 {
                i += 1
                var hi: ScalarRanges
                if peek == "\\" {
                    i += 1
                    hi = try escape(inClass: true)
                } else {
                    hi = ScalarRanges([peek!.value...peek!.value])
                    i += 1
                }
                guard hi.ranges.count == 1, hi.ranges[0].count == 1 else { throw error("a class range must end in one character") }
                let a = lo.ranges[0].lowerBound, b = hi.ranges[0].lowerBound
                guard a <= b else { throw error("class range out of order") }
                lo = ScalarRanges([a...b])
            }
            set.formUnion(lo)
        }
        guard peek == "]" else { throw error("missing ']'") }
        i += 1
        return (negated ? set.complement() : set).pattern()
    }

    static let digits = ScalarRanges([48...57])
    static let word = ScalarRanges([48...57, 65...90, 95...95, 97...122])
    static let space = ScalarRanges([9...13, 32...32, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A,
                                     0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F, 0x3000...0x3000, 0xFEFF...0xFEFF])

    /// The scalars an escape stands for (after the backslash).
    mutating func escape(inClass: Bool) throws(GrammarError) -> ScalarRanges {
        guard let c = peek else { throw error("trailing backslash") }
        i += 1
        func one(_ v: UInt32) -> ScalarRanges { ScalarRanges([v...v]) }
        switch c {
        case "d": return Self.digits
        case "D": return Self.digits.complement()
        case "w": return Self.word
        case "W": return Self.word.complement()
        case "s": return Self.space
        case "S": return Self.space.complement()
        case "n": return one(10)
        case "r": return one(13)
        case "t": return one(9)
        case "f": return one(12)
        case "v": return one(11)
        case "0": return one(0)
        case "b":
            if inClass { return one(8) }
            throw error("word boundaries (\\b) are not supported")
        case "B": throw error("word boundaries (\\B) are not supported")
        case "x": return one(try hex(2))
        case "u":
            if peek == "{" {
                i += 1
                var v: UInt32 = 0
                while let d = peek, d != "}" {
                    guard let h = UInt32(String(d), radix: 16) else {
                        throw error("bad \\u{...} escape")
                    }
                    v = v * 16 + h
                    i += 1
                }
                i += 1
                return one(v)
            }
            return one(try hex(4))
        case "1", "2", "3", "4", "5", "6", "7", "8", "9", "k":
            throw error("back-references are not supported")
        case "p", "P":
            throw error("Unicode property escapes (\\p) are not supported")
        default:
            return one(c.value)
        }
    }

    mutating func hex(_ count: Int) throws(GrammarError) -> UInt32 {
        guard i + count <= scalars.count,
              let v = UInt32(String(String.UnicodeScalarView(scalars[i..<(i + count)])), radix: 16) else {
            throw error("expected \(count) hex digits")
        }
        i += count
        return v
    }
}
