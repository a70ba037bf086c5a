import Foundation

/// A minimal line chart rendered as a standalone SVG file (axes, ticks, grid, legend).
public struct SVGLineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(Double, Double)]
        public var markers: Bool
        public init(name: String, points: [(Double, Double)], markers: Bool = false) {
            self.name = name
            self.points = points
            self.markers = markers
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 720.0
    public var height = 440.0
    /// Step lines (for CDFs) instead of straight segments.
    public var steps = false
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series], steps: Bool = false,
                yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.steps = steps
        self.yRange = yRange
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// "Nice" tick positions covering `lo...hi` (steps of 1, 2 or 5 × 10^k).
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count - 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out: [Double] = []
        var t = ceil(lo / step - 1e-9) * step
        while t <= hi + step * 1e-9 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1000 || abs(v) < 0.01 { return String(format: "%.3g", v) }
        return String(format: "%.4g", v)
    }

    public func render() -> String {
        let left = 70.0, right = 170.0, top = 40.0, bottom = 55.0
        let pw = width - left - right, ph = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite }
        var x0 = all.map(\.0).min() ?? 0, x1 = all.map(\.0).max() ?? 1
        var y0 = yRange?.lowerBound ?? (all.map(\.1).min() ?? 0), y1 = yRange?.upperBound ?? (all.map(\.1).max() ?? 1)
        if yRange == nil { y0 = min(0, y0) }
        x0 = min(0, x0)
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y1 = y0 + 1 }
        let xt = Self.ticks(x0, x1), yt = Self.ticks(y0, y1)
        x1 = max(x1, xt.last ?? x1)
        y1 = max(y1, yt.last ?? y1)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + ph - (y - y0) / (y1 - y0) * ph }
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left + pw / 2)" y="22" text-anchor="middle" font-size="15">\(Self.esc(title))</text>

            """
        for t in xt where t >= x0 && t <= x1 {
            s += "<line x1=\"\(px(t))\" y1=\"\(top)\" x2=\"\(px(t))\" y2=\"\(top + ph)\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(top + ph + 16)\" text-anchor=\"middle\">\(Self.fmt(t))</text>\n"
        }
        for t in yt where t >= y0 && t <= y1 {
            s += "<line x1=\"\(left)\" y1=\"\(py(t))\" x2=\"\(left + pw)\" y2=\"\(py(t))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(Self.fmt(t))</text>\n"
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 14)\" text-anchor=\"middle\">\(Self.esc(xLabel))</text>\n"
        s += "<text transform=\"translate(18,\(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(Self.esc(yLabel))</text>\n"
        for (i, line) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = line.points.filter { $0.0.isFinite && $0.1.isFinite }
            if !pts.isEmpty {
                var d = ""
                var prevY: Double?
                for (j, p) in pts.enumerated() {
                    if j == 0 {
                        d += "M\(px(p.0)),\(py(steps ? 0 : p.1))"
                        if steps { d += " L\(px(p.0)),\(py(p.1))" }
                    } else if steps, let prevY {
                        d += " L\(px(p.0)),\(py(prevY)) L\(px(p.0)),\(py(p.1))"
                    } else {
                        d += " L\(px(p.0)),\(py(p.1))"
                    }
                    prevY = p.1
                }
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                if line.markers {
                    for p in pts { s += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3.5\" fill=\"\(color)\"/>" }
                    s += "\n"
                }
            }
            let ly = top + 10 + Double(i) * 20
            s += "<line x1=\"\(left + pw + 12)\" y1=\"\(ly)\" x2=\"\(left + pw + 36)\" y2=\"\(ly)\" stroke=\"\(color)\" stroke-width=\"2\"/>"
            s += "<text x=\"\(left + pw + 42)\" y=\"\(ly + 4)\">\(Self.esc(line.name))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
