#!/usr/bin/env python3
"""Write a random-weight Llama GGUF for benchmarks (default: the Llama-3.2-1B shape).

Both Tandem and llama.cpp load it: architecture "llama", tied embeddings (no output.weight, as
Llama-3.2-1B), F16 matrices, F32 norm weights (1.0), other weights ~ N(0, std) seeded per tensor.
The tokenizer is SentencePiece-style (tokenizer.ggml.model = "llama"): <unk>, <s>, </s>, the 256
byte tokens <0x00>..<0xFF> (type BYTE), a few single-character pieces, then unique filler pieces
"▁t<N>" with descending scores up to the vocab size. The output is meaningless text; the file is
for speed and memory measurements only.

    python3 bench/synthetic_model.py --out models/synthetic-1b/llama1b-f16.gguf
    python3 bench/synthetic_model.py --out /tmp/tiny.gguf --dim 256 --layers 2 --heads 8 \
        --kv-heads 2 --ffn 512 --vocab 4096                               # quick checks

A mixture of experts (Mixtral's layout: `llama` with `expert_count`, stacked ffn_*_exps tensors
and an F32 router ffn_gate_inp; each expert's width is --ffn): --experts N --experts-used K.
The gpt-oss-20b shape scaled to this box (32 experts, 4 per token, as gpt-oss-20b; width 1024
instead of 2880, 12 layers instead of 24, vocabulary 32000):

    python3 bench/synthetic_model.py --out models/synthetic-moe/moe32x4-f16.gguf --dim 1024 \
        --layers 12 --heads 16 --kv-heads 4 --ffn 1024 --vocab 32000 --experts 32 --experts-used 4

Quantize with llama.cpp: bench/peer/requantize.sh does it for models/synthetic-1b/.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import gguf

TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_BYTE = 1, 2, 3, 6


def build_vocab(n: int) -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TOKEN_BYTE] * 256
    chars = ["▁"] + [chr(c) for c in range(33, 127)]
    tokens += chars
    types += [TOKEN_NORMAL] * len(chars)
    if n < len(tokens) + 1:
        raise SystemExit(f"--vocab must be at least {len(tokens) + 1}")
    i = 0
    while len(tokens) < n:
        tokens.append(f"▁t{i}")
        types.append(TOKEN_NORMAL)
        i += 1
    scores = [0.0] * 3 + [0.0] * 256 + [-float(k) for k in range(n - 259)]
    return tokens, scores, types


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--ffn", type=int, default=8192)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--rope-theta", type=float, default=500000.0)
    ap.add_argument("--rms-eps", type=float, default=1e-5)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--untied", action="store_true", help="also write output.weight (default: tied, as Llama-3.2-1B)")
    ap.add_argument("--name", default=None)
    ap.add_argument("--experts", type=int, default=0, help="experts per layer (0: a dense FFN)")
    ap.add_argument("--experts-used", type=int, default=2, help="experts per token")
    a = ap.parse_args()

    if a.dim % a.heads or a.heads % a.kv_heads:
        raise SystemExit("dim must be a multiple of heads, heads a multiple of kv-heads")
    hd = a.dim // a.heads
    kvd = hd * a.kv_heads
    name = a.name or f"synthetic-llama-d{a.dim}-l{a.layers}-seed{a.seed}"

    # (name, numpy shape (rows, cols) or (n,), is_norm); GGUF stores dims reversed (ne0 = cols).
    specs: list[tuple[str, tuple[int, ...], bool]] = [("token_embd.weight", (a.vocab, a.dim), False)]
    for l in range(a.layers):
        p = f"blk.{l}."
        specs += [
            (p + "attn_norm.weight", (a.dim,), True),
            (p + "attn_q.weight", (a.dim, a.dim), False),
            (p + "attn_k.weight", (kvd, a.dim), False),
            (p + "attn_v.weight", (kvd, a.dim), False),
            (p + "attn_output.weight", (a.dim, a.dim), False),
            (p + "ffn_norm.weight", (a.dim,), True),
        ]
        if a.experts:
            specs += [
                (p + "ffn_gate_inp.weight", (a.experts, a.dim), "router"),
                (p + "ffn_gate_exps.weight", (a.experts, a.ffn, a.dim), False),
                (p + "ffn_up_exps.weight", (a.experts, a.ffn, a.dim), False),
                (p + "ffn_down_exps.weight", (a.experts, a.dim, a.ffn), False),
            ]
        else:
            specs += [
                (p + "ffn_gate.weight", (a.ffn, a.dim), False),
                (p + "ffn_up.weight", (a.ffn, a.dim), False),
                (p + "ffn_down.weight", (a.dim, a.ffn), False),
            ]
    specs.append(("output_norm.weight", (a.dim,), True))
    if a.untied:
        specs.append(("output.weight", (a.vocab, a.dim), False))

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".part"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name(name)
    w.add_type("model")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_context_length(a.context)
    w.add_embedding_length(a.dim)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ffn)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(a.rope_theta)
    w.add_layer_norm_rms_eps(a.rms_eps)
    w.add_vocab_size(a.vocab)
    if a.experts:
        w.add_expert_count(a.experts)
        w.add_expert_used_count(a.experts_used)
    tokens, scores, types = build_vocab(a.vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # Norms (1.0) and the router (random, F32 as llama.cpp's converter keeps it) are F32.
    for tname, shape, is_norm in specs:
        dt = np.dtype(np.float32) if is_norm else np.dtype(np.float16)
        w.add_tensor_info(tname, shape, dt, int(np.prod(shape)) * dt.itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()

    t0 = time.time()
    total = 0
    for i, (tname, shape, is_norm) in enumerate(specs):
        if is_norm is True:
            arr = np.ones(shape, dtype=np.float32)
        else:
            rng = np.random.default_rng([a.seed, i])
            arr = np.empty(shape, dtype=np.float32 if is_norm == "router" else np.float16)
            flat = arr.reshape(-1, shape[-1])
            step = max(1, (1 << 24) // shape[-1])  # ~16M values per chunk
            for r in range(0, flat.shape[0], step):
                blk = rng.standard_normal((min(step, flat.shape[0] - r), shape[-1]), dtype=np.float32)
                # Router scores spread over a few units, so a few experts are clearly ahead.
                blk *= 0.1 if is_norm == "router" else a.std
                flat[r:r + blk.shape[0]] = blk
        w.write_tensor_data(arr)
        total += arr.size
    w.close()
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {total / 1e6:.1f}M params, {os.path.getsize(a.out) / 2**20:.1f} MiB, "
          f"{time.time() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
