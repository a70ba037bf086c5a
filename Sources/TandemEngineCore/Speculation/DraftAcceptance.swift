/// An estimate of how likely a draft token is accepted given that the ones before it were: the
/// per-token rate α of the geometric model behind `SpeculationConfiguration.expectedAccepted`
/// (a draft of k tokens yields α + α² + … + α^k accepted tokens on average).
///
/// Each verified draft is a run of accepted tokens ended by one rejection (none when all k were
/// accepted), so α's maximum-likelihood estimate is accepted / (accepted + rejections), counted
/// over recent drafts with exponentially decaying weights. (The share of draft tokens accepted,
/// accepted / drafted, is lower: at α = 0.8 and k = 4 it is 0.59, and used as α it predicts 1.27
/// accepted tokens per draft where 2.36 come; the cost model then rarely let drafts run.)
public struct DraftAcceptance: Sendable, Equatable {
    /// Weight kept by the past at each new observation (0 < decay < 1).
    public let decay: Double
    public private(set) var accepted: Double
    /// Accepted tokens plus rejections.
    public private(set) var trials: Double

    /// Starts at `prior`, worth one trial.
    public init(prior: Double, decay: Double) {
        self.decay = decay
        accepted = min(max(prior, 0), 1)
        trials = 1
    }

    /// α: accepted / (accepted + rejections).
    public var rate: Double { trials > 0 ? accepted / trials : 0 }

    /// Folds in one verified draft of `drafted` tokens of which the first `acceptedTokens` passed.
    public mutating func observe(accepted acceptedTokens: Int, drafted: Int) {
        guard drafted > 0 else { return }
        let n = min(max(acceptedTokens, 0), drafted)
        accepted = decay * accepted + Double(n)
        trials = decay * trials + Double(n) + (n < drafted ? 1 : 0)
    }
}
