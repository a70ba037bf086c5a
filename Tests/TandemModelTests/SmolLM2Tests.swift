import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

@Suite("SmolLM2-135M (GGUF Q4_1)")
struct SmolLM2Tests {
    @Test("configuration read from GGUF metadata")
    func configuration() {
        let c = TestModels.smol.configuration
        #expect(c.dim == 576 && c.hiddenDim == 1536 && c.layerCount == 30)
        #expect(c.headCount == 9 && c.kvHeadCount == 3 && c.vocabSize == 49152)
        #expect(c.ropeTheta == 100000 && c.tiedEmbeddings)
        #expect(TestModels.smol.model.weights.tokenEmbedding.dtype == .q8_0)
        #expect(TestModels.smol.model.weights.layers[0].wq.dtype == .q4_1)
    }

    @Test("tokenization equals Hugging Face tokenizers built from the GGUF vocab and merges")
    func tokenizer() throws {
        let fx = try Fixtures.json("smollm2_tokenizer")
        let cases = try #require(fx["cases"] as? [[String: Any]])
        #expect(cases.count >= 20)
        let tok = TestModels.smol.tokenizer
        for c in cases {
            let text = try #require(c["text"] as? String)
            let ids = Fixtures.ids(c["ids"])
            #expect(tok.encode(text) == ids, "\(text.debugDescription)")
            if !ids.contains(where: { tok.vocabulary.kinds[Int($0)] == .control }) {
                #expect(tok.decode(ids) == text, "round trip of \(text.debugDescription)")
            }
        }
    }

    @Test("streaming decode never emits a broken character")
    func streamingUTF8() {
        let tok = TestModels.smol.tokenizer
        let text = "日本語 👍🏽 café 🇫🇷"
        let ids = tok.encode(text)
        var d = StreamingDetokenizer(tokenizer: tok)
        var out = ""
        for t in ids {
            let chunk = d.append(t)
            #expect(!chunk.unicodeScalars.contains("\u{FFFD}"), "chunk \(chunk.debugDescription)")
            out += chunk
        }
        out += d.flush()
        #expect(out == text)
    }

    @Test("ChatML rendering equals the Jinja rendering of the model's own template")
    func chatTemplate() throws {
        let fx = try Fixtures.json("smollm2_chat")
        let cases = try #require(fx["cases"] as? [[String: Any]])
        let template = try #require(TestModels.smol.chatTemplate)
        for c in cases {
            let messages = try #require(c["messages"] as? [[String: String]]).map { ChatMessage(role: try #require(ChatMessage.Role(rawValue: $0["role"]!)), content: $0["content"]!) }
            #expect(try template.render(messages, addGenerationPrompt: true) == c["text"] as? String)
        }
    }

    @Test("a chat template that cannot be parsed is said out loud: the parse error and the built-in family used instead")
    func unparsableTemplateIsReported() throws {
        let tok = TestModels.smol.tokenizer
        let (chatml, problem) = ChatTemplate.fromModelReporting(
            jinja: "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n", tokenizer: tok)
        #expect(chatml == .chatML(defaultSystem: nil))
        let text = try #require(problem)
        #expect(text.contains("cannot be parsed") && text.contains("built-in chatml template"), "\(text)")
        let (none, refused) = ChatTemplate.fromModelReporting(jinja: "{{ messages[0]['content'] ", tokenizer: tok)
        #expect(none == nil)
        #expect(refused?.contains("chat requests are refused") == true)
        let (own, fine) = ChatTemplate.fromModelReporting(jinja: "{{ messages[0]['content'] }}", tokenizer: tok)
        #expect(fine == nil)
        if case .model = own {} else { Issue.record("expected the model's own template, got \(String(describing: own))") }
        #expect(TestModels.smol.chatTemplateProblem == nil)
    }

    @Test("\"The capital of France is\" continues with \" Paris\" greedily")
    func paris() throws {
        let fx = try Fixtures.json("smollm2_logits")
        let g = try #require(fx["greedy"] as? [String: Any])
        let ids = TestModels.smol.tokenizer.encode("The capital of France is")
        #expect(ids == Fixtures.ids(g["ids"]))
        let out = try greedy(TestModels.smol, prompt: ids, count: 3)
        #expect(TestModels.smol.tokenizer.decode(out).hasPrefix(" Paris"))
    }

    @Test("last-position logits match the float64 numpy reference (same dequantised weights)")
    func logitsMatchReference() throws {
        let fx = try Fixtures.json("smollm2_logits")
        let cases = try #require(fx["cases"] as? [[String: Any]])
        #expect(cases.count >= 4)
        for c in cases {
            let ids = Fixtures.ids(c["ids"])
            let session = LlamaSession(model: TestModels.smol.model, maxPositions: ids.count)
            let logits = try session.prefill(ids)
            let top = try #require(c["top"] as? [[Any]])
            let topIDs = top.map { ($0[0] as! NSNumber).intValue }
            let topValues = top.map { ($0[1] as! NSNumber).floatValue }
            let argmax = logits.indices.max { logits[$0] < logits[$1] }!
            #expect(argmax == topIDs[0], "argmax for \(c["text"] ?? "")")
            var maxDiff: Float = 0
            for (id, v) in zip(topIDs, topValues) { maxDiff = max(maxDiff, abs(logits[id] - v)) }
            for (id, v) in zip(Fixtures.ids(c["probe_ids"]), Fixtures.floats(c["probe_logits"])) {
                maxDiff = max(maxDiff, abs(logits[Int(id)] - v))
            }
            // FP32 accumulation over 30 layers against float64: 2e-3 absolute on logits of size ~30.
            #expect(maxDiff < 2e-3, "max |Δlogit| \(maxDiff) for \(c["text"] ?? "")")
        }
    }
}
