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
/// Other types (YaRN, dynamic NTK, LongRoPE) change more than the frequencies and are refused.
enum RoPEScaling {
    struct Unsupported: Error { var message: String }

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
            throw Unsupported(message: "rope_scaling type '\(type)' is not supported (supported: llama3, linear)")
        }
    }
}
