#!/usr/bin/env python3
"""Independent float64 NumPy reference implementation of a Llama-style decoder.

This module is the "ground truth" the Swift engine (Tandem) is tested against.
It is written for clarity, not speed:

* loaders for the llama2.c checkpoint format (stories260K.bin) and for GGUF
  files (via the `gguf` PyPI package, with dequantisation of Q4_1/Q8_0/... to
  float32 done by `gguf.quants.dequantize`);
* a whole-sequence forward pass (batch of one, causal mask) in float64 that
  returns the logits for every position;
* greedy decoding (re-runs the full forward pass each step; no KV cache, so it
  is independent of any caching logic in the engine);
* the llama2.c tokenizer (tok512.bin): a decoder with llama2.c semantics and a
  re-implementation of llama2.c's greedy score-based BPE encoder.

Conventions (shared by both formats after loading):

* every weight matrix is row-major (out_features, in_features): y = W @ x;
* RoPE rotates *adjacent* pairs (2j, 2j+1) inside each head with angle
  pos * theta^(-2j/head_size).  This is llama2.c's convention and also
  llama.cpp's LLAMA_ROPE_TYPE_NORM; llama.cpp's HF->GGUF converter permutes
  the rows of Q and K so that GGUF llama weights use this interleaved layout;
* RMSNorm: x / sqrt(mean(x^2) + eps) * w;
* SwiGLU FFN: W2 (silu(W1 x) * (W3 x));
* GQA: query head h reads kv head h // (n_heads / n_kv_heads).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import math

import numpy as np


# ---------------------------------------------------------------------------
# Model container
# ---------------------------------------------------------------------------

@dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    # RoPE scaling: one divisor per frequency pair (GGUF rope_freqs.weight), or None.
    rope_freq_factors: Optional[np.ndarray] = None
    # YaRN's magnitude scale of cos and sin (llama.cpp's mscale), 1 without YaRN.
    rope_mscale: float = 1.0
    # Family differences (Qwen2: Q/K/V biases; Qwen3: per-head Q/K RMSNorm, own head width).
    arch: str = "llama"
    rope_style: str = "interleaved"
    explicit_head_size: Optional[int] = None
    # Sliding-window attention: the last `sliding_window` positions (the query's own included),
    # on every layer, or (llama.cpp's count) on layers l % pattern < pattern - 1.
    sliding_window: Optional[int] = None
    sliding_window_pattern: Optional[int] = None
    # Gemma 3: the sliding layers' RoPE base (no scaling there).
    local_rope_theta: Optional[float] = None
    # Gemma 2: embeddings * sqrt(dim), GeGLU (tanh GELU), norms after attention and FFN too,
    # soft-capped attention scores and final logits, queries scaled by 1/sqrt(query_scale_base).
    gemma: bool = False
    attn_softcap: Optional[float] = None
    final_softcap: Optional[float] = None
    query_scale_base: Optional[float] = None
    # Mixture of experts (Mixtral = llama with experts, qwen2moe, qwen3moe), as llama.cpp's
    # build_moe_ffn: softmax over the router's scores, the top n_experts_used, renormalised to
    # sum to one when expert_norm; qwen2moe adds a shared expert scaled by sigmoid(x . w).
    n_experts: int = 0
    n_experts_used: int = 0
    expert_hidden: int = 0
    expert_norm: bool = True
    # gpt-oss: the experts' activation is clamped SwiGLU (llama.cpp's swiglu_oai).
    expert_act: str = "swiglu"
    # Llama 4: sigmoid router weights scaling the expert's input, experts on layers
    # (l + 1) % expert_layer_step == 0, a shared expert; chunked attention on the local layers,
    # no RoPE on layers (l + 1) % no_rope_step == 0 (queries scaled by the temperature there),
    # Q/K RMS-normalised without weight after RoPE.
    expert_gating: str = "softmax"
    expert_weight_before: bool = False
    expert_layer_step: int = 1
    attn_chunk: Optional[int] = None
    no_rope_step: Optional[int] = None
    attn_temp_floor: Optional[int] = None
    attn_temp_scale: float = 0.0
    qk_l2_norm: bool = False

    @property
    def head_size(self) -> int:
        return self.explicit_head_size or self.dim // self.n_heads


@dataclass
class Layer:
    attn_norm: np.ndarray  # (dim,)
    wq: np.ndarray         # (n_heads*hs, dim)
    wk: np.ndarray         # (n_kv_heads*hs, dim)
    wv: np.ndarray         # (n_kv_heads*hs, dim)
    wo: np.ndarray         # (dim, n_heads*hs)
    ffn_norm: np.ndarray   # (dim,)
    w1: np.ndarray         # gate (hidden, dim)
    w2: np.ndarray         # down (dim, hidden)
    w3: np.ndarray         # up   (hidden, dim)
    bq: Optional[np.ndarray] = None      # (n_heads*hs,)   Qwen2 biases
    bk: Optional[np.ndarray] = None      # (n_kv_heads*hs,)
    bv: Optional[np.ndarray] = None
    q_norm: Optional[np.ndarray] = None  # (hs,)  Qwen3 per-head RMSNorm
    k_norm: Optional[np.ndarray] = None
    post_attn_norm: Optional[np.ndarray] = None  # (dim,)  Gemma 2
    post_ffn_norm: Optional[np.ndarray] = None
    router: Optional[np.ndarray] = None     # (n_experts, dim)
    exp_gate: Optional[np.ndarray] = None   # (n_experts, expert_hidden, dim)
    exp_up: Optional[np.ndarray] = None     # (n_experts, expert_hidden, dim)
    exp_down: Optional[np.ndarray] = None   # (n_experts, dim, expert_hidden)
    sh_gate: Optional[np.ndarray] = None    # (shared_hidden, dim)
    sh_up: Optional[np.ndarray] = None
    sh_down: Optional[np.ndarray] = None    # (dim, shared_hidden)
    sh_gate_inp: Optional[np.ndarray] = None  # (dim,)
    # gpt-oss: attention output bias, attention sinks (one logit per head), router and expert biases.
    bo: Optional[np.ndarray] = None          # (dim,)
    sinks: Optional[np.ndarray] = None       # (n_heads,)
    router_b: Optional[np.ndarray] = None    # (n_experts,)
    exp_gate_b: Optional[np.ndarray] = None  # (n_experts, expert_hidden)
    exp_up_b: Optional[np.ndarray] = None
    exp_down_b: Optional[np.ndarray] = None  # (n_experts, dim)


@dataclass
class Model:
    config: Config
    tok_embeddings: np.ndarray  # (vocab, dim)
    layers: List[Layer]
    final_norm: np.ndarray      # (dim,)
    wcls: np.ndarray            # (vocab, dim); may be the same array as tok_embeddings
    meta: Dict[str, object] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# llama2.c checkpoint loader
# ---------------------------------------------------------------------------

def load_llama2c(path: str) -> Model:
    """Load a llama2.c ("version 0" / legacy) FP32 checkpoint."""
    with open(path, "rb") as f:
        raw = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", raw, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    cfg = Config(dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len,
                 rope_theta=10000.0, norm_eps=1e-5)
    hs = cfg.head_size
    data = np.frombuffer(raw, dtype="<f4", offset=7 * 4)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = data[pos:pos + n].reshape(shape)
        pos += n
        return out

    tok = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq = take(n_layers, n_heads * hs, dim)
    wk = take(n_layers, n_kv * hs, dim)
    wv = take(n_layers, n_kv * hs, dim)
    wo = take(n_layers, dim, n_heads * hs)
    rms_ffn = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim)
    w2 = take(n_layers, dim, hidden)
    w3 = take(n_layers, hidden, dim)
    rms_final = take(dim)
    take(seq_len, hs // 2)  # legacy freq_cis_real (unused)
    take(seq_len, hs // 2)  # legacy freq_cis_imag (unused)
    wcls = tok if shared else take(vocab, dim)
    if pos != data.size:
        raise ValueError(f"llama2.c checkpoint: {data.size - pos} trailing floats unread")

    layers = [Layer(rms_att[l], wq[l], wk[l], wv[l], wo[l], rms_ffn[l], w1[l], w2[l], w3[l])
              for l in range(n_layers)]
    return Model(cfg, tok, layers, rms_final, wcls, meta={"format": "llama2.c", "shared_classifier": shared})


# ---------------------------------------------------------------------------
# GGUF loader (llama architecture)
# ---------------------------------------------------------------------------

def gguf_field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def load_gguf(path: str) -> Model:
    """Load a GGUF llama, qwen2 or qwen3 model, dequantising every tensor to float32."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    r = GGUFReader(path)
    arch = gguf_field(r, "general.architecture")
    if arch not in ("llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3", "qwen2moe", "qwen3moe", "gpt-oss", "llama4"):
        raise ValueError(f"unsupported architecture {arch!r}")
    tensors = {t.name: t for t in r.tensors}

    def get(name):
        t = tensors[name]
        w = dequantize(t.data, t.tensor_type)
        # GGUF shape is (ne0=in, ne1=out[, ne2=expert]); numpy shape is reversed -> ([expert,] out, in)
        expected = tuple(int(x) for x in reversed(t.shape))
        w = np.asarray(w, dtype=np.float32).reshape(expected)
        return w

    dim = int(gguf_field(r, f"{arch}.embedding_length"))
    n_heads = int(gguf_field(r, f"{arch}.attention.head_count"))
    key_length = gguf_field(r, f"{arch}.attention.key_length")
    cfg = Config(
        dim=dim,
        hidden_dim=int(gguf_field(r, f"{arch}.feed_forward_length", 0)),
        n_layers=int(gguf_field(r, f"{arch}.block_count")),
        n_heads=n_heads,
        n_kv_heads=int(gguf_field(r, f"{arch}.attention.head_count_kv", n_heads)),
        vocab_size=len(gguf_field(r, "tokenizer.ggml.tokens")),
        seq_len=int(gguf_field(r, f"{arch}.context_length")),
        rope_theta=float(gguf_field(r, f"{arch}.rope.freq_base", 10000.0)),
        norm_eps=float(gguf_field(r, f"{arch}.attention.layer_norm_rms_epsilon")),
        arch=arch,
        # llama.cpp: LLAMA_ROPE_TYPE_NORM (adjacent pairs, Q/K permuted by the converter) for
        # llama, LLAMA_ROPE_TYPE_NEOX (halves, Hugging Face layout) for qwen2 and qwen3.
        rope_style="interleaved" if arch in ("llama", "llama4") else "neox",
        explicit_head_size=int(key_length) if key_length is not None else None,
        sliding_window=gguf_field(r, f"{arch}.attention.sliding_window"),
    )
    if arch == "gemma2":
        # llama.cpp's converter already stored the norm weights as 1 + w.
        cfg.gemma = True
        cfg.sliding_window_pattern = 2
        cfg.attn_softcap = gguf_field(r, "gemma2.attn_logit_softcapping")
        cfg.final_softcap = gguf_field(r, "gemma2.final_logit_softcapping")
    if arch == "gemma3":
        # As gemma2 without soft-capping; five sliding layers to one global, the sliding ones on
        # RoPE base 10000 (llama.cpp's rope_freq_base_train_swa); Q/K norms stored as 1 + w too.
        cfg.gemma = True
        cfg.sliding_window_pattern = 6
        cfg.local_rope_theta = 10000.0
    n_experts = int(gguf_field(r, f"{arch}.expert_count", 0) or 0)
    if n_experts:
        cfg.n_experts = n_experts
        cfg.n_experts_used = int(gguf_field(r, f"{arch}.expert_used_count"))
        cfg.expert_hidden = int(gguf_field(r, f"{arch}.expert_feed_forward_length", cfg.hidden_dim))
        # llama.cpp: LLM_ARCH_LLAMA (Mixtral) and qwen3moe renormalise, qwen2moe does not;
        # gpt-oss takes a softmax over the chosen experts' scores, which is the same thing.
        cfg.expert_norm = arch != "qwen2moe"
        if arch == "gpt-oss":
            cfg.expert_act = "swiglu_oai"
    if arch == "gpt-oss":
        # llama.cpp: sliding-window layers where il % 2 == 0.
        cfg.sliding_window_pattern = 2
    if arch == "llama4":
        # llama.cpp's llama4: sigmoid weights on the expert input, experts every
        # interleave_moe_layer_step-th layer; unless attention.sliding_window is 0, chunks of 8192
        # on three layers of four, no RoPE (temperature instead) on the fourth.
        cfg.expert_gating, cfg.expert_weight_before, cfg.expert_norm = "sigmoid", True, False
        cfg.expert_layer_step = int(gguf_field(r, "llama4.interleave_moe_layer_step", 1))
        if cfg.sliding_window == 0:
            cfg.sliding_window, cfg.no_rope_step = None, cfg.n_layers
        else:
            cfg.sliding_window, cfg.attn_chunk, cfg.sliding_window_pattern = None, 8192, 4
            cfg.no_rope_step, cfg.attn_temp_floor, cfg.attn_temp_scale = 4, 8192, 0.1
        cfg.qk_l2_norm = cfg.n_experts != 128
    if "rope_freqs.weight" in tensors:
        cfg.rope_freq_factors = np.asarray(tensors["rope_freqs.weight"].data, dtype=np.float64).reshape(-1)
    elif "rope_factors_long.weight" in tensors:
        # LongRoPE (Phi-3 128k): per-pair divisors, the long ones when the model's context exceeds
        # the original one (as llama.cpp chooses them from its context size; transformers switches
        # per sequence length), cos and sin scaled by the attention factor.
        original = int(gguf_field(r, f"{arch}.rope.scaling.original_context_length"))
        which = "long" if cfg.seq_len > original else "short"
        cfg.rope_freq_factors = np.asarray(tensors[f"rope_factors_{which}.weight"].data, dtype=np.float64).reshape(-1)
        cfg.rope_mscale = float(gguf_field(r, f"{arch}.rope.scaling.attn_factor", longrope_mscale(cfg.seq_len, original)))
    elif gguf_field(r, f"{arch}.rope.scaling.type") == "yarn":
        factor = float(gguf_field(r, f"{arch}.rope.scaling.factor"))
        cfg.rope_freq_factors = yarn_rope_factors(
            cfg.head_size, cfg.rope_theta, factor, int(gguf_field(r, f"{arch}.rope.scaling.original_context_length")),
            float(gguf_field(r, f"{arch}.rope.scaling.yarn_beta_fast", 32.0)),
            float(gguf_field(r, f"{arch}.rope.scaling.yarn_beta_slow", 1.0)))
        cfg.rope_mscale = yarn_mscale(factor)
    rope_dim = gguf_field(r, f"{arch}.rope.dimension_count")
    if rope_dim is not None and int(rope_dim) != cfg.head_size:
        raise ValueError("partial rotary dimension not supported by this reference")

    tok = get("token_embd.weight")
    layers = []
    hs, q_rows = cfg.head_size, cfg.n_heads * cfg.head_size
    for l in range(cfg.n_layers):
        p = f"blk.{l}."
        if p + "attn_qkv.weight" in tensors:
            # Phi-3: Q, K, V stacked in one matrix; gate and up stacked in ffn_up.
            qkv = get(p + "attn_qkv.weight")
            wq, wk, wv = np.split(qkv, [q_rows, q_rows + cfg.n_kv_heads * hs])
            w1, w3 = np.split(get(p + "ffn_up.weight"), 2)
        else:
            wq, wk, wv = get(p + "attn_q.weight"), get(p + "attn_k.weight"), get(p + "attn_v.weight")
            moe_layer = bool(cfg.n_experts) and (l + 1) % cfg.expert_layer_step == 0
            w1, w3 = (None, None) if moe_layer else (get(p + "ffn_gate.weight"), get(p + "ffn_up.weight"))
        layers.append(Layer(
            attn_norm=get(p + "attn_norm.weight"),
            wq=wq,
            wk=wk,
            wv=wv,
            wo=get(p + "attn_output.weight"),
            # gpt-oss names its FFN input norm post_attention_norm.
            ffn_norm=get(p + ("post_attention_norm.weight" if arch == "gpt-oss" else "ffn_norm.weight")),
            w1=w1,
            w2=None if p + "ffn_down_exps.weight" in tensors else get(p + "ffn_down.weight"),
            w3=w3,
            bq=get(p + "attn_q.bias") if p + "attn_q.bias" in tensors else None,
            bk=get(p + "attn_k.bias") if p + "attn_k.bias" in tensors else None,
            bv=get(p + "attn_v.bias") if p + "attn_v.bias" in tensors else None,
            q_norm=get(p + "attn_q_norm.weight") if p + "attn_q_norm.weight" in tensors else None,
            k_norm=get(p + "attn_k_norm.weight") if p + "attn_k_norm.weight" in tensors else None,
            post_attn_norm=get(p + "post_attention_norm.weight") if p + "post_attention_norm.weight" in tensors and arch != "gpt-oss" else None,
            post_ffn_norm=get(p + "post_ffw_norm.weight") if p + "post_ffw_norm.weight" in tensors else None,
        ))
        lay = layers[-1]
        if p + "attn_output.bias" in tensors:
            lay.bo = get(p + "attn_output.bias")
        if p + "attn_sinks.weight" in tensors:
            lay.sinks = get(p + "attn_sinks.weight")
        if p + "ffn_gate_inp.bias" in tensors:
            lay.router_b = get(p + "ffn_gate_inp.bias")
            lay.exp_gate_b, lay.exp_up_b = get(p + "ffn_gate_exps.bias"), get(p + "ffn_up_exps.bias")
            lay.exp_down_b = get(p + "ffn_down_exps.bias")
        if p + "ffn_gate_inp.weight" in tensors:
            lay.router = get(p + "ffn_gate_inp.weight")
            lay.exp_gate, lay.exp_up = get(p + "ffn_gate_exps.weight"), get(p + "ffn_up_exps.weight")
            lay.exp_down = get(p + "ffn_down_exps.weight")
            if p + "ffn_gate_shexp.weight" in tensors:
                lay.sh_gate, lay.sh_up = get(p + "ffn_gate_shexp.weight"), get(p + "ffn_up_shexp.weight")
                lay.sh_down = get(p + "ffn_down_shexp.weight")
                if p + "ffn_gate_inp_shexp.weight" in tensors:
                    lay.sh_gate_inp = get(p + "ffn_gate_inp_shexp.weight").reshape(-1)
    final_norm = get("output_norm.weight")
    tied = "output.weight" not in tensors
    wcls = tok if tied else get("output.weight")
    meta = {
        "format": "gguf",
        "tied_embeddings": tied,
        "tensor_types": sorted({t.tensor_type.name for t in r.tensors}),
    }
    return Model(cfg, tok, layers, final_norm, wcls, meta=meta)


# ---------------------------------------------------------------------------
# Forward pass (float64)
# ---------------------------------------------------------------------------

def llama3_rope_factors(head_size: int, theta: float, factor: float, low_freq_factor: float,
                        high_freq_factor: float, original_max_position_embeddings: int) -> np.ndarray:
    """Per-pair divisors of Hugging Face's `rope_type: llama3` scaling, written from the
    transformers formula (_compute_llama3_parameters): new_inv_freq = inv_freq / divisor."""
    j = np.arange(head_size // 2, dtype=np.float64)
    inv_freq = theta ** (-(2.0 * j) / head_size)
    low_wavelen = original_max_position_embeddings / low_freq_factor
    high_wavelen = original_max_position_embeddings / high_freq_factor
    new = []
    for f in inv_freq:
        wavelen = 2 * np.pi / f
        if wavelen < high_wavelen:
            new.append(f)
        elif wavelen > low_wavelen:
            new.append(f / factor)
        else:
            smooth = (original_max_position_embeddings / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            new.append((1 - smooth) * f / factor + smooth * f)
    return inv_freq / np.asarray(new)


def yarn_rope_factors(head_size: int, theta: float, factor: float, original: int, beta_fast: float = 32.0,
                      beta_slow: float = 1.0, truncate: bool = True) -> np.ndarray:
    """Per-pair divisors of YaRN, written from transformers' _compute_yarn_parameters (and
    llama.cpp's ggml_rope_yarn_corr_dims, which always truncates): the interpolated and the
    extrapolated inverse frequencies mixed by a linear ramp over the correction range."""
    def corr_dim(rotations):
        return head_size * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))
    low, high = corr_dim(beta_fast), corr_dim(beta_slow)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, head_size - 1)
    if low == high:
        high += 0.001
    pos_freqs = theta ** (np.arange(0, head_size, 2, dtype=np.float64) / head_size)
    extrapolation, interpolation = 1.0 / pos_freqs, 1.0 / (factor * pos_freqs)
    ramp = np.clip((np.arange(head_size // 2, dtype=np.float64) - low) / (high - low), 0, 1)
    keep = 1 - ramp
    inv_freq = interpolation * (1 - keep) + extrapolation * keep
    return extrapolation / inv_freq


def longrope_mscale(context: int, original: int) -> float:
    """LongRoPE's scale of cos and sin (transformers' _compute_longrope_parameters):
    sqrt(1 + ln(s) / ln(original)), s = context / original (1 when s <= 1)."""
    s = context / original
    return 1.0 if s <= 1 else math.sqrt(1 + math.log(s) / math.log(original))


def yarn_mscale(factor: float) -> float:
    """YaRN's magnitude scale of cos and sin: 0.1 ln(factor) + 1."""
    return 1.0 if factor <= 1 else 0.1 * math.log(factor) + 1.0


def rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """x: (T, dim) float64."""
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(ms + eps) * w.astype(np.float64)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (PyTorch's gelu(approximate="tanh"), Gemma's hidden_activation)."""
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def rope_tables(positions: np.ndarray, head_size: int, theta: float, freq_factors=None):
    """cos/sin of shape (T, head_size/2) for pair j: angle = pos * theta^(-2j/hs) / factor_j."""
    j = np.arange(head_size // 2, dtype=np.float64)
    inv_freq = theta ** (-(2.0 * j) / head_size)
    if freq_factors is not None:
        inv_freq = inv_freq / np.asarray(freq_factors, dtype=np.float64)
    ang = positions.astype(np.float64)[:, None] * inv_freq[None, :]
    return np.cos(ang), np.sin(ang)


def apply_rope_interleaved(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """x: (T, n_heads, head_size). Rotates adjacent pairs (2j, 2j+1)."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    c = cos[:, None, :]
    s = sin[:, None, :]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def apply_rope_neox(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Half-split ("NEOX"/HF) RoPE: pairs (j, j + head_size/2): the style of GGUF
    qwen2/qwen3 files. Not the style of llama2.c or GGUF llama weights (the fixture
    script shows the interleaved style is the right one there)."""
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    c = cos[:, None, :]
    s = sin[:, None, :]
    return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)


def _f64(w: np.ndarray) -> np.ndarray:
    return w.astype(np.float64, copy=False)


def forward(model: Model, ids: Sequence[int], start_pos: int = 0,
            rope_style: Optional[str] = None,
            kv_transform: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """Return float64 logits of shape (len(ids), vocab) for every position.

    The whole sequence is processed at once with a causal mask.  Positions are
    start_pos, start_pos+1, ... (start_pos != 0 only makes sense for testing
    RoPE offsets; there is no cache, so earlier tokens are simply absent).
    rope_style: None (the model's own: interleaved for llama files, neox for qwen2/qwen3),
    or "interleaved"/"neox" to force one (diagnostics).
    kv_transform: applied to K (after RoPE) and V, each (T, n_kv_heads, head_size),
    before attention reads them: what a K/V cache stores (fp8_kv_greedy.py).
    """
    cfg = model.config
    rope = {"interleaved": apply_rope_interleaved, "neox": apply_rope_neox}[rope_style or cfg.rope_style]
    T = len(ids)
    hs = cfg.head_size
    nh, nkv = cfg.n_heads, cfg.n_kv_heads
    group = nh // nkv
    ids = np.asarray(ids, dtype=np.int64)

    x = _f64(model.tok_embeddings[ids]).copy()  # (T, dim)
    if cfg.gemma:
        x *= np.sqrt(cfg.dim)
    cos, sin = rope_tables(np.arange(start_pos, start_pos + T), hs, cfg.rope_theta, cfg.rope_freq_factors)
    cos, sin = cos * cfg.rope_mscale, sin * cfg.rope_mscale
    mask = np.triu(np.full((T, T), -np.inf), k=1)  # (Tq, Tk): -inf above diagonal
    scale = 1.0 / np.sqrt(cfg.query_scale_base or hs)

    pos = np.arange(start_pos, start_pos + T)
    local_cos, local_sin = (rope_tables(pos, hs, cfg.local_rope_theta) if cfg.local_rope_theta else (cos, sin))
    for li, layer in enumerate(model.layers):
        layer_mask = mask
        w = cfg.sliding_window
        n = cfg.sliding_window_pattern
        sliding = bool(w or cfg.attn_chunk) and (not n or li % n < n - 1)
        if sliding and cfg.attn_chunk:
            # Llama 4: keys before the query's chunk start leave.
            c = int(cfg.attn_chunk)
            layer_mask = mask + np.where(pos[None, :] < (pos[:, None] // c) * c, -np.inf, 0.0)
        elif sliding:
            # Keys at or before query position - w leave the window.
            layer_mask = mask + np.where(pos[None, :] <= pos[:, None] - int(w), -np.inf, 0.0)
        lcos, lsin = (local_cos, local_sin) if sliding and not cfg.attn_chunk else (cos, sin)
        use_rope = not cfg.no_rope_step or (li + 1) % cfg.no_rope_step != 0
        # --- attention ---
        h = rmsnorm(x, layer.attn_norm, cfg.norm_eps)
        q = h @ _f64(layer.wq).T
        k = h @ _f64(layer.wk).T
        v = h @ _f64(layer.wv).T
        if layer.bq is not None:
            q, k, v = q + _f64(layer.bq), k + _f64(layer.bk), v + _f64(layer.bv)
        q, k, v = q.reshape(T, nh, hs), k.reshape(T, nkv, hs), v.reshape(T, nkv, hs)
        if layer.q_norm is not None:
            q = rmsnorm(q, layer.q_norm, cfg.norm_eps)
            k = rmsnorm(k, layer.k_norm, cfg.norm_eps)
        if use_rope:
            q = rope(q, lcos, lsin)
            k = rope(k, lcos, lsin)
            if cfg.qk_l2_norm:
                q = rmsnorm(q, np.ones(hs), cfg.norm_eps)
                k = rmsnorm(k, np.ones(hs), cfg.norm_eps)
        elif cfg.attn_temp_floor:
            # llama.cpp: log(floor((pos + 1) / floor_scale) + 1) * scale + 1 on the queries.
            temp = np.log(np.floor((pos + 1.0) / cfg.attn_temp_floor) + 1.0) * cfg.attn_temp_scale + 1.0
            q = q * temp[:, None, None]
        if kv_transform is not None:
            k, v = kv_transform(k), kv_transform(v)
        att_out = np.empty((T, nh, hs))
        for hq in range(nh):
            kvh = hq // group
            scores = (q[:, hq, :] @ k[:, kvh, :].T) * scale
            if cfg.attn_softcap:
                scores = cfg.attn_softcap * np.tanh(scores / cfg.attn_softcap)
            scores = scores + layer_mask  # (T, T)
            if layer.sinks is not None:
                # gpt-oss: the head's sink logit joins the normalisation, with no value.
                sink = float(layer.sinks[hq])
                m = np.maximum(scores.max(axis=-1, keepdims=True), sink)
                p = np.exp(scores - m)
                p /= p.sum(axis=-1, keepdims=True) + np.exp(sink - m)
            else:
                scores = scores - scores.max(axis=-1, keepdims=True)
                p = np.exp(scores)
                p /= p.sum(axis=-1, keepdims=True)
            att_out[:, hq, :] = p @ v[:, kvh, :]
        a = att_out.reshape(T, nh * hs) @ _f64(layer.wo).T
        if layer.bo is not None:
            a = a + _f64(layer.bo)
        if layer.post_attn_norm is not None:
            a = rmsnorm(a, layer.post_attn_norm, cfg.norm_eps)
        x = x + a
        # --- feed-forward (SwiGLU; GeGLU for Gemma) ---
        h = rmsnorm(x, layer.ffn_norm, cfg.norm_eps)
        if layer.router is not None:
            f = moe_ffn(cfg, layer, h)
        else:
            g = h @ _f64(layer.w1).T
            u = h @ _f64(layer.w3).T
            f = ((gelu_tanh(g) if cfg.gemma else silu(g)) * u) @ _f64(layer.w2).T
        if layer.post_ffn_norm is not None:
            f = rmsnorm(f, layer.post_ffn_norm, cfg.norm_eps)
        x = x + f

    x = rmsnorm(x, model.final_norm, cfg.norm_eps)
    logits = x @ _f64(model.wcls).T
    if cfg.final_softcap:
        logits = cfg.final_softcap * np.tanh(logits / cfg.final_softcap)
    return logits


def moe_route(cfg: Config, layer: Layer, h: np.ndarray):
    """Per token: the chosen experts (most probable first) and their weights, and the router's
    probabilities (T, n_experts)."""
    scores = h @ _f64(layer.router).T
    if layer.router_b is not None:
        scores = scores + _f64(layer.router_b)
    if cfg.expert_gating == "sigmoid":
        p = 1.0 / (1.0 + np.exp(-scores))
    else:
        p = np.exp(scores - scores.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
    chosen = np.argsort(-p, axis=-1, kind="stable")[:, :cfg.n_experts_used]
    w = np.take_along_axis(p, chosen, axis=-1)
    if cfg.expert_norm:
        w = w / w.sum(axis=-1, keepdims=True)
    return chosen, w, p


def moe_ffn(cfg: Config, layer: Layer, h: np.ndarray) -> np.ndarray:
    """The mixture-of-experts FFN of (T, dim) normalised hidden states: each token through its
    chosen SwiGLU experts, weighted and summed, plus the shared expert where there is one."""
    chosen, w, _ = moe_route(cfg, layer, h)
    out = np.zeros_like(h)
    for t in range(h.shape[0]):
        for e, wt in zip(chosen[t], w[t]):
            # Llama 4 scales the expert's input by its weight, the others its output.
            xin = h[t] * wt if cfg.expert_weight_before else h[t]
            g = _f64(layer.exp_gate[e]) @ xin
            u = _f64(layer.exp_up[e]) @ xin
            if layer.exp_gate_b is not None:
                g, u = g + _f64(layer.exp_gate_b[e]), u + _f64(layer.exp_up_b[e])
            if cfg.expert_act == "swiglu_oai":
                # llama.cpp's ggml_swiglu_oai, alpha 1.702, limit 7.
                g = np.minimum(g, 7.0)
                a = g / (1.0 + np.exp(-1.702 * g)) * (np.clip(u, -7.0, 7.0) + 1.0)
            else:
                a = silu(g) * u
            d = _f64(layer.exp_down[e]) @ a
            if layer.exp_down_b is not None:
                d = d + _f64(layer.exp_down_b[e])
            out[t] += d if cfg.expert_weight_before else wt * d
    if layer.sh_gate is not None:
        s = (silu(h @ _f64(layer.sh_gate).T) * (h @ _f64(layer.sh_up).T)) @ _f64(layer.sh_down).T
        if layer.sh_gate_inp is not None:
            s = s * (1.0 / (1.0 + np.exp(-(h @ _f64(layer.sh_gate_inp)))))[:, None]
        out += s
    return out


def mean_nll(logits: np.ndarray, ids: Sequence[int]) -> float:
    """Mean next-token negative log-likelihood of ids[1:] given logits (T, V)."""
    lg = logits[:-1]
    tgt = np.asarray(ids[1:])
    mx = lg.max(axis=1, keepdims=True)
    lse = np.log(np.exp(lg - mx).sum(axis=1)) + mx[:, 0]
    return float(np.mean(lse - lg[np.arange(len(tgt)), tgt]))


def greedy(model: Model, prompt_ids: Sequence[int], n_new: int,
           stop_ids: Optional[Sequence[int]] = None,
           kv_transform: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> List[int]:
    """Greedy (argmax) continuation; returns only the new ids.

    Ties are broken by the lowest id (numpy argmax).  Recomputes the full
    forward pass for every new token (simple and cache-free).
    """
    ids = list(prompt_ids)
    out: List[int] = []
    for _ in range(n_new):
        logits = forward(model, ids, kv_transform=kv_transform)[-1]
        nxt = int(np.argmax(logits))
        out.append(nxt)
        ids.append(nxt)
        if stop_ids is not None and nxt in stop_ids:
            break
    return out


# ---------------------------------------------------------------------------
# llama2.c tokenizer (tok512.bin)
# ---------------------------------------------------------------------------

class Llama2cTokenizer:
    """tok512.bin: int32 max_token_length, then per token (float32 score,
    int32 len, bytes).  Ids 0,1,2 are <unk>, <s> (BOS), </s> (EOS); ids 3..258
    are the byte-fallback pieces '<0x00>'..'<0xFF>'."""

    BOS = 1
    EOS = 2

    def __init__(self, path: str, vocab_size: Optional[int] = None):
        with open(path, "rb") as f:
            raw = f.read()
        (self.max_token_length,) = struct.unpack_from("<i", raw, 0)
        off = 4
        self.pieces: List[bytes] = []
        self.scores: List[float] = []
        while off < len(raw) and (vocab_size is None or len(self.pieces) < vocab_size):
            score, n = struct.unpack_from("<fi", raw, off)
            off += 8
            self.pieces.append(raw[off:off + n])
            off += n
            self.scores.append(score)
        self.lookup: Dict[bytes, int] = {}
        for i, p in enumerate(self.pieces):
            self.lookup.setdefault(p, i)  # first occurrence wins (like a sorted bsearch on unique strings)

    @property
    def vocab_size(self) -> int:
        return len(self.pieces)

    @staticmethod
    def _raw_byte(piece: bytes) -> Optional[int]:
        # '<0xXX>' (exactly 6 bytes, hex digits) means a single raw byte
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            try:
                return int(piece[3:5], 16)
            except ValueError:
                return None
        return None

    def decode_piece(self, prev_token: int, token: int) -> bytes:
        """llama2.c decode(): strip a leading space after BOS; '<0xXX>' -> byte."""
        piece = self.pieces[token]
        if prev_token == self.BOS and piece.startswith(b" "):
            piece = piece[1:]
        b = self._raw_byte(piece)
        if b is not None:
            return bytes([b])
        return piece

    def decode(self, ids: Sequence[int], prev_token: int = BOS) -> str:
        """Concatenate decoded pieces (starting with prev_token as the token
        before ids[0]) and decode the bytes as UTF-8 (invalid -> U+FFFD)."""
        out = bytearray()
        prev = prev_token
        for t in ids:
            out += self.decode_piece(prev, t)
            prev = t
        return out.decode("utf-8", errors="replace")

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> List[int]:
        """Re-implementation of llama2.c's encode() semantics."""
        tokens: List[int] = []
        if bos:
            tokens.append(self.BOS)
        data = text.encode("utf-8")
        if len(data) > 0:
            tokens.append(self.lookup[b" "])  # dummy prefix
        # one token per UTF-8 character, byte fallback = byte + 3
        i = 0
        while i < len(data):
            j = i + 1
            while j < len(data) and (data[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            ch = data[i:j]
            tid = self.lookup.get(ch)
            if tid is not None:
                tokens.append(tid)
            else:
                tokens.extend(b + 3 for b in ch)
            i = j
        # greedy merges: best score among adjacent pairs whose concatenation is a token
        while True:
            best_score, best_id, best_idx = -1e10, -1, -1
            start = 1 if bos else 0
            for k in range(start, len(tokens) - 1):
                merged = self.pieces[tokens[k]] + self.pieces[tokens[k + 1]]
                tid = self.lookup.get(merged)
                if tid is not None and self.scores[tid] > best_score:
                    best_score, best_id, best_idx = self.scores[tid], tid, k
            if best_idx == -1:
                break
            tokens[best_idx:best_idx + 2] = [best_id]
        if eos:
            tokens.append(self.EOS)
        return tokens


# ---------------------------------------------------------------------------
# Byte-level BPE (GPT-2 style) as used by llama.cpp for tokenizer.ggml.model
# == "gpt2" with tokenizer.ggml.pre == "smollm".  Used only to cross-check the
# HF `tokenizers` pipeline that generates the fixtures.
# ---------------------------------------------------------------------------

# llama.cpp (src/llama-vocab.cpp, llm_tokenizer_bpe) applies these regexes one
# after another for LLAMA_VOCAB_PRE_TYPE_SMOLLM (shared with STARCODER,
# REFACT, COMMAND_R, CODESHELL, EXAONE, ...): every later regex splits the
# pieces produced by the earlier one; unmatched gaps are kept as pieces.
SMOLLM_PRE_REGEXES = [
    r"\p{N}",
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)",
]


def gpt2_bytes_to_unicode() -> Dict[int, str]:
    """The GPT-2 reversible byte -> printable-unicode-char table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table = {}
    extra = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def regex_split_keep_gaps(pattern, text: str) -> List[str]:
    """Split text into matches of pattern and the (non-empty) gaps between them."""
    out = []
    last = 0
    for m in pattern.finditer(text):
        if m.start() > last:
            out.append(text[last:m.start()])
        if m.end() > m.start():
            out.append(m.group(0))
        last = m.end()
    if last < len(text):
        out.append(text[last:])
    return out


class ByteLevelBPE:
    def __init__(self, tokens: Sequence[str], merges: Sequence[str], special_ids: Sequence[int],
                 pre_regexes: Sequence[str] = tuple(SMOLLM_PRE_REGEXES)):
        import regex  # the third-party `regex` module (supports \p{..})

        self.tokens = list(tokens)
        self.vocab = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {}
        for r, m in enumerate(merges):
            a, b = m.split(" ")
            self.ranks[(a, b)] = r
        self.byte_enc = gpt2_bytes_to_unicode()
        self.byte_dec = {c: b for b, c in self.byte_enc.items()}
        self.special = {self.tokens[i]: i for i in special_ids}
        alts = sorted(self.special, key=len, reverse=True)
        self.special_re = regex.compile("|".join(regex.escape(s) for s in alts)) if alts else None
        # The regex llama.cpp runs for the GPT-2 expression is a hand-written
        # matcher equivalent to HF's `...|\s+(?!\S)|\s+`; add the trailing
        # `|\s+` so Python's engine handles whitespace at the very end too.
        pats = []
        for p in pre_regexes:
            if p.endswith(r"\s+(?!\S)"):
                p = p + r"|\s+"
            pats.append(regex.compile(p))
        self.pre = pats

    def pre_tokenize(self, text: str) -> List[str]:
        pieces = [text]
        for pat in self.pre:
            nxt = []
            for p in pieces:
                nxt.extend(regex_split_keep_gaps(pat, p))
            pieces = nxt
        return pieces

    def _bpe(self, word: str) -> List[int]:
        parts = [self.byte_enc[b] for b in word.encode("utf-8")]
        while len(parts) > 1:
            best, best_i = None, -1
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, best_i = r, i
            if best is None:
                break
            parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
        return [self.vocab[p] for p in parts]

    def encode(self, text: str) -> List[int]:
        ids: List[int] = []
        chunks = regex_split_keep_gaps(self.special_re, text) if self.special_re else [text]
        for chunk in chunks:
            if chunk in self.special:
                ids.append(self.special[chunk])
                continue
            for w in self.pre_tokenize(chunk):
                ids.extend(self._bpe(w))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in self.special:
                out += t.encode("utf-8")
            else:
                out += bytes(self.byte_dec[c] for c in t)
        return out.decode("utf-8", errors="replace")
