"""Speculative decoding (`serve --speculative prompt-lookup`) changes how many tokens a step
verifies, never which tokens come out: greedy answers of a speculating `serve` (TP=1 and TP=2
under mpirun, through the official `openai` client) equal `tandem generate` without speculation,
and seeded samples of `generate` are the same with and without it. `/metrics` counts the drafts."""
import re
import shutil

import httpx
import pytest

from tandemkit import SMOLLM2, STORIES260K, Deployment, generate_json

# Prompts an answer can quote (where prompt lookup drafts), and one where it cannot.
PROMPTS = [
    "Copy the list exactly. List: red, green, blue, yellow, purple, orange, black, white. Copy: red, green, blue,",
    "Once upon a time",
]
N = 32
SPEC = ["--speculative", "prompt-lookup", "--spec-tokens", "4", "--spec-cost-model", "off"]


def generate(model, prompt, *extra):
    return generate_json(model, prompt, N, *extra)


def counter(metrics, name):
    m = re.search(rf"^{name}\{{[^}}]*\}} (\d+)", metrics, re.M)
    assert m, f"{name} missing from /metrics"
    return int(m.group(1))


@pytest.mark.parametrize("model", [STORIES260K, SMOLLM2], ids=["stories260K", "smollm2-q4_1"])
@pytest.mark.parametrize("ranks", [1, 2], ids=["tp1", "tp2"])
def test_speculating_serve_answers_what_plain_generate_does(model, ranks):
    if ranks > 1 and shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed")
    expected = [generate(model, p) for p in PROMPTS]
    dep = Deployment(model, ranks, extra=SPEC)
    try:
        client = dep.client()
        got = [client.completions.create(model="m", prompt=p, max_tokens=N, temperature=0) for p in PROMPTS]
        metrics = httpx.get(dep.url + "/metrics", timeout=10).text
    finally:
        dep.stop()
    for p, g, r in zip(PROMPTS, expected, got):
        assert (r.usage.completion_tokens, r.choices[0].text, r.choices[0].finish_reason) == \
            (g["completion_tokens"], g["text"], g["finish_reason"]), p
    proposed = counter(metrics, "tandem_spec_proposed_tokens_total")
    accepted = counter(metrics, "tandem_spec_accepted_tokens_total")
    assert 0 < accepted <= proposed, metrics
    assert "tandem_spec_acceptance_length_bucket" in metrics
    # Each response's usage reports its own drafts under OpenAI's predicted-output names.
    details = [r.usage.completion_tokens_details for r in got]
    assert sum(d.accepted_prediction_tokens for d in details) == accepted
    assert sum(d.accepted_prediction_tokens + d.rejected_prediction_tokens for d in details) == proposed


@pytest.mark.parametrize("model", [STORIES260K, SMOLLM2], ids=["stories260K", "smollm2-q4_1"])
def test_seeded_samples_and_step_counts(model):
    for p in PROMPTS:
        plain = generate(model, p, "--temperature", "0.8", "--seed", "7")
        spec = generate(model, p, "--temperature", "0.8", "--seed", "7", *SPEC)
        assert spec["token_ids"] == plain["token_ids"], p
        assert plain["spec_proposed_tokens"] == 0
    greedy = generate(model, PROMPTS[0], *SPEC)
    # Accepted drafts mean fewer engine steps than tokens (one prefill step plus one per verification).
    assert greedy["spec_accepted_tokens"] > 0
    assert greedy["steps"] < generate(model, PROMPTS[0])["steps"]


def test_cost_model_is_measured_at_start_and_changes_no_token():
    """With the cost model (the default), serve times drafted against plain steps before the
    first request and logs the ratios; the answers are still plain greedy decoding's."""
    expected = generate(STORIES260K, PROMPTS[1])
    dep = Deployment(STORIES260K, 1, extra=["--speculative", "prompt-lookup"])
    try:
        r = dep.client().completions.create(model="m", prompt=PROMPTS[1], max_tokens=N, temperature=0)
        log = dep.log.read_text(errors="replace")
    finally:
        dep.stop()
    assert r.choices[0].text == expected["text"]
    assert re.search(r"speculation: drafted/plain step time B=1 \d+\.\d\d", log), log[-2000:]


def test_predicted_output_through_the_openai_client():
    """`prediction` (OpenAI Predicted Outputs) on a speculating coordinator: the answer is what
    plain greedy decoding gives, and the drafts from the prediction show in the usage; on a
    coordinator without speculation the field is refused with a 400 naming it."""
    from openai import BadRequestError
    prompt = "Tell me a short story about a cat who learns to swim."
    messages = [{"role": "user", "content": prompt}]
    dep = Deployment(SMOLLM2, 1, extra=SPEC)
    try:
        client = dep.client()
        plain = client.chat.completions.create(model="m", messages=messages, max_tokens=N, temperature=0)
        predicted = client.chat.completions.create(model="m", messages=messages, max_tokens=N, temperature=0,
                                                   prediction={"type": "content", "content": plain.choices[0].message.content})
    finally:
        dep.stop()
    assert predicted.choices[0].message.content == plain.choices[0].message.content
    d = predicted.usage.completion_tokens_details
    assert d.accepted_prediction_tokens > plain.usage.completion_tokens_details.accepted_prediction_tokens, (d, plain.usage)
    assert d.accepted_prediction_tokens >= predicted.usage.completion_tokens // 2, d
    off = Deployment(SMOLLM2, 1)
    try:
        with pytest.raises(BadRequestError) as e:
            off.client().chat.completions.create(model="m", messages=messages, max_tokens=4,
                                                 prediction={"type": "content", "content": "x"})
    finally:
        off.stop()
    assert e.value.body.get("param") == "prediction", e.value.body
