import Foundation

/// The Python methods of `str`, `list` and `dict` that templates call. Methods that change a
/// list or dictionary are refused, as Jinja's immutable sandbox (the one transformers uses) does.
enum JinjaMethods {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith", "replace", "upper", "lower",
        "title", "capitalize", "find", "rfind", "index", "rindex", "count", "join", "format", "splitlines",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "removeprefix", "removesuffix",
        "partition", "rpartition", "center", "ljust", "rjust", "zfill", "casefold", "swapcase", "isnumeric",
        "isdecimal",
    ]
    static let listMethods: Set<String> = ["index", "count", "copy", "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"]
    static let dictMethods: Set<String> = ["get", "items", "keys", "values", "copy", "pop", "popitem", "update", "setdefault", "clear"]
    static let unsafe: Set<String> = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear", "popitem", "update", "setdefault"]

    static func bound(_ receiver: JinjaValue, _ name: String) -> JinjaValue {
        .callable(JinjaCallable(name: name) { args, kwargs in try call(receiver, name, args, kwargs) })
    }

    static func call(_ receiver: JinjaValue, _ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        func arg(_ i: Int, _ key: String) -> JinjaValue? {
            if let kw = kwargs.first(where: { $0.0 == key }) { return kw.1 }
            return i < args.count ? args[i] : nil
        }
        func text(_ i: Int, _ key: String) throws -> String? {
            guard let v = arg(i, key) else { return nil }
            if case .none = v { return nil }
            guard case .string(let s) = v else { throw JinjaError("\(name)() argument must be str, not \(v.typeName)") }
            return s.text
        }
        if unsafe.contains(name) {
            throw JinjaError("access to attribute '\(name)' of '\(receiver.typeName)' object is unsafe.")
        }
        switch receiver {
        case .dict(let d):
            switch name {
            case "get":
                let found: JinjaValue?
                switch arg(0, "key") {
                case .string(let k)?: found = d[k.text]
                case .int(let i)?: found = d[int: i]
                default: found = nil
                }
                return found ?? arg(1, "default") ?? .none
            case "items": return .list(d.items)
            case "keys": return .list(d.keys.map(d.keyValue))
            case "values": return .list(d.pairs.map(\.1))
            case "copy": return receiver
            default: break
            }
        case .list(let l), .tuple(let l):
            switch name {
            case "index":
                guard let x = arg(0, "value"), let i = l.firstIndex(where: { $0.equals(x) }) else { throw JinjaError("value is not in list") }
                return .int(i)
            case "count":
                guard let x = arg(0, "value") else { throw JinjaError("count() takes one argument") }
                return .int(l.filter { $0.equals(x) }.count)
            case "copy": return receiver
            default: break
            }
        case .string(let js):
            let s = js.text
            let data = js.isData
            func out(_ t: String) -> JinjaValue { .str(t, data: data) }
            switch name {
            case "strip", "lstrip", "rstrip":
                let chars = try text(0, "chars").map { Set($0.unicodeScalars) }
                let set: (Unicode.Scalar) -> Bool = chars.map { c in { c.contains($0) } } ?? isPythonSpace
                return .string(js.stripped(leading: name != "rstrip", trailing: name != "lstrip", in: set))
            case "split", "rsplit":
                let sep = try text(0, "sep")
                let maxsplit = arg(1, "maxsplit")?.integer ?? -1
                return .list(try split(s, sep: sep, maxsplit: maxsplit, fromRight: name == "rsplit").map(out))
            case "startswith", "endswith":
                var candidates: [String] = []
                switch arg(0, "prefix") ?? arg(0, "suffix") {
                case .string(let p)?: candidates = [p.text]
                case .list(let l)?, .tuple(let l)?: candidates = l.map(\.printed.text)
                default: throw JinjaError("\(name) first arg must be str or a tuple of str")
                }
                return .bool(candidates.contains { name == "startswith" ? s.unicodeScalars.starts(with: $0.unicodeScalars)
                    : s.unicodeScalars.reversed().starts(with: $0.unicodeScalars.reversed()) })
            case "replace":
                guard let old = try text(0, "old"), let new = try text(1, "new") else { throw JinjaError("replace() takes two strings") }
                let count = arg(2, "count")?.integer ?? -1
                return out(replace(s, old, new, count: count))
            case "upper": return out(s.uppercased())
            case "lower", "casefold": return out(s.lowercased())
            case "title": return out(title(s))
            case "capitalize": return out(capitalize(s))
            case "swapcase": return out(String(s.map { $0.isUppercase ? Character($0.lowercased()) : Character($0.uppercased()) }))
            case "find", "rfind", "index", "rindex":
                guard let sub = try text(0, "sub") else { throw JinjaError("\(name)() takes a string") }
                let hay = Array(s.unicodeScalars), needle = Array(sub.unicodeScalars)
                var found: Int?
                if needle.count <= hay.count {
                    let range = Array(0...(hay.count - needle.count))
                    for i in (name.hasPrefix("r") ? range.reversed() : range) where Array(hay[i..<(i + needle.count)]) == needle {
                        found = i
                        break
                    }
                }
                if let found { return .int(found) }
                if name.hasSuffix("index") { throw JinjaError("substring not found") }
                return .int(-1)
            case "count":
                guard let sub = try text(0, "x"), !sub.isEmpty else { return .int(s.unicodeScalars.count + 1) }
                return .int(s.components(separatedBy: sub).count - 1)
            case "join":
                guard let items = arg(0, "iterable") else { throw JinjaError("join() takes one argument") }
                let list: [JinjaValue]
                switch items {
                case .list(let l), .tuple(let l), .generator(let l): list = l
                case .string(let t): list = t.text.unicodeScalars.map { .str(String($0)) }
                default: throw JinjaError("can only join an iterable")
                }
                var r = JinjaString("")
                for (i, x) in list.enumerated() {
                    guard case .string(let xs) = x else { throw JinjaError("sequence item \(i): expected str instance, \(x.typeName) found") }
                    if i > 0 { r = r + js }
                    r = r + xs
                }
                return .string(r)
            case "format": return .string(try braceFormat(js, args, kwargs))
            case "splitlines": return .list(splitlines(s).map(out))
            case "isdigit", "isnumeric", "isdecimal":
                return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
            case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.properties.isAlphabetic))
            case "isalnum":
                return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
            case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonSpace))
            case "islower": return .bool(s.contains(where: \.isLetter) && s == s.lowercased())
            case "isupper": return .bool(s.contains(where: \.isLetter) && s == s.uppercased())
            case "removeprefix":
                guard let p = try text(0, "prefix") else { throw JinjaError("removeprefix() takes a string") }
                return out(s.hasPrefix(p) ? String(s.dropFirst(p.count)) : s)
            case "removesuffix":
                guard let p = try text(0, "suffix") else { throw JinjaError("removesuffix() takes a string") }
                return out(s.hasSuffix(p) && !p.isEmpty ? String(s.dropLast(p.count)) : s)
            case "partition", "rpartition":
                guard let sep = try text(0, "sep"), !sep.isEmpty else { throw JinjaError("empty separator") }
                let r = name == "partition" ? s.range(of: sep) : s.range(of: sep, options: .backwards)
                guard let r else { return .list(name == "partition" ? [out(s), out(""), out("")] : [out(""), out(""), out(s)]) }
                return .list([out(String(s[..<r.lowerBound])), out(sep), out(String(s[r.upperBound...]))])
            case "center", "ljust", "rjust", "zfill":
                let width = arg(0, "width")?.integer ?? 0
                let n = s.unicodeScalars.count
                guard width > n else { return out(s) }
                let fill = name == "zfill" ? "0" : (try text(1, "fillchar") ?? " ")
                let total = width - n
                switch name {
                case "ljust": return out(s + String(repeating: fill, count: total))
                case "rjust", "zfill": return out(String(repeating: fill, count: total) + s)
                default:
                    let left = total / 2 + (total & width & 1)
                    return out(String(repeating: fill, count: left) + s + String(repeating: fill, count: total - left))
                }
            default: break
            }
        default: break
        }
        throw JinjaError("'\(receiver.typeName)' object has no attribute '\(name)'")
    }

    /// Python's `str.split` (whitespace runs when `sep` is nil) and `rsplit`.
    static func split(_ s: String, sep: String?, maxsplit: Int, fromRight: Bool) throws -> [String] {
        if let sep {
            guard !sep.isEmpty else { throw JinjaError("empty separator") }
            var parts = s.components(separatedBy: sep)
            if maxsplit >= 0, parts.count > maxsplit + 1 {
                if fromRight {
                    let head = parts[..<(parts.count - maxsplit)].joined(separator: sep)
                    parts = [head] + parts[(parts.count - maxsplit)...]
                } else {
                    let tail = parts[maxsplit...].joined(separator: sep)
                    parts = Array(parts[..<maxsplit]) + [tail]
                }
            }
            return parts
        }
        var scalars = Array(s.unicodeScalars)
        if fromRight { scalars.reverse() }
        var parts: [String] = []
        var i = 0
        while i < scalars.count {
            while i < scalars.count, isPythonSpace(scalars[i]) { i += 1 }
            guard i < scalars.count else { break }
            if maxsplit >= 0, parts.count == maxsplit {
                var rest = Array(scalars[i...])
                // The remainder keeps its own trailing whitespace, as Python's does.
                if fromRight { rest.reverse() }
                var v = String.UnicodeScalarView()
                v.append(contentsOf: rest)
                parts.append(String(v))
                i = scalars.count
                break
            }
            var j = i
            while j < scalars.count, !isPythonSpace(scalars[j]) { j += 1 }
            var word = Array(scalars[i..<j])
            if fromRight { word.reverse() }
            var v = String.UnicodeScalarView()
            v.append(contentsOf: word)
            parts.append(String(v))
            i = j
        }
        return fromRight ? parts.reversed() : parts
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        if count < 0 { return old.isEmpty ? insertEverywhere(s, new) : s.replacingOccurrences(of: old, with: new) }
        var result = ""
        var rest = Substring(s)
        var n = 0
        while n < count, !old.isEmpty, let r = rest.range(of: old) {
            result += rest[..<r.lowerBound] + new
            rest = rest[r.upperBound...]
            n += 1
        }
        return result + rest
    }

    private static func insertEverywhere(_ s: String, _ new: String) -> String {
        new + s.unicodeScalars.map { String($0) + new }.joined()
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.first else { return s }
        return String(first).uppercased() + s.dropFirst().lowercased()
    }

    /// Python's `str.title`: a letter after a non-letter is upper case, every other letter lower.
    static func title(_ s: String) -> String {
        var out = ""
        var prevLetter = false
        for c in s {
            out += prevLetter ? c.lowercased() : c.uppercased()
            prevLetter = c.isLetter
        }
        return out
    }

    /// Python's `str.splitlines()` (line boundaries dropped).
    static func splitlines(_ s: String) -> [String] {
        var lines: [String] = []
        var cur = String.UnicodeScalarView()
        var scalars = Array(s.unicodeScalars)[...]
        while let c = scalars.first {
            scalars = scalars.dropFirst()
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(String(cur)); cur = String.UnicodeScalarView()
            case 0x0D:
                if scalars.first == "\n" { scalars = scalars.dropFirst() }
                lines.append(String(cur)); cur = String.UnicodeScalarView()
            default: cur.append(c)
            }
        }
        if !cur.isEmpty { lines.append(String(cur)) }
        return lines
    }

    /// `'{} and {name}'.format(...)` (fields `{}`, `{0}`, `{name}`, `{name.attr}`, `{{`, `}}`;
    /// format specs are refused).
    static func braceFormat(_ f: JinjaString, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaString {
        let s = Array(f.text.unicodeScalars)
        var r = JinjaString("")
        var lit = String.UnicodeScalarView()
        var auto = 0
        var i = 0
        func flush() { r = r + JinjaString(String(lit), isData: f.isData); lit = String.UnicodeScalarView() }
        while i < s.count {
            let c = s[i]
            if c == "{", i + 1 < s.count, s[i + 1] == "{" { lit.append("{"); i += 2; continue }
            if c == "}", i + 1 < s.count, s[i + 1] == "}" { lit.append("}"); i += 2; continue }
            if c == "{" {
                guard let close = s[i...].firstIndex(of: "}") else { throw JinjaError("single '{' encountered in format string") }
                var field = String(String.UnicodeScalarView(s[(i + 1)..<close]))
                guard !field.contains(":"), !field.contains("!") else { throw JinjaError("format specs are not supported in str.format") }
                var attrs: [String] = []
                if field.contains(".") {
                    let parts = field.split(separator: ".").map(String.init)
                    field = parts[0]
                    attrs = Array(parts.dropFirst())
                }
                var v: JinjaValue
                if field.isEmpty {
                    guard auto < args.count else { throw JinjaError("Replacement index \(auto) out of range") }
                    v = args[auto]
                    auto += 1
                } else if let n = Int(field) {
                    guard n < args.count else { throw JinjaError("Replacement index \(n) out of range") }
                    v = args[n]
                } else {
                    guard let kw = kwargs.first(where: { $0.0 == field }) else { throw JinjaError("KeyError: '\(field)'") }
                    v = kw.1
                }
                for a in attrs {
                    if case .dict(let d) = v { v = d[a] ?? .undefined(a) }
                }
                flush()
                r = r + v.printed
                i = close + 1
                continue
            }
            lit.append(c)
            i += 1
        }
        flush()
        return r
    }

    /// `'%s: %d' | format(a, b)` (`%s`, `%d`, `%i`, `%r`, `%%`).
    static func percentFormat(_ f: JinjaString, _ args: [JinjaValue]) throws -> JinjaString {
        let s = Array(f.text.unicodeScalars)
        var r = JinjaString("")
        var lit = String.UnicodeScalarView()
        var n = 0
        var i = 0
        while i < s.count {
            if s[i] == "%", i + 1 < s.count {
                let spec = s[i + 1]
                if spec == "%" { lit.append("%"); i += 2; continue }
                guard n < args.count else { throw JinjaError("not enough arguments for format string") }
                r = r + JinjaString(String(lit), isData: f.isData)
                lit = String.UnicodeScalarView()
                switch spec {
                case "s": r = r + args[n].printed
                case "r": r = r + JinjaString(args[n].repr())
                case "d", "i":
                    guard let x = args[n].number else { throw JinjaError("%d format: a number is required") }
                    r = r + JinjaString(String(Int(x)))
                default: throw JinjaError("unsupported format character '\(spec)'")
                }
                n += 1
                i += 2
                continue
            }
            lit.append(s[i])
            i += 1
        }
        return r + JinjaString(String(lit), isData: f.isData)
    }
}
