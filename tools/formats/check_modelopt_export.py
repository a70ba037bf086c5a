#!/usr/bin/env python3
"""Independent check of a `tandem quantize` ModelOpt export against its GGUF source.

Written from the specifications (OCP OFP8 / MX for E4M3 and E2M1, NVIDIA ModelOpt's NVFP4 layout,
llama.cpp's Q/K permutation in convert_hf_to_gguf.py), sharing no code with the Swift side:

* parses model.safetensors by hand (8-byte header length, JSON header, raw data);
* dequantises every quantised linear layer (FP8: e4m3 * weight_scale; NVFP4: e2m1 (even column
  in the low nibble) * (e4m3 weight_scale * weight_scale_2)) in numpy;
* re-applies llama.cpp's permutation to q_proj/k_proj (the export stores the HF half-split
  layout) and compares with the GGUF tensor dequantised by the `gguf` package;
* loads tokenizer.json with Hugging Face `tokenizers` and compares ids with the fixture
  Tests/TandemModelTests/Fixtures/smollm2_tokenizer.json (built from the GGUF vocabulary).

Usage (from the repository root, after `tandem quantize models/SmolLM2-...gguf OUT --format nvfp4`):

    python3 tools/formats/check_modelopt_export.py OUT models/SmolLM2-135M-Instruct.Q4_1.gguf

Exits non-zero on the first failed check; prints one line per check otherwise.
"""

from __future__ import annotations

import json
import os
import struct
import sys

import numpy as np

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float64)


def e4m3(codes: np.ndarray) -> np.ndarray:
    """OCP E4M3 ("fn"): bias 7, no infinities, NaN only S.1111.111."""
    c = codes.astype(np.int64)
    sign = np.where(c & 0x80, -1.0, 1.0)
    exp = (c >> 3) & 0xF
    man = (c & 0x7).astype(np.float64)
    value = np.where(exp == 0, man / 8 * 2.0 ** -6, (1 + man / 8) * 2.0 ** (exp - 7))
    value = np.where((c & 0x7F) == 0x7F, np.nan, value)
    return sign * value


def read_safetensors(path: str) -> dict:
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    out = {}
    kinds = {"F32": np.float32, "U8": np.uint8, "F8_E4M3": np.uint8, "F16": np.float16}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        data = np.frombuffer(blob, dtype=kinds[e["dtype"]], count=(b - a) // np.dtype(kinds[e["dtype"]]).itemsize, offset=8 + n + a)
        out[name] = (e["dtype"], data.reshape(e["shape"]) if e["shape"] else data)
    return out


def dequantize(tensors: dict, module: str, algo: str) -> np.ndarray | None:
    dtype, w = tensors[module + ".weight"]
    if module + ".weight_scale" not in tensors:
        return w.astype(np.float64)
    scale = tensors[module + ".weight_scale"][1]
    if algo == "FP8":
        return e4m3(w) * float(scale.reshape(-1)[0]) if scale.size == 1 else e4m3(w) * scale.reshape(-1, 1)
    if algo == "NVFP4":
        rows, half = w.shape
        codes = np.empty((rows, half * 2), dtype=np.int64)
        codes[:, 0::2] = w & 0x0F
        codes[:, 1::2] = w >> 4
        block = e4m3(scale) * float(tensors[module + ".weight_scale_2"][1].reshape(-1)[0])
        return E2M1[codes] * np.repeat(block, 16, axis=1)
    raise SystemExit(f"{module}: quant_algo {algo} is not checked by this script")


def llama_cpp_permute(w: np.ndarray, heads: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute: HF half-split rows -> GGUF interleaved rows."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def fail(msg: str) -> None:
    print("FAIL", msg)
    sys.exit(1)


def main() -> None:
    out_dir, gguf_path = sys.argv[1], sys.argv[2]
    import gguf
    from gguf.quants import dequantize as gguf_dequantize

    quant = json.load(open(os.path.join(out_dir, "hf_quant_config.json")))["quantization"]
    algo = quant["quant_algo"]
    config = json.load(open(os.path.join(out_dir, "config.json")))
    tensors = read_safetensors(os.path.join(out_dir, "model.safetensors"))
    reader = gguf.GGUFReader(gguf_path)
    source = {t.name: t for t in reader.tensors}
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    limit = {"FP8": 0.05, "NVFP4": 0.15}[algo]
    worst = 0.0
    for layer in range(config["num_hidden_layers"]):
        for hf, gg in names.items():
            module = f"model.layers.{layer}.{hf}"
            got = dequantize(tensors, module, algo)
            if hf == "self_attn.q_proj":
                got = llama_cpp_permute(got, heads)
            elif hf == "self_attn.k_proj":
                got = llama_cpp_permute(got, kv_heads)
            t = source[f"blk.{layer}.{gg}.weight"]
            want = gguf_dequantize(t.data, t.tensor_type).astype(np.float64).reshape(got.shape)
            rel = float(np.sqrt(np.mean((got - want) ** 2) / np.mean(want ** 2)))
            worst = max(worst, rel)
            if not rel < limit:
                fail(f"{module}: relative RMS error {rel:.4f} >= {limit} against the GGUF source")
            for suffix in (".input_scale",) if algo in ("FP8", "NVFP4") else ():
                s = float(tensors[module + suffix][1].reshape(-1)[0])
                if not (s > 0 and np.isfinite(s)):
                    fail(f"{module}{suffix} = {s}")
    print(f"ok   {algo}: {config['num_hidden_layers'] * 7} linear layers match the GGUF source after llama.cpp's "
          f"Q/K permutation (worst relative RMS {worst:.4f} < {limit}); input_scale positive")
    if algo == "NVFP4" and quant.get("group_size") != 16:
        fail(f"group_size {quant.get('group_size')} != 16")
    fixture = os.path.join(os.path.dirname(__file__), "../../Tests/TandemModelTests/Fixtures/smollm2_tokenizer.json")
    tok_path = os.path.join(out_dir, "tokenizer.json")
    if os.path.exists(fixture) and os.path.exists(tok_path):
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(tok_path)
        cases = json.load(open(fixture))["cases"]
        for c in cases:
            ids = tok.encode(c["text"], add_special_tokens=False).ids
            if ids != c["ids"]:
                fail(f"tokenizer.json encodes {c['text']!r} as {ids[:12]}..., the GGUF vocabulary as {c['ids'][:12]}...")
        print(f"ok   tokenizer.json loads in Hugging Face tokenizers and matches {len(cases)} fixture encodings")


if __name__ == "__main__":
    main()
