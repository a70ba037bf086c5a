import Foundation
import TandemCore

// Filters, tests, globals and the Python methods templates call, each as Jinja2 / CPython
// define it (an unknown one is an error naming it).

extension JinjaRenderer {
    func globals(_ name: String) -> JinjaValue? {
        switch name {
        case "range":
            return .callable(JinjaCallable(name: name) { args, _ in
                let n = try args.map { v -> Int in
                    guard let i = v.integer else { throw JinjaError("range() takes integers, not \(v.typeName)") }
                    return i
                }
                let (start, stop, step) = n.count == 1 ? (0, n[0], 1) : (n[0], n[1], n.count > 2 ? n[2] : 1)
                guard step != 0, n.count >= 1, n.count <= 3 else { throw JinjaError("bad arguments to range()") }
                guard abs((stop - start) / step) <= 100_000 else { throw JinjaError("range too big") }
                return .list(stride(from: start, to: stop, by: step).map { .int($0) })
            })
        case "namespace", "dict":
            return .callable(JinjaCallable(name: name) { args, kwargs in
                var d = JinjaDict()
                for a in args {
                    guard case .dict(let init_) = a else { throw JinjaError("\(name)() takes a dictionary or keyword arguments") }
                    for (k, v) in init_.pairs { d[k] = v }  // keyword names: strings
                }
                for (k, v) in kwargs { d[k] = v }
                return name == "dict" ? .dict(d) : .namespace(JinjaNamespace(d))
            })
        case "raise_exception":
            return .callable(JinjaCallable(name: name) { args, _ in
                throw JinjaError(args.first?.printed.text ?? "raise_exception")
            })
        case "strftime_now":
            return .callable(JinjaCallable(name: name) { [now] args, _ in
                guard case .string(let fmt)? = args.first else { throw JinjaError("strftime_now() takes a format string") }
                return .str(strftime(fmt.text, now))
            })
        default:
            return nil
        }
    }

    // MARK: filters

    func applyFilter(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        func arg(_ i: Int, _ key: String) -> JinjaValue? {
            if let kw = kwargs.first(where: { $0.0 == key }) { return kw.1 }
            return i < args.count ? args[i] : nil
        }
        func string(_ x: JinjaValue) -> JinjaString { x.printed }
        switch name {
        case "default", "d":
            let fallback = arg(0, "default_value") ?? .str("")
            let boolean = arg(1, "boolean")?.truthy ?? false
            if v.isUndefined || (boolean && !v.truthy) { return fallback }
            return v
        case "tojson":
            let ensureASCII = arg(0, "ensure_ascii")?.truthy ?? false
            let indent = arg(1, "indent")
            var separators: (String, String)?
            if let seps = arg(2, "separators")?.sequence, seps.count == 2 {
                separators = (seps[0].printed.text, seps[1].printed.text)
            }
            let sortKeys = arg(3, "sort_keys")?.truthy ?? false
            let indentText: String?
            switch indent {
            case .int(let n)?: indentText = String(repeating: " ", count: max(0, n))
            case .string(let s)?: indentText = s.text
            default: indentText = nil
            }
            var w = JinjaJSONWriter(ensureASCII: ensureASCII, indent: indentText, sortKeys: sortKeys,
                                    itemSeparator: separators?.0 ?? (indentText == nil ? ", " : ","),
                                    keySeparator: separators?.1 ?? ": ")
            try w.write(v, level: 0)
            return .str(w.out, data: JinjaJSONWriter.hasData(v))
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.text.unicodeScalars.count)
            case .list(let l), .tuple(let l): return .int(l.count)
            case .dict(let d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw JinjaError("object of type '\(v.typeName)' has no len()")
            }
        case "string": return .string(string(v))
        case "trim":
            let chars = arg(0, "chars").map { Set(string($0).text.unicodeScalars) }
            return .string(string(v).stripped(leading: true, trailing: true, in: chars.map { set in { set.contains($0) } } ?? isPythonSpace))
        case "upper": return .string(string(v).mapped { $0.uppercased() })
        case "lower": return .string(string(v).mapped { $0.lowercased() })
        case "capitalize": return .string(string(v).mapped(JinjaMethods.capitalize))
        case "title": return .string(string(v).mapped(JinjaMethods.title))
        case "safe":
            var m = string(v)
            m.isMarkup = true
            return .string(m)
        case "e", "escape", "forceescape":
            if case .string(let m) = v, m.isMarkup, name != "forceescape" { return v }
            var m = string(v).mapped(htmlEscape)
            m.isMarkup = true
            return .string(m)
        case "replace":
            guard let old = arg(0, "old"), let new = arg(1, "new") else { throw JinjaError("replace() needs old and new") }
            return try JinjaMethods.call(.string(string(v)), "replace", [old, new] + (arg(2, "count").map { [$0] } ?? []), [])
        case "join":
            let sep = arg(0, "d").map(string) ?? JinjaString("")
            var items = try iterate(v)
            if let attr = arg(1, "attribute") { items = try items.map { try self.attributePath($0, attr) } }
            var r = JinjaString("")
            for (i, x) in items.enumerated() {
                if i > 0 { r = r + sep }
                r = r + string(x)
            }
            return .string(r)
        case "list": return .list(try iterate(v))
        case "first":
            let items = try iterate(v)
            return items.first ?? .undefined("No first item, sequence was empty.")
        case "last":
            if case .generator = v { throw JinjaError("'generator' object is not reversible") }
            let items = try iterate(v)
            return items.last ?? .undefined("No last item, sequence was empty.")
        case "items":
            guard case .dict(let d) = v else {
                if v.isUndefined { return .list([]) }
                throw JinjaError("items filter of a \(v.typeName)")
            }
            return .generator(d.items)
        case "dictsort":
            guard case .dict(let d) = v else { throw JinjaError("dictsort of a \(v.typeName)") }
            let caseSensitive = arg(0, "case_sensitive")?.truthy ?? false
            let byValue = arg(1, "by").map { string($0).text == "value" } ?? false
            let reverse = arg(2, "reverse")?.truthy ?? false
            var pairs = d.items
            try sortValues(&pairs, caseSensitive: caseSensitive, reverse: reverse) { x in
                guard let p = x.sequence else { return x }
                return byValue ? p[1] : p[0]
            }
            return .list(pairs)
        case "sort":
            var items = try iterate(v)
            let reverse = arg(0, "reverse")?.truthy ?? false
            let caseSensitive = arg(1, "case_sensitive")?.truthy ?? false
            let attr = arg(2, "attribute")
            try sortValues(&items, caseSensitive: caseSensitive, reverse: reverse) { x in
                (try? attr.map { try self.attributePath(x, $0) }) ?? x
            }
            return .list(items)
        case "reverse":
            if case .string(let s) = v { return .str(String(s.text.unicodeScalars.reversed().map(Character.init)), data: s.isData) }
            return .generator(try iterate(v).reversed())
        case "unique":
            var seen: [JinjaValue] = []
            for x in try iterate(v) where !seen.contains(where: { $0.equals(x) }) { seen.append(x) }
            return .generator(seen)
        case "selectattr", "rejectattr", "select", "reject":
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            var rest = args
            let attr: JinjaValue? = byAttribute ? (rest.isEmpty ? nil : rest.removeFirst()) : nil
            let test: String? = rest.isEmpty ? nil : string(rest.removeFirst()).text
            // Jinja walks the sequence only if it is true (none gives nothing).
            return .generator(!v.truthy ? [] : try iterate(v).filter { x in
                let subject = try attr.map { try self.attributePath(x, $0) } ?? x
                let passed = try test.map { try self.applyTest($0, subject, rest) } ?? subject.truthy
                return passed == keep
            })
        case "map":
            if let attr = kwargs.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = kwargs.first(where: { $0.0 == "default" })?.1
                return .generator(!v.truthy ? [] : try iterate(v).map { x in
                    let r = try self.attributePath(x, attr)
                    return r.isUndefined ? (fallback ?? r) : r
                })
            }
            guard let f = args.first else { throw JinjaError("map() needs a filter name or attribute=") }
            let fname = string(f).text
            return .generator(!v.truthy ? [] : try iterate(v).map { try self.applyFilter(fname, $0, Array(args.dropFirst()), kwargs) })
        case "attr":
            guard let a = args.first else { throw JinjaError("attr() needs a name") }
            return try attribute(v, string(a).text)
        case "indent":
            let width = arg(0, "width") ?? .int(4)
            let first = arg(1, "first")?.truthy ?? false
            let blank = arg(2, "blank")?.truthy ?? false
            let pad: String = if case .string(let s) = width { s.text } else { String(repeating: " ", count: width.integer ?? 4) }
            return .string(string(v).mapped { s in
                let lines = JinjaMethods.splitlines(s + "\n")
                var r: String
                if blank {
                    r = lines.joined(separator: "\n" + pad)
                } else {
                    r = lines.first ?? ""
                    let rest = lines.dropFirst()
                    if !rest.isEmpty { r += "\n" + rest.map { $0.isEmpty ? $0 : pad + $0 }.joined(separator: "\n") }
                }
                return first ? pad + r : r
            })
        case "int":
            let fallback = arg(0, "default") ?? .int(0)
            switch v {
            case .int, .bool: return .int(v.integer!)
            case .double(let d): return d.isFinite ? .int(Int(d)) : fallback
            case .string(let s):
                let t = s.text.trimmingCharacters(in: .whitespaces)
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arg(0, "default") ?? .double(0)
            if let d = v.number { return .double(d) }
            if case .string(let s) = v, let d = Double(s.text.trimmingCharacters(in: .whitespaces)) { return .double(d) }
            return fallback
        case "abs":
            switch v {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            default: throw JinjaError("bad operand type for abs(): '\(v.typeName)'")
            }
        case "round":
            guard let d = v.number else { throw JinjaError("round of a \(v.typeName)") }
            let precision = arg(0, "precision")?.integer ?? 0
            let method = arg(1, "method").map { string($0).text } ?? "common"
            let scale = Foundation.pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : (method == "floor" ? .down : .toNearestOrAwayFromZero)
            return .double((d * scale).rounded(rule) / scale)
        case "sum":
            var total = arg(1, "start") ?? .int(0)
            let attr = arg(0, "attribute")
            for x in try iterate(v) {
                total = try applyBinaryAdd(total, try attr.map { try self.attributePath(x, $0) } ?? x)
            }
            return total
        case "min", "max":
            let items = try iterate(v)
            guard var best = items.first else { return .undefined("\(name) of an empty sequence") }
            for x in items.dropFirst() {
                let c = try x.compare(best)
                if (name == "min" && c < 0) || (name == "max" && c > 0) { best = x }
            }
            return best
        case "wordcount":
            return .int(string(v).text.split(whereSeparator: { $0.isWhitespace }).count)
        case "format":
            return .string(try JinjaMethods.percentFormat(string(v), args))
        case "center":
            let width = arg(0, "width")?.integer ?? 80
            return try JinjaMethods.call(.string(string(v)), "center", [.int(width)], [])
        case "pprint":
            return .str(v.repr())
        default:
            throw JinjaError("no filter named '\(name)'")
        }
    }

    private func applyBinaryAdd(_ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        if let x = a.integer, let y = b.integer { return .int(x + y) }
        if let x = a.number, let y = b.number { return .double(x + y) }
        throw JinjaError("unsupported operand types for +: '\(a.typeName)' and '\(b.typeName)'")
    }

    private func sortValues(_ items: inout [JinjaValue], caseSensitive: Bool, reverse: Bool,
                            key: (JinjaValue) throws -> JinjaValue) throws {
        func k(_ x: JinjaValue) throws -> JinjaValue {
            let v = try key(x)
            if !caseSensitive, case .string(let s) = v { return .str(s.text.lowercased()) }
            return v
        }
        var failure: Error?
        let keyed = try items.map { (try k($0), $0) }
        // A stable sort, as Python's.
        let sorted = keyed.enumerated().sorted { a, b in
            do {
                let c = try a.element.0.compare(b.element.0)
                if c != 0 { return reverse ? c > 0 : c < 0 }
            } catch { failure = error }
            return a.offset < b.offset
        }
        if let failure { throw failure }
        items = sorted.map(\.element.1)
    }

    /// `attribute='a.b'` and `selectattr('a.b')`: item access per dotted part (integers index lists).
    func attributePath(_ v: JinjaValue, _ path: JinjaValue) throws -> JinjaValue {
        if let i = path.integer { return try item(v, .int(i)) }
        var cur = v
        for part in path.printed.text.split(separator: ".", omittingEmptySubsequences: false) {
            if cur.isUndefined { return cur }
            cur = try item(cur, Int(part).map { .int($0) } ?? .str(String(part)))
        }
        return cur
    }

    // MARK: tests

    func applyTest(_ name: String, _ v: JinjaValue, _ args: [JinjaValue]) throws -> Bool {
        func other() throws -> JinjaValue {
            guard let a = args.first else { throw JinjaError("test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true } else { return false }
        case "string": if case .string = v { return true } else { return false }
        case "mapping": if case .dict = v { return true } else { return false }
        case "iterable":
            switch v {
            case .string, .list, .dict, .undefined: return true
            default: return false
            }
        case "sequence":
            switch v {
            case .string, .list, .dict: return true
            default: return false
            }
        case "number": switch v { case .int, .double, .bool: return true; default: return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "callable": if case .callable = v { return true } else { return false }
        case "divisibleby":
            guard let x = v.integer, let y = try other().integer, y != 0 else { throw JinjaError("divisibleby needs integers") }
            return x % y == 0
        case "even", "odd":
            guard let x = v.integer else { throw JinjaError("\(name) needs an integer") }
            return (x % 2 == 0) == (name == "even")
        case "eq", "equalto", "==": return v.equals(try other())
        case "ne", "!=": return !v.equals(try other())
        case "lt", "lessthan", "<": return try v.compare(try other()) < 0
        case "gt", "greaterthan", ">": return try v.compare(try other()) > 0
        case "le", "<=": return try v.compare(try other()) <= 0
        case "ge", ">=": return try v.compare(try other()) >= 0
        case "in": return try contains(try other(), v)
        case "sameas":
            let o = try other()
            switch (v, o) {
            case (.none, .none): return true
            case let (.bool(a), .bool(b)): return a == b
            default: return false
            }
        case "lower": if case .string(let s) = v { return s.text == s.text.lowercased() } else { return false }
        case "upper": if case .string(let s) = v { return s.text == s.text.uppercased() } else { return false }
        case "escaped": return false
        default: throw JinjaError("no test named '\(name)'")
        }
    }
}

/// `strftime` with the C library (Python's `datetime.strftime` calls it too), local time.
func strftime(_ format: String, _ date: Date) -> String {
    var t = time_t(date.timeIntervalSince1970)
    var tm = tm()
    localtime_r(&t, &tm)
    var buf = [Int8](repeating: 0, count: 512)
    let n = Foundation.strftime(&buf, buf.count, format, &tm)
    return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `json.dumps` as transformers' `tojson` calls it.
struct JinjaJSONWriter {
    var ensureASCII: Bool
    var indent: String?
    var sortKeys: Bool
    var itemSeparator: String
    var keySeparator: String
    var out = ""

    static func hasData(_ v: JinjaValue) -> Bool {
        switch v {
        case .string(let s): s.parts.contains(where: \.isData)
        case .list(let l), .tuple(let l), .generator(let l): l.contains(where: hasData)
        case .dict(let d): !d.keys.isEmpty
        default: false
        }
    }

    mutating func write(_ v: JinjaValue, level: Int) throws {
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            out += d.isNaN ? "NaN" : (d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : pythonFloat(d))
        case .string(let s): string(s.text)
        case .list(let l), .tuple(let l):
            if l.isEmpty { out += "[]"; return }
            out += "["
            for (i, x) in l.enumerated() {
                if i > 0 { out += itemSeparator }
                newline(level + 1)
                try write(x, level: level + 1)
            }
            newline(level)
            out += "]"
        case .dict(let d):
            if d.count == 0 { out += "{}"; return }
            out += "{"
            let keys = sortKeys ? d.keys.sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) } : d.keys
            for (i, k) in keys.enumerated() {
                if i > 0 { out += itemSeparator }
                newline(level + 1)
                string(k)
                out += keySeparator
                try write(d.value(k), level: level + 1)
            }
            newline(level)
            out += "}"
        case .namespace, .callable, .undefined, .generator:
            throw JinjaError("Object of type \(v.typeName) is not JSON serializable")
        }
    }

    private mutating func newline(_ level: Int) {
        guard let indent else { return }
        out += "\n" + String(repeating: indent, count: level)
    }

    private mutating func string(_ s: String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (ensureASCII && c.value > 0x7F) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        out += String(format: "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                    } else {
                        out += String(format: "\\u%04x", c.value)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }
}
