#!/usr/bin/env python3
"""Greedy stories260K continuations with an FP8 K/V cache, for the Swift engine test.

Each (token, KV head) vector of K (after RoPE) and of V goes through what Tandem's FP8 cache
stores: in float32, scale = amax / 448, codes = E4M3(x / scale) (OCP e4m3fn: round to nearest
even, saturating at 448, subnormals below 2^-6), read back as code * scale. The rest of the
forward pass is llama_ref's float64 one, so a kernel that reads the codes wrongly (a scale,
a head, a block) gives other ids. Prints the ids as Swift array literals for
Tests/TandemEngineTests/EngineIntegrationTests.swift (`fp8Golden`).

    python3 tools/reference/fp8_kv_greedy.py     # ~1 min on 2 cores
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref as R  # noqa: E402

STORIES = os.environ.get("TANDEM_STORIES260K_DIR", "/work/shared/models/stories260K")
# The prompts of EngineIntegrationTests.prompts, in order.
PROMPTS = [
    "Once upon a time", "The dog ran to the", "Lily and Ben were friends", "One day, a little bird",
    "Tom had a big red ball. He", "The sun was", "Mom said", "There was a cat named Tim who liked to play in the garden with his",
]
TOKENS = 40


def e4m3(x: np.ndarray) -> np.ndarray:
    """float32 → the nearest E4M3 value (ties to even), saturating at ±448, as float64."""
    a = np.abs(x.astype(np.float64))
    _, e = np.frexp(a)                            # a in [2^(e-1), 2^e)
    spacing = np.ldexp(1.0, np.maximum(e - 1, -6) - 3)
    return np.sign(x) * np.minimum(np.round(a / spacing) * spacing, 448.0)


def fp8_kv(t: np.ndarray) -> np.ndarray:
    """(T, kv_heads, head_size) → dequantised FP8 with one float32 scale per (T, kv_head)."""
    t32 = t.astype(np.float32)
    scale = np.abs(t32).max(axis=-1, keepdims=True) / np.float32(448)
    codes = e4m3(t32 / np.where(scale == 0, np.float32(1), scale))
    return np.where(scale == 0, 0.0, codes * scale.astype(np.float64))


def main() -> None:
    model = R.load_llama2c(os.path.join(STORIES, "stories260K.bin"))
    tok = R.Llama2cTokenizer(os.path.join(STORIES, "tok512.bin"))
    for p in PROMPTS:
        ids = R.greedy(model, tok.encode(p, bos=True), TOKENS, kv_transform=fp8_kv)
        print(f"        {ids},  // {p}")


if __name__ == "__main__":
    main()
