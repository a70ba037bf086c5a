import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

/// Where the test models are: `TANDEM_STORIES260K_DIR` / `TANDEM_SMOLLM2_PATH`, else
/// `../shared/models/stories260K` beside the repository and `models/` inside it.
enum TestModels {
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var storiesDir: String {
        ProcessInfo.processInfo.environment["TANDEM_STORIES260K_DIR"] ?? repoRoot + "/../shared/models/stories260K"
    }

    static var storiesPath: String { storiesDir + "/stories260K.bin" }

    static var smolPath: String {
        ProcessInfo.processInfo.environment["TANDEM_SMOLLM2_PATH"] ?? repoRoot + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    /// Loaded once per test process; loading maps the file, so sharing is cheap and safe.
    static let stories: LoadedModel = {
        do { return try ModelLoader.load(path: storiesPath) } catch {
            fatalError("stories260K not found at \(storiesPath) (\(error)); set TANDEM_STORIES260K_DIR")
        }
    }()

    static let smol: LoadedModel = {
        do { return try ModelLoader.load(path: smolPath) } catch {
            fatalError("SmolLM2 not found at \(smolPath) (\(error)); run deploy/fetch-model.sh or set TANDEM_SMOLLM2_PATH")
        }
    }()
}

enum Fixtures {
    static func json(_ name: String) throws -> [String: Any] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    static func ids(_ any: Any?) -> [TokenID] {
        ((any as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.int32Value }
    }

    static func floats(_ any: Any?) -> [Float] {
        ((any as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.floatValue }
    }
}

/// Greedy decoding with the reference forward pass.
func greedy(_ model: LoadedModel, prompt: [TokenID], count: Int) throws -> [TokenID] {
    let session = LlamaSession(model: model.model, maxPositions: prompt.count + count + 1)
    var logits = try session.prefill(prompt)
    var out: [TokenID] = []
    for _ in 0..<count {
        let next = TokenID(logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!)
        out.append(next)
        logits = try session.prefill([next])
    }
    return out
}
