/// Durations as floating-point numbers, for timings and statistics.
extension Duration {
    /// This duration in seconds.
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    /// This duration in microseconds.
    public var microseconds: Double { seconds * 1e6 }
}
