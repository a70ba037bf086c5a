#!/usr/bin/env python3
"""Re-packages a GGUF `llama` model (e.g. SmolLM2) into another family's layout with the same
function, so that family's loader and forward pass meet real, peaked weights:

  qwen2: architecture `qwen2`, Q/K rows back in Hugging Face order (llama.cpp's converter
         permutes them for `llama` files only; qwen2 files rotate halves), zero Q/K/V biases.

    python3 tools/reference/repack_family.py IN.gguf OUT.gguf qwen2
"""
import sys

import numpy as np


def unpermute(rows: np.ndarray, heads: int) -> np.ndarray:
    """Inverse of convert_hf_to_gguf.py's permute(): GGUF row (h, 2i + j) is HF row (h, j*half + i).
    Rows are whole (quantised rows as raw bytes), so the blocks move untouched."""
    n = rows.shape[0]
    half = n // heads // 2
    return rows.reshape(heads, half, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def repack(src: str, dst: str, family: str):
    import gguf
    assert family == "qwen2", family
    r = gguf.GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    assert arch == "llama", arch
    heads = int(r.fields["llama.attention.head_count"].contents())
    kv_heads = int(r.fields["llama.attention.head_count_kv"].contents())
    w = gguf.GGUFWriter(dst, family)
    for field in r.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        name = family + field.name[len("llama"):] if field.name.startswith("llama.") else field.name
        w.add_key_value(name, field.contents(), vtype, sub_type=sub)
    data = {}
    for t in r.tensors:
        a = np.asarray(t.data)
        if t.name.endswith("attn_q.weight"):
            a = unpermute(a, heads)
        elif t.name.endswith("attn_k.weight"):
            a = unpermute(a, kv_heads)
        data[t.name] = (a, t.tensor_type)
    layers = int(r.fields["llama.block_count"].contents())
    for l in range(layers):
        for p in ("attn_q", "attn_k", "attn_v"):
            rows = int(r.tensors[[t.name for t in r.tensors].index(f"blk.{l}.{p}.weight")].shape[1])
            data[f"blk.{l}.{p}.bias"] = (np.zeros(rows, dtype=np.float32), gguf.GGMLQuantizationType.F32)
    for name, (a, tt) in data.items():
        w.add_tensor_info(name, a.shape, a.dtype, a.nbytes, tt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, (a, _) in data.items():
        w.write_tensor_data(a)
    w.close()


if __name__ == "__main__":
    repack(*sys.argv[1:4])
