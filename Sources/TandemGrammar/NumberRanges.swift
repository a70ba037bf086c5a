/// Decimal patterns for integer ranges, the way range-to-regex tools build them: the range is cut
/// at digit-count boundaries, then digit by digit, so `[lo, hi]` is matched exactly.
enum NumberRanges {
    /// Most digits an unbounded integer (or integer part) may have.
    static let maxDigits = 16
    static let digit = ByteSet(range: 0x30, 0x39)
    static let nonZeroDigit = ByteSet(range: 0x31, 0x39)

    /// Integers in `lo...hi` in canonical decimal form (`-` sign, no leading zeros, `0` not `-0`);
    /// nil bounds are ±(10^16 − 1).
    static func integers(_ lo: Int64?, _ hi: Int64?) -> Pattern {
        let cap: Int64 = 9_999_999_999_999_999
        let a = max(lo ?? -cap, -cap), b = min(hi ?? cap, cap)
        guard a <= b else { return .never }
        var alternatives: [Pattern] = []
        if a < 0 {
            // −x for x in max(1, −b) ... −a
            let negative = nonNegative(UInt64(max(1, -b)), UInt64(-a))
            alternatives.append(.sequence([.literal("-"), negative]))
        }
        if b >= 0 { alternatives.append(nonNegative(UInt64(max(0, a)), UInt64(b))) }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    /// Non-negative integers `lo...hi`.
    static func nonNegative(_ lo: UInt64, _ hi: UInt64) -> Pattern {
        guard lo <= hi else { return .never }
        var alternatives: [Pattern] = []
        var start = lo
        while start <= hi {
            let digits = String(start).count
            let top = digits >= 19 ? UInt64.max : power(digits) - 1
            let end = min(hi, top)
            alternatives += Pattern.range(Array(String(start).utf8), Array(String(end).utf8), digit: 0x30...0x39)
            if end == hi { break }
            start = end + 1
        }
        return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
    }

    static func power(_ n: Int) -> UInt64 {
        var v: UInt64 = 1
        for _ in 0..<n { v *= 10 }
        return v
    }

    /// `min...max` digits, counted by the matcher.
    static func digits(_ min: Int, _ max: Int) -> Pattern { .counted(.star(.bytes(digit)), minLength: min, maxLength: max) }

    /// An unbounded JSON integer: `-?(0|[1-9][0-9]{0,15})`.
    static var anyInteger: Pattern {
        .sequence([.optional(.literal("-")),
                   .choice([.literal("0"), .sequence([.bytes(nonZeroDigit), digits(0, maxDigits - 1)])])])
    }

    /// A fraction part: `.` and 1 to 16 digits.
    static var fraction: Pattern { .sequence([.literal("."), digits(1, maxDigits)]) }

    /// An unbounded JSON number (digit counts capped).
    static var anyNumber: Pattern {
        .sequence([anyInteger, .optional(fraction),
                   .optional(.sequence([.bytes(ByteSet("eE".utf8)), .optional(.bytes(ByteSet("+-".utf8))),
                                        digits(1, 3)]))])
    }

    /// Numbers in a range (JSON Schema `minimum`/`maximum` and their exclusive forms): the
    /// integers in range, plus `x.ddd` forms whose value provably stays inside. Every number
    /// written is in range; a few in-range values (e.g. 2.5 in [2.2, 2.7]) are not offered.
    static func numbers(lower: Double?, lowerExclusive: Bool, upper: Double?, upperExclusive: Bool) -> Pattern {
        let cap = 9_999_999_999_999_999.0
        var a: Int64 = -Int64(cap)
        if let lower {
            let c = lower.rounded(.up)
            a = Int64(max(-cap, min(cap, c))) + (lowerExclusive && c == lower ? 1 : 0)
        }
        var b: Int64 = Int64(cap)
        if let upper {
            let f = upper.rounded(.down)
            b = Int64(max(-cap, min(cap, f))) - (upperExclusive && f == upper ? 1 : 0)
        }
        var alternatives: [Pattern] = []
        // x.ddd with a ≤ x ≤ b − 1 (non-negative), and −x.ddd with −b ≤ x ≤ −a − 1.
        if max(a, 0) <= b - 1 {
            alternatives.append(.sequence([nonNegative(UInt64(max(a, 0)), UInt64(b - 1)), fraction]))
        }
        if a <= -1, max(-b, 0) <= -a - 1 {
            alternatives.append(.sequence([.literal("-"), nonNegative(UInt64(max(-b, 0)), UInt64(-a - 1)), fraction]))
        }
        if a <= b { alternatives.append(integers(a, b)) }
        // An interval without an integer endpoint inside (e.g. [0.2, 0.7]): only x.ddd forms, checked
        // through the lower and upper digit strings would be needed; offer nothing rather than wrong values.
        switch alternatives.count {
        case 0: return .never
        case 1: return alternatives[0]
        default: return .choice(alternatives)
        }
    }
}
