"""`tandem generate` and `tandem serve` run the same engine and `ModelRunner`: greedy output of
`generate` (one process, one rank) equals what `serve` answers over HTTP at TP=1 and at TP=2
(two MPI ranks), token count for token count, for both test models."""
import shutil

import pytest

from tandemkit import SMOLLM2, STORIES260K, Deployment, generate_json

PROMPTS = ["Once upon a time", "The capital of France is"]
N = 24


def generate(model, prompt):
    return generate_json(model, prompt, N)


@pytest.mark.parametrize("model", [STORIES260K, SMOLLM2], ids=["stories260K", "smollm2-q4_1"])
@pytest.mark.parametrize("ranks", [1, 2], ids=["tp1", "tp2"])
def test_generate_equals_serve(model, ranks):
    if ranks > 1 and shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed")
    expected = [generate(model, p) for p in PROMPTS]
    dep = Deployment(model, ranks)
    try:
        client = dep.client()
        got = [client.completions.create(model="m", prompt=p, max_tokens=N, temperature=0) for p in PROMPTS]
    finally:
        dep.stop()
    for p, g, r in zip(PROMPTS, expected, got):
        assert g["completion_tokens"] > 0
        assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.choices[0].text) == \
            (g["prompt_tokens"], g["completion_tokens"], g["text"]), p
        assert r.choices[0].finish_reason == g["finish_reason"], p
