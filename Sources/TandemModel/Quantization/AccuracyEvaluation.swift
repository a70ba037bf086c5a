import Foundation
import TandemCore

/// How close a candidate model's next-token distributions are to a reference run's, measured on
/// the same tokens (teacher forcing), as llama.cpp's `--kl-divergence` does:
/// * top-1 agreement: share of positions whose argmax equals the reference's;
/// * mean KL(P_ref ‖ P_candidate) in nats, over the full vocabulary, in Double;
/// * max |Δlogit| over every position and token;
/// * perplexity on a fixed text, exp(mean negative log-likelihood of each next token);
/// * greedy-identical sequences: the candidate's own greedy continuation equals the reference's
///   exactly when its argmax agrees at every continuation position, so this needs no extra run.
public struct AccuracyMetrics: Sendable, Equatable {
    public var positions = 0
    public var top1Agreements = 0
    public var klSum = 0.0
    public var maxAbsDelta: Float = 0
    public var perplexity = 0.0
    public var greedyIdentical = 0
    public var sequences = 0

    public var top1Agreement: Double { positions == 0 ? 0 : Double(top1Agreements) / Double(positions) }
    public var meanKL: Double { positions == 0 ? 0 : klSum / Double(positions) }

    /// Adds one position's comparison.
    public mutating func add(reference r: [Float], candidate c: [Float]) {
        precondition(r.count == c.count && !r.isEmpty)
        positions += 1
        if AccuracyEvaluation.argmax(r) == AccuracyEvaluation.argmax(c) { top1Agreements += 1 }
        let lr = AccuracyEvaluation.logSoftmax(r), lc = AccuracyEvaluation.logSoftmax(c)
        var kl = 0.0
        for i in r.indices where lr[i] > -80 { kl += exp(lr[i]) * (lr[i] - lc[i]) }
        klSum += max(kl, 0)
        for i in r.indices { maxAbsDelta = max(maxAbsDelta, abs(r[i] - c[i])) }
    }
}

/// A fixed evaluation: reference logits for prompts (each extended by the reference's greedy
/// continuation) and a perplexity text, against which candidate models are scored.
public final class AccuracyEvaluation {
    /// Token sequences (prompt + reference continuation) and the prompt lengths.
    public let sequences: [[TokenID]]
    public let promptLengths: [Int]
    public let continuation: Int
    public let text: [TokenID]
    /// The reference's own metrics (perplexity; agreement 1, KL 0 by definition).
    public private(set) var reference = AccuracyMetrics()
    private let referenceLogits: [[[Float]]] // (sequence, position, vocab)

    /// Runs the reference: greedy continuation of each prompt, logits at every position, perplexity.
    public init(reference model: LlamaModel, prompts: [[TokenID]], continuation: Int, text: [TokenID],
                progress: ((Int, Int) -> Void)? = nil) throws {
        let run = try Self.runReference(model, prompts: prompts, continuation: continuation, text: text, progress: progress)
        self.continuation = continuation
        self.text = text
        promptLengths = prompts.map(\.count)
        sequences = run.sequences
        referenceLogits = run.logits
        reference.perplexity = run.perplexity
        reference.positions = run.logits.reduce(0) { $0 + $1.count }
        reference.top1Agreements = reference.positions
        reference.sequences = run.sequences.count
        reference.greedyIdentical = run.sequences.count
    }

    private static func runReference(_ model: LlamaModel, prompts: [[TokenID]], continuation: Int, text: [TokenID],
                                     progress: ((Int, Int) -> Void)?) throws
        -> (sequences: [[TokenID]], logits: [[[Float]]], perplexity: Double) {
        let work = prompts.reduce(0) { $0 + $1.count + continuation } + text.count
        var done = 0
        func step() {
            done += 1
            progress?(done, work)
        }
        var sequences: [[TokenID]] = [], allLogits: [[[Float]]] = []
        for p in prompts {
            precondition(!p.isEmpty, "empty prompt")
            let next = try runnerStepper(model, maxPositions: p.count + continuation)
            var tokens = p, logits: [[Float]] = []
            for i in 0..<(p.count + continuation) {
                let row = try next(tokens[i])
                logits.append(row)
                if i + 1 == tokens.count, tokens.count < p.count + continuation { tokens.append(TokenID(argmax(row))) }
                step()
            }
            sequences.append(tokens)
            allLogits.append(logits)
        }
        let ppl = try perplexity(model, text, step: step)
        return (sequences, allLogits, ppl)
    }

    /// One sequence's logits, position by position: called with each token in order, returns the
    /// full-vocabulary logits after it.
    public typealias Stepper = (TokenID) throws -> [Float]

    /// A fresh stepper through the forward pass every command runs (`ModelRunner`, one rank, one
    /// token per step as a decode runs in `serve`) with K/V stored as `kvDType`.
    public static func runnerStepper(_ model: LlamaModel, kvDType: KVCacheDType = .f32, maxPositions: Int) throws -> Stepper {
        let sequence = try ModelRunner(model: model, blocks: .positions(maxPositions), kvDType: kvDType).sequence()
        return { t in
            guard let row = try sequence.run([t]) else { throw ModelRuntimeError.noLogits }
            return row
        }
    }

    /// Scores `candidate` on the reference's tokens.
    public func evaluate(_ candidate: LlamaModel, progress: ((Int, Int) -> Void)? = nil) throws -> AccuracyMetrics {
        try evaluate(progress: progress) { try Self.runnerStepper(candidate, maxPositions: $0) }
    }

    /// Scores the candidate `stepper(maxPositions)` computes (a fresh one per sequence) on the
    /// reference's tokens: another forward pass, another K/V storage.
    public func evaluate(progress: ((Int, Int) -> Void)? = nil, stepper: (Int) throws -> Stepper) throws -> AccuracyMetrics {
        var m = AccuracyMetrics()
        let work = sequences.reduce(0) { $0 + $1.count } + text.count
        var done = 0
        for (s, tokens) in sequences.enumerated() {
            let next = try stepper(tokens.count)
            var greedy = true
            for (i, t) in tokens.enumerated() {
                let row = try next(t)
                m.add(reference: referenceLogits[s][i], candidate: row)
                // Position i predicts token i+1; the continuation starts at promptLengths[s].
                if i + 1 >= promptLengths[s], i + 1 < tokens.count, Self.argmax(row) != Int(tokens[i + 1]) { greedy = false }
                done += 1
                progress?(done, work)
            }
            m.sequences += 1
            if greedy { m.greedyIdentical += 1 }
        }
        m.perplexity = try Self.perplexity(text, stepper: stepper(text.count)) { done += 1; progress?(done, work) }
        return m
    }

    /// exp(mean -log p(token[i+1] | tokens[...i])) over the text.
    public static func perplexity(_ model: LlamaModel, _ tokens: [TokenID], step: () -> Void = {}) throws -> Double {
        try perplexity(tokens, stepper: runnerStepper(model, maxPositions: tokens.count), step: step)
    }

    /// The same with the logits of `stepper`, fresh for this text.
    public static func perplexity(_ tokens: [TokenID], stepper next: Stepper, step: () -> Void = {}) throws -> Double {
        guard tokens.count >= 2 else { return .nan }
        var nll = 0.0
        for i in 0..<tokens.count - 1 {
            let row = try next(tokens[i])
            nll -= logSoftmax(row)[Int(tokens[i + 1])]
            step()
        }
        step()
        return exp(nll / Double(tokens.count - 1))
    }

    /// Index of the largest value; the lowest index wins ties.
    public static func argmax(_ v: [Float]) -> Int {
        var best = 0
        for i in v.indices where v[i] > v[best] { best = i }
        return best
    }

    /// log softmax in Double.
    public static func logSoftmax(_ v: [Float]) -> [Double] {
        let mx = Double(v.max() ?? 0)
        var sum = 0.0
        for x in v { sum += exp(Double(x) - mx) }
        let lse = mx + log(sum)
        return v.map { Double($0) - lse }
    }
}

/// Fixed inputs for the weight-format accuracy table: plain prompts for a general model, simple
/// story openings for TinyStories models, and one short story as the perplexity text. Written
/// for this table; changing them changes every figure in bench/RESULTS.md.
public enum AccuracyInputs {
    public static let generalPrompts = [
        "The capital of France is",
        "Water boils at a temperature of",
        "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
        "The three primary colors are",
        "Q: What is 12 times 7?\nA:",
        "Photosynthesis is the process by which plants",
        "In 1969, the first humans to walk on the Moon were",
        "A good way to learn a new language is to",
    ]

    public static let storyPrompts = [
        "Once upon a time",
        "The little dog",
        "Lily and Tom went to the park",
        "One day, a big red ball",
        "The sun was hot and",
        "Mom said to Ben,",
        "There was a tiny bird who",
        "The cat saw a fish",
    ]

    public static let text = """
        Once upon a time, there was a little girl named Mia. She had a red ball and a small brown \
        dog called Max. Every morning, Mia and Max went to the park to play. One day, the ball \
        rolled into the pond. Max jumped into the water and swam to the ball. He brought it back \
        to Mia, and she gave him a big hug. "Thank you, Max!" she said. They walked home together, \
        happy and tired, and Mom made them warm soup for lunch. After lunch, Mia drew a picture \
        of Max with the red ball, and she put it on the wall next to her bed.
        """

    /// The prompt set suited to `model`: story openings for TinyStories-size vocabularies.
    public static func prompts(for model: LoadedModel) -> [String] {
        model.configuration.vocabSize <= 32000 && model.configuration.dim <= 512 ? storyPrompts : generalPrompts
    }
}
