/// A directive for the workers: copy every K/V slot of `source` into `destination` before the
/// step's forward pass (copy-on-write of a shared or cached block). Perform copies in the order
/// given: a later copy may overwrite a block an earlier one read.
public struct BlockCopy: Hashable, Sendable, CustomStringConvertible {
    public let source: BlockID
    public let destination: BlockID

    public init(source: BlockID, destination: BlockID) {
        self.source = source
        self.destination = destination
    }

    public var description: String { "copy \(source) → \(destination)" }
}
