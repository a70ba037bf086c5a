import Foundation

/// RoPE scaling from a Hugging Face `config.json` `rope_scaling` object, as per-pair frequency
/// divisors (`ModelConfiguration.ropeFrequencyFactors`, the form GGUF files store in
/// `rope_freqs.weight`).
///
/// * `llama3` (Llama 3.1 and later, Nemotron): pairs whose wavelength is shorter than
///   `original_max_position_embeddings / high_freq_factor` keep their frequency, those longer
///   than `… / low_freq_factor` are divided by `factor`, and the ones between are interpolated
///   (`transformers`' `_compute_llama3_parameters`).
/// * `linear`: every frequency divided by `factor` (positions interpolated).
///
/// * `yarn` (Qwen2.5 long context, DeepSeek, gpt-oss): frequencies of pairs below the correction
///   range keep their value, those above are divided by `factor`, a linear ramp between
///   (`yarn(...)`); cos and sin are also scaled by an attention factor (`RoPEScaling.Result`).
///
/// * `longrope` (Phi-3 128k, Phi-3.5, Phi-4-mini): `long_factor` divisors when the model's context
///   (`max_position_embeddings`) exceeds `original_max_position_embeddings`, else `short_factor`,
///   as llama.cpp picks them from its context size (transformers switches per sequence length);
///   cos and sin scaled by `attention_factor`, else sqrt(1 + ln(context / original) / ln(original)).
///
/// Other types (dynamic NTK) change more than the frequencies and are refused.
enum RoPEScaling {
    struct Unsupported: Error { var message: String }

    /// The divisors, and YaRN's magnitude scale of cos and sin (nil: 1).
    struct Result {
        var factors: [Float]
        var attentionFactor: Float?
    }

    /// YaRN's divisors for `headDim` dimensions: pair i's frequency θ_i = base^(-2i/d) becomes
    /// θ_i·(e_i + (1 − e_i)/factor), e_i = 1 − clamp((i − low)/(high − low), 0, 1), with the
    /// correction range low = d·ln(L/(2π·β_fast)) / (2 ln base), high likewise with β_slow
    /// (L: the original context), floored and ceiled when `truncate` (llama.cpp always does;
    /// Hugging Face unless `truncate: false`), clamped to 0...d − 1.
    static func yarn(headDim: Int, theta: Double, factor: Double, originalContext: Double,
                     betaFast: Double = 32, betaSlow: Double = 1, truncate: Bool = true) -> [Float] {
        let d = Double(headDim)
        func correction(_ rotations: Double) -> Double { d * log(originalContext / (rotations * 2 * Double.pi)) / (2 * log(theta)) }
        var low = correction(betaFast), high = correction(betaSlow)
        if truncate { low = low.rounded(.down); high = high.rounded(.up) }
        low = max(low, 0)
        high = min(high, d - 1)
        return (0..<(headDim / 2)).map { i in
            let ramp = min(1, max(0, (Double(i) - low) / max(0.001, high - low)))
            let keep = 1 - ramp
            return Float(1 / (keep + (1 - keep) / factor))
        }
    }

    /// YaRN's magnitude scale: 0.1·ln(factor) + 1 (1 for factor ≤ 1), or Hugging Face's ratio of
    /// two such scales where `mscale` and `mscale_all_dim` are given.
    static func yarnAttentionFactor(factor: Double, mscale: Double = 1, mscaleAllDim: Double? = nil) -> Float {
        func scale(_ m: Double) -> Double { factor <= 1 ? 1 : 0.1 * m * log(factor) + 1 }
        if let all = mscaleAllDim, all != 0 { return Float(scale(mscale) / scale(all)) }
        return Float(scale(mscale))
    }

    /// LongRoPE's scale of cos and sin: sqrt(1 + ln(s) / ln(original)), s = context / original
    /// (1 when s <= 1).
    static func longRoPEAttentionFactor(context: Int, original: Int) -> Float {
        let s = Double(context) / Double(original)
        return s <= 1 ? 1 : Float((1 + log(s) / log(Double(original))).squareRoot())
    }

    /// `original`: `original_max_position_embeddings` from config.json's top level (Phi-3 keeps
    /// it there), when `rope_scaling` does not say.
    static func scaling(_ scaling: [String: Any], headDim: Int, theta: Double, maxPositions: Int,
                        original topOriginal: Int? = nil) throws(Unsupported) -> Result {
        let type = (scaling["rope_type"] as? String) ?? (scaling["type"] as? String) ?? ""
        if type == "longrope" || type == "su" {
            guard let original = (scaling["original_max_position_embeddings"] as? NSNumber)?.intValue ?? topOriginal, original > 0 else {
                throw Unsupported(message: "rope_scaling longrope needs original_max_position_embeddings")
            }
            let key = maxPositions > original ? "long_factor" : "short_factor"
            guard let list = scaling[key] as? [NSNumber], list.count == headDim / 2 else {
                throw Unsupported(message: "rope_scaling longrope needs '\(key)' with \(headDim / 2) numbers (one per frequency pair)")
            }
            let attention = (scaling["attention_factor"] as? NSNumber).map { Float($0.doubleValue) }
                ?? longRoPEAttentionFactor(context: maxPositions, original: original)
            return Result(factors: list.map { Float($0.doubleValue) }, attentionFactor: attention == 1 ? nil : attention)
        }
        guard type == "yarn" else { return Result(factors: try factors(scaling, headDim: headDim, theta: theta)) }
        guard let factor = (scaling["factor"] as? NSNumber)?.doubleValue, factor.isFinite, factor > 0 else {
            throw Unsupported(message: "rope_scaling needs a positive 'factor'")
        }
        func number(_ key: String) -> Double? { (scaling[key] as? NSNumber)?.doubleValue }
        let original = number("original_max_position_embeddings") ?? Double(maxPositions)
        guard original > 0 else { throw Unsupported(message: "rope_scaling yarn needs original_max_position_embeddings") }
        let attention = number("attention_factor").map(Float.init)
            ?? yarnAttentionFactor(factor: factor, mscale: number("mscale") ?? 1, mscaleAllDim: number("mscale_all_dim"))
        return Result(factors: yarn(headDim: headDim, theta: theta, factor: factor, originalContext: original,
                                    betaFast: number("beta_fast") ?? 32, betaSlow: number("beta_slow") ?? 1,
                                    truncate: (scaling["truncate"] as? Bool) ?? true),
                      attentionFactor: attention == 1 ? nil : attention)
    }

    static func factors(_ scaling: [String: Any], headDim: Int, theta: Double) throws(Unsupported) -> [Float] {
        let type = (scaling["rope_type"] as? String) ?? (scaling["type"] as? String) ?? ""
        guard let factor = (scaling["factor"] as? NSNumber)?.doubleValue, factor.isFinite, factor > 0 else {
            throw Unsupported(message: "rope_scaling needs a positive 'factor'")
        }
        let half = headDim / 2
        switch type {
        case "linear":
            return [Float](repeating: Float(factor), count: half)
        case "llama3":
            guard let low = (scaling["low_freq_factor"] as? NSNumber)?.doubleValue,
                  let high = (scaling["high_freq_factor"] as? NSNumber)?.doubleValue,
                  let original = (scaling["original_max_position_embeddings"] as? NSNumber)?.doubleValue,
                  low > 0, high > low, original > 0 else {
                throw Unsupported(message: "rope_scaling llama3 needs low_freq_factor < high_freq_factor and original_max_position_embeddings")
            }
            let lowWavelength = original / low
            let highWavelength = original / high
            return (0..<half).map { i in
                let inverseFrequency = pow(theta, -2.0 * Double(i) / Double(headDim))
                let wavelength = 2 * Double.pi / inverseFrequency
                if wavelength < highWavelength { return 1 }
                if wavelength > lowWavelength { return Float(factor) }
                let smooth = (original / wavelength - low) / (high - low)
                return Float(1 / ((1 - smooth) / factor + smooth))
            }
        default:
            throw Unsupported(message: "rope_scaling type '\(type)' is not supported (supported: llama3, linear, yarn, longrope)")
        }
    }
}
