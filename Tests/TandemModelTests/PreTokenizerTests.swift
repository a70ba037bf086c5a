import Foundation
import Testing
@testable import TandemModel

/// Llama 3 (`llama-bpe`) and Qwen2 (`qwen2`) pre-tokenizers against the real patterns run by
/// Python's `regex` module (tools/reference/make_pretokenizer_fixture.py).
@Suite("Pre-tokenizers: llama-bpe, qwen2")
struct PreTokenizerTests {
    @Test(arguments: ["llama-bpe", "qwen2"])
    func wordsMatchTheRegex(name: String) throws {
        let fx = try Fixtures.json("pretokenizers")
        let cases = try #require((fx["cases"] as? [String: Any])?[name] as? [[String: Any]])
        let pre = try #require(PreTokenizer(ggufName: name))
        #expect(cases.count >= 10)
        for c in cases {
            let text = try #require(c["text"] as? String)
            let expected = try #require(c["words"] as? [String])
            let scalars = Array(text.unicodeScalars)
            let words = pre.split(scalars).map { r in
                var v = String.UnicodeScalarView()
                v.append(contentsOf: scalars[r])
                return String(v)
            }
            #expect(words == expected, "\(name): \(text.debugDescription)")
        }
    }
}
