import Foundation

/// A literal in a template.
enum JinjaLiteral: Sendable {
    case none, bool(Bool), int(Int), double(Double), string(String)
}

/// An expression.
indirect enum JinjaExpr: Sendable {
    case literal(JinjaLiteral)
    case name(String)
    case list([JinjaExpr])
    case tuple([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)])
    case attribute(JinjaExpr, String)
    case item(JinjaExpr, JinjaExpr)
    case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)
    case call(JinjaExpr, [JinjaExpr], [(String, JinjaExpr)])
    case filter(JinjaExpr, String, [JinjaExpr], [(String, JinjaExpr)])
    case test(JinjaExpr, String, [JinjaExpr], negated: Bool)
    case unary(String, JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case not(JinjaExpr)
    case compare(JinjaExpr, [(String, JinjaExpr)])
    case conditional(then: JinjaExpr, test: JinjaExpr, else: JinjaExpr?)
}

/// Where a `set` or `for` writes.
enum JinjaTarget: Sendable {
    case name(String)
    case tuple([String])
    case attribute(String, String)
}

/// A statement (text and output included).
indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr, line: Int)
    case ifs([(JinjaExpr, [JinjaNode])], else: [JinjaNode], line: Int)
    case forLoop(JinjaTarget, JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], else: [JinjaNode], line: Int)
    case set(JinjaTarget, JinjaExpr, line: Int)
    case setBlock(String, filters: [(String, [JinjaExpr], [(String, JinjaExpr)])], body: [JinjaNode], line: Int)
    case macro(String, [(String, JinjaExpr?)], body: [JinjaNode])
    case callBlock(JinjaExpr, params: [(String, JinjaExpr?)], body: [JinjaNode], line: Int)
    case filterBlock([(String, [JinjaExpr], [(String, JinjaExpr)])], body: [JinjaNode], line: Int)
    case breakLoop, continueLoop
}

/// Builds the tree of a template from its chunks.
struct JinjaParser {
    private var chunks: [JinjaChunk]
    private var k = 0

    static func parse(_ source: String) throws -> [JinjaNode] {
        var p = JinjaParser(chunks: try JinjaLexer.chunks(source))
        let (body, end) = try p.block(until: [])
        if let end { throw JinjaError("unexpected '\(end.0)'", line: end.1) }
        return body
    }

    private init(chunks: [JinjaChunk]) { self.chunks = chunks }

    /// Nodes up to a statement whose keyword is in `until` (returned with its tokens and line).
    private mutating func block(until: Set<String>) throws -> ([JinjaNode], (String, Int, [JinjaToken])?) {
        var nodes: [JinjaNode] = []
        while k < chunks.count {
            let chunk = chunks[k]
            k += 1
            switch chunk {
            case .text(let t): nodes.append(.text(t))
            case .output(let toks, let line):
                var e = ExprParser(toks, line: line)
                let expr = try e.expression()
                try e.end()
                nodes.append(.output(expr, line: line))
            case .statement(let toks, let line):
                guard case .name(let keyword)? = toks.first else { throw JinjaError("statement without a keyword", line: line) }
                if until.contains(keyword) { return (nodes, (keyword, line, toks)) }
                nodes.append(try statement(keyword, toks, line: line))
            }
        }
        if !until.isEmpty {
            throw JinjaError("template ended inside a block: expected one of \(until.sorted().joined(separator: ", "))")
        }
        return (nodes, nil)
    }

    private mutating func statement(_ keyword: String, _ toks: [JinjaToken], line: Int) throws -> JinjaNode {
        var e = ExprParser(Array(toks.dropFirst()), line: line)
        switch keyword {
        case "if":
            var branches: [(JinjaExpr, [JinjaNode])] = []
            var cond = try e.expression()
            try e.end()
            while true {
                let (body, end) = try block(until: ["elif", "else", "endif"])
                branches.append((cond, body))
                guard let end else { throw JinjaError("if without endif", line: line) }
                switch end.0 {
                case "elif":
                    var c = ExprParser(Array(end.2.dropFirst()), line: end.1)
                    cond = try c.expression()
                    try c.end()
                case "else":
                    let (elseBody, _) = try block(until: ["endif"])
                    return .ifs(branches, else: elseBody, line: line)
                default:
                    return .ifs(branches, else: [], line: line)
                }
            }
        case "for":
            let target = try e.target()
            try e.expect(.name("in"))
            let iter = try e.tuple(conditional: false)
            var filter: JinjaExpr?
            if e.skip(.name("if")) { filter = try e.expression() }
            if e.skip(.name("recursive")) { throw JinjaError("recursive loops are not supported", line: line) }
            try e.end()
            let (body, end) = try block(until: ["else", "endfor"])
            var elseBody: [JinjaNode] = []
            if end?.0 == "else" { elseBody = try block(until: ["endfor"]).0 }
            return .forLoop(target, iter, filter: filter, body: body, else: elseBody, line: line)
        case "set":
            let target = try e.target()
            if e.skip(.op("=")) {
                let value = try e.tuple(conditional: true)
                try e.end()
                return .set(target, value, line: line)
            }
            guard case .name(let name) = target else { throw JinjaError("a set block assigns one name", line: line) }
            let filters = try e.filterChain()
            try e.end()
            let (body, _) = try block(until: ["endset"])
            return .setBlock(name, filters: filters, body: body, line: line)
        case "macro":
            let name = try e.name()
            let params = try e.parameters()
            try e.end()
            let (body, _) = try block(until: ["endmacro"])
            return .macro(name, params, body: body)
        case "call":
            var params: [(String, JinjaExpr?)] = []
            if e.peek == .op("(") { params = try e.parameters() }
            let callee = try e.expression()
            try e.end()
            let (body, _) = try block(until: ["endcall"])
            return .callBlock(callee, params: params, body: body, line: line)
        case "filter":
            let filters = try e.filterChain(first: true)
            try e.end()
            let (body, _) = try block(until: ["endfilter"])
            return .filterBlock(filters, body: body, line: line)
        case "generation":
            // transformers' `{% generation %}` marks assistant text; it renders its body.
            try e.end()
            let (body, _) = try block(until: ["endgeneration"])
            return .ifs([(.literal(.bool(true)), body)], else: [], line: line)
        case "break":
            try e.end()
            return .breakLoop
        case "continue":
            try e.end()
            return .continueLoop
        default:
            throw JinjaError("unsupported statement '\(keyword)'", line: line)
        }
    }
}

/// Recursive descent over one tag's tokens, with Jinja2's precedence.
struct ExprParser {
    private let toks: [JinjaToken]
    private var p = 0
    let line: Int

    init(_ toks: [JinjaToken], line: Int) {
        self.toks = toks
        self.line = line
    }

    var peek: JinjaToken? { p < toks.count ? toks[p] : nil }
    private func peek(_ d: Int) -> JinjaToken? { p + d < toks.count ? toks[p + d] : nil }

    mutating func skip(_ t: JinjaToken) -> Bool {
        if peek == t { p += 1; return true }
        return false
    }

    mutating func expect(_ t: JinjaToken) throws {
        guard skip(t) else { throw error("expected \(Self.describe(t))") }
    }

    func end() throws {
        if let t = peek { throw error("unexpected \(Self.describe(t))") }
    }

    private func error(_ m: String) -> JinjaError {
        JinjaError(m + (peek.map { " at \(Self.describe($0))" } ?? " at the end of the tag"), line: line)
    }

    static func describe(_ t: JinjaToken) -> String {
        switch t {
        case .name(let n): "'\(n)'"
        case .string(let s): "string '\(s)'"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .op(let o): "'\(o)'"
        }
    }

    mutating func name() throws -> String {
        guard case .name(let n)? = peek else { throw error("expected a name") }
        p += 1
        return n
    }

    /// `a`, `a, b`, `(a, b)` or `ns.attr`.
    mutating func target() throws -> JinjaTarget {
        let paren = skip(.op("("))
        let first = try name()
        if !paren, skip(.op(".")) { return .attribute(first, try name()) }
        var names = [first]
        while skip(.op(",")) {
            if case .name? = peek { names.append(try name()) } else { break }
        }
        if paren { try expect(.op(")")) }
        return names.count == 1 && !paren ? .name(first) : .tuple(names)
    }

    /// `(a, b=default)`.
    mutating func parameters() throws -> [(String, JinjaExpr?)] {
        try expect(.op("("))
        var params: [(String, JinjaExpr?)] = []
        while !skip(.op(")")) {
            if !params.isEmpty { try expect(.op(",")) }
            if skip(.op(")")) { break }
            let n = try name()
            params.append((n, skip(.op("=")) ? try expression() : nil))
        }
        return params
    }

    /// `| f(args) | g` after a set block's name, or `f | g` in a filter block.
    mutating func filterChain(first: Bool = false) throws -> [(String, [JinjaExpr], [(String, JinjaExpr)])] {
        var out: [(String, [JinjaExpr], [(String, JinjaExpr)])] = []
        var needBar = !first
        while peek != nil {
            if needBar { try expect(.op("|")) }
            needBar = true
            var n = try name()
            while skip(.op(".")) { n += "." + (try name()) }
            var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
            if peek == .op("(") { (args, kwargs) = try callArguments() }
            out.append((n, args, kwargs))
        }
        return out
    }

    /// An expression, or a tuple of them (`a, b`) as a list.
    mutating func tuple(conditional: Bool) throws -> JinjaExpr {
        let first = conditional ? try expression() : try or()
        guard peek == .op(",") else { return first }
        var items = [first]
        while skip(.op(",")) {
            guard let t = peek, t != .name("if") else { break }
            items.append(conditional ? try expression() : try or())
        }
        return .tuple(items)
    }

    mutating func expression() throws -> JinjaExpr {
        var e = try or()
        while skip(.name("if")) {
            let test = try or()
            let otherwise = skip(.name("else")) ? try expression() : nil
            e = .conditional(then: e, test: test, else: otherwise)
        }
        return e
    }

    private mutating func or() throws -> JinjaExpr {
        var e = try and()
        while skip(.name("or")) { e = .or(e, try and()) }
        return e
    }

    private mutating func and() throws -> JinjaExpr {
        var e = try not()
        while skip(.name("and")) { e = .and(e, try not()) }
        return e
    }

    private mutating func not() throws -> JinjaExpr {
        if skip(.name("not")) { return .not(try not()) }
        return try compare()
    }

    private mutating func compare() throws -> JinjaExpr {
        let first = try math1()
        var ops: [(String, JinjaExpr)] = []
        while let t = peek {
            if case .op(let o) = t, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                p += 1
                ops.append((o, try math1()))
            } else if t == .name("in") {
                p += 1
                ops.append(("in", try math1()))
            } else if t == .name("not"), peek(1) == .name("in") {
                p += 2
                ops.append(("notin", try math1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : .compare(first, ops)
    }

    private mutating func math1() throws -> JinjaExpr {
        var e = try concat()
        while let t = peek, t == .op("+") || t == .op("-") {
            p += 1
            guard case .op(let o) = t else { break }
            e = .binary(o, e, try concat())
        }
        return e
    }

    private mutating func concat() throws -> JinjaExpr {
        var e = try math2()
        while skip(.op("~")) { e = .binary("~", e, try math2()) }
        return e
    }

    private mutating func math2() throws -> JinjaExpr {
        var e = try pow()
        while let t = peek, case .op(let o) = t, ["*", "/", "//", "%"].contains(o) {
            p += 1
            e = .binary(o, e, try pow())
        }
        return e
    }

    private mutating func pow() throws -> JinjaExpr {
        var e = try unary(filters: true)
        while skip(.op("**")) { e = .binary("**", e, try unary(filters: true)) }
        return e
    }

    private mutating func unary(filters: Bool) throws -> JinjaExpr {
        var e: JinjaExpr
        if skip(.op("-")) {
            e = .unary("-", try unary(filters: false))
        } else if skip(.op("+")) {
            e = .unary("+", try unary(filters: false))
        } else {
            e = try primary()
        }
        e = try postfix(e)
        return filters ? try filterExpression(e) : e
    }

    private mutating func primary() throws -> JinjaExpr {
        guard let t = peek else { throw error("expected an expression") }
        p += 1
        switch t {
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .string(var s):
            while case .string(let more)? = peek { s += more; p += 1 }
            return .literal(.string(s))
        case .int(let i): return .literal(.int(i))
        case .double(let d): return .literal(.double(d))
        case .op("("):
            if skip(.op(")")) { return .tuple([]) }
            let e = try tuple(conditional: true)
            try expect(.op(")"))
            return e
        case .op("["):
            var items: [JinjaExpr] = []
            while !skip(.op("]")) {
                if !items.isEmpty { try expect(.op(",")) }
                if skip(.op("]")) { break }
                items.append(try expression())
            }
            return .list(items)
        case .op("{"):
            var pairs: [(JinjaExpr, JinjaExpr)] = []
            while !skip(.op("}")) {
                if !pairs.isEmpty { try expect(.op(",")) }
                if skip(.op("}")) { break }
                let key = try expression()
                try expect(.op(":"))
                pairs.append((key, try expression()))
            }
            return .dict(pairs)
        default:
            p -= 1
            throw error("expected an expression")
        }
    }

    private mutating func postfix(_ base: JinjaExpr) throws -> JinjaExpr {
        var e = base
        while let t = peek {
            if t == .op(".") {
                p += 1
                switch peek {
                case .name(let n)?: p += 1; e = .attribute(e, n)
                case .int(let i)?: p += 1; e = .item(e, .literal(.int(i)))
                default: throw error("expected an attribute name")
                }
            } else if t == .op("[") {
                p += 1
                e = try subscriptExpr(e)
            } else if t == .op("(") {
                let (args, kwargs) = try callArguments()
                e = .call(e, args, kwargs)
            } else {
                break
            }
        }
        return e
    }

    private mutating func subscriptExpr(_ base: JinjaExpr) throws -> JinjaExpr {
        var parts: [JinjaExpr?] = [nil]
        var isSlice = false
        while !skip(.op("]")) {
            if skip(.op(":")) {
                isSlice = true
                parts.append(nil)
                continue
            }
            guard parts[parts.count - 1] == nil else { throw error("expected ']'") }
            parts[parts.count - 1] = try expression()
        }
        if !isSlice {
            guard let index = parts[0] else { throw error("empty subscript") }
            return .item(base, index)
        }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, parts[0], parts[1], parts[2])
    }

    mutating func callArguments() throws -> ([JinjaExpr], [(String, JinjaExpr)]) {
        try expect(.op("("))
        var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
        while !skip(.op(")")) {
            if !(args.isEmpty && kwargs.isEmpty) { try expect(.op(",")) }
            if skip(.op(")")) { break }
            if case .name(let n)? = peek, peek(1) == .op("=") {
                p += 2
                kwargs.append((n, try expression()))
            } else {
                args.append(try expression())
            }
        }
        return (args, kwargs)
    }

    private mutating func filterExpression(_ base: JinjaExpr) throws -> JinjaExpr {
        var e = base
        while let t = peek {
            if t == .op("|") {
                p += 1
                var n = try name()
                while skip(.op(".")) { n += "." + (try name()) }
                var args: [JinjaExpr] = [], kwargs: [(String, JinjaExpr)] = []
                if peek == .op("(") { (args, kwargs) = try callArguments() }
                e = .filter(e, n, args, kwargs)
            } else if t == .name("is") {
                p += 1
                let negated = skip(.name("not"))
                var n = try name()
                while skip(.op(".")) { n += "." + (try name()) }
                var args: [JinjaExpr] = []
                if peek == .op("(") {
                    args = try callArguments().0
                } else if let a = peek, Self.startsArgument(a) {
                    args = [try postfix(try primary())]
                }
                e = .test(e, n, args, negated: negated)
            } else if t == .op("(") {
                let (args, kwargs) = try callArguments()
                e = .call(e, args, kwargs)
            } else {
                break
            }
        }
        return e
    }

    /// Whether a test takes this token as its one argument without parentheses (`is divisibleby 3`).
    private static func startsArgument(_ t: JinjaToken) -> Bool {
        switch t {
        case .name(let n): !["else", "or", "and", "is", "if", "in", "not"].contains(n)
        case .string, .int, .double: true
        case .op(let o): o == "[" || o == "{"
        }
    }
}
