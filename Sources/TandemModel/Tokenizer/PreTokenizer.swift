/// How byte-level BPE splits text into words before merging (GGUF `tokenizer.ggml.pre`).
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2 = "gpt2"
    /// SmolLM: every digit on its own (`\p{N}`), then the GPT-2 pattern.
    case smollm = "smollm"

    /// The pre-tokenizer for a GGUF `tokenizer.ggml.pre` value; "default" is GPT-2.
    public init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "default": self = .gpt2
        case "smollm": self = .smollm
        default: return nil
        }
    }

    /// Splits `s` into word ranges.
    func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case .gpt2:
            return Self.gpt2(s, 0..<s.count)
        case .smollm:
            var out: [Range<Int>] = []
            var start = 0
            for i in 0..<s.count where Self.isNumber(s[i]) {
                if i > start { out += Self.gpt2(s, start..<i) }
                out.append(i..<(i + 1))
                start = i + 1
            }
            if start < s.count { out += Self.gpt2(s, start..<s.count) }
            return out
        }
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// The GPT-2 pattern over `s[range]`, alternatives tried in order at each position.
    static func gpt2(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        let n = range.upperBound
        var i = range.lowerBound
        func run(from j: Int, while pred: (Unicode.Scalar) -> Bool) -> Int {
            var k = j
            while k < n && pred(s[k]) { k += 1 }
            return k
        }
        let isOther: (Unicode.Scalar) -> Bool = { !isSpace($0) && !isLetter($0) && !isNumber($0) }
        while i < n {
            let c = s[i]
            // 's 't 're 've 'm 'll 'd
            if c == "'" && i + 1 < n {
                let a = s[i + 1]
                if a == "s" || a == "t" || a == "m" || a == "d" { out.append(i..<(i + 2)); i += 2; continue }
                if i + 2 < n {
                    let b = s[i + 2]
                    if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
                        out.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            let lead = c == " " && i + 1 < n ? i + 1 : i
            var matched = false
            for pred in [isLetter, isNumber, isOther] where pred(s[lead]) {
                let end = run(from: lead, while: pred)
                out.append(i..<end)
                i = end
                matched = true
                break
            }
            if matched { continue }
            if isSpace(c) {
                let end = run(from: i, while: isSpace)
                // \s+(?!\S): leave the last space to prefix the following word.
                let stop = end < n && end - i >= 2 ? end - 1 : end
                out.append(i..<stop)
                i = stop
                continue
            }
            out.append(i..<(i + 1))
            i += 1
        }
        return out
    }
}
