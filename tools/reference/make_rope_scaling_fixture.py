#!/usr/bin/env python3
"""Fixture for Llama 3.x RoPE scaling: a tiny random-weight llama GGUF carrying
`rope_freqs.weight` (the divisors of Hugging Face's `rope_type: llama3`, computed by
llama_ref.llama3_rope_factors from the transformers formula), and the float64 NumPy logits of a
prompt at positions where scaling matters. Also the llama3 divisors for a Llama-3.1-8B-shaped
`config.json`, so the config.json path is checked against the same formula.

Writes Tests/TandemModelTests/Fixtures/rope_llama3.gguf and rope_llama3.json.

`--yarn`: the same for YaRN (qwen2 layout, `rope.scaling.type = yarn`, factor 4 over an original
context of 32, llama.cpp's keys): rope_yarn.gguf and rope_yarn.json, with the divisors of two
Hugging Face configs (Qwen2.5's long-context rope_scaling; gpt-oss's, which does not truncate the
correction range) from llama_ref.yarn_rope_factors.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref as L  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "Tests", "TandemModelTests", "Fixtures")


def main():
    import gguf
    dim, hidden, layers, heads, kv, vocab, ctx, theta = 64, 128, 2, 4, 2, 96, 256, 500000.0
    hs = dim // heads
    scaling = dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32)
    factors = L.llama3_rope_factors(hs, theta, **scaling)
    assert (factors > 1).any() and (factors == 1).any(), factors
    path = os.path.join(OUT, "rope_llama3.gguf")
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
    rng = np.random.default_rng(31)

    def t(name, shape, scale=0.2):
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))
    t("token_embd.weight", (vocab, dim), 1.0)
    w.add_tensor("rope_freqs.weight", factors.astype(np.float32))
    w.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
    for l in range(layers):
        p = f"blk.{l}."
        w.add_tensor(p + "attn_norm.weight", np.ones(dim, dtype=np.float32))
        w.add_tensor(p + "ffn_norm.weight", np.ones(dim, dtype=np.float32))
        t(p + "attn_q.weight", (dim, dim))
        t(p + "attn_k.weight", (kv * hs, dim))
        t(p + "attn_v.weight", (kv * hs, dim))
        t(p + "attn_output.weight", (dim, dim))
        t(p + "ffn_gate.weight", (hidden, dim))
        t(p + "ffn_up.weight", (hidden, dim))
        t(p + "ffn_down.weight", (dim, hidden))
    t("output.weight", (vocab, dim))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    model = L.load_gguf(path)
    assert model.config.rope_freq_factors is not None
    ids = [int(x) for x in rng.integers(0, vocab, size=48)]
    logits = L.forward(model, ids)
    # The same model without scaling: how far off a loader that ignores rope_freqs would be.
    model.config.rope_freq_factors = None
    plain = L.forward(model, ids)
    gap = float(np.abs(logits[-1] - plain[-1]).max())
    assert gap > 0.05, gap
    hf = L.llama3_rope_factors(128, 500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                               original_max_position_embeddings=8192)
    with open(os.path.join(OUT, "rope_llama3.json"), "w") as f:
        json.dump({
            "made_by": "tools/reference/make_rope_scaling_fixture.py",
            "ids": ids,
            "last_logits": [float(x) for x in logits[-1]],
            "max_gap_without_scaling": gap,
            "factors": [float(x) for x in factors],
            "llama31_8b_factors": [float(x) for x in hf],
        }, f)
    print("wrote", path, "gap without scaling", gap)


def yarn():
    import gguf
    dim, hidden, layers, heads, kv, vocab, ctx, theta = 64, 128, 2, 4, 2, 96, 256, 10000.0
    hs = dim // heads
    path = os.path.join(OUT, "rope_yarn.gguf")
    w = gguf.GGUFWriter(path, "qwen2")
    w.add_embedding_length(dim)
    w.add_feed_forward_length(hidden)
    w.add_block_count(layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_context_length(ctx)
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(vocab)
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(4.0)
    w.add_rope_scaling_orig_ctx_len(32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list([chr(0x100 + i) for i in range(vocab - 1)] + [chr(0x100) * 2])
    w.add_token_types([1] * vocab)
    w.add_token_merges([chr(0x100) + " " + chr(0x100)])
    rng = np.random.default_rng(37)

    def t(name, shape, scale=0.2, offset=0.0):
        w.add_tensor(name, (offset + rng.standard_normal(shape) * scale).astype(np.float32))
    t("token_embd.weight", (vocab, dim), 1.0)
    t("output_norm.weight", (dim,), 0.1, 1.0)
    for l in range(layers):
        p = f"blk.{l}."
        t(p + "attn_norm.weight", (dim,), 0.1, 1.0)
        t(p + "ffn_norm.weight", (dim,), 0.1, 1.0)
        t(p + "attn_q.weight", (dim, dim))
        t(p + "attn_k.weight", (kv * hs, dim))
        t(p + "attn_v.weight", (kv * hs, dim))
        t(p + "attn_output.weight", (dim, dim))
        t(p + "ffn_gate.weight", (hidden, dim))
        t(p + "ffn_up.weight", (hidden, dim))
        t(p + "ffn_down.weight", (dim, hidden))
    t("output.weight", (vocab, dim))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    model = L.load_gguf(path)
    assert model.config.rope_freq_factors is not None and model.config.rope_mscale > 1
    ids = [int(x) for x in rng.integers(0, vocab, size=60)]
    logits = L.forward(model, ids)
    # Without the magnitude scale, and without scaling at all: both must be told apart.
    mscale = model.config.rope_mscale
    model.config.rope_mscale = 1.0
    gap_mscale = float(np.abs(L.forward(model, ids)[-1] - logits[-1]).max())
    model.config.rope_freq_factors = None
    gap = float(np.abs(L.forward(model, ids)[-1] - logits[-1]).max())
    assert gap_mscale > 0.05 and gap > 0.05, (gap_mscale, gap)
    qwen = L.yarn_rope_factors(128, 1000000.0, 4.0, 32768)
    gpt_oss = L.yarn_rope_factors(64, 150000.0, 32.0, 4096, truncate=False)
    with open(os.path.join(OUT, "rope_yarn.json"), "w") as f:
        json.dump({
            "made_by": "tools/reference/make_rope_scaling_fixture.py --yarn",
            "ids": ids,
            "last_logits": [float(x) for x in logits[-1]],
            "mscale": mscale,
            "max_gap_without_mscale": gap_mscale,
            "max_gap_without_scaling": gap,
            "factors": [float(x) for x in model.config.rope_freq_factors] if model.config.rope_freq_factors is not None
            else [float(x) for x in L.yarn_rope_factors(hs, theta, 4.0, 32)],
            "qwen25_factors": [float(x) for x in qwen],
            "gpt_oss_factors": [float(x) for x in gpt_oss],
            "gpt_oss_mscale": L.yarn_mscale(32.0),
        }, f)
    print("wrote", path, "gap without scaling", gap, "without mscale", gap_mscale)


if __name__ == "__main__":
    if sys.argv[1:] == ["--yarn"]:
        yarn()
    else:
        main()
