#!/usr/bin/env python3
"""Fixtures for the model families beyond Llama: tiny random-weight GGUF files of each family
(written with the `gguf` package as llama.cpp's converter lays them out) and the float64 NumPy
logits of two prompts (llama_ref.forward, which implements each family's differences).

  qwen2: Q/K/V biases, half-split (NEOX) RoPE, tied embeddings.
  qwen3: per-head Q/K RMSNorm before RoPE, a head width (24) that is not dim/heads (16),
         half-split RoPE, untied output.
  gemma2 (Hugging Face layout with Gemma's norm names, weights stored as w for 1 + w):
         embeddings * sqrt(dim), GeGLU, norms after attention and FFN, attention-score and
         final-logit soft-capping (caps small enough to bite on random weights), a head width
         (32) that is not dim/heads, sliding window (16) on even layers only, tied output.
  gemma3: gemma2 without soft-capping, with Q/K norms, 7 layers of which layer 5 is global and
         the others slide (window 16) on their own RoPE base (10000 against 1e6).
  phi3:  fused Q/K/V (`attn_qkv`) and gate/up (`ffn_up`, gate rows first), half-split RoPE,
         untied output, a sliding window (64) shorter than the context (256): the 100-token
         prompt's last position attends to the last 64 only.

Each family is written twice with the same weights: as GGUF, and as a Hugging Face directory
(config.json, model.safetensors, tokenizer.json), so both loaders meet the same expectations.

Writes Tests/TandemModelTests/Fixtures/family_{qwen2,qwen3}.gguf, .json and family_*_hf/.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref as L  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "Tests", "TandemModelTests", "Fixtures")


def write(arch, seed, head_dim=None, biases=False, qk_norm=False, tied=True, fused=False, window=None,
          layers=2, softcaps=None):
    import gguf
    dim, hidden, heads, kv, vocab, ctx, theta = 64, 128, 4, 2, 96, 256, 1000000.0
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
    if window:
        w.add_sliding_window(window)
    if softcaps:
        w.add_float32(f"{arch}.attn_logit_softcapping", softcaps[0])
        w.add_float32(f"{arch}.final_logit_softcapping", softcaps[1])
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
    # Gemma multiplies embeddings by sqrt(dim) and ties the head to them: smaller ones keep the
    # residual stream from repeating the input token.
    t("token_embd.weight", (vocab, dim), 0.15 if arch.startswith("gemma") else 1.0)
    t("output_norm.weight", (dim,), 0.1, 1.0)
    for l in range(layers):
        p = f"blk.{l}."
        t(p + "attn_norm.weight", (dim,), 0.1, 1.0)
        t(p + "ffn_norm.weight", (dim,), 0.1, 1.0)
        if fused:
            t(p + "attn_qkv.weight", ((heads + 2 * kv) * hs, dim))
        else:
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
        if arch in ("gemma2", "gemma3"):
            t(p + "post_attention_norm.weight", (dim,), 0.1, 1.0)
            t(p + "post_ffw_norm.weight", (dim,), 0.1, 1.0)
        if fused:
            t(p + "ffn_up.weight", (2 * hidden, dim))
        else:
            t(p + "ffn_gate.weight", (hidden, dim))
            t(p + "ffn_up.weight", (hidden, dim))
        t(p + "ffn_down.weight", (dim, hidden))
    if not tied:
        t("output.weight", (vocab, dim))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    write_hf(arch, path, hs, biases, qk_norm, tied, window, softcaps)
    model = L.load_gguf(path)
    assert model.config.rope_style == "neox" and model.config.head_size == hs
    # The third prompt runs past phi3's sliding window (64) and gemma2's (16).
    prompts = [[int(x) for x in rng.integers(0, vocab, size=n)] for n in (9, 40, 100)]
    logits = [L.forward(model, ids)[-1] for ids in prompts]
    # What a pass without the family's difference would get (biases/norms dropped, or the
    # llama RoPE layout): the fixture must be able to tell them apart.
    wrong = L.forward(model, prompts[1], rope_style="interleaved")[-1]
    gap = float(np.abs(wrong - logits[1]).max())
    assert gap > 0.1, gap
    if window:
        window_gap = float(np.abs(_without_window(model, prompts[2]) - logits[2]).max())
        assert window_gap > 0.1, window_gap
    with open(os.path.join(OUT, f"family_{arch}.json"), "w") as f:
        json.dump({
            "made_by": "tools/reference/make_family_fixtures.py",
            "prompts": prompts,
            "last_logits": [[float(x) for x in lg] for lg in logits],
            "gap_with_llama_rope": gap,
        }, f)
    print("wrote", path, "gap with the llama RoPE layout", round(gap, 3))


def _without_window(model, ids):
    w = model.config.sliding_window
    model.config.sliding_window = None
    try:
        return L.forward(model, ids)[-1]
    finally:
        model.config.sliding_window = w


def write_hf(arch, gguf_path, hs, biases, qk_norm, tied, window, softcaps=None):
    """The GGUF's tensors under Hugging Face names (Qwen GGUF files keep HF's row order), a
    config.json of the family and a byte-level BPE tokenizer.json of the same vocabulary."""
    import gguf
    r = gguf.GGUFReader(gguf_path)
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("tokenizer.ggml.token")}
    tensors = {t.name: np.asarray(t.data, dtype=np.float32).reshape(tuple(int(x) for x in reversed(t.shape))) for t in r.tensors}
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    per_layer = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
                 "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
                 "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
                 "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
                 "attn_v.bias": "self_attn.v_proj.bias", "attn_q_norm.weight": "self_attn.q_norm.weight",
                 "attn_k_norm.weight": "self_attn.k_norm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
                 "ffn_up.weight": "mlp.gate_up_proj.weight" if arch == "phi3" else "mlp.up_proj.weight",
                 "ffn_down.weight": "mlp.down_proj.weight", "attn_qkv.weight": "self_attn.qkv_proj.weight"}
    if arch in ("gemma2", "gemma3"):
        # Gemma's own names: a norm before and after attention and the FFN; weights stored as
        # w where the norm scales by 1 + w (the GGUF holds 1 + w).
        per_layer = {**per_layer, "ffn_norm.weight": "pre_feedforward_layernorm.weight",
                     "post_attention_norm.weight": "post_attention_layernorm.weight",
                     "post_ffw_norm.weight": "post_feedforward_layernorm.weight"}
        tensors = {k: (v - 1 if "norm" in k else v) for k, v in tensors.items()}
    hf = {}
    for name, a in tensors.items():
        if name in names:
            hf[names[name]] = a
        else:
            _, l, rest = name.split(".", 2)
            hf[f"model.layers.{l}.{per_layer[rest]}"] = a
    d = os.path.join(OUT, f"family_{arch}_hf")
    os.makedirs(d, exist_ok=True)
    # safetensors: u64 header length, JSON header, raw little-endian data.
    header, blobs, offset = {}, [], 0
    for name in sorted(hf):
        b = hf[name].astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(hf[name].shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(d, "model.safetensors"), "wb") as out:
        out.write(len(hb).to_bytes(8, "little") + hb + b"".join(blobs))
    p = arch
    config = {
        "architectures": [{"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "phi3": "Phi3ForCausalLM",
                           "gemma2": "Gemma2ForCausalLM", "gemma3": "Gemma3ForCausalLM"}[arch]],
        "model_type": "gemma3_text" if arch == "gemma3" else arch,
        "hidden_size": int(f[f"{p}.embedding_length"]), "intermediate_size": int(f[f"{p}.feed_forward_length"]),
        "num_hidden_layers": int(f[f"{p}.block_count"]), "num_attention_heads": int(f[f"{p}.attention.head_count"]),
        "num_key_value_heads": int(f[f"{p}.attention.head_count_kv"]), "head_dim": hs,
        "vocab_size": len(r.fields["tokenizer.ggml.tokens"].data), "max_position_embeddings": int(f[f"{p}.context_length"]),
        "rope_theta": float(f[f"{p}.rope.freq_base"]), "rms_norm_eps": float(f[f"{p}.attention.layer_norm_rms_epsilon"]),
        "tie_word_embeddings": tied, "use_sliding_window": window is not None, "sliding_window": window or 4096,
        "attention_bias": bool(biases), "rope_scaling": None,
    }
    if arch == "gemma2":
        config.update({"hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": hs,
                       "attn_logit_softcapping": softcaps[0], "final_logit_softcapping": softcaps[1]})
    if arch == "gemma3":
        config.update({"hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": hs,
                       "sliding_window_pattern": 6, "rope_local_base_freq": 10000.0})
    with open(os.path.join(d, "config.json"), "w") as out:
        json.dump(config, out, indent=1)
    tokens = [str(bytes(r.fields["tokenizer.ggml.tokens"].parts[i]), "utf-8") for i in r.fields["tokenizer.ggml.tokens"].data]
    # Qwen's own tokenizer.json pre-tokenizer: its Split pattern, then ByteLevel.
    qwen_split = {"type": "Split", "pattern": {"Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"},
                  "behavior": "Isolated", "invert": False}
    tok = {"model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(tokens)}, "merges": [tokens[0] + " " + tokens[0]]},
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [qwen_split, {"type": "ByteLevel", "add_prefix_space": False,
                                                                               "trim_offsets": False, "use_regex": False}]},
           "added_tokens": []}
    with open(os.path.join(d, "tokenizer.json"), "w") as out:
        json.dump(tok, out, ensure_ascii=False)


def main():
    write("qwen2", 41, biases=True)
    write("qwen3", 43, head_dim=24, qk_norm=True, tied=False)
    write("phi3", 47, tied=False, fused=True, window=64)
    write("gemma2", 53, head_dim=32, window=16, layers=3, softcaps=(5.0, 3.0))
    write("gemma3", 59, head_dim=32, window=16, layers=7, qk_norm=True)


if __name__ == "__main__":
    main()
