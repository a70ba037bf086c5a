import Foundation

/// The Prometheus text exposition format (0.0.4): enough of a parser and writer to re-export
/// another process's metrics with extra labels (the gateway showing its coordinators' engine
/// statistics). Lenient on input: a line it cannot read is skipped and counted, never fatal.
public enum PrometheusText {
    /// One sample line: `name{label="value",...} value [timestamp]`.
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [Label]
        /// As written (a float, `+Inf`, `-Inf` or `NaN`); checked to be a number when parsed.
        public var value: String
        public var timestamp: String?

        public init(name: String, labels: [Label] = [], value: String, timestamp: String? = nil) {
            self.name = name
            self.labels = labels
            self.value = value
            self.timestamp = timestamp
        }

        public func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }
    }

    public struct Label: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A metric family: its `# HELP` and `# TYPE` and its samples (for a histogram, the
    /// `_bucket`/`_sum`/`_count` lines).
    public struct Family: Sendable, Equatable {
        public var name: String
        public var type: String?
        public var help: String?
        public var samples: [Sample]

        public init(name: String, type: String? = nil, help: String? = nil, samples: [Sample] = []) {
            self.name = name
            self.type = type
            self.help = help
            self.samples = samples
        }

        /// The same family with `labels` put first on every sample. A label the sample already
        /// has under one of those names is kept as `exported_<name>` (Prometheus's convention
        /// for a target's labels that clash with the scraper's).
        public func relabeled(_ labels: [Label]) -> Family {
            let names = Set(labels.map(\.name))
            var copy = self
            copy.samples = samples.map { s in
                var t = s
                t.labels = labels + s.labels.map { l in names.contains(l.name) ? Label("exported_" + l.name, l.value) : l }
                return t
            }
            return copy
        }
    }

    /// What `parse` found.
    public struct Parsed: Sendable, Equatable {
        public var families: [Family]
        /// Lines that were neither comments, blank, nor readable samples.
        public var skippedLines: Int
    }

    static let sampleSuffixes = ["_bucket", "_sum", "_count", "_total", "_created", "_info"]

    /// Reads an exposition. Samples join the family declared last by `# HELP`/`# TYPE` when their
    /// name is the family's name or that name plus a standard suffix; otherwise they form (or
    /// join) an untyped family of their own.
    public static func parse(_ text: String) -> Parsed {
        var families: [Family] = []
        var index: [String: Int] = [:]
        var current: Int?
        var skipped = 0

        func family(named name: String) -> Int {
            if let i = index[name] { return i }
            families.append(Family(name: name))
            index[name] = families.count - 1
            return families.count - 1
        }

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("#") {
                let words = trimmed.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
                let parts = words.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
                guard parts.count >= 2, parts[0] == "HELP" || parts[0] == "TYPE" else { continue }  // a comment
                let name = String(parts[1])
                guard isMetricName(name) else { skipped += 1; continue }
                let i = family(named: name)
                let rest = parts.count > 2 ? String(parts[2]) : ""
                if parts[0] == "HELP" { families[i].help = unescapeHelp(rest) }
                else { families[i].type = rest.trimmingSpaces }
                current = i
                continue
            }
            guard let sample = parseSample(trimmed) else { skipped += 1; continue }
            if let c = current, belongs(sample.name, to: families[c].name) {
                families[c].samples.append(sample)
            } else {
                let i = family(named: sample.name)
                families[i].samples.append(sample)
                current = i
            }
        }
        return Parsed(families: families, skippedLines: skipped)
    }

    static func belongs(_ sample: String, to family: String) -> Bool {
        sample == family || (sample.hasPrefix(family) && sampleSuffixes.contains(String(sample.dropFirst(family.count))))
    }

    /// Writes families as exposition text (each family's lines together, `# HELP` and `# TYPE`
    /// first); a family without samples is left out.
    public static func render(_ families: [Family]) -> String {
        var out = ""
        for f in families where !f.samples.isEmpty {
            if let help = f.help { out += "# HELP \(f.name) \(escapeHelp(help))\n" }
            if let type = f.type { out += "# TYPE \(f.name) \(type)\n" }
            for s in f.samples {
                out += s.name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",") + "}"
                }
                out += " " + s.value
                if let ts = s.timestamp { out += " " + ts }
                out += "\n"
            }
        }
        return out
    }

    /// Joins family lists (one per source) into one, each name once, in order of first
    /// appearance; HELP and TYPE come from the first source that gives them.
    public static func merge(_ sources: [[Family]]) -> [Family] {
        var out: [Family] = []
        var index: [String: Int] = [:]
        for families in sources {
            for f in families {
                if let i = index[f.name] {
                    if out[i].help == nil { out[i].help = f.help }
                    if out[i].type == nil { out[i].type = f.type }
                    out[i].samples += f.samples
                } else {
                    index[f.name] = out.count
                    out.append(f)
                }
            }
        }
        return out
    }

    // MARK: Lines

    static func parseSample(_ line: Substring) -> Sample? {
        var rest = line[...]
        let name = rest.prefix(while: { isNameCharacter($0) || $0 == ":" })
        guard !name.isEmpty, isMetricName(String(name)) else { return nil }
        rest = rest.dropFirst(name.count)
        var labels: [Label] = []
        if rest.first == "{" {
            rest = rest.dropFirst()
            guard let (parsed, after) = parseLabels(rest) else { return nil }
            labels = parsed
            rest = after
        }
        let fields = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 1 || fields.count == 2 else { return nil }
        let value = String(fields[0])
        guard isNumber(value) else { return nil }
        var timestamp: String?
        if fields.count == 2 {
            guard Int64(fields[1]) != nil else { return nil }
            timestamp = String(fields[1])
        }
        return Sample(name: String(name), labels: labels, value: value, timestamp: timestamp)
    }

    /// Reads `name="value",...}` (the opening brace already consumed); returns the labels and
    /// what follows the closing brace.
    static func parseLabels(_ text: Substring) -> ([Label], Substring)? {
        var rest = text
        var labels: [Label] = []
        while true {
            rest = rest.drop(while: { $0 == " " })
            if rest.first == "}" { return (labels, rest.dropFirst()) }
            let name = rest.prefix(while: isNameCharacter)
            guard !name.isEmpty, !(name.first!.isNumber) else { return nil }
            rest = rest.dropFirst(name.count).drop(while: { $0 == " " })
            guard rest.first == "=" else { return nil }
            rest = rest.dropFirst().drop(while: { $0 == " " })
            guard rest.first == "\"" else { return nil }
            rest = rest.dropFirst()
            var value = ""
            var closed = false
            while let c = rest.first {
                rest = rest.dropFirst()
                if c == "\"" { closed = true; break }
                if c == "\\" {
                    guard let e = rest.first else { return nil }
                    rest = rest.dropFirst()
                    switch e {
                    case "n": value.append("\n")
                    case "\\": value.append("\\")
                    case "\"": value.append("\"")
                    default: value.append("\\"); value.append(e)
                    }
                } else {
                    value.append(c)
                }
            }
            guard closed else { return nil }
            labels.append(Label(String(name), value))
            rest = rest.drop(while: { $0 == " " })
            if rest.first == "," { rest = rest.dropFirst() }
            else if rest.first != "}" { return nil }
        }
    }

    static func isNameCharacter(_ c: Character) -> Bool {
        c == "_" || (c.isASCII && (c.isLetter || c.isNumber))
    }

    static func isMetricName(_ s: String) -> Bool {
        guard let first = s.first, !first.isNumber else { return false }
        return s.allSatisfy { isNameCharacter($0) || $0 == ":" }
    }

    static func isNumber(_ s: String) -> Bool {
        switch s {
        case "+Inf", "-Inf", "Inf", "NaN": return true
        default: return Double(s) != nil && s.allSatisfy { $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }
        }
    }

    public static func escapeLabelValue(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func unescapeHelp(_ s: String) -> String {
        var out = ""
        var it = s.makeIterator()
        while let c = it.next() {
            if c == "\\", let e = it.next() {
                switch e {
                case "n": out.append("\n")
                case "\\": out.append("\\")
                default: out.append("\\"); out.append(e)
                }
            } else {
                out.append(c)
            }
        }
        return out
    }
}
