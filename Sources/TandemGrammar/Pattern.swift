/// A language over bytes, built by the schema, regex and GBNF front ends and compiled into a
/// `ByteNFA`. Text is UTF-8: a character is a sequence of byte sets.
public indirect enum Pattern: Sendable {
    /// The empty string.
    case empty
    /// No string at all (an unsatisfiable branch; pruned when the automaton is built).
    case never
    /// One byte from the set.
    case bytes(ByteSet)
    case sequence([Pattern])
    case choice([Pattern])
    /// `min` to `max` (nil: unbounded) repetitions of the item, with `separator` between them.
    case repetition(Pattern, min: Int, max: Int?, separator: Pattern?)
    /// Ordered members, each required or optional, with `separator` between those present
    /// (JSON object properties): built with one copy of each member.
    case members([(Pattern, required: Bool)], separator: Pattern)
    /// A named rule (`$defs` entry, GBNF rule), inlined where used; recursion is unrolled a
    /// bounded number of levels.
    case reference(String)
    /// One character: an ASCII byte from the set, or any well-formed multi-byte UTF-8 character
    /// (no overlongs, no surrogates), built with shared continuation states.
    case character(ascii: ByteSet)
    /// The text between the quotes of a JSON string whose decoded value is in the inner
    /// pattern's language and has `minLength...maxLength` characters: `"`, `\` and control
    /// characters are written as escapes, characters counted as JSON Schema counts them.
    case jsonString(Pattern, minLength: Int, maxLength: Int?)
    /// The inner pattern's strings of `minLength...maxLength` characters, counted in the matcher
    /// instead of copied (whitespace runs, digit runs).
    case counted(Pattern, minLength: Int, maxLength: Int?)

    /// The bytes of `text`, literally.
    public static func literal(_ text: String) -> Pattern { literal(Array(text.utf8)) }

    public static func literal(_ bytes: [UInt8]) -> Pattern {
        bytes.count == 1 ? .bytes(ByteSet([bytes[0]])) : .sequence(bytes.map { .bytes(ByteSet([$0])) })
    }

    public static func byte(_ c: Character) -> Pattern { .bytes(ByteSet(c.utf8)) }

    public static func optional(_ p: Pattern) -> Pattern { .repetition(p, min: 0, max: 1, separator: nil) }

    public static func star(_ p: Pattern) -> Pattern { .repetition(p, min: 0, max: nil, separator: nil) }

    public static func plus(_ p: Pattern) -> Pattern { .repetition(p, min: 1, max: nil, separator: nil) }

    public static func count(_ p: Pattern, _ min: Int, _ max: Int?) -> Pattern { .repetition(p, min: min, max: max, separator: nil) }

    static let continuation = ByteSet(range: 0x80, 0xBF)

    /// Every byte string of `lo`'s length from `lo` to `hi` (in lexicographic order) whose bytes
    /// after the first lie in `digit` (`0`–`9` for decimal numbers, continuation bytes for UTF-8):
    /// the range cut digit by digit, as range-to-regex tools do.
    static func range(_ lo: [UInt8], _ hi: [UInt8], digit: ClosedRange<UInt8>) -> [Pattern] {
        let n = lo.count
        if n == 1 { return [.bytes(ByteSet(range: lo[0], hi[0]))] }
        let loRest = Array(lo[1...]), hiRest = Array(hi[1...])
        let head = { (b: UInt8, rest: Pattern) -> Pattern in .sequence([.bytes(ByteSet([b])), rest]) }
        if lo[0] == hi[0] { return range(loRest, hiRest, digit: digit).map { head(lo[0], $0) } }
        let least = [UInt8](repeating: digit.lowerBound, count: n - 1)
        let most = [UInt8](repeating: digit.upperBound, count: n - 1)
        let any: [Pattern] = Array(repeating: .bytes(ByteSet(range: digit.lowerBound, digit.upperBound)), count: n - 1)
        if loRest == least, hiRest == most { return [.sequence([.bytes(ByteSet(range: lo[0], hi[0]))] + any)] }
        var out = range(loRest, most, digit: digit).map { head(lo[0], $0) }
        if lo[0] + 1 <= hi[0] - 1 { out.append(.sequence([.bytes(ByteSet(range: lo[0] + 1, hi[0] - 1))] + any)) }
        out += range(least, hiRest, digit: digit).map { head(hi[0], $0) }
        return out
    }

    /// The UTF-8 bytes of one Unicode scalar, as a pattern.
    static func scalar(_ s: Unicode.Scalar) -> Pattern { literal(Array(String(s).utf8)) }
}
