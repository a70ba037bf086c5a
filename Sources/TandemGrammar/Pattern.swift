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

    /// The UTF-8 bytes of one Unicode scalar, as a pattern.
    static func scalar(_ s: Unicode.Scalar) -> Pattern { literal(Array(String(s).utf8)) }
}
