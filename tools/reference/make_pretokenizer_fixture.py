#!/usr/bin/env python3
"""Fixture for the Llama 3 (`llama-bpe`) and Qwen2 (`qwen2`) pre-tokenizers: the words the
real patterns (as llama.cpp and the Hugging Face tokenizer.json files state them) give for a
set of tricky texts, split with Python's `regex` module.

Writes Tests/TandemModelTests/Fixtures/pretokenizers.json.
"""
import json
import os

import regex

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "TandemModelTests", "Fixtures")
PATTERNS = {
    "llama-bpe": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}
TEXTS = [
    "Hello world! It's 2026, isn't it? I'LL say: THEY'RE here.",
    "def f(x):\n    return x**2  # square\n\n\nprint(f(12345))",
    "  leading spaces, trailing   \n\t\ttabs\r\nand CRLF\r\n\r\n",
    "Unicode: héllo wörld — 日本語のテキスト, émojis 🎉🎉 and ①②③ numbers ٣٤٥",
    "JSON {\"key\": [1, 2.5, -3e10], \"nested\": {\"a\": null}}",
    "'s 'S 'RE 've 'Ll 'd 'x 'hello ''quoted''",
    "multiple     spaces   between\n\n  words\n ",
    "1234567 digits 12 3 x1y22z333",
    "\u00a0non-breaking\u2009thin\u3000ideographic space",
    "", " ", "\n", "a", "!!!\n\n", "end with space ",
]


def main():
    out = {name: [{"text": t, "words": regex.findall(p, t)} for t in TEXTS] for name, p in PATTERNS.items()}
    for cases in out.values():
        for c in cases:
            assert "".join(c["words"]) == c["text"]
    with open(os.path.join(OUT, "pretokenizers.json"), "w") as f:
        json.dump({"made_by": "tools/reference/make_pretokenizer_fixture.py", "patterns": PATTERNS, "cases": out}, f,
                  ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
