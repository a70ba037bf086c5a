#!/usr/bin/env python3
"""Generate Tests/TandemKernelsTests/Fixtures/fp_formats.json, the independent reference for the
FP8 / FP4 / E8M0 conversions and the MXFP4 / NVFP4 block quantisers in Sources/CTandemKernels.

Reference: the PyPI package ml_dtypes (float8_e4m3fn, float8_e5m2, float4_e2m1fn,
float8_e8m0fnu) for scalar conversions; numpy re-statements of ggml's quantize_row_mxfp4_ref and
ModelOpt's NVFP4QTensor.quantize for the block formats (scalar casts inside them via ml_dtypes).

Usage (from the repository root):
    python3 -m venv /tmp/fmtvenv && /tmp/fmtvenv/bin/pip install ml-dtypes numpy
    /tmp/fmtvenv/bin/python tools/formats/make_format_fixtures.py

All floats are stored as their IEEE-754 binary32 bit patterns (unsigned integers), so the JSON is
exact. Where Tandem's rule differs from ml_dtypes' (E4M3 overflow, E2M1 NaN) both are stored.
"""
import json
import os
import sys

import ml_dtypes
import numpy as np

SEED = 20250101
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "TandemKernelsTests", "Fixtures",
                   "fp_formats.json")

E4M3 = ml_dtypes.float8_e4m3fn
E5M2 = ml_dtypes.float8_e5m2
E2M1 = ml_dtypes.float4_e2m1fn
E8M0 = ml_dtypes.float8_e8m0fnu


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32)


def from_bits(u):
    return np.asarray(u, dtype=np.uint32).view(np.float32)


def codes(a, t):
    return np.asarray(a, dtype=np.float32).astype(t).view(np.uint8)


def decode_table(t, n):
    return np.arange(n, dtype=np.uint8).view(t).astype(np.float32)


def positive_finite_values(t, n):
    v = decode_table(t, n)
    return sorted(set(float(x) for x in v if np.isfinite(x) and x > 0))


def f32_next(x, direction):
    return np.nextafter(np.float32(x), np.float32(direction), dtype=np.float32)


def make_inputs(rng):
    xs = []
    # Specials and per-format edges.
    f32max = np.finfo(np.float32).max
    specials = [0.0, -0.0, np.inf, -np.inf, f32max, -f32max, np.finfo(np.float32).tiny,
                float(from_bits(1)), 1.0, -1.0]
    for mx, step_above, min_sub, min_norm in [(448.0, 32.0, 2.0 ** -9, 2.0 ** -6),
                                              (57344.0, 8192.0, 2.0 ** -16, 2.0 ** -14),
                                              (6.0, 2.0, 0.5, 1.0)]:
        half = mx + step_above / 2  # halfway between max and the next value the format lacks
        for v in [mx, f32_next(mx, np.inf), half, f32_next(half, 0), f32_next(half, np.inf),
                  mx + step_above, 2 * mx, min_sub, min_sub / 2, f32_next(min_sub / 2, np.inf),
                  f32_next(min_sub / 2, 0), 1.5 * min_sub, min_norm, f32_next(min_norm, 0)]:
            specials += [v, -v]
    xs += [np.float32(v) for v in specials]
    nan_bits = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF]
    xs += list(from_bits(nan_bits))
    # Halfway points between adjacent codes, and one f32 ulp either side, both signs.
    for t, n in [(E4M3, 256), (E5M2, 256), (E2M1, 16)]:
        vals = [0.0] + positive_finite_values(t, n)
        for a, b in zip(vals, vals[1:]):
            mid = np.float32((a + b) / 2)
            assert float(mid) == (a + b) / 2
            for v in [mid, f32_next(mid, 0), f32_next(mid, np.inf)]:
                xs += [np.float32(v), np.float32(-v)]
    # Random: log-uniform over a wide range, uniform in the formats' ranges, random bit patterns.
    mags = np.exp2(rng.uniform(-30, 30, 1000)).astype(np.float32)
    xs += list(mags * rng.choice([-1, 1], 1000).astype(np.float32))
    xs += list(rng.uniform(-600, 600, 300).astype(np.float32))
    xs += list(rng.uniform(-8, 8, 300).astype(np.float32))
    xs += list(rng.uniform(-70000, 70000, 100).astype(np.float32))
    xs += list(from_bits(rng.integers(0, 2 ** 32, 200, dtype=np.uint64).astype(np.uint32)))
    return np.array(xs, dtype=np.float32)


# ---- block references ----

KVALUES_MXFP4 = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.float32)


def mxfp4_quantize(x):
    """ggml quantize_row_mxfp4_ref restated: e = floor(log2(amax)) - 2 + 127, nearest code by
    |k * 2^(e-128) - x| in f32, first index on ties; low nibble = j, high nibble = j + 16."""
    out = []
    for blk in x.reshape(-1, 32):
        amax = np.float32(np.max(np.abs(blk)))
        if amax > 0:
            m, ex = np.frexp(amax)  # amax = m * 2^ex, m in [0.5, 1): floor(log2) = ex - 1, exactly
            e = int(min(254, max(0, (ex - 1) - 2 + 127)))
        else:
            e = 0
        d = np.float32(2.0 ** (e - 128))
        err = np.abs(KVALUES_MXFP4[None, :] * d - blk[:, None]).astype(np.float32)
        idx = np.argmin(err, axis=1)  # first minimum wins, as ggml's strict '<' scan
        out.append(e)
        out += [int(idx[j]) | (int(idx[j + 16]) << 4) for j in range(16)]
    return out


def mxfp4_dequantize(q):
    y = []
    for b in range(len(q) // 17):
        blk = q[17 * b:17 * b + 17]
        d = np.float32(2.0 ** (blk[0] - 128))
        lo = [KVALUES_MXFP4[c & 15] * d for c in blk[1:]]
        hi = [KVALUES_MXFP4[c >> 4] * d for c in blk[1:]]
        y += lo + hi
    return np.array(y, dtype=np.float32)


E2M1_BOUNDS = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5], dtype=np.float32)
E2M1_VALUES = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float32)


def nvfp4_quantize(x, tensor_scale):
    """ModelOpt NVFP4QTensor.quantize restated for one row (block 16): per-block scale
    block_amax / (6 * ts), zero -> 1, cast to E4M3; values x / (e4m3 * ts), _cast_fp4
    (searchsorted + ties to even at 0.75/1.75/3.5), sign only for x < 0; even column in the low
    nibble."""
    packed, scales = [], []
    for blk in x.reshape(-1, 16):
        bamax = np.float32(np.max(np.abs(blk)))
        s = np.float32(bamax / (np.float32(6.0) * tensor_scale))
        if s == 0:
            s = np.float32(1.0)
        sc = codes([s], E4M3)[0]
        assert sc & 0x7F != 0x7F
        scales.append(int(sc))
        denom = np.float32(np.array([sc], dtype=np.uint8).view(E4M3).astype(np.float32)[0] * tensor_scale)
        assert denom != 0
        v = (blk / denom).astype(np.float32)
        a = np.abs(v)
        ordv = np.searchsorted(E2M1_BOUNDS, a, side="left")
        ordv = ordv + np.isin(a, np.array([0.75, 1.75, 3.5], dtype=np.float32))
        q = ((v < 0).astype(np.int64) << 3) + ordv
        packed += [int(q[2 * j]) | (int(q[2 * j + 1]) << 4) for j in range(8)]
    return packed, scales


def nvfp4_dequantize(packed, scales, tensor_scale):
    y = []
    for b, sc in enumerate(scales):
        d = np.float32(np.array([sc], dtype=np.uint8).view(E4M3).astype(np.float32)[0] * tensor_scale)
        for byte in packed[8 * b:8 * b + 8]:
            y += [E2M1_VALUES[byte & 15] * d, E2M1_VALUES[byte >> 4] * d]
    return np.array(y, dtype=np.float32)


def block_rows(rng):
    rows = []
    rows.append(rng.normal(0, 1, 128).astype(np.float32))
    rows.append((rng.normal(0, 1, 128) * np.exp2(rng.uniform(-8, 8, 128))).astype(np.float32))
    rows.append(rng.uniform(-1000, 1000, 128).astype(np.float32))
    # Exactly representable E2M1 multiples of a power of two, with 6 present so the scale is exact.
    vals = E2M1_VALUES[rng.integers(0, 16, 128)] * np.float32(0.25)
    vals[::16] = 6 * 0.25
    rows.append(vals.astype(np.float32))
    # Ties: halfway between E2M1 magnitudes (times 2^-3), and a zero block.
    ties = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0], dtype=np.float32)
    t = np.concatenate([ties, -ties] * 2) * np.float32(0.125)
    rows.append(np.concatenate([t, t, np.zeros(32, np.float32), rng.normal(0, 1e-3, 32).astype(np.float32)]))
    return rows


def main():
    rng = np.random.default_rng(SEED)
    xs = make_inputs(rng)
    nan_in = np.isnan(xs)
    sign_in = (bits(xs) >> 31).astype(np.uint8) << 7

    e4m3_ml = codes(xs, E4M3)
    e4m3_sat = e4m3_ml.copy()
    over = (~nan_in) & ((e4m3_ml & 0x7F) == 0x7F)  # ml_dtypes gives NaN on overflow and for +-inf
    e4m3_sat[over] = sign_in[over] | 0x7E
    e5m2 = codes(xs, E5M2)
    e5m2_sat = e5m2.copy()
    inf = (e5m2 & 0x7F) == 0x7C
    e5m2_sat[inf] = (e5m2[inf] & 0x80) | 0x7B
    e2m1_ml = codes(xs, E2M1)
    e2m1 = e2m1_ml.copy()
    e2m1[nan_in] = 0
    e8m0 = codes(xs, E8M0)

    block = {"rows": [], "mxfp4": [], "mxfp4_dequant": [], "nvfp4_packed": [], "nvfp4_scales": [],
             "nvfp4_tensor_scale": [], "nvfp4_dequant": []}
    for row in block_rows(rng):
        block["rows"].append([int(b) for b in bits(row)])
        for blk in row.reshape(-1, 32):  # guard the frexp/log2f equivalence (see mxfp4_quantize)
            amax = float(np.max(np.abs(blk)))
            if amax > 0:
                m, _ = np.frexp(amax)
                assert m < 1 - 1e-6, "amax too close to a power of two for log2f to agree"
        q = mxfp4_quantize(row)
        block["mxfp4"].append(q)
        block["mxfp4_dequant"].append([int(b) for b in bits(mxfp4_dequantize(q))])
        ts = np.float32(np.float32(np.max(np.abs(row))) / np.float32(6.0 * 448.0))
        p, s = nvfp4_quantize(row, ts)
        block["nvfp4_packed"].append(p)
        block["nvfp4_scales"].append(s)
        block["nvfp4_tensor_scale"].append(int(bits([ts])[0]))
        block["nvfp4_dequant"].append([int(b) for b in bits(nvfp4_dequantize(p, s, ts))])

    def ilist(a):
        return [int(v) for v in a]

    doc = {
        "generated_by": {
            "command": "python3 tools/formats/make_format_fixtures.py",
            "ml_dtypes": ml_dtypes.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "seed": SEED,
        },
        "notes": [
            "Floats are IEEE-754 binary32 bit patterns.",
            "decode.*: ml_dtypes' decode of every code (e2m1: 16 codes).",
            "encode.e4m3_sat: Tandem's saturating E4M3. ml_dtypes (e4m3_ml_dtypes) returns NaN "
            "(0x7F|sign) for finite overflow and for +-inf; e4m3_sat replaces those with +-448 "
            "(0x7E|sign). NaN inputs keep ml_dtypes' 0x7F|sign.",
            "encode.e5m2: ml_dtypes as is (IEEE overflow to inf). e5m2_sat: inf results replaced by "
            "+-57344 (0x7B|sign).",
            "encode.e2m1: ml_dtypes (saturates at +-6) except NaN inputs, which Tandem encodes as "
            "0x0 (ml_dtypes 0.6.0 gives a zero of unpredictable sign, kept in e2m1_ml_dtypes).",
            "encode.e8m0: ml_dtypes as is (nearest power of two, ties up; <=0, inf, NaN -> 0xFF).",
            "blocks.mxfp4: ggml quantize_row_mxfp4_ref restated in numpy (floor(log2) via frexp; "
            "rows avoid amax within 1e-6 of a power of two where log2f could round up).",
            "blocks.nvfp4: ModelOpt NVFP4QTensor.quantize restated in numpy; tensor scale "
            "amax/(6*448) per row; dequant = e2m1 * (e4m3(scale) * tensor_scale).",
        ],
        "decode": {
            "e4m3": ilist(bits(decode_table(E4M3, 256))),
            "e5m2": ilist(bits(decode_table(E5M2, 256))),
            "e2m1": ilist(bits(decode_table(E2M1, 16))),
            "e8m0": ilist(bits(decode_table(E8M0, 256))),
        },
        "inputs": ilist(bits(xs)),
        "encode": {
            "e4m3_sat": ilist(e4m3_sat),
            "e4m3_ml_dtypes": ilist(e4m3_ml),
            "e5m2": ilist(e5m2),
            "e5m2_sat": ilist(e5m2_sat),
            "e2m1": ilist(e2m1),
            "e2m1_ml_dtypes": ilist(e2m1_ml),
            "e8m0": ilist(e8m0),
        },
        "blocks": block,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}: {len(xs)} inputs, "
          f"{int(over.sum())} e4m3 saturations differ from ml_dtypes, "
          f"{int(nan_in.sum())} NaN inputs")


if __name__ == "__main__":
    main()
