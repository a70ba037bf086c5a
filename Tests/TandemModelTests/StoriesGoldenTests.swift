import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

@Suite("stories260K golden")
struct StoriesGoldenTests {
    @Test("greedy from BOS reproduces karpathy's published sample token for token")
    func greedyFromBOS() throws {
        let fx = try Fixtures.json("stories260k_greedy")
        let expected = Fixtures.ids(fx["greedy_ids"])
        #expect(expected.count == 60)
        let got = try greedy(TestModels.stories, prompt: [1], count: 60)
        #expect(got == expected)
        let text = TestModels.stories.tokenizer.decode([1] + got)
        #expect(text.hasPrefix("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball."))
        #expect(text == fx["text"] as? String)
    }

    @Test("logits at every position match the float64 numpy reference within 1e-4")
    func logitsMatchReference() throws {
        let fx = try Fixtures.json("stories260k_logits")
        let cases = try #require(fx["cases"] as? [[String: Any]])
        #expect(cases.count >= 3)
        for c in cases {
            let ids = Fixtures.ids(c["ids"])
            let expected = try #require(c["logits"] as? [[Any]]).map { Fixtures.floats($0) }
            let session = LlamaSession(model: TestModels.stories.model)
            var maxDiff: Float = 0
            for (p, token) in ids.enumerated() {
                let logits = try session.prefill([token])
                #expect(logits.count == expected[p].count)
                for (a, b) in zip(logits, expected[p]) { maxDiff = max(maxDiff, abs(a - b)) }
            }
            #expect(maxDiff < 1e-4, "max |Δlogit| \(maxDiff) for \(ids)")
        }
    }

    @Test("tokenizer matches sentencepiece on tok512.model")
    func tokenizer() throws {
        let fx = try Fixtures.json("stories260k_tokenizer")
        let cases = try #require(fx["cases"] as? [[String: Any]])
        #expect(cases.count >= 8)
        let tok = TestModels.stories.tokenizer
        for c in cases {
            let text = try #require(c["text"] as? String)
            let ids = Fixtures.ids(c["ids"])
            #expect(tok.encode(text, addBOS: false, parseSpecial: false) == ids, "\(text.debugDescription)")
            #expect(tok.decode(ids) == text, "round trip of \(text.debugDescription)")
        }
    }
}
