"""Mixtures of experts end to end, on the tiny random-weight MoE fixtures (Mixtral, Qwen3-MoE,
Qwen2-MoE, gpt-oss, Llama 4; tools/reference/make_family_fixtures.py --moe):

* `tandem generate` continues a prompt greedily exactly as the float64 NumPy reference does
  (llama_ref.greedy with its MoE layer) on the same GGUF file;
* `tandem serve` over two real MPI ranks, experts split whole (`--parallel expert`) or by
  columns (`--parallel tensor`), answers every prompt as one rank does, one request at a time
  and all at once (one step groups their tokens by expert);
* the expert load is on /metrics, and every rank's share adds up to what the experts got.
"""
import concurrent.futures
import shutil
import sys

import pytest

from tandemkit import ROOT, Deployment, generate_json

sys.path.insert(0, str(ROOT / "tools" / "reference"))
import llama_ref  # noqa: E402

FIXTURES = ROOT / "Tests" / "TandemModelTests" / "Fixtures"
FAMILIES = ["mixtral", "qwen3moe", "qwen2moe", "gptoss", "llama4"]
# Token-id prompts (the fixtures' vocabulary has 96 tokens).
PROMPTS = [[3, 17, 42, 5, 88, 23], [60, 61, 62, 7, 7, 7, 90, 1, 14], [40] * 3 + [11, 29, 73, 50, 2, 66, 35, 81]]
N = 16


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_equals_the_numpy_reference(family):
    path = FIXTURES / f"family_{family}.gguf"
    # Bytes 1..31 are single tokens of the fixtures' byte-level vocabulary.
    got = generate_json(str(path), "\x03\x11\x05\x18\x17\x1c", N)
    assert got["prompt_token_ids"] == [3, 17, 5, 24, 23, 28]
    expected = llama_ref.greedy(llama_ref.load_gguf(str(path)), got["prompt_token_ids"], N)
    assert len(got["token_ids"]) >= 8
    assert got["token_ids"] == expected[:len(got["token_ids"])]


def complete(dep, prompt):
    r = dep.client().completions.create(model="m", prompt=prompt, max_tokens=N, temperature=0)
    return r.choices[0].text, r.usage.completion_tokens


def answers(dep):
    """Each prompt alone, then all of them at once."""
    alone = [complete(dep, p) for p in PROMPTS]
    with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
        together = list(pool.map(lambda p: complete(dep, p), PROMPTS))
    return alone, together


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not installed")
@pytest.mark.parametrize("family", ["qwen3moe", "qwen2moe", "gptoss", "llama4"])
def test_expert_and_tensor_parallel_over_mpi_equal_one_rank(family):
    from test_cluster_serve import metric_families, sample
    path = str(FIXTURES / f"family_{family}.gguf")
    one = Deployment(path, 1)
    try:
        alone, together = answers(one)
    finally:
        one.stop()
    assert together == alone
    assert len({a[0] for a in alone}) == len(PROMPTS)
    for parallel in ("expert", "tensor"):
        two = Deployment(path, 2, extra=("--parallel", parallel))
        try:
            got = answers(two)
            families, _ = metric_families(two.port)
        finally:
            two.stop()
        assert got == (alone, together), parallel
        experts = [s.value for s in families["tandem_moe_expert_tokens"].samples if s.name.endswith("_total")]
        ranks = {s.labels["rank"]: s.value for s in families["tandem_moe_rank_tokens"].samples if s.name.endswith("_total")}
        assert len(experts) == (6 if family == "qwen2moe" else 8) and min(experts) > 0, experts
        if parallel == "expert":
            # Each rank holds half of the experts: the ranks' tokens add up to the experts'.
            assert ranks["0"] + ranks["1"] == sum(experts) and ranks["0"] > 0 and ranks["1"] > 0, ranks
        else:
            assert ranks["0"] == ranks["1"] == sum(experts), ranks
