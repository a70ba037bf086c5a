#!/usr/bin/env python3
"""Side-by-side plots of one compare_llamacpp.sh run: TTFT and end-to-end latency CDFs of tandem
and llama.cpp on the same axes, one SVG per metric (plain SVG, no plotting library).

  python3 bench/compare_plot.py OUT_DIR [DEST_DIR]     # reads OUT_DIR/{tandem,llamacpp}/results.json
"""
import json
import os
import sys

COLORS = {"tandem": "#1f77b4", "llama.cpp": "#d62728"}


def load(path):
    with open(path) as f:
        return json.load(f)


def cdf_svg(title, unit, series, width=640, height=360):
    pad_l, pad_r, pad_t, pad_b = 60, 20, 30, 45
    xs = [v for _, vals in series for v in vals]
    xmax = max(xs) * 1.05 if xs else 1.0
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{pad_l}" y1="{pad_t + ph}" x2="{pad_l + pw}" y2="{pad_t + ph}" stroke="black"/>',
           f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + ph}" stroke="black"/>']
    for i in range(6):
        x = pad_l + pw * i / 5
        out.append(f'<text x="{x:.1f}" y="{pad_t + ph + 16}" text-anchor="middle">{xmax * i / 5:.2f}</text>')
        y = pad_t + ph - ph * i / 5
        out.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{i / 5:.1f}</text>')
    out.append(f'<text x="{pad_l + pw / 2}" y="{height - 8}" text-anchor="middle">{unit}</text>')
    for k, (name, vals) in enumerate(series):
        vals = sorted(vals)
        if not vals:
            continue
        pts = []
        for i, v in enumerate(vals):
            x = pad_l + pw * v / xmax
            pts.append(f"{x:.1f},{pad_t + ph - ph * i / len(vals):.1f}")
            pts.append(f"{x:.1f},{pad_t + ph - ph * (i + 1) / len(vals):.1f}")
        out.append(f'<polyline fill="none" stroke="{COLORS.get(name, "black")}" stroke-width="2" points="{" ".join(pts)}"/>')
        out.append(f'<text x="{pad_l + pw - 110}" y="{pad_t + ph - 40 + 16 * k}" fill="{COLORS.get(name, "black")}">{name} (n={len(vals)})</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    src = sys.argv[1]
    dest = sys.argv[2] if len(sys.argv) > 2 else src
    os.makedirs(dest, exist_ok=True)
    runs = [("tandem", load(os.path.join(src, "tandem", "results.json"))),
            ("llama.cpp", load(os.path.join(src, "llamacpp", "results.json")))]
    scenario = runs[0][1].get("scenario", "run")
    for key, label in [("ttft", "time to first token, s"), ("e2e", "end-to-end latency, s")]:
        series = [(name, [r[key] for r in rep["records"] if r.get(key) is not None and r.get("error") is None]) for name, rep in runs]
        path = os.path.join(dest, f"{scenario}-{key}-cdf.svg")
        with open(path, "w") as f:
            f.write(cdf_svg(f"{scenario}: {label} (CDF), tandem vs llama.cpp", label, series))
        print(path)


if __name__ == "__main__":
    main()
