import ArgumentParser
import Foundation
import TandemAPI
import TandemCore
import TandemEngine
import TandemGrammar
import TandemModel

/// `tandem grammar`: compiles output constraints for a model's vocabulary and walks them without
/// the model: tokens drawn at random from each step's mask (then, past `--budget`, the token
/// that gets closest to a complete output), so every reachable corner of a schema is exercised
/// and the texts can be checked by an independent validator. Prints one JSON object per schema
/// with the texts, or the compile error (keyword, place, message), and mask times.
struct GrammarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grammar",
        abstract: "Compile JSON Schemas, regexes or GBNF for a model's vocabulary and sample outputs from the masks.")

    @Option(help: "Model whose tokenizer is used (default: the SmolLM2 model in models/).")
    var model: String?

    @Option(help: "A JSON file: one JSON Schema, or an array of {\"name\", \"schema\"} (or {\"name\", \"regex\"}, {\"name\", \"grammar\"}).")
    var schemas: String

    @Option(help: "Outputs sampled per schema, with seeds 1...n.")
    var seeds = 3

    @Option(help: "Random tokens before steering to the nearest complete output.")
    var budget = 40

    @Option(name: .customLong("max-tokens"), help: "Give up on an output after this many tokens.")
    var maxTokens = 4000

    func run() throws {
        let path = try model ?? DefaultModel.path()
        let loaded: LoadedModel
        do { loaded = try ModelLoader.load(path: path, tokenizerPath: nil) } catch let e as ModelLoadError {
            throw ValidationError(e.description)
        }
        let cache = GrammarCache(tokenizer: loaded.tokenizer, capacity: 4)
        let data = try Data(contentsOf: URL(fileURLWithPath: schemas))
        let document = try JSONValue.parse(Array(data))
        var items: [(String, ConstraintSpec)] = []
        if case .array(let list) = document {
            for (i, item) in list.enumerated() {
                let name = item["name"]?.stringValue ?? "\(i)"
                if let r = item["regex"]?.stringValue { items.append((name, .regex(r))) }
                else if let g = item["grammar"]?.stringValue { items.append((name, .grammar(g))) }
                else { items.append((name, .jsonSchema(item["schema"] ?? .object([])))) }
            }
        } else {
            items.append(("schema", .jsonSchema(document)))
        }
        let vocabulary = cache.vocabulary
        // Schemas are independent: walked on every core, printed in order.
        let results = Locked([String?](repeating: nil, count: items.count))
        let seeds = seeds, budget = budget, maxTokens = maxTokens, work = items
        DispatchQueue.concurrentPerform(iterations: work.count) { index in
            let (name, spec) = work[index]
            var out: [(String, JSONValue)] = [("name", .string(name))]
            let compileStart = ContinuousClock.now
            do {
                let grammar = try cache.constraint(for: spec).grammar
                out.append(("compile_ms", .double((ContinuousClock.now - compileStart).seconds * 1000)))
                var texts: [JSONValue] = []
                var maskTimes: [Double] = []
                for seed in 1...max(1, seeds) {
                    var rng = SplitMix64(seed: UInt64(seed))
                    var matcher = GrammarMatcher(grammar)
                    var bytes: [UInt8] = []
                    var complete = false
                    for step in 0..<maxTokens {
                        let t0 = ContinuousClock.now
                        let mask = matcher.allowedTokens()
                        maskTimes.append((ContinuousClock.now - t0).seconds * 1e6)
                        let allowed = mask.tokens
                        guard !allowed.isEmpty else { break }
                        let ends = allowed.filter { vocabulary.endTokens.contains($0) }
                        if !ends.isEmpty && (step >= budget || rng.next() % 4 == 0) { complete = true; break }
                        let choices = allowed.filter { !vocabulary.endTokens.contains($0) }
                        if choices.isEmpty { complete = !ends.isEmpty; break }
                        var pick = choices[Int(rng.next() % UInt64(choices.count))]
                        if step >= budget {
                            // Steer: the token that leaves the fewest bytes to a complete output.
                            var best = Int.max
                            for t in choices {
                                let d = grammar.distance(grammar.advance(matcher.state, bytes: vocabulary.bytes(of: t)))
                                if d >= 0 && d < best { best = d; pick = t }
                            }
                        }
                        bytes += vocabulary.bytes(of: pick)
                        matcher.accept(pick)
                    }
                    texts.append(.object([("seed", .int(Int64(seed))), ("text", .string(String(decoding: bytes, as: UTF8.self))),
                                          ("complete", .bool(complete))]))
                }
                maskTimes.sort()
                out.append(("samples", .array(texts)))
                out.append(("states", .int(Int64(grammar.expandedStates))))
                if !maskTimes.isEmpty {
                    out.append(("mask_us_p50", .double(maskTimes[maskTimes.count / 2])))
                    out.append(("mask_us_p99", .double(maskTimes[min(maskTimes.count - 1, maskTimes.count * 99 / 100)])))
                }
            } catch let error as GrammarError {
                out.append(("error", .object([("keyword", .string(error.keyword)), ("path", .string(error.path)),
                                              ("message", .string(error.description))])))
            } catch {
                out.append(("error", .object([("keyword", ""), ("path", ""), ("message", .string("\(error)"))])))
            }
            let line = JSONWriter.string(.object(out))
            results.withLock { $0[index] = line }
        }
        for line in results.withLock({ $0 }) {
            FileHandle.standardOutput.write(Data(((line ?? "") + "\n").utf8))
        }
    }
}
