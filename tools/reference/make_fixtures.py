#!/usr/bin/env python3
"""Generate the golden JSON fixtures for the Swift tests (TandemModelTests).

Run from the repository root:

    python3 tools/reference/make_fixtures.py

Writes into Tests/TandemModelTests/Fixtures/:

    stories260k_greedy.json     stories260k_logits.json   stories260k_tokenizer.json
    smollm2_tokenizer.json      smollm2_logits.json       smollm2_chat.json

Output is deterministic (no timestamps; floats rounded to 7 significant digits).
Every self-check failure raises, so a successful run means all checks passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from typing import Dict, List

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref as L  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "Tests", "TandemModelTests", "Fixtures")
STORIES_DIR = "/work/shared/models/stories260K"
SMOLLM_GGUF = os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def versions() -> str:
    import gguf  # noqa: F401
    import jinja2
    import sentencepiece
    import tokenizers
    from importlib.metadata import version

    return ("python %s, numpy %s, gguf %s, tokenizers %s, sentencepiece %s, jinja2 %s" % (
        platform.python_version(), np.__version__, version("gguf"), tokenizers.__version__,
        sentencepiece.__version__, jinja2.__version__))


GENERATED_BY = None  # filled in main()


def r7(x: float) -> float:
    """Round to 7 significant digits (exactly representable in JSON)."""
    return float("%.7g" % float(x))


def write_json(out_dir: str, name: str, obj: Dict) -> None:
    path = os.path.join(out_dir, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path)} bytes)")


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise SystemExit("CHECK FAILED: " + msg)


# ---------------------------------------------------------------------------
# stories260K
# ---------------------------------------------------------------------------

STORIES_LOGIT_PROMPTS = ["Once upon a time", "The dog ran to the", "Lily and Ben were friends"]

STORIES_TOKENIZER_TEXTS = [
    "Once upon a time",
    "Hello, world!",
    "The dog ran to the park.",
    "She was 3 years old and had 12 toys.",
    'Tim said: "Wow!" (really?)',
    "Lily's mom-in-law's cat.",
    "line one\nline two",
    "x\n\ny",
    "café",
    "日本",
    "\ttab",
    "",
    # the following are known to differ (see README): sentencepiece's
    # tok512.model normalizer removes extra spaces, llama2.c does not.
    " leading space",
    "trailing space ",
    "a  b",
]


def make_stories(out_dir: str) -> None:
    import sentencepiece as spm

    model = L.load_llama2c(os.path.join(STORIES_DIR, "stories260K.bin"))
    tok = L.Llama2cTokenizer(os.path.join(STORIES_DIR, "tok512.bin"), model.config.vocab_size)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(STORIES_DIR, "tok512.model"))
    check(sp.vocab_size() == tok.vocab_size == model.config.vocab_size, "stories vocab sizes")

    # --- greedy from BOS ---
    greedy_ids = L.greedy(model, [tok.BOS], 60)
    text = tok.decode(greedy_ids, prev_token=tok.BOS)
    expected = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
    check(text.startswith(expected), f"stories260K greedy text mismatch: {text!r}")
    write_json(out_dir, "stories260k_greedy.json", {
        "generated_by": GENERATED_BY,
        "prompt_ids": [tok.BOS],
        "greedy_ids": greedy_ids,
        "text": text,
    })
    print("  stories260K greedy:", repr(text))

    # --- full logits for 3 prompts ---
    cases = []
    for p in STORIES_LOGIT_PROMPTS:
        enc = sp.encode(p)
        check(enc == tok.encode(p), f"stories tokenizers disagree on logits prompt {p!r}")
        ids = [tok.BOS] + enc
        logits = L.forward(model, ids)
        cases.append({"text": p, "ids": ids, "logits": [[r7(v) for v in row] for row in logits]})
    write_json(out_dir, "stories260k_logits.json", {"generated_by": GENERATED_BY, "cases": cases})

    # --- tokenizer: sentencepiece vs llama2.c-semantics re-implementation ---
    cases, excluded = [], []
    for t in STORIES_TOKENIZER_TEXTS:
        a = sp.encode(t)
        b = tok.encode(t)
        if a == b:
            cases.append({"text": t, "ids": a})
        else:
            excluded.append({"text": t, "sentencepiece_ids": a, "llama2c_ids": b,
                             "reason": "sentencepiece normalizer (remove_extra_whitespaces) strips "
                                       "leading/trailing spaces and collapses runs of spaces; "
                                       "llama2.c's encoder keeps every space"})
            print(f"  stories tokenizer mismatch (excluded): {t!r} sp={a} llama2c={b}")
    check(len(cases) >= 10, "too few agreeing stories tokenizer cases")
    write_json(out_dir, "stories260k_tokenizer.json",
               {"generated_by": GENERATED_BY, "cases": cases, "excluded": excluded})


# ---------------------------------------------------------------------------
# SmolLM2-135M-Instruct (GGUF)
# ---------------------------------------------------------------------------

SMOLLM_TOKENIZER_TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "The capital of France is",
    "12345 and 3.14",
    "1, 2, 3, 4,",
    "Hello, world!!! (ok?)",
    "I'm sure they'll don't",
    "a  b\n\n  c\t d   ",
    " hello",
    "   leading spaces",
    "\n",
    "café naïve Ünïcödé",
    "日本語のテキスト",
    "Привет, мир",
    "👍🏽 🇫🇷 🎉",
    "def f(x):\n    return x**2",
    "x = [1, 2, 3]; y = {'a': 1}",
    "https://huggingface.co/HuggingFaceTB?q=a&b=2",
    "٣ apples and ½ pie",
    "<|im_start|>user\nHi there<|im_end|>\n",
    "<|endoftext|>",
    "a<|im_end|>b <|im_start",
    "",
]

SMOLLM_LOGIT_PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "1, 2, 3, 4,",
    "Hello world",
]

NLL_TEXT = ("The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
            "It is named after the engineer Gustave Eiffel, whose company designed and built the tower "
            "from 1887 to 1889.")

SMOLLM_CHAT_CASES = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You are a concise assistant."},
     {"role": "user", "content": "Name three primary colors."}],
    [{"role": "system", "content": "You are a helpful assistant."},
     {"role": "user", "content": "Hi!"},
     {"role": "assistant", "content": "Hello! How can I help you today?"},
     {"role": "user", "content": "Tell me a joke."}],
]


def build_hf_tokenizer(reader):
    """HF `tokenizers` pipeline equivalent to SmolLM2's tokenizer.json,
    built only from the GGUF metadata."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tokens = L.gguf_field(reader, "tokenizer.ggml.tokens")
    merges = L.gguf_field(reader, "tokenizer.ggml.merges")
    ttype = L.gguf_field(reader, "tokenizer.ggml.token_type")
    vocab = {t: i for i, t in enumerate(tokens)}
    check(len(vocab) == len(tokens), "duplicate tokens in GGUF vocab")
    merge_pairs = []
    for m in merges:
        parts = m.split(" ")
        check(len(parts) == 2, f"bad merge {m!r}")
        merge_pairs.append((parts[0], parts[1]))
    bpe = models.BPE(vocab=vocab, merges=merge_pairs, dropout=None, unk_token=None,
                     fuse_unk=False, byte_fallback=False, ignore_merges=False)
    tk = Tokenizer(bpe)
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tk.decoder = decoders.ByteLevel()
    special_ids = [i for i, t in enumerate(ttype) if int(t) == 3]  # LLAMA_TOKEN_TYPE_CONTROL
    tk.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False,
                                      lstrip=False, rstrip=False, single_word=False)
                           for i in special_ids])
    for i in special_ids:
        check(tk.token_to_id(tokens[i]) == i, f"special token {tokens[i]!r} id changed")
    return tk, tokens, merges, special_ids


def render_chat(template: str, messages, add_generation_prompt: bool) -> str:
    # Same environment settings HF transformers uses for chat templates.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages,
                                            add_generation_prompt=add_generation_prompt)


def make_smollm(out_dir: str) -> None:
    from gguf import GGUFReader

    reader = GGUFReader(SMOLLM_GGUF)
    check(L.gguf_field(reader, "tokenizer.ggml.model") == "gpt2", "tokenizer model")
    check(L.gguf_field(reader, "tokenizer.ggml.pre") == "smollm", "tokenizer pre")
    hf, tokens, merges, special_ids = build_hf_tokenizer(reader)
    ref_bpe = L.ByteLevelBPE(tokens, merges, special_ids)

    def encode(text: str) -> List[int]:
        ids = hf.encode(text, add_special_tokens=False).ids
        ids2 = ref_bpe.encode(text)
        check(ids == ids2, f"HF tokenizers vs llama_ref.ByteLevelBPE disagree on {text!r}: {ids} vs {ids2}")
        return ids

    # --- tokenizer ---
    cases = []
    for t in SMOLLM_TOKENIZER_TEXTS:
        ids = encode(t)
        dec = hf.decode(ids, skip_special_tokens=False)
        check(dec == ref_bpe.decode(ids), f"decoders disagree on {t!r}")
        check(dec == t, f"round trip failed for {t!r}: {dec!r}")
        cases.append({"text": t, "ids": ids, "decoded": dec})
    write_json(out_dir, "smollm2_tokenizer.json", {"generated_by": GENERATED_BY, "cases": cases})

    # --- chat template ---
    template = L.gguf_field(reader, "tokenizer.chat_template")
    cases = []
    for msgs in SMOLLM_CHAT_CASES:
        text = render_chat(template, msgs, True)
        cases.append({"messages": msgs, "add_generation_prompt": True, "text": text,
                      "ids": encode(text)})
    check(cases[0]["text"].startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"),
          "default system prompt not inserted")
    write_json(out_dir, "smollm2_chat.json", {"generated_by": GENERATED_BY, "cases": cases})

    # --- logits (float64 forward over dequantised weights) ---
    del reader
    model = L.load_gguf(SMOLLM_GGUF)
    V = model.config.vocab_size
    probe_ids = list(range(0, V, 97))
    cases = []
    for p in SMOLLM_LOGIT_PROMPTS:
        ids = encode(p)
        last = L.forward(model, ids)[-1]
        order = sorted(range(V), key=lambda i: (-last[i], i))[:40]
        cases.append({
            "text": p,
            "ids": ids,
            "top": [[int(i), r7(last[i])] for i in order],
            "probe_ids": probe_ids,
            "probe_logits": [r7(last[i]) for i in probe_ids],
        })
        print(f"  smollm2 {p!r}: top1 {order[0]} {hf.decode([order[0]])!r}")
    # RoPE-layout self-check.  " Paris" alone does not discriminate (the
    # half-split NEOX style also ranks " Paris" first for that short prompt),
    # so compare the mean NLL of a natural paragraph under both styles.
    ids = encode(NLL_TEXT)
    nll_i = L.mean_nll(L.forward(model, ids, rope_style="interleaved"), ids)
    nll_n = L.mean_nll(L.forward(model, ids, rope_style="neox"), ids)
    print(f"  smollm2 mean NLL over {len(ids)} tokens: interleaved {nll_i:.4f}, neox {nll_n:.4f}")
    check(nll_i < 2.5 and nll_i + 0.5 < nll_n, "interleaved RoPE should clearly beat NEOX on GGUF weights")

    prompt = "The capital of France is"
    ids = encode(prompt)
    cont = L.greedy(model, ids, 8)
    cont_text = hf.decode(cont, skip_special_tokens=False)
    check(cont_text.startswith(" Paris"), f"SmolLM2 greedy continuation is {cont_text!r}, expected ' Paris...'")
    print("  smollm2 greedy continuation:", repr(cont_text))
    write_json(out_dir, "smollm2_logits.json", {
        "generated_by": GENERATED_BY,
        "cases": cases,
        "greedy": {"text": prompt, "ids": ids, "continuation_ids": cont, "continuation_text": cont_text},
    })


def main() -> None:
    global GENERATED_BY
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    ap.add_argument("--only", choices=["stories", "smollm"], help="generate only one model's fixtures")
    args = ap.parse_args()
    GENERATED_BY = "python3 tools/reference/make_fixtures.py (%s)" % versions()
    os.makedirs(args.out, exist_ok=True)
    if args.only in (None, "stories"):
        make_stories(args.out)
    if args.only in (None, "smollm"):
        make_smollm(args.out)
    placeholder = os.path.join(args.out, "README.json")
    if args.only is None and os.path.exists(placeholder):
        os.remove(placeholder)
        print("removed placeholder", os.path.relpath(placeholder, REPO))


if __name__ == "__main__":
    main()
