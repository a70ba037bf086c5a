import Foundation
import TandemCore

/// A Jinja template as Hugging Face renders `chat_template`: Jinja2's syntax and semantics for
/// what chat templates use (statements `if`/`for`/`set`/`macro`/`call`/`filter`, loop controls,
/// namespaces, Python string/list/dict methods, the common filters and tests, `tojson` as
/// transformers defines it, `raise_exception`, `strftime_now`), rendered from JSON data.
///
/// Compared byte for byte with Python's `jinja2` on a corpus of real templates
/// (`e2e/test_chat_templates.py`). Not supported (an error naming it): `include`, `import`,
/// `extends`, `block`, recursive loops.
public struct JinjaTemplate: Sendable {
    let nodes: [JinjaNode]
    public let source: String

    public init(_ source: String) throws {
        self.source = source
        nodes = try JinjaParser.parse(source)
    }

    /// Renders with `data` (strings marked as data: never special tokens) and `template`
    /// variables (strings that are template text, such as `bos_token`). `now` is what
    /// `strftime_now` formats, in the local time zone.
    public func render(data: [(String, JSONValue)], template: [(String, JSONValue)] = [], now: Date = Date()) throws -> JinjaString {
        var root = [String: JinjaValue]()
        for (k, v) in template { root[k] = JinjaValue(json: v, asTemplate: true) }
        for (k, v) in data { root[k] = JinjaValue(json: v) }
        let r = JinjaRenderer(globals: root, now: now)
        try r.run(nodes)
        return r.out
    }

    /// Whether the template reads a variable (e.g. `tools`), judged from its text.
    public func mentions(_ name: String) -> Bool {
        source.range(of: "\\b\(name)\\b", options: .regularExpression) != nil
    }
}

/// Evaluates a parsed template. One renderer per render call.
final class JinjaRenderer {
    var frames: [[String: JinjaValue]]
    var out = JinjaString("")
    let now: Date
    private var depth = 0

    enum Flow { case normal, breakLoop, continueLoop }

    init(globals: [String: JinjaValue], now: Date) {
        frames = [globals, [:]]
        self.now = now
    }

    func lookup(_ name: String) -> JinjaValue {
        for f in frames.reversed() { if let v = f[name] { return v } }
        if let g = globals(name) { return g }
        return .undefined("'\(name)' is undefined")
    }

    func run(_ nodes: [JinjaNode]) throws {
        _ = try exec(nodes)
    }

    /// Renders `nodes` into a fresh buffer and returns it.
    func capture(_ nodes: [JinjaNode]) throws -> JinjaString {
        let saved = out
        out = JinjaString("")
        defer { out = saved }
        _ = try exec(nodes)
        return out
    }

    private func exec(_ nodes: [JinjaNode]) throws -> Flow {
        for node in nodes {
            let flow = try exec(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func exec(_ node: JinjaNode) throws -> Flow {
        switch node {
        case .text(let t):
            out = out + JinjaString(t)
        case .output(let e, let line):
            let v = try at(line) { try eval(e) }
            if case .undefined = v {} else { out = out + v.printed }
        case .ifs(let branches, let elseBody, let line):
            for (cond, body) in branches where try at(line, { try eval(cond).truthy }) {
                return try exec(body)
            }
            return try exec(elseBody)
        case .forLoop(let target, let iterExpr, let filter, let body, let elseBody, let line):
            return try forLoop(target, iterExpr, filter: filter, body: body, elseBody: elseBody, line: line)
        case .set(let target, let e, let line):
            try at(line) { try assign(target, try eval(e)) }
        case .setBlock(let name, let filters, let body, let line):
            var v = JinjaValue.string(try capture(body))
            try at(line) {
                for (f, args, kwargs) in filters { v = try applyFilter(f, v, args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) }) }
            }
            frames[frames.count - 1][name] = v
        case .macro(let name, let params, let body):
            frames[frames.count - 1][name] = .callable(macro(name, params, body))
        case .callBlock(let callee, let params, let body, let line):
            guard case .call(let f, let args, let kwargs) = callee else { throw JinjaError("call block without a call", line: line) }
            let caller = macro("caller", params, body)
            try at(line) {
                guard case .callable(let fn) = try eval(f) else { throw JinjaError("call block of something that is not a macro") }
                let v = try fn.call(try args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) } + [("caller", .callable(caller))])
                out = out + v.printed
            }
        case .filterBlock(let filters, let body, let line):
            var v = JinjaValue.string(try capture(body))
            try at(line) {
                for (f, args, kwargs) in filters { v = try applyFilter(f, v, args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) }) }
            }
            out = out + v.printed
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        }
        return .normal
    }

    /// Runs `f`, giving an error without a line the line of the statement.
    private func at<T>(_ line: Int, _ f: () throws -> T) throws -> T {
        do { return try f() } catch var e as JinjaError {
            if e.line == nil { e.line = line }
            throw e
        }
    }

    private func assign(_ target: JinjaTarget, _ v: JinjaValue) throws {
        switch target {
        case .name(let n): frames[frames.count - 1][n] = v
        case .tuple(let names):
            let items = try iterate(v)
            guard items.count == names.count else {
                throw JinjaError("cannot unpack \(items.count) values into \(names.count) names")
            }
            for (n, x) in zip(names, items) { frames[frames.count - 1][n] = x }
        case .attribute(let obj, let attr):
            guard case .namespace(let ns) = lookup(obj) else {
                throw JinjaError("cannot assign attribute on non-namespace object '\(obj)'")
            }
            ns.values[attr] = v
        }
    }

    private func forLoop(_ target: JinjaTarget, _ iterExpr: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode],
                         elseBody: [JinjaNode], line: Int) throws -> Flow {
        var items = try at(line) { try iterate(try eval(iterExpr)) }
        if let filter {
            var kept: [JinjaValue] = []
            for x in items {
                frames.append([:])
                defer { frames.removeLast() }
                try assign(target, x)
                if try at(line, { try eval(filter).truthy }) { kept.append(x) }
            }
            items = kept
        }
        if items.isEmpty { return try exec(elseBody) }
        for (i, x) in items.enumerated() {
            var loop = JinjaDict()
            loop["index"] = .int(i + 1)
            loop["index0"] = .int(i)
            loop["revindex"] = .int(items.count - i)
            loop["revindex0"] = .int(items.count - i - 1)
            loop["first"] = .bool(i == 0)
            loop["last"] = .bool(i == items.count - 1)
            loop["length"] = .int(items.count)
            loop["depth"] = .int(1)
            loop["depth0"] = .int(0)
            loop["previtem"] = i > 0 ? items[i - 1] : .undefined("there is no previous item")
            loop["nextitem"] = i + 1 < items.count ? items[i + 1] : .undefined("there is no next item")
            loop["cycle"] = .callable(JinjaCallable(name: "cycle") { args, _ in
                guard !args.isEmpty else { throw JinjaError("no items for cycling given") }
                return args[i % args.count]
            })
            frames.append(["loop": .dict(loop)])
            defer { frames.removeLast() }
            try at(line) { try assign(target, x) }
            if try exec(body) == .breakLoop { break }
        }
        return .normal
    }

    private func macro(_ name: String, _ params: [(String, JinjaExpr?)], _ body: [JinjaNode]) -> JinjaCallable {
        JinjaCallable(name: name) { [unowned self] args, kwargs in
            var frame: [String: JinjaValue] = [:]
            var extra = JinjaDict()
            for (i, (p, def)) in params.enumerated() {
                if i < args.count {
                    frame[p] = args[i]
                } else if let kw = kwargs.first(where: { $0.0 == p }) {
                    frame[p] = kw.1
                } else if let def {
                    frame[p] = try self.eval(def)
                } else {
                    frame[p] = .undefined("parameter '\(p)' was not provided")
                }
            }
            for (k, v) in kwargs where !params.contains(where: { $0.0 == k }) {
                if k == "caller" { frame["caller"] = v } else { extra[k] = v }
            }
            frame["varargs"] = .list(args.count > params.count ? Array(args[params.count...]) : [])
            frame["kwargs"] = .dict(extra)
            self.depth += 1
            defer { self.depth -= 1 }
            guard self.depth < 200 else { throw JinjaError("macro '\(name)' recursed too deeply") }
            let saved = self.frames
            self.frames = Array(saved.prefix(2)) + [frame]
            defer { self.frames = saved }
            return .string(try self.capture(body))
        }
    }

    // MARK: expressions

    func eval(_ e: JinjaExpr) throws -> JinjaValue {
        switch e {
        case .literal(let l):
            switch l {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .str(s)
            }
        case .name(let n): return lookup(n)
        case .list(let items): return .list(try items.map(eval))
        case .tuple(let items): return .tuple(try items.map(eval))
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, v) in pairs {
                let key = try eval(k)
                switch key {
                case .string(let s): d[s.text] = try eval(v)
                case .int(let i): d[int: i] = try eval(v)
                default: throw JinjaError("dictionary keys must be strings or integers, not \(key.typeName)")
                }
            }
            return .dict(d)
        case .attribute(let base, let name):
            return try attribute(try eval(base), name)
        case .item(let base, let index):
            return try item(try eval(base), try eval(index))
        case .slice(let base, let a, let b, let c):
            return try slice(try eval(base), a.map(eval), b.map(eval), c.map(eval))
        case .call(let f, let args, let kwargs):
            let fn = try eval(f)
            let a = try args.map(eval), kw = try kwargs.map { ($0.0, try eval($0.1)) }
            switch fn {
            case .callable(let c): return try c.call(a, kw)
            case .undefined(let why): throw JinjaError(why)
            default: throw JinjaError("'\(fn.typeName)' object is not callable")
            }
        case .filter(let base, let name, let args, let kwargs):
            return try applyFilter(name, try eval(base), try args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) })
        case .test(let base, let name, let args, let negated):
            let r = try applyTest(name, try eval(base), try args.map(eval))
            return .bool(r != negated)
        case .unary(let op, let x):
            let v = try eval(x)
            switch v {
            case .int(let i): return .int(op == "-" ? -i : i)
            case .double(let d): return .double(op == "-" ? -d : d)
            case .bool(let b): return .int(op == "-" ? -(b ? 1 : 0) : (b ? 1 : 0))
            default: throw JinjaError("bad operand type for unary \(op): '\(v.typeName)'")
            }
        case .binary(let op, let a, let b):
            return try binary(op, try eval(a), try eval(b))
        case .and(let a, let b):
            let x = try eval(a)
            return x.truthy ? try eval(b) : x
        case .or(let a, let b):
            let x = try eval(a)
            return x.truthy ? x : try eval(b)
        case .not(let x):
            return .bool(!(try eval(x).truthy))
        case .compare(let first, let ops):
            var left = try eval(first)
            for (op, re) in ops {
                let right = try eval(re)
                if !(try compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let then, let test, let otherwise):
            if try eval(test).truthy { return try eval(then) }
            return try otherwise.map(eval) ?? .undefined("the inline if had no else")
        }
    }

    func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        switch op {
        case "==": return a.equals(b)
        case "!=": return !a.equals(b)
        case "<": return try a.compare(b) < 0
        case ">": return try a.compare(b) > 0
        case "<=": return try a.compare(b) <= 0
        case ">=": return try a.compare(b) >= 0
        case "in": return try contains(b, a)
        case "notin": return !(try contains(b, a))
        default: throw JinjaError("unknown comparison \(op)")
        }
    }

    func contains(_ container: JinjaValue, _ x: JinjaValue) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = x else { throw JinjaError("'in <string>' requires string as left operand, not \(x.typeName)") }
            return sub.text.isEmpty || s.text.contains(sub.text)
        case .list(let l), .tuple(let l), .generator(let l): return l.contains { $0.equals(x) }
        case .dict(let d):
            if case .int(let i) = x { return d[int: i] != nil }
            guard case .string(let k) = x else { return false }
            return d[k.text] != nil
        case .undefined: return false  // Jinja's Undefined iterates as empty
        default: throw JinjaError("argument of type '\(container.typeName)' is not iterable")
        }
    }

    private func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        if op == "~" { return .string(a.printed + b.printed) }
        if case .undefined(let why) = a { throw JinjaError(why) }
        if case .undefined(let why) = b { throw JinjaError(why) }
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)):
            guard x.isMarkup || y.isMarkup else { return .string(x + y) }
            var r = (x.isMarkup ? x : x.mapped(htmlEscape)) + (y.isMarkup ? y : y.mapped(htmlEscape))
            r.isMarkup = true
            return .string(r)
        case ("+", .list(let x), .list(let y)): return .list(x + y)
        case ("*", .string(let x), _) where b.integer != nil:
            return .string(JinjaString(parts: Array(repeating: x.parts, count: max(0, b.integer!)).flatMap { $0 }))
        case ("*", .list(let x), _) where b.integer != nil:
            return .list(Array(repeating: x, count: max(0, b.integer!)).flatMap { $0 })
        default: break
        }
        if let x = a.integer, let y = b.integer, op != "/" {
            switch op {
            case "+": return .int(x + y)
            case "-": return .int(x - y)
            case "*": return .int(x * y)
            case "//", "%":
                guard y != 0 else { throw JinjaError("integer division or modulo by zero") }
                let q = Int((Double(x) / Double(y)).rounded(.down))
                return op == "//" ? .int(q) : .int(x - q * y)
            case "**": return y >= 0 ? .int(Int(Foundation.pow(Double(x), Double(y)))) : .double(Foundation.pow(Double(x), Double(y)))
            default: break
            }
        }
        guard let x = a.number, let y = b.number else {
            throw JinjaError("unsupported operand types for \(op): '\(a.typeName)' and '\(b.typeName)'")
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/":
            guard y != 0 else { throw JinjaError("division by zero") }
            return .double(x / y)
        case "//":
            guard y != 0 else { throw JinjaError("float floor division by zero") }
            return .double((x / y).rounded(.down))
        case "%":
            guard y != 0 else { throw JinjaError("float modulo") }
            return .double(x - (x / y).rounded(.down) * y)
        case "**": return .double(Foundation.pow(x, y))
        default: throw JinjaError("unknown operator \(op)")
        }
    }

    /// `value.name`: an attribute, a method, or (for a dictionary) its key.
    func attribute(_ v: JinjaValue, _ name: String) throws -> JinjaValue {
        switch v {
        case .undefined(let why): throw JinjaError(why)
        case .dict(let d):
            if JinjaMethods.dictMethods.contains(name) { return JinjaMethods.bound(v, name) }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.values[name] ?? .undefined("'Namespace' has no attribute '\(name)'")
        case .string:
            if JinjaMethods.stringMethods.contains(name) { return JinjaMethods.bound(v, name) }
        case .list:
            if JinjaMethods.listMethods.contains(name) { return JinjaMethods.bound(v, name) }
        default: break
        }
        return .undefined("'\(v.typeName) object' has no attribute '\(name)'")
    }

    /// `value[index]`.
    func item(_ v: JinjaValue, _ index: JinjaValue) throws -> JinjaValue {
        switch (v, index) {
        case (.undefined(let why), _): throw JinjaError(why)
        case (.dict(let d), .string(let k)):
            if let x = d[k.text] { return x }
            if JinjaMethods.dictMethods.contains(k.text) { return JinjaMethods.bound(v, k.text) }
            return .undefined("'dict object' has no attribute '\(k.text)'")
        case (.namespace(let ns), .string(let k)):
            return ns.values[k.text] ?? .undefined("'Namespace' has no attribute '\(k.text)'")
        case (.dict(let d), .int(let i)):
            return d[int: i] ?? .undefined("'dict object' has no attribute '\(i)'")
        case (.list(let l), _) where index.integer != nil, (.tuple(let l), _) where index.integer != nil:
            var i = index.integer!
            if i < 0 { i += l.count }
            return l.indices.contains(i) ? l[i] : .undefined("list object has no element \(index.integer!)")
        case (.string(let s), _) where index.integer != nil:
            let scalars = Array(s.text.unicodeScalars)
            var i = index.integer!
            if i < 0 { i += scalars.count }
            return scalars.indices.contains(i) ? .str(String(scalars[i]), data: s.isData) : .undefined("string index out of range")
        case (_, .string(let k)):
            return try attribute(v, k.text)
        default:
            return .undefined("'\(v.typeName) object' has no attribute '\(index.repr())'")
        }
    }

    func slice(_ v: JinjaValue, _ a: JinjaValue?, _ b: JinjaValue?, _ c: JinjaValue?) throws -> JinjaValue {
        func bound(_ x: JinjaValue?) throws -> Int? {
            guard let x else { return nil }
            if case .none = x { return nil }
            if case .undefined = x { return nil }
            guard let i = x.integer else { throw JinjaError("slice indices must be integers or None") }
            return i
        }
        let step = try bound(c) ?? 1
        guard step != 0 else { throw JinjaError("slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            func clamp(_ i: Int?, _ def: Int) -> Int {
                guard var i else { return def }
                if i < 0 { i += n }
                return step > 0 ? min(max(i, 0), n) : min(max(i, -1), n - 1)
            }
            let start = clamp(try bound(a), step > 0 ? 0 : n - 1)
            let stop = clamp(try bound(b), step > 0 ? n : -1)
            return Array(stride(from: start, to: stop, by: step))
        }
        switch v {
        case .list(let l): return .list(try indices(l.count).map { l[$0] })
        case .tuple(let l): return .tuple(try indices(l.count).map { l[$0] })
        case .string(let s):
            let scalars = Array(s.text.unicodeScalars)
            var view = String.UnicodeScalarView()
            for i in try indices(scalars.count) { view.append(scalars[i]) }
            return .str(String(view), data: s.isData)
        case .undefined(let why): throw JinjaError(why)
        default: throw JinjaError("'\(v.typeName)' object is not subscriptable")
        }
    }

    /// What a `for` walks: list items, dictionary keys, string characters; nothing for undefined.
    func iterate(_ v: JinjaValue) throws -> [JinjaValue] {
        switch v {
        case .list(let l), .tuple(let l), .generator(let l): return l
        case .dict(let d): return d.keys.map(d.keyValue)
        case .string(let s): return s.text.unicodeScalars.map { .str(String($0), data: s.isData) }
        case .undefined: return []
        default: throw JinjaError("'\(v.typeName)' object is not iterable")
        }
    }
}
