#!/usr/bin/env python3
"""Fixtures for the GGML K-quants Q2_K to Q6_K (GGUF types 10 to 14), IQ4_NL (type 20), and Q5_0 and
Q5_1 (GGUF types 6 and 7) in the kernel fixture.

1. Tests/TandemKernelsTests/Fixtures/kquant_blocks.json: for each type a few rows of random
   super-blocks (random bytes; the FP16 d/dmin fields forced finite, so every exponent, sign,
   subnormal and zero occurs) and their float32 values from the `gguf` package's NumPy
   dequantiser (`gguf.quants.dequantize`), the oracle for the C kernels.
2. Tests/TandemModelTests/Fixtures/kquant_llama.gguf and kquant_llama.json: a tiny llama
   (dim 256, FFN 512, 2 layers, 4 query heads, 2 KV heads, vocab 64) whose embedding, output
   head and every linear weight are stored as K-quant super-blocks of random bytes with FP16
   scales picked so the weights have a sane spread (layer 0 mixed like Q4_K_M, layer 1 like
   Q5_K_M, V and down projections and the head Q6_K), and the float64 NumPy logits of a prompt
   (tools/reference/llama_ref.py, which dequantises with gguf-py).
3. Tests/TandemModelTests/Fixtures/lowbit_llama.gguf and lowbit_llama.json: the same shape with
   the low-bit types llama-quantize's Q2_K and Q3_K_* mixes use (Q2_K, Q3_K, and IQ4_NL, its
   fallback for rows that are not whole super-blocks) on every weight, same oracle.

Deterministic (fixed seeds). Run from anywhere: python3 tools/reference/make_kquant_fixture.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref as L  # noqa: E402

ROOT = os.path.join(HERE, "..", "..")
KERNEL_OUT = os.path.join(ROOT, "Tests", "TandemKernelsTests", "Fixtures")
MODEL_OUT = os.path.join(ROOT, "Tests", "TandemModelTests", "Fixtures")

QK = 256
# The legacy 5-bit types Q5_0 and Q5_1 (GGUF 6 and 7, 32 values a block) ride along: real
# llama-quantize Q4_K_M files of models whose rows are not whole super-blocks use them.
# Q2_K, Q3_K and IQ4_NL come last so the earlier types' random draws stay as they were.
BLOCK_BYTES = {"Q4_K": 144, "Q5_K": 176, "Q6_K": 210, "Q5_0": 22, "Q5_1": 24, "Q2_K": 84, "Q3_K": 110,
               "IQ4_NL": 18}
BLOCK_VALUES = {"Q4_K": QK, "Q5_K": QK, "Q6_K": QK, "Q5_0": 32, "Q5_1": 32, "Q2_K": QK, "Q3_K": QK,
                "IQ4_NL": 32}
# Byte offsets of the FP16 fields in each (super-)block.
F16_FIELDS = {"Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208], "Q5_0": [0], "Q5_1": [0, 2], "Q2_K": [80, 82],
              "Q3_K": [108], "IQ4_NL": [0]}


def qtype(name):
    from gguf import GGMLQuantizationType
    return getattr(GGMLQuantizationType, name)


def put_f16(blocks, offset, values):
    """Write float16 `values` (one per block) at byte `offset` of each block."""
    blocks[:, offset:offset + 2] = np.asarray(values, dtype=np.float16).reshape(-1, 1).view(np.uint8)


def random_blocks(rng, name, n_blocks):
    """Random super-blocks whose FP16 fields are random finite halves (exponent 31 avoided)."""
    b = rng.integers(0, 256, size=(n_blocks, BLOCK_BYTES[name]), dtype=np.uint8)
    for off in F16_FIELDS[name]:
        h = b[:, off:off + 2].copy().view(np.uint16).reshape(-1)
        exp = (h >> 10) & 0x1F
        h = np.where(exp == 0x1F, h & ~np.uint16(0x0400), h).astype(np.uint16)  # 31 -> 30
        b[:, off:off + 2] = h.reshape(-1, 1).view(np.uint8)
    # A few fixed edge blocks: zero scales, negative d, a subnormal d.
    if n_blocks >= 3:
        for off in F16_FIELDS[name]:
            put_f16(b[0:1], off, [0.0])
        put_f16(b[1:2], F16_FIELDS[name][0], [-1.5])
        put_f16(b[2:3], F16_FIELDS[name][0], [np.float16(2.0 ** -20)])
    return b


def kernel_fixture():
    from gguf.quants import dequantize
    rng = np.random.default_rng(1212)
    rows, cols = 3, 512
    out = {"made_by": "tools/reference/make_kquant_fixture.py", "rows": rows, "cols": cols, "types": {}}
    for name in BLOCK_BYTES:
        n = rows * cols // BLOCK_VALUES[name]
        blocks = random_blocks(rng, name, n)
        data = blocks.reshape(rows, -1)
        values = dequantize(data, qtype(name)).astype(np.float32).reshape(rows, cols)
        assert np.isfinite(values).all(), name
        out["types"][name] = {
            "ggml_type": int(qtype(name)),
            "hex": data.tobytes().hex(),
            "values": [float(v) for v in values.reshape(-1)],
        }
    path = os.path.join(KERNEL_OUT, "kquant_blocks.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path)


def sane_blocks(rng, name, rows, cols, spread):
    """Random super-blocks for a (rows, cols) weight whose values spread about ±`spread`."""
    n = rows * cols // BLOCK_VALUES[name]
    b = rng.integers(0, 256, size=(n, BLOCK_BYTES[name]), dtype=np.uint8)
    jitter = rng.uniform(0.6, 1.4, size=n)
    if name == "Q4_K":      # d·sc·q − dmin·m, sc, m < 64, q < 16
        d = spread / (31.5 * 15) * jitter
        put_f16(b, 0, d)
        put_f16(b, 2, d * 7.5)
    elif name == "Q5_K":    # q < 32
        d = spread / (31.5 * 31) * jitter
        put_f16(b, 0, d)
        put_f16(b, 2, d * 15.5)
    elif name == "Q6_K":    # d·scale·(q − 32), int8 scale
        put_f16(b, 208, spread / (64 * 32) * jitter)
    elif name == "Q2_K":    # d·sc·q − dmin·m, sc, m < 16, q < 4
        d = spread / 22.0 * jitter
        put_f16(b, 80, d)
        put_f16(b, 82, d * 1.5)
    elif name == "Q3_K":    # d·(sc − 32)·q, q in −4..3
        put_f16(b, 108, spread / 64.0 * jitter)
    else:                   # IQ4_NL: d·table[q], table in −127..113
        put_f16(b, 0, spread / 64.0 * jitter)
    return b.reshape(rows, -1)


# (q, k, v, o, gate, up, down) per layer, and the embedding's and the output head's type.
KQUANT_MODEL = {
    "mixes": [
        ("Q4_K", "Q4_K", "Q6_K", "Q4_K", "Q4_K", "Q4_K", "Q6_K"),
        ("Q5_K", "Q5_K", "Q6_K", "Q5_K", "Q5_K", "Q5_K", "Q6_K"),
    ],
    "embedding": "Q4_K", "head": "Q6_K", "seed": 1314,
}
LOWBIT_MODEL = {
    "mixes": [
        ("Q3_K", "Q3_K", "IQ4_NL", "Q2_K", "Q2_K", "Q3_K", "IQ4_NL"),
        ("IQ4_NL", "Q2_K", "Q3_K", "IQ4_NL", "Q3_K", "IQ4_NL", "Q2_K"),
    ],
    "embedding": "IQ4_NL", "head": "Q3_K", "seed": 1415,
}


def model_fixture(stem, spec):
    import gguf
    dim, hidden, layers, heads, kv, vocab, ctx, theta = 256, 512, 2, 4, 2, 64, 128, 10000.0
    hs = dim // heads
    path = os.path.join(MODEL_OUT, stem + ".gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_embedding_length(dim)
    w.add_feed_forward_length(hidden)
    w.add_block_count(layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_context_length(ctx)
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list([chr(0x100 + i) for i in range(vocab - 1)] + [chr(0x100) * 2])
    w.add_token_types([1] * vocab)
    w.add_token_merges([chr(0x100) + " " + chr(0x100)])
    rng = np.random.default_rng(spec["seed"])

    def q(tensor_name, name, rows, cols, spread):
        w.add_tensor(tensor_name, sane_blocks(rng, name, rows, cols, spread), raw_dtype=qtype(name))

    q("token_embd.weight", spec["embedding"], vocab, dim, 1.0)
    w.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    mixes = spec["mixes"]
    for l in range(layers):
        p = f"blk.{l}."
        tq, tk, tv, to, tg, tu, td = mixes[l]
        w.add_tensor(p + "attn_norm.weight", np.ones(dim, dtype=np.float32))
        w.add_tensor(p + "ffn_norm.weight", np.ones(dim, dtype=np.float32))
        q(p + "attn_q.weight", tq, dim, dim, 0.15)
        q(p + "attn_k.weight", tk, kv * hs, dim, 0.15)
        q(p + "attn_v.weight", tv, kv * hs, dim, 0.15)
        q(p + "attn_output.weight", to, dim, dim, 0.15)
        q(p + "ffn_gate.weight", tg, hidden, dim, 0.15)
        q(p + "ffn_up.weight", tu, hidden, dim, 0.15)
        q(p + "ffn_down.weight", td, dim, hidden, 0.1)
    q("output.weight", spec["head"], vocab, dim, 0.3)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    model = L.load_gguf(path)
    used = {spec["embedding"], spec["head"]} | {t for mix in spec["mixes"] for t in mix}
    assert set(model.meta["tensor_types"]) == {"F32"} | used, model.meta
    ids = [int(x) for x in rng.integers(0, vocab, size=20)]
    logits = L.forward(model, ids)
    last = logits[-1]
    assert np.isfinite(last).all() and last.std() > 0.1, last.std()
    with open(os.path.join(MODEL_OUT, stem + ".json"), "w") as f:
        json.dump({
            "made_by": "tools/reference/make_kquant_fixture.py",
            "ids": ids,
            "last_logits": [float(x) for x in last],
            "tensor_types": model.meta["tensor_types"],
        }, f)
    print("wrote", path, os.path.getsize(path), "bytes; logit std", float(last.std()))


if __name__ == "__main__":
    kernel_fixture()
    model_fixture("kquant_llama", KQUANT_MODEL)
    model_fixture("lowbit_llama", LOWBIT_MODEL)
