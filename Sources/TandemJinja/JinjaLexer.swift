import Foundation

/// A token inside `{{ … }}` or `{% … %}`.
enum JinjaToken: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    case op(String)
}

/// One piece of a template: text, an output tag or a statement tag, with its line.
enum JinjaChunk {
    case text(String)
    case output([JinjaToken], line: Int)
    case statement([JinjaToken], line: Int)
}

/// Splits a template into chunks with Jinja's whitespace rules as Hugging Face configures them:
/// `trim_blocks` (the newline after a block or comment tag goes), `lstrip_blocks` (spaces and
/// tabs before a block or comment tag on its own line go), `-`/`+` on either side of a tag,
/// newlines normalised to `\n` and one trailing newline dropped (`keep_trailing_newline` off).
struct JinjaLexer {
    private let s: [UInt8]
    private var i = 0
    private var line = 1
    private var chunks: [JinjaChunk] = []
    private var pending: [UInt8] = []
    private var lineStarting = true

    static func chunks(_ source: String) throws -> [JinjaChunk] {
        var text = source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        if text.hasSuffix("\n") { text.removeLast() }
        var lexer = JinjaLexer(s: Array(text.utf8))
        try lexer.run()
        return lexer.chunks
    }

    private init(s: [UInt8]) { self.s = s }

    private func at(_ k: Int) -> UInt8? { k < s.count ? s[k] : nil }
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }

    private mutating func flushText() {
        if !pending.isEmpty { chunks.append(.text(String(decoding: pending, as: UTF8.self))) }
        pending = []
    }

    private mutating func run() throws {
        while i < s.count {
            guard s[i] == UInt8(ascii: "{"), let next = at(i + 1),
                  next == UInt8(ascii: "{") || next == UInt8(ascii: "%") || next == UInt8(ascii: "#") else {
                if s[i] == 0x0A { line += 1 }
                pending.append(s[i])
                i += 1
                continue
            }
            let kind = next
            var j = i + 2
            let sign = at(j)
            let leftStrip = sign == UInt8(ascii: "-")
            let leftKeep = sign == UInt8(ascii: "+")
            if leftStrip || leftKeep { j += 1 }
            // Whitespace before the tag.
            if leftStrip {
                while let last = pending.last, Self.isSpace(last) { pending.removeLast() }
            } else if !leftKeep, kind != UInt8(ascii: "{") {
                let lpos = (pending.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
                if lpos > 0 || lineStarting, lpos < pending.count,
                   pending[lpos...].allSatisfy({ Self.isSpace($0) }) {
                    pending.removeSubrange(lpos...)
                }
            }
            let tagLine = line
            i = j
            if kind == UInt8(ascii: "#") {
                // A comment: up to `#}`.
                guard let end = find("#}", from: i) else { throw JinjaError("comment not closed", line: tagLine) }
                let rightStrip = end > i && s[end - 1] == UInt8(ascii: "-")
                let rightKeep = end > i && s[end - 1] == UInt8(ascii: "+")
                line += s[i..<end].filter { $0 == 0x0A }.count
                i = end + 2
                flushText()
                afterTag(rightStrip: rightStrip, trim: !rightKeep)
                continue
            }
            let isBlock = kind == UInt8(ascii: "%")
            let (tokens, rightStrip, rightKeep) = try tokens(closer: isBlock ? UInt8(ascii: "%") : UInt8(ascii: "}"), tagLine: tagLine)
            flushText()
            if isBlock, tokens.first == .name("raw") {
                afterTag(rightStrip: rightStrip, trim: !rightKeep)
                try raw(tagLine: tagLine)
                continue
            }
            chunks.append(isBlock ? .statement(tokens, line: tagLine) : .output(tokens, line: tagLine))
            afterTag(rightStrip: rightStrip, trim: isBlock && !rightKeep)
        }
        flushText()
    }

    /// After a tag: `-` strips all following whitespace, `trim_blocks` one newline.
    private mutating func afterTag(rightStrip: Bool, trim: Bool) {
        lineStarting = false
        if rightStrip {
            while i < s.count, Self.isSpace(s[i]) {
                if s[i] == 0x0A { line += 1 }
                lineStarting = s[i] == 0x0A
                i += 1
            }
        } else if trim, at(i) == 0x0A {
            i += 1
            line += 1
            lineStarting = true
        }
    }

    /// `{% raw %}…{% endraw %}`: the text between, verbatim.
    private mutating func raw(tagLine: Int) throws {
        var k = i
        while let open = find("{%", from: k) {
            var j = open + 2
            if at(j) == UInt8(ascii: "-") || at(j) == UInt8(ascii: "+") { j += 1 }
            while let b = at(j), Self.isSpace(b) { j += 1 }
            if matches("endraw", at: j) {
                var body = Array(s[i..<open])
                if at(open + 2) == UInt8(ascii: "-") { while let l = body.last, Self.isSpace(l) { body.removeLast() } }
                line += body.filter { $0 == 0x0A }.count
                pending = body
                flushText()
                j += 6
                while let b = at(j), Self.isSpace(b) { j += 1 }
                let strip = at(j) == UInt8(ascii: "-")
                if strip || at(j) == UInt8(ascii: "+") { j += 1 }
                guard matches("%}", at: j) else { throw JinjaError("endraw not closed", line: line) }
                i = j + 2
                afterTag(rightStrip: strip, trim: true)
                return
            }
            k = open + 2
        }
        throw JinjaError("raw block without endraw", line: tagLine)
    }

    private func matches(_ lit: String, at k: Int) -> Bool {
        let b = Array(lit.utf8)
        guard k + b.count <= s.count else { return false }
        return Array(s[k..<(k + b.count)]) == b
    }

    private func find(_ lit: String, from k: Int) -> Int? {
        var p = k
        while p < s.count {
            if matches(lit, at: p) { return p }
            p += 1
        }
        return nil
    }

    /// The tokens of a tag up to its closer (`%}` or `}}`) outside brackets and strings.
    private mutating func tokens(closer: UInt8, tagLine: Int) throws -> ([JinjaToken], Bool, Bool) {
        var out: [JinjaToken] = []
        var depth = 0
        while true {
            while let b = at(i), Self.isSpace(b) {
                if b == 0x0A { line += 1 }
                i += 1
            }
            guard let c = at(i) else { throw JinjaError("tag not closed", line: tagLine) }
            if depth == 0 {
                for (sign, len) in [(UInt8(ascii: "-"), 3), (UInt8(ascii: "+"), 3), (0, 2)] {
                    let k = len == 3 ? i + 1 : i
                    if len == 3, c != sign { continue }
                    if at(k) == closer, at(k + 1) == UInt8(ascii: "}") {
                        i += len
                        return (out, sign == UInt8(ascii: "-"), sign == UInt8(ascii: "+"))
                    }
                }
            }
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                out.append(.string(try stringLiteral(quote: c, tagLine: tagLine)))
            } else if Self.isNameStart(c) {
                let start = i
                while let b = at(i), Self.isNameStart(b) || (b >= 0x30 && b <= 0x39) { i += 1 }
                out.append(.name(String(decoding: s[start..<i], as: UTF8.self)))
            } else if c >= 0x30 && c <= 0x39 {
                out.append(number())
            } else {
                let three = i + 1 < s.count ? String(decoding: s[i..<(i + 2)], as: UTF8.self) : ""
                let op: String
                if ["//", "**", "==", "!=", "<=", ">="].contains(three) {
                    op = three
                } else if "+-*/%~<>=()[]{},.:|".utf8.contains(c) {
                    op = String(UnicodeScalar(c))
                } else {
                    throw JinjaError("unexpected character '\(String(UnicodeScalar(c)))'", line: line)
                }
                if op == "(" || op == "[" || op == "{" { depth += 1 }
                if op == ")" || op == "]" || op == "}" { depth -= 1 }
                i += op.utf8.count
                out.append(.op(op))
            }
        }
    }

    private static func isNameStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_")
    }

    private mutating func number() -> JinjaToken {
        let start = i
        func digits() { while let b = at(i), (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") { i += 1 } }
        digits()
        var isFloat = false
        if at(i) == UInt8(ascii: "."), let d = at(i + 1), d >= 0x30 && d <= 0x39 {
            isFloat = true
            i += 1
            digits()
        }
        if at(i) == UInt8(ascii: "e") || at(i) == UInt8(ascii: "E") {
            var k = i + 1
            if at(k) == UInt8(ascii: "+") || at(k) == UInt8(ascii: "-") { k += 1 }
            if let d = at(k), d >= 0x30 && d <= 0x39 {
                isFloat = true
                i = k
                digits()
            }
        }
        let text = String(decoding: s[start..<i], as: UTF8.self).replacingOccurrences(of: "_", with: "")
        return isFloat ? .double(Double(text) ?? 0) : .int(Int(text) ?? 0)
    }

    /// A quoted literal with Python's escapes.
    private mutating func stringLiteral(quote: UInt8, tagLine: Int) throws -> String {
        i += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flushRaw() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw = []
        }
        while true {
            guard let c = at(i) else { throw JinjaError("string literal not closed", line: tagLine) }
            if c == quote { i += 1; break }
            if c == 0x0A { line += 1 }
            if c != UInt8(ascii: "\\") { raw.append(c); i += 1; continue }
            guard let e = at(i + 1) else { throw JinjaError("string literal not closed", line: tagLine) }
            i += 2
            flushRaw()
            switch e {
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "0"): scalars.append("\0")
            case UInt8(ascii: "a"): scalars.append("\u{07}")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "v"): scalars.append("\u{0B}")
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): scalars.append(UnicodeScalar(e))
            case 0x0A: break  // a backslash-newline continues the line
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "x") ? 2 : (e == UInt8(ascii: "u") ? 4 : 8)
                guard i + n <= s.count, let v = UInt32(String(decoding: s[i..<(i + n)], as: UTF8.self), radix: 16),
                      let u = UnicodeScalar(v) else { throw JinjaError("bad \\\(UnicodeScalar(e)) escape", line: line) }
                scalars.append(u)
                i += n
            default:
                // Python keeps an unknown escape as written.
                scalars.append("\\")
                scalars.append(UnicodeScalar(e))
            }
        }
        flushRaw()
        return String(scalars)
    }
}
