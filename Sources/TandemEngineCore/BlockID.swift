/// Index of one fixed-size KV block. Every worker holds the K/V of its own heads for the same
/// block ids, so this number is what travels in step plans.
public struct BlockID: Hashable, Sendable, Comparable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public let rawValue: Int

    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public init(integerLiteral value: Int) { self.rawValue = value }

    public var description: String { "#\(rawValue)" }
    public static func < (lhs: BlockID, rhs: BlockID) -> Bool { lhs.rawValue < rhs.rawValue }
}
