/// A place in a topology file (1-based line and column, as editors count).
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a topology file: where, what is wrong, and what is allowed.
public struct TopologyDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, _ location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `file:line:column: error: message` (the format compilers use, so editors can jump to it).
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// A topology file that has errors: every diagnostic, errors and warnings, in file order.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [TopologyDiagnostic]
    public var errors: [TopologyDiagnostic] { diagnostics.filter { $0.severity == .error } }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics while a file is read and checked.
final class DiagnosticSink {
    let file: String
    private(set) var items: [TopologyDiagnostic] = []
    /// Where each value read so far is, by path.
    var locations: [String: SourceLocation] = [:]

    init(file: String) { self.file = file }

    func error(_ at: SourceLocation, _ message: String) { items.append(TopologyDiagnostic(.error, at, message)) }
    func warning(_ at: SourceLocation, _ message: String) { items.append(TopologyDiagnostic(.warning, at, message)) }

    var hasErrors: Bool { items.contains { $0.severity == .error } }

    /// Sorted by place, errors before warnings at the same place.
    var sorted: [TopologyDiagnostic] {
        items.enumerated().sorted { a, b in
            let (x, y) = (a.element.location, b.element.location)
            if x.line != y.line { return x.line < y.line }
            if x.column != y.column { return x.column < y.column }
            return a.offset < b.offset
        }.map(\.element)
    }
}
