/// A set of Unicode scalars as sorted, disjoint closed ranges, turned into a UTF-8 byte pattern
/// (each range split at encoding-length and lead-byte boundaries).
struct ScalarRanges {
    private(set) var ranges: [ClosedRange<UInt32>] = []

    static let maxScalar: UInt32 = 0x10FFFF

    init(_ ranges: [ClosedRange<UInt32>] = []) {
        self.ranges = ranges
        normalize()
    }

    mutating func insert(_ r: ClosedRange<UInt32>) {
        ranges.append(r)
        normalize()
    }

    mutating func formUnion(_ other: ScalarRanges) {
        ranges += other.ranges
        normalize()
    }

    private mutating func normalize() {
        ranges.sort { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for r in ranges {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        ranges = merged
    }

    /// Every scalar not in the set.
    func complement() -> ScalarRanges {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound &+ 1
        }
        if next <= Self.maxScalar { out.append(next...Self.maxScalar) }
        return ScalarRanges(out)
    }

    var isEmpty: Bool { ranges.isEmpty }

    /// The UTF-8 encodings of the set's scalars (surrogates excluded).
    func pattern() -> Pattern {
        var alternatives: [Pattern] = []
        if ranges.contains(where: { $0.lowerBound <= 0x80 && $0.upperBound == Self.maxScalar }) {
            var asciiSet = ByteSet()
            for r in ranges where r.lowerBound <= 0x7F { for v in r.lowerBound...min(r.upperBound, 0x7F) { asciiSet.insert(UInt8(v)) } }
            return .character(ascii: asciiSet)
        }
        let ascii = ranges.compactMap { r -> ClosedRange<UInt32>? in
            r.lowerBound <= 0x7F ? r.lowerBound...min(r.upperBound, 0x7F) : nil
        }
        var asciiSet = ByteSet()
        for r in ascii { for v in r { asciiSet.insert(UInt8(v)) } }
        if !asciiSet.isEmpty { alternatives.append(.bytes(asciiSet)) }
        let bands: [ClosedRange<UInt32>] = [0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
        for r in ranges {
            for band in bands where r.overlaps(band) {
                let lo = max(r.lowerBound, band.lowerBound)
                let hi = min(r.upperBound, band.upperBound)
                alternatives += Pattern.range(Self.encode(lo), Self.encode(hi), digit: 0x80...0xBF)
            }
        }
        switch alternatives.count {
        case 0: return .never
        case 1: return alternatives[0]
        default: return .choice(alternatives)
        }
    }

    static func encode(_ v: UInt32) -> [UInt8] {
        Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8)
    }
}
