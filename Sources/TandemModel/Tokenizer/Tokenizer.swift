import TandemCore

/// Turns text into token ids and token ids back into bytes.
public protocol Tokenizer: Sendable {
    var vocabulary: Vocabulary { get }
    /// Whether `encode` starts with BOS unless told otherwise.
    var addsBOS: Bool { get }
    /// Encodes `prompt`; special pieces (e.g. `<|im_start|>`) become their ids only inside the
    /// prompt's special ranges (a chat template's own text), never in message content.
    func encode(_ prompt: PromptText, addBOS: Bool?) -> [TokenID]
    /// The bytes `token` stands for, given the token before it (nil at the start of the text).
    /// Control tokens give no bytes.
    func bytes(for token: TokenID, after previous: TokenID?) -> [UInt8]
}

extension Tokenizer {
    /// Encodes `text`; special pieces become their ids when `parseSpecial` (only for text the
    /// program wrote itself: a template, a tag; never for text a client sent).
    public func encode(_ text: String, addBOS: Bool?, parseSpecial: Bool) -> [TokenID] {
        encode(PromptText(text, special: parseSpecial), addBOS: addBOS)
    }

    public func encode(_ text: String) -> [TokenID] { encode(text, addBOS: nil, parseSpecial: true) }

    /// Decodes a whole sequence (invalid UTF-8 is replaced with U+FFFD).
    public func decode(_ tokens: [TokenID]) -> String {
        var d = StreamingDetokenizer(tokenizer: self)
        var s = ""
        for t in tokens { s += d.append(t) }
        return s + d.flush()
    }

    /// The vocabulary entry's text for display (no decoding rules applied).
    public func piece(_ token: TokenID) -> String {
        token >= 0 && Int(token) < vocabulary.count ? vocabulary.pieces[Int(token)] : "<invalid \(token)>"
    }
}

/// Streams decoded text token by token without ever emitting a broken character:
/// bytes of an incomplete UTF-8 sequence are held until the sequence completes.
public struct StreamingDetokenizer {
    let tokenizer: any Tokenizer
    var pending: [UInt8] = []
    var previous: TokenID?

    public init(tokenizer: any Tokenizer, previous: TokenID? = nil) {
        self.tokenizer = tokenizer
        self.previous = previous
    }

    /// The text that became complete with `token` (possibly empty).
    public mutating func append(_ token: TokenID) -> String {
        pending += tokenizer.bytes(for: token, after: previous)
        previous = token
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let s = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return s
    }

    /// Whatever is still held (an incomplete sequence at the end becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside an incomplete UTF-8 sequence.
    static func completePrefixLength(_ b: [UInt8]) -> Int {
        let n = b.count
        var i = n - 1
        var back = 0
        // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
        while i >= 0 && back < 4 && b[i] & 0xC0 == 0x80 { i -= 1; back += 1 }
        if i < 0 { return n } // only continuation bytes: invalid, let them through
        let lead = b[i]
        let need: Int
        if lead < 0x80 { need = 1 } else if lead & 0xE0 == 0xC0 { need = 2 } else if lead & 0xF0 == 0xE0 { need = 3 } else if lead & 0xF8 == 0xF0 { need = 4 } else { need = 1 }
        return n - i >= need ? n : i
    }
}
