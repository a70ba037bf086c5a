#!/usr/bin/env python3
"""Fixtures for the model families beyond Llama: tiny random-weight GGUF files of each family
(written with the `gguf` package as llama.cpp's converter lays them out) and the float64 NumPy
logits of two prompts (llama_ref.forward, which implements each family's differences).

  qwen2: Q/K/V biases, half-split (NEOX) RoPE, tied embeddings.
  qwen3: per-head Q/K RMSNorm before RoPE, a head width (24) that is not dim/heads (16),
         half-split RoPE, untied output.

Writes Tests/TandemModelTests/Fixtures/family_{qwen2,qwen3}.gguf and .json.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref as L  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "Tests", "TandemModelTests", "Fixtures")


def write(arch, seed, head_dim=None, biases=False, qk_norm=False, tied=True):
    import gguf
    dim, hidden, layers, heads, kv, vocab, ctx, theta = 64, 128, 2, 4, 2, 96, 256, 1000000.0
    hs = head_dim or dim // heads
    path = os.path.join(OUT, f"family_{arch}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_embedding_length(dim)
    w.add_feed_forward_length(hidden)
    w.add_block_count(layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_context_length(ctx)
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(vocab)
    if head_dim:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt2")
    w.add_token_list([chr(0x100 + i) for i in range(vocab - 1)] + [chr(0x100) * 2])
    w.add_token_types([1] * vocab)
    w.add_token_merges([chr(0x100) + " " + chr(0x100)])
    rng = np.random.default_rng(seed)

    def t(name, shape, scale=0.2, offset=0.0):
        w.add_tensor(name, (offset + rng.standard_normal(shape) * scale).astype(np.float32))
    t("token_embd.weight", (vocab, dim), 1.0)
    t("output_norm.weight", (dim,), 0.1, 1.0)
    for l in range(layers):
        p = f"blk.{l}."
        t(p + "attn_norm.weight", (dim,), 0.1, 1.0)
        t(p + "ffn_norm.weight", (dim,), 0.1, 1.0)
        t(p + "attn_q.weight", (heads * hs, dim))
        t(p + "attn_k.weight", (kv * hs, dim))
        t(p + "attn_v.weight", (kv * hs, dim))
        if biases:
            t(p + "attn_q.bias", (heads * hs,), 0.5)
            t(p + "attn_k.bias", (kv * hs,), 0.5)
            t(p + "attn_v.bias", (kv * hs,), 0.5)
        if qk_norm:
            t(p + "attn_q_norm.weight", (hs,), 0.3, 1.0)
            t(p + "attn_k_norm.weight", (hs,), 0.3, 1.0)
        t(p + "attn_output.weight", (dim, heads * hs))
        t(p + "ffn_gate.weight", (hidden, dim))
        t(p + "ffn_up.weight", (hidden, dim))
        t(p + "ffn_down.weight", (dim, hidden))
    if not tied:
        t("output.weight", (vocab, dim))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    model = L.load_gguf(path)
    assert model.config.rope_style == "neox" and model.config.head_size == hs
    prompts = [[int(x) for x in rng.integers(0, vocab, size=n)] for n in (9, 40)]
    logits = [L.forward(model, ids)[-1] for ids in prompts]
    # What a pass without the family's difference would get (biases/norms dropped, or the
    # llama RoPE layout): the fixture must be able to tell them apart.
    wrong = L.forward(model, prompts[1], rope_style="interleaved")[-1]
    gap = float(np.abs(wrong - logits[1]).max())
    assert gap > 0.1, gap
    with open(os.path.join(OUT, f"family_{arch}.json"), "w") as f:
        json.dump({
            "made_by": "tools/reference/make_family_fixtures.py",
            "prompts": prompts,
            "last_logits": [[float(x) for x in lg] for lg in logits],
            "gap_with_llama_rope": gap,
        }, f)
    print("wrote", path, "gap with the llama RoPE layout", round(gap, 3))


def main():
    write("qwen2", 41, biases=True)
    write("qwen3", 43, head_dim=24, qk_norm=True, tied=False)


if __name__ == "__main__":
    main()
