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

  phi3longrope (`--longrope`): phi3 with LongRoPE, original context 64 of 256: the long
         divisors and the attention factor sqrt(1 + ln 4 / ln 64).
  mixtral_q4k (`--kquant-moe`): Mixtral's layout at width 256 (K-quant rows are whole 256-value
         super-blocks) with every expert matrix stored as Q4_K (random super-blocks with sane
         scales, make_kquant_fixture.sane_blocks), 4 experts, 2 per token.

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
          layers=2, softcaps=None, experts=None, shared=0, name=None, hf=True, yarn=None, moe_step=1, longrope=None,
          dim=64, expert_type=None):
    """experts: (count, used, expert FFN width) for a mixture of experts in place of the dense
    FFN (stacked ffn_*_exps tensors and the ffn_gate_inp router, as llama.cpp lays them out);
    shared: a shared expert's FFN width, with its sigmoid gate (qwen2moe). expert_type: a GGML
    quantisation type name (Q4_K) the stacked expert matrices are stored in."""
    import gguf
    hidden, heads, kv, vocab, ctx, theta = 128, 4, 2, 96, 256, 1000000.0
    name = name or arch
    hs = head_dim or dim // heads
    path = os.path.join(OUT, f"family_{name}.gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_embedding_length(dim)
    # Mixtral (llama with experts) keeps each expert's width in feed_forward_length.
    w.add_feed_forward_length(experts[2] if experts and arch == "llama" else hidden)
    w.add_block_count(layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_context_length(ctx)
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(vocab)
    if window:
        w.add_sliding_window(window)
    if yarn:
        import gguf as g
        w.add_rope_scaling_type(g.RopeScalingType.YARN)
        w.add_rope_scaling_factor(yarn[0])
        w.add_rope_scaling_orig_ctx_len(yarn[1])
    if longrope:
        # Phi-3 128k's LongRoPE as llama.cpp's converter writes it: the original context, the
        # attention factor and one divisor per pair for short and for long contexts.
        w.add_rope_scaling_orig_ctx_len(longrope)
        w.add_float32(f"{arch}.rope.scaling.attn_factor", L.longrope_mscale(ctx, longrope))
    if experts:
        w.add_expert_count(experts[0])
        w.add_expert_used_count(experts[1])
        if arch != "llama":
            w.add_expert_feed_forward_length(experts[2])
    if shared and arch == "qwen2moe":
        w.add_expert_shared_feed_forward_length(shared)
    if arch == "llama4":
        w.add_interleave_moe_layer_step(moe_step)
    if softcaps:
        w.add_float32(f"{arch}.attn_logit_softcapping", softcaps[0])
        w.add_float32(f"{arch}.final_logit_softcapping", softcaps[1])
    if head_dim:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_tokenizer_model("gpt2")
    # llama.cpp knows no "gpt2" pre-tokenizer; the MoE fixtures, which llama.cpp also runs
    # (bench/moe_llamacpp.py), name Qwen's.
    w.add_tokenizer_pre("qwen2" if experts or longrope else "gpt2")  # qwen2: one llama.cpp loads
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
        # gpt-oss calls the FFN's input norm post_attention_norm.
        t(p + ("post_attention_norm.weight" if arch == "gpt-oss" else "ffn_norm.weight"), (dim,), 0.1, 1.0)
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
        if arch == "gpt-oss":
            # Attention output bias and one sink logit per head (sizable, so they bite).
            t(p + "attn_output.bias", (dim,), 0.5)
            t(p + "attn_sinks.weight", (heads,), 1.0, 1.0)
        if experts and (l + 1) % moe_step == 0:
            n, _, eh = experts
            # A larger router spread keeps the top-k choice clear of near-ties; Llama 4's sigmoid
            # weights scale the expert input, so there a smaller one keeps them away from 1.
            t(p + "ffn_gate_inp.weight", (n, dim), 0.1 if arch == "llama4" else 0.6)
            if arch == "gpt-oss":
                t(p + "ffn_gate_inp.bias", (n,), 0.3)
                t(p + "ffn_gate_exps.bias", (n, eh), 0.5)
                # Up biases near -1 and gate values past the clamp exercise both limits.
                t(p + "ffn_up_exps.bias", (n, eh), 3.0)
                t(p + "ffn_down_exps.bias", (n, dim), 0.3)
            if expert_type:
                import make_kquant_fixture as K
                for tname, rows, cols in (("ffn_gate_exps", eh, dim), ("ffn_up_exps", eh, dim), ("ffn_down_exps", dim, eh)):
                    blocks = K.sane_blocks(rng, expert_type, n * rows, cols, 0.6)
                    w.add_tensor(p + tname + ".weight", blocks.reshape(n, rows, -1), raw_dtype=K.qtype(expert_type))
            else:
                t(p + "ffn_gate_exps.weight", (n, eh, dim))
                t(p + "ffn_up_exps.weight", (n, eh, dim))
                t(p + "ffn_down_exps.weight", (n, dim, eh))
            if shared:
                t(p + "ffn_gate_shexp.weight", (shared, dim))
                t(p + "ffn_up_shexp.weight", (shared, dim))
                t(p + "ffn_down_shexp.weight", (dim, shared))
                if arch == "qwen2moe":
                    t(p + "ffn_gate_inp_shexp.weight", (dim,), 0.3)
        elif fused:
            t(p + "ffn_up.weight", (2 * hidden, dim))
        else:
            t(p + "ffn_gate.weight", (hidden, dim))
            t(p + "ffn_up.weight", (hidden, dim))
        if not (experts and (l + 1) % moe_step == 0):
            t(p + "ffn_down.weight", (dim, hidden))
    if not tied:
        t("output.weight", (vocab, dim))
    if longrope:
        # Long divisors 1-8 (slower rotation for long contexts), short ones near 1.
        w.add_tensor("rope_factors_long.weight", (1 + 7 * rng.random(hs // 2) ** 2).astype(np.float32))
        w.add_tensor("rope_factors_short.weight", (1 + 0.2 * rng.random(hs // 2)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    if hf:
        write_hf(arch, path, hs, biases, qk_norm, tied, window, softcaps, name=name, longrope=longrope)
    model = L.load_gguf(path)
    own_rope = "interleaved" if arch in ("llama", "llama4") else "neox"
    assert model.config.rope_style == own_rope and model.config.head_size == hs
    # The third prompt runs past phi3's sliding window (64) and gemma2's (16).
    prompts = [[int(x) for x in rng.integers(0, vocab, size=n)] for n in (9, 40, 100)]
    if experts:
        prompts = _clear_routing_prompts(model, seed, vocab)
    if experts:
        margin, logits = _router_margin(model, prompts)
    else:
        logits = [L.forward(model, ids)[-1] for ids in prompts]
    # What a pass without the family's difference would get (biases/norms dropped, or the
    # other RoPE layout): the fixture must be able to tell them apart.
    wrong = L.forward(model, prompts[1], rope_style="neox" if own_rope == "interleaved" else "interleaved")[-1]
    gap = float(np.abs(wrong - logits[1]).max())
    assert gap > 0.1, gap
    if window:
        window_gap = float(np.abs(_without_window(model, prompts[2]) - logits[2]).max())
        assert window_gap > 0.1, window_gap
    if longrope:
        # Without the long divisors and the attention factor the logits move: the test can tell.
        import copy
        for what in ("factors", "mscale"):
            m = copy.deepcopy(model)
            if what == "factors":
                m.config.rope_freq_factors = None
            else:
                m.config.rope_mscale = 1.0
            g = float(np.abs(L.forward(m, prompts[2])[-1] - logits[2]).max())
            assert g > 0.05, (what, g)
    local = {}
    if arch == "llama4":
        # Chunks of 8192 and a temperature floor of 8192 do not bite inside 256 positions: the
        # same model with chunks of 16 and a floor of 16 (the Swift test sets the same).
        import copy
        m = copy.deepcopy(model)
        m.config.attn_chunk, m.config.attn_temp_floor = 16, 16
        local = {"local16_last_logits": [float(x) for x in L.forward(m, prompts[2])[-1]]}
        gap16 = float(np.abs(np.asarray(local["local16_last_logits"]) - logits[2]).max())
        assert gap16 > 0.1, gap16
        for what in ("qk_l2_norm", "no_rope_step", "expert_weight_before"):
            m = copy.deepcopy(model)
            setattr(m.config, what, None if what == "no_rope_step" else False)
            g = float(np.abs(L.forward(m, prompts[1])[-1] - logits[1]).max())
            assert g > 0.05, (what, g)
    if arch == "gpt-oss":
        # Each of gpt-oss's differences moves the logits: a pass without it would be caught.
        import copy
        for what in ("sinks", "bo", "exp_down_b", "act", "mscale"):
            m = copy.deepcopy(model)
            if what == "act":
                m.config.expert_act = "swiglu"
            elif what == "mscale":
                m.config.rope_mscale = 1.0
            else:
                for lay in m.layers:
                    setattr(lay, what, None)
            g = float(np.abs(L.forward(m, prompts[1])[-1] - logits[1]).max())
            assert g > 0.05, (what, g)
    with open(os.path.join(OUT, f"family_{name}.json"), "w") as f:
        json.dump({
            "made_by": "tools/reference/make_family_fixtures.py",
            "prompts": prompts,
            "last_logits": [[float(x) for x in lg] for lg in logits],
            "gap_with_llama_rope": gap,
            **({"min_router_margin": margin} if experts else {}),
            **local,
        }, f)
    print("wrote", path, "gap with the llama RoPE layout", round(gap, 3))


def _router_margin(model, prompts):
    """The smallest gap, over every token and MoE layer, between the k-th and (k+1)-th router
    scores (log-probabilities)."""
    margins = []
    route = L.moe_route

    def recording(cfg, layer, h):
        chosen, wts, prob = route(cfg, layer, h)
        # Softmax: the gap in log-probability is the gap in score; sigmoid saturates, so the
        # scores themselves.
        score = h @ layer.router.astype(np.float64).T if cfg.expert_gating == "sigmoid" else np.log(prob)
        ps = -np.sort(-score, axis=-1)
        margins.append(float((ps[:, cfg.n_experts_used - 1] - ps[:, cfg.n_experts_used]).min()))
        return chosen, wts, prob
    L.moe_route = recording
    try:
        logits = [L.forward(model, ids)[-1] for ids in prompts]
    finally:
        L.moe_route = route
    return min(margins), logits


def _clear_routing_prompts(model, seed, vocab, threshold=2e-4):
    """Prompts (9, 40 and 100 tokens) whose routing has no near-tie: float32 rounding in the
    engine moves router scores by about 1e-5, so a tie closer than `threshold` could pick
    another expert than the reference."""
    for attempt in range(200):
        r = np.random.default_rng(seed * 1000 + attempt)
        prompts = [[int(x) for x in r.integers(0, vocab, size=n)] for n in (9, 40, 100)]
        if _router_margin(model, prompts)[0] > threshold:
            return prompts
    raise SystemExit("no prompts without router near-ties; change the seed")


def _without_window(model, ids):
    w = model.config.sliding_window
    model.config.sliding_window = None
    try:
        return L.forward(model, ids)[-1]
    finally:
        model.config.sliding_window = w


def write_hf(arch, gguf_path, hs, biases, qk_norm, tied, window, softcaps=None, name=None, longrope=None):
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
    # Qwen MoE: mlp.gate routes, one tensor per expert, the shared expert and its (1, dim) gate.
    per_layer.update({"ffn_gate_inp.weight": "mlp.gate.weight", "ffn_gate_shexp.weight": "mlp.shared_expert.gate_proj.weight",
                      "ffn_up_shexp.weight": "mlp.shared_expert.up_proj.weight",
                      "ffn_down_shexp.weight": "mlp.shared_expert.down_proj.weight"})
    stacked = {"ffn_gate_exps.weight": "gate_proj", "ffn_up_exps.weight": "up_proj", "ffn_down_exps.weight": "down_proj"}
    expert_prefix = "mlp.experts"
    if arch == "llama":
        # Mixtral: block_sparse_moe.gate routes, experts' w1 (gate), w3 (up), w2 (down); and
        # Hugging Face's Q/K rows, which llama.cpp's converter permuted for adjacent-pair RoPE.
        per_layer["ffn_gate_inp.weight"] = "block_sparse_moe.gate.weight"
        stacked = {"ffn_gate_exps.weight": "w1", "ffn_up_exps.weight": "w3", "ffn_down_exps.weight": "w2"}
        expert_prefix = "block_sparse_moe.experts"
        heads, kv_heads = int(f["llama.attention.head_count"]), int(f["llama.attention.head_count_kv"])

        def unpermute(w, n):
            return w.reshape(n, hs // 2, 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)
        tensors = {k: unpermute(v, heads) if k.endswith("attn_q.weight") else unpermute(v, kv_heads) if k.endswith("attn_k.weight") else v
                   for k, v in tensors.items()}
    hf = {}
    for tname, a in tensors.items():
        if tname in names:
            hf[names[tname]] = a
            continue
        if tname.startswith("rope_factors_"):  # LongRoPE: in config.json's rope_scaling
            continue
        _, l, rest = tname.split(".", 2)
        if rest in stacked:
            for e in range(a.shape[0]):
                hf[f"model.layers.{l}.{expert_prefix}.{e}.{stacked[rest]}.weight"] = a[e]
        elif rest == "ffn_gate_inp_shexp.weight":
            hf[f"model.layers.{l}.mlp.shared_expert_gate.weight"] = a.reshape(1, -1)
        else:
            hf[f"model.layers.{l}.{per_layer[rest]}"] = a
    d = os.path.join(OUT, f"family_{name or arch}_hf")
    os.makedirs(d, exist_ok=True)
    # safetensors: u64 header length, JSON header, raw little-endian data.
    _write_safetensors(os.path.join(d, "model.safetensors"), hf)
    p = arch
    config = {
        "architectures": [{"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "phi3": "Phi3ForCausalLM",
                           "gemma2": "Gemma2ForCausalLM", "gemma3": "Gemma3ForCausalLM",
                           "qwen2moe": "Qwen2MoeForCausalLM", "qwen3moe": "Qwen3MoeForCausalLM",
                           "llama": "MixtralForCausalLM"}[arch]],
        "model_type": {"gemma3": "gemma3_text", "qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "llama": "mixtral"}.get(arch, arch),
        "hidden_size": int(f[f"{p}.embedding_length"]), "intermediate_size": int(f.get(f"{p}.feed_forward_length", 0)),
        "num_hidden_layers": int(f[f"{p}.block_count"]), "num_attention_heads": int(f[f"{p}.attention.head_count"]),
        "num_key_value_heads": int(f[f"{p}.attention.head_count_kv"]), "head_dim": hs,
        "vocab_size": len(r.fields["tokenizer.ggml.tokens"].data), "max_position_embeddings": int(f[f"{p}.context_length"]),
        "rope_theta": float(f[f"{p}.rope.freq_base"]), "rms_norm_eps": float(f[f"{p}.attention.layer_norm_rms_epsilon"]),
        "tie_word_embeddings": tied, "use_sliding_window": window is not None, "sliding_window": window or 4096,
        "attention_bias": bool(biases), "rope_scaling": None,
    }
    if longrope:
        t = {x.name: np.asarray(x.data, dtype=np.float64).reshape(-1) for x in r.tensors if x.name.startswith("rope_factors_")}
        config["original_max_position_embeddings"] = longrope
        config["rope_scaling"] = {"type": "longrope", "long_factor": [float(v) for v in t["rope_factors_long.weight"]],
                                  "short_factor": [float(v) for v in t["rope_factors_short.weight"]]}
    if arch == "llama" and f"{p}.expert_count" in f:
        config.update({"num_local_experts": int(f[f"{p}.expert_count"]), "num_experts_per_tok": int(f[f"{p}.expert_used_count"])})
    if arch.endswith("moe"):
        config.update({"num_experts": int(f[f"{p}.expert_count"]), "num_experts_per_tok": int(f[f"{p}.expert_used_count"]),
                       "moe_intermediate_size": int(f[f"{p}.expert_feed_forward_length"]),
                       "norm_topk_prob": arch == "qwen3moe", "decoder_sparse_step": 1, "mlp_only_layers": []})
        if arch == "qwen2moe":
            config["shared_expert_intermediate_size"] = int(f[f"{p}.expert_shared_feed_forward_length"])
    if arch == "gemma2":
        config.update({"hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": hs,
                       "attn_logit_softcapping": softcaps[0], "final_logit_softcapping": softcaps[1]})
    if arch == "gemma3":
        config.update({"hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": hs,
                       "sliding_window_pattern": 6, "rope_local_base_freq": 10000.0})
    with open(os.path.join(d, "config.json"), "w") as out:
        json.dump(config, out, indent=1)
    _write_tokenizer_json(r, d)


def _write_safetensors(path, tensors):
    """A safetensors file: u64 header length, the JSON header, raw little-endian data; uint8
    arrays as U8, everything else as F32."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        dt = "U8" if a.dtype == np.uint8 else "F32"
        b = a.tobytes() if dt == "U8" else a.astype("<f4").tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as out:
        out.write(len(hb).to_bytes(8, "little") + hb + b"".join(blobs))


def _write_tokenizer_json(r, d):
    """tokenizer.json of the GGUF reader `r`'s byte-level vocabulary, into folder `d`."""
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


FP4_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def mxfp4_blocks(w):
    """(..., rows, cols) float → OpenAI's MXFP4 checkpoint layout: `blocks` (..., rows, cols/32, 16)
    uint8, two E2M1 codes per byte (the even column in the low nibble), and `scales`
    (..., rows, cols/32) uint8 E8M0 (value 2^(s - 127)); plus the values the codes stand for."""
    b = w.reshape(*w.shape[:-1], w.shape[-1] // 32, 32).astype(np.float64)
    amax = np.abs(b).max(axis=-1, keepdims=True)
    # The smallest power of two that brings the block's largest value to 6 or below.
    exp = np.ceil(np.log2(np.maximum(amax, 1e-30) / 6.0))
    scaled = b / 2.0 ** exp
    codes = np.abs(scaled[..., None] - FP4_VALUES).argmin(axis=-1).astype(np.uint8)
    values = FP4_VALUES[codes] * 2.0 ** exp
    blocks = (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)
    scales = (exp[..., 0] + 127).astype(np.uint8)
    return blocks, scales, values.reshape(w.shape)


def write_gptoss_hf():
    """gpt-oss as OpenAI ships it on Hugging Face, from the gptoss GGUF fixture: experts in MXFP4
    (`*_blocks` and `*_scales`), gate and up interleaved row by row in `gate_up_proj`, biases beside
    them, the router as `mlp.router`, sinks as `self_attn.sinks`, YaRN without truncation
    (`truncate: false`). Writes family_gptoss_hf/ and the NumPy logits of the model the codes
    stand for (expected.json there)."""
    import copy
    import gguf
    path = os.path.join(OUT, "family_gptoss.gguf")
    r = gguf.GGUFReader(path)
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("tokenizer.ggml.token")}
    t = {x.name: np.asarray(x.data, dtype=np.float32).reshape(tuple(int(y) for y in reversed(x.shape))) for x in r.tensors}
    model = L.load_gguf(path)
    cfg = model.config
    hf = {"model.embed_tokens.weight": t["token_embd.weight"], "model.norm.weight": t["output_norm.weight"],
          "lm_head.weight": t["output.weight"]}
    proj = {"attn_q": "q_proj", "attn_k": "k_proj", "attn_v": "v_proj", "attn_output": "o_proj"}
    for l, lay in enumerate(model.layers):
        p, q = f"blk.{l}.", f"model.layers.{l}."
        hf[q + "input_layernorm.weight"] = t[p + "attn_norm.weight"]
        hf[q + "post_attention_layernorm.weight"] = t[p + "post_attention_norm.weight"]
        for g, h in proj.items():
            hf[q + f"self_attn.{h}.weight"] = t[p + g + ".weight"]
            hf[q + f"self_attn.{h}.bias"] = t[p + g + ".bias"]
        hf[q + "self_attn.sinks"] = t[p + "attn_sinks.weight"]
        hf[q + "mlp.router.weight"] = t[p + "ffn_gate_inp.weight"]
        hf[q + "mlp.router.bias"] = t[p + "ffn_gate_inp.bias"]
        gate, up, down = t[p + "ffn_gate_exps.weight"], t[p + "ffn_up_exps.weight"], t[p + "ffn_down_exps.weight"]
        n, ff, dim = gate.shape
        gate_up = np.empty((n, 2 * ff, dim), dtype=np.float32)
        gate_up[:, 0::2], gate_up[:, 1::2] = gate, up
        blocks, scales, values = mxfp4_blocks(gate_up)
        hf[q + "mlp.experts.gate_up_proj_blocks"], hf[q + "mlp.experts.gate_up_proj_scales"] = blocks, scales
        lay.exp_gate, lay.exp_up = values[:, 0::2].astype(np.float32), values[:, 1::2].astype(np.float32)
        blocks, scales, values = mxfp4_blocks(down)
        hf[q + "mlp.experts.down_proj_blocks"], hf[q + "mlp.experts.down_proj_scales"] = blocks, scales
        lay.exp_down = values.astype(np.float32)
        bias = np.empty((n, 2 * ff), dtype=np.float32)
        bias[:, 0::2], bias[:, 1::2] = t[p + "ffn_gate_exps.bias"], t[p + "ffn_up_exps.bias"]
        hf[q + "mlp.experts.gate_up_proj_bias"] = bias
        hf[q + "mlp.experts.down_proj_bias"] = t[p + "ffn_down_exps.bias"]
    # Hugging Face's YaRN for gpt-oss does not truncate the correction range (llama.cpp does).
    cfg.rope_freq_factors = L.yarn_rope_factors(cfg.head_size, cfg.rope_theta, 4.0, 32, truncate=False)
    d = os.path.join(OUT, "family_gptoss_hf")
    os.makedirs(d, exist_ok=True)
    _write_safetensors(os.path.join(d, "model.safetensors"), hf)
    p = "gpt-oss"
    layers = int(f[f"{p}.block_count"])
    config = {
        "architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss",
        "hidden_size": int(f[f"{p}.embedding_length"]), "intermediate_size": int(f[f"{p}.expert_feed_forward_length"]),
        "num_hidden_layers": layers, "num_attention_heads": int(f[f"{p}.attention.head_count"]),
        "num_key_value_heads": int(f[f"{p}.attention.head_count_kv"]), "head_dim": cfg.head_size,
        "num_local_experts": int(f[f"{p}.expert_count"]), "num_experts_per_tok": int(f[f"{p}.expert_used_count"]),
        "experts_per_token": int(f[f"{p}.expert_used_count"]),
        "vocab_size": len(r.fields["tokenizer.ggml.tokens"].data), "max_position_embeddings": int(f[f"{p}.context_length"]),
        "rope_theta": float(f[f"{p}.rope.freq_base"]), "rms_norm_eps": float(f[f"{p}.attention.layer_norm_rms_epsilon"]),
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                         "original_max_position_embeddings": 32},
        "sliding_window": int(f[f"{p}.attention.sliding_window"]),
        "layer_types": ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(layers)],
        "attention_bias": True, "swiglu_limit": 7.0, "tie_word_embeddings": False,
        "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]},
    }
    with open(os.path.join(d, "config.json"), "w") as out:
        json.dump(config, out, indent=1)
    _write_tokenizer_json(r, d)
    fx = json.load(open(os.path.join(OUT, "family_gptoss.json")))
    ids = fx["prompts"][1]
    logits = L.forward(model, ids)[-1]
    # The MXFP4 codes must matter: the GGUF's logits differ.
    gap = float(np.abs(logits - np.asarray(fx["last_logits"][1])).max())
    assert gap > 0.01, gap
    with open(os.path.join(d, "expected.json"), "w") as out:
        json.dump({"made_by": "tools/reference/make_family_fixtures.py --moe (write_gptoss_hf)", "ids": ids,
                   "last_logits": [float(x) for x in logits], "gap_to_the_gguf": gap}, out)
    print("wrote", d, "gap to the GGUF's logits", round(gap, 3))


def write_llama4_hf():
    """Llama 4 as Meta ships it on Hugging Face (Llama4ForConditionalGeneration, the text model
    under `language_model.`), from the llama4 GGUF fixture: experts fused and transposed
    (`experts.gate_up_proj` (experts, hidden, 2·width) with gate then up, `experts.down_proj`
    (experts, width, hidden)), `feed_forward.router`, `feed_forward.shared_expert`, dense layers'
    `feed_forward.*_proj`, Q/K in the GGUF's order (llama.cpp does not permute Llama 4), the text
    configuration under `text_config`. The same weights, so the GGUF's logits."""
    import gguf
    path = os.path.join(OUT, "family_llama4.gguf")
    r = gguf.GGUFReader(path)
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("tokenizer.ggml.token")}
    t = {x.name: np.asarray(x.data, dtype=np.float32).reshape(tuple(int(y) for y in reversed(x.shape))) for x in r.tensors}
    pre = "language_model.model."
    hf = {pre + "embed_tokens.weight": t["token_embd.weight"], pre + "norm.weight": t["output_norm.weight"],
          "language_model.lm_head.weight": t["output.weight"]}
    layers = int(f["llama4.block_count"])
    for l in range(layers):
        p, q = f"blk.{l}.", f"{pre}layers.{l}."
        hf[q + "input_layernorm.weight"] = t[p + "attn_norm.weight"]
        hf[q + "post_attention_layernorm.weight"] = t[p + "ffn_norm.weight"]
        for g, h in {"attn_q": "q_proj", "attn_k": "k_proj", "attn_v": "v_proj", "attn_output": "o_proj"}.items():
            hf[q + f"self_attn.{h}.weight"] = t[p + g + ".weight"]
        if p + "ffn_gate_exps.weight" in t:
            hf[q + "feed_forward.router.weight"] = t[p + "ffn_gate_inp.weight"]
            gate, up = t[p + "ffn_gate_exps.weight"], t[p + "ffn_up_exps.weight"]
            hf[q + "feed_forward.experts.gate_up_proj"] = np.concatenate([gate, up], axis=1).transpose(0, 2, 1).copy()
            hf[q + "feed_forward.experts.down_proj"] = t[p + "ffn_down_exps.weight"].transpose(0, 2, 1).copy()
            for g, h in {"ffn_gate_shexp": "gate_proj", "ffn_up_shexp": "up_proj", "ffn_down_shexp": "down_proj"}.items():
                hf[q + f"feed_forward.shared_expert.{h}.weight"] = t[p + g + ".weight"]
        else:
            for g, h in {"ffn_gate": "gate_proj", "ffn_up": "up_proj", "ffn_down": "down_proj"}.items():
                hf[q + f"feed_forward.{h}.weight"] = t[p + g + ".weight"]
    d = os.path.join(OUT, "family_llama4_hf")
    os.makedirs(d, exist_ok=True)
    _write_safetensors(os.path.join(d, "model.safetensors"), hf)
    p = "llama4"
    step = int(f[f"{p}.interleave_moe_layer_step"])
    text = {
        "model_type": "llama4_text", "hidden_size": int(f[f"{p}.embedding_length"]),
        "intermediate_size": int(f[f"{p}.expert_feed_forward_length"]), "intermediate_size_mlp": int(f[f"{p}.feed_forward_length"]),
        "num_hidden_layers": layers, "num_attention_heads": int(f[f"{p}.attention.head_count"]),
        "num_key_value_heads": int(f[f"{p}.attention.head_count_kv"]), "head_dim": int(f[f"{p}.attention.key_length"]),
        "num_local_experts": int(f[f"{p}.expert_count"]), "num_experts_per_tok": int(f[f"{p}.expert_used_count"]),
        "interleave_moe_layer_step": step, "moe_layers": [l for l in range(layers) if (l + 1) % step == 0],
        "vocab_size": len(r.fields["tokenizer.ggml.tokens"].data), "max_position_embeddings": int(f[f"{p}.context_length"]),
        "rope_theta": float(f[f"{p}.rope.freq_base"]), "rms_norm_eps": float(f[f"{p}.attention.layer_norm_rms_epsilon"]),
        "rope_scaling": None, "attention_chunk_size": 8192, "no_rope_layers": [int((l + 1) % 4 != 0) for l in range(layers)],
        "use_qk_norm": True, "attn_temperature_tuning": True, "floor_scale": 8192, "attn_scale": 0.1,
        "tie_word_embeddings": False,
    }
    config = {"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4", "text_config": text,
              "vision_config": {"model_type": "llama4_vision_model"}, "tie_word_embeddings": False}
    with open(os.path.join(d, "config.json"), "w") as out:
        json.dump(config, out, indent=1)
    _write_tokenizer_json(r, d)
    print("wrote", d)


def main():
    write("qwen2", 41, biases=True)
    write("qwen3", 43, head_dim=24, qk_norm=True, tied=False)
    write("phi3", 47, tied=False, fused=True, window=64)
    write("gemma2", 53, head_dim=32, window=16, layers=3, softcaps=(5.0, 3.0))
    write("gemma3", 59, head_dim=32, window=16, layers=7, qk_norm=True)


def main_moe():
    """Mixtures of experts: Mixtral (llama with 8 experts, 2 per token, renormalised),
    Qwen3-MoE (Q/K norms, 8 experts, 3 per token, renormalised) and Qwen2-MoE (biases, 6 experts,
    2 per token, not renormalised, a gated shared expert)."""
    write("llama", 61, experts=(8, 2, 96), tied=False, name="mixtral")
    write("qwen3moe", 67, head_dim=24, qk_norm=True, tied=False, experts=(8, 3, 64))
    write("qwen2moe", 71, biases=True, tied=False, experts=(6, 2, 64), shared=96)
    # gpt-oss: Q/K/V and output biases, attention sinks, even layers sliding (window 16), YaRN,
    # biased router and experts, clamped SwiGLU; 8 experts of 64, 4 per token.
    write("gpt-oss", 73, head_dim=16, biases=True, tied=False, window=16, layers=3, experts=(8, 4, 64),
          name="gptoss", hf=False, yarn=(4.0, 32))
    # Llama 4: 4 layers, experts on layers 1 and 3 (interleave step 2, as Maverick), 8 experts of
    # 64 with one per token and a shared expert, layer 3 without RoPE, Q/K L2 norms.
    write("llama4", 79, head_dim=16, tied=False, layers=4, experts=(8, 1, 64), shared=64, name="llama4",
          hf=False, moe_step=2)
    write_gptoss_hf()
    write_llama4_hf()


def main_kquant_moe():
    """Mixtral's layout, width 256, every expert matrix Q4_K: 4 experts, 2 per token."""
    write("llama", 89, experts=(4, 2, 256), tied=False, name="mixtral_q4k", hf=False, dim=256, expert_type="Q4_K")


def main_longrope():
    """Phi-3 with LongRoPE (128k style, scaled down): original context 64 of 256."""
    write("phi3", 83, tied=False, fused=True, name="phi3longrope", longrope=64)


if __name__ == "__main__":
    if sys.argv[1:] == ["--moe"]:
        main_moe()
    elif sys.argv[1:] == ["--longrope"]:
        main_longrope()
    elif sys.argv[1:] == ["--kquant-moe"]:
        main_kquant_moe()
    else:
        main()
