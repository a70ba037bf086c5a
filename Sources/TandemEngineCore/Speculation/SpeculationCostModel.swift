/// When drafting pays, from step times measured on the deployment's own model at start-up.
///
/// Decoding is bound by reading the weights while the batch is small: a step of B sequences with
/// k draft tokens each costs little more than one with a token each, and every accepted draft
/// token is a step saved. As B grows the step becomes bound by arithmetic, and verifying k + 1
/// positions per sequence costs up to k + 1 times as much. `ratio(batch:)` is the measured cost of
/// the drafted step over the plain one; a step drafts when the tokens it expects to emit per
/// sequence (1 + expected accepted drafts) exceed that ratio. A served step also costs time outside
/// the forward pass (scheduling, sampling, the text fronts catching up, streaming) that a drafted
/// step spreads over more tokens: `ratio(batch:overhead:)` adds that time, observed by the engine
/// on its own steps, to both sides.
public struct SpeculationCostModel: Sendable, Equatable {
    /// (decoding sequences, seconds of a step with one token each, seconds with 1 + k tokens each).
    public var samples: [(batch: Int, plain: Double, drafted: Double)]

    public init(samples: [(batch: Int, plain: Double, drafted: Double)]) {
        self.samples = samples.sorted { $0.batch < $1.batch }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.samples.elementsEqual(b.samples) { $0.batch == $1.batch && $0.plain == $1.plain && $0.drafted == $1.drafted }
    }

    /// Drafted-step time over plain-step time for `batch` decoding sequences, each with
    /// `overhead` seconds of work outside the forward pass added: interpolated between measured
    /// batch sizes, the largest measured ratio beyond them.
    public func ratio(batch: Int, overhead: Double = 0) -> Double {
        guard let first = samples.first else { return 1 }
        let o = max(0, overhead)
        func r(_ s: (batch: Int, plain: Double, drafted: Double)) -> Double { s.plain + o > 0 ? (s.drafted + o) / (s.plain + o) : 1 }
        if batch <= first.batch { return r(first) }
        for (a, b) in zip(samples, samples.dropFirst()) where batch <= b.batch {
            let t = Double(batch - a.batch) / Double(b.batch - a.batch)
            return r(a) + t * (r(b) - r(a))
        }
        return r(samples.last!)
    }

    /// Whether a step of `batch` decoding sequences, expecting `expectedAccepted` accepted draft
    /// tokens per sequence, emits tokens faster drafted than plain (`overhead`: seconds per step
    /// outside the forward pass).
    public func pays(batch: Int, expectedAccepted: Double, overhead: Double = 0) -> Bool {
        1 + expectedAccepted > ratio(batch: batch, overhead: overhead)
    }

    /// The batch sizes worth measuring for a deployment of at most `maxRunning` sequences whose
    /// pool holds `blockCount` blocks of `blockSize` (each measured sequence needs the blocks of
    /// `1 + draftTokens` positions).
    public static func batchSizes(maxRunning: Int, blockCount: Int, blockSize: Int, draftTokens: Int) -> [Int] {
        let perSequence = (draftTokens + blockSize) / blockSize
        var sizes: [Int] = []
        var b = 1
        while b <= maxRunning, b * perSequence <= blockCount {
            sizes.append(b)
            b *= 2
        }
        return sizes
    }
}
