"""Families on real weights: SmolLM2 re-packaged as a `qwen2` GGUF (Hugging Face Q/K row order,
half-split RoPE, zero Q/K/V biases; tools/reference/repack_family.py) greedily continues a
prompt exactly as the float64 NumPy reference does on the same file, and as the original
`llama` file does."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tandemkit import ROOT, SMOLLM2, tandem_bin

sys.path.insert(0, str(ROOT / "tools" / "reference"))
import llama_ref  # noqa: E402
import repack_family  # noqa: E402

N = 8


def generate(model, prompt):
    out = subprocess.run([tandem_bin(), "generate", "--model", str(model), "--prompt", prompt, "--max-tokens", str(N),
                          "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def qwen2_smollm2(tmp_path_factory):
    path = tmp_path_factory.mktemp("family") / "smollm2-as-qwen2.gguf"
    repack_family.repack(SMOLLM2, str(path), "qwen2")
    return path


@pytest.mark.parametrize("prompt", ["The capital of France is", "def fibonacci(n):"])
def test_qwen2_layout_greedy_equals_numpy_reference(qwen2_smollm2, prompt):
    got = generate(qwen2_smollm2, prompt)
    model = llama_ref.load_gguf(str(qwen2_smollm2))
    assert model.config.arch == "qwen2" and model.config.rope_style == "neox"
    expected = llama_ref.greedy(model, got["prompt_token_ids"], N)
    # Tandem stops at the end-of-text token; the reference always runs N steps.
    assert len(got["token_ids"]) >= 4
    assert got["token_ids"] == expected[:len(got["token_ids"])]
    # The same function as the original llama file.
    assert generate(SMOLLM2, prompt)["token_ids"] == got["token_ids"]
