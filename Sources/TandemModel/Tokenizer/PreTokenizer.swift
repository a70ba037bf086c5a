/// How byte-level BPE splits text into words before merging (GGUF `tokenizer.ggml.pre`).
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2 = "gpt2"
    /// SmolLM: every digit on its own (`\p{N}`), then the GPT-2 pattern.
    case smollm = "smollm"
    /// Llama 3 (`llama-bpe`): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3 = "llama-bpe"
    /// Qwen2 / Qwen2.5 / Qwen3: the Llama 3 pattern with single digits (`\p{N}`).
    case qwen2 = "qwen2"

    /// The pre-tokenizer for a GGUF `tokenizer.ggml.pre` value; "default" is GPT-2.
    public init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "default": self = .gpt2
        case "smollm": self = .smollm
        case "llama-bpe", "llama3": self = .llama3
        case "qwen2": self = .qwen2
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
        case .llama3:
            return Self.llama3(s, digits: 3)
        case .qwen2:
            return Self.llama3(s, digits: 1)
        }
    }

    /// The Llama 3 pattern (`digits` numbers per word at most), alternatives tried in order.
    static func llama3(_ s: [Unicode.Scalar], digits: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        let n = s.count
        var i = 0
        func run(from j: Int, while pred: (Unicode.Scalar) -> Bool) -> Int {
            var k = j
            while k < n && pred(s[k]) { k += 1 }
            return k
        }
        let isNewline: (Unicode.Scalar) -> Bool = { $0 == "\r" || $0 == "\n" }
        let isOther: (Unicode.Scalar) -> Bool = { !isSpace($0) && !isLetter($0) && !isNumber($0) }
        while i < n {
            let c = s[i]
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == "'" && i + 1 < n {
                let a = Character(s[i + 1]).lowercased()
                if ["s", "t", "m", "d"].contains(a) { out.append(i..<(i + 2)); i += 2; continue }
                if i + 2 < n, ["re", "ve", "ll"].contains(a + Character(s[i + 2]).lowercased()) {
                    out.append(i..<(i + 3)); i += 3; continue
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if isLetter(c) {
                let end = run(from: i, while: isLetter)
                out.append(i..<end); i = end; continue
            }
            if !isNewline(c), !isNumber(c), i + 1 < n, isLetter(s[i + 1]) {
                let end = run(from: i + 1, while: isLetter)
                out.append(i..<end); i = end; continue
            }
            // \p{N}{1,digits}
            if isNumber(c) {
                var end = i
                while end < n, end - i < digits, isNumber(s[end]) { end += 1 }
                out.append(i..<end); i = end; continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let lead = c == " " && i + 1 < n ? i + 1 : i
            if isOther(s[lead]) {
                var end = run(from: lead, while: isOther)
                end = run(from: end, while: isNewline)
                out.append(i..<end); i = end; continue
            }
            if isSpace(c) {
                let end = run(from: i, while: isSpace)
                // \s*[\r\n]+: through the last newline of the whitespace run.
                if let last = (i..<end).last(where: { isNewline(s[$0]) }) {
                    out.append(i..<(last + 1)); i = last + 1; continue
                }
                // \s+(?!\S), else \s+.
                let stop = end < n && end - i >= 2 ? end - 1 : end
                out.append(i..<stop); i = stop; continue
            }
            out.append(i..<(i + 1))
            i += 1
        }
        return out
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
