/// Substring search over Unicode scalars for streamed text, shared by `StopStringMatcher` and
/// `ReasoningSplitter`. Scalars (not `Character`s) keep results independent of where chunks
/// split, since a grapheme cluster may straddle two chunks.
enum PartialMatching {
    /// The occurrence of any pattern that ends earliest in `text` (ties: the longer pattern, i.e.
    /// the one starting earlier), as (start, end, pattern index). The earliest end is what a
    /// scalar-by-scalar stream would see first, which makes matching independent of chunking.
    static func earliestMatch(in text: [Unicode.Scalar], patterns: [[Unicode.Scalar]])
        -> (start: Int, end: Int, pattern: Int)? {
        guard !text.isEmpty else { return nil }
        for end in 1...text.count {
            var found: (start: Int, end: Int, pattern: Int)?
            for (index, pattern) in patterns.enumerated() where !pattern.isEmpty && pattern.count <= end {
                let start = end - pattern.count
                guard text[start..<end].elementsEqual(pattern) else { continue }
                if found == nil || start < found!.start { found = (start, end, index) }
            }
            if let found { return found }
        }
        return nil
    }

    /// Length of the longest suffix of `text` that is a proper prefix of some pattern: text that
    /// must be held back because the next chunk may complete a match.
    static func heldSuffixLength(of text: [Unicode.Scalar], patterns: [[Unicode.Scalar]]) -> Int {
        let longest = patterns.map { $0.count - 1 }.max() ?? 0
        var length = min(longest, text.count)
        while length > 0 {
            let suffix = text[(text.count - length)...]
            if patterns.contains(where: { $0.count > length && $0.starts(with: suffix) }) { return length }
            length -= 1
        }
        return 0
    }

    static func string(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars)
        return String(result)
    }
}
