"""Sampling parameters end to end: top_k, min_p, repetition_penalty and logit_bias through a real
`tandem serve` with SmolLM2 (driven with the official `openai` client), per-model sampling
defaults, and the gateway forwarding the fields to its upstream."""
import json
import math

import httpx
import numpy as np
import pytest

from tandemkit import ROOT, SMOLLM2 as MODEL, Deployment

PROMPT = [{"role": "user", "content": "Name three colors."}]


def chat(dep, **kw):
    kw.setdefault("max_tokens", 6)
    return dep.client().chat.completions.create(model="m", messages=PROMPT, **kw)


def test_top_k_1_equals_greedy_at_temperature_1_5(dep):
    greedy = chat(dep, temperature=0).choices[0].message.content
    assert greedy
    for seed in (1, 2, 3, 4):
        r = chat(dep, temperature=1.5, seed=seed, extra_body={"top_k": 1})
        assert r.choices[0].message.content == greedy, f"seed {seed}"


def reference_min_p(top, min_p):
    """min-p over a full distribution's top entries (NumPy): keep p >= min_p * p_max, renormalise."""
    lp = np.array([t.logprob for t in top])
    p = np.exp(lp)
    keep = p >= min_p * p.max()
    q = p[keep] / p[keep].sum()
    return {t.token: float(math.log(x)) for t, x in zip([t for t, k in zip(top, keep) if k], q)}


def test_min_p_distribution_matches_a_numpy_reference(dep):
    # At temperature 1 the reported log-probabilities are those of the sampling distribution: the
    # full softmax without min_p, the renormalised survivors with it.
    full = chat(dep, temperature=1, seed=5, max_tokens=1, logprobs=True, top_logprobs=20).choices[0].logprobs.content[0]
    # min_p 0.3 keeps only a handful of tokens; all of them are among the top 20.
    expected = reference_min_p(full.top_logprobs, 0.3)
    assert 1 <= len(expected) < 20
    got = chat(dep, temperature=1, seed=5, max_tokens=1, logprobs=True, top_logprobs=20,
               extra_body={"min_p": 0.3}).choices[0].logprobs.content[0]
    got_map = {t.token: t.logprob for t in got.top_logprobs if t.logprob > -math.inf}
    assert set(got_map) == set(expected)
    for token, lp in expected.items():
        assert got_map[token] == pytest.approx(lp, abs=2e-4), token


def test_repetition_penalty_changes_the_distribution_of_prompt_tokens(dep):
    # The greedy log-probability of a token that occurs in the prompt falls under a penalty > 1.
    base = chat(dep, temperature=0, max_tokens=1, logprobs=True, top_logprobs=5).choices[0].logprobs.content[0]
    pen = chat(dep, temperature=0, max_tokens=1, logprobs=True, top_logprobs=5,
               extra_body={"repetition_penalty": 1.8}).choices[0].logprobs.content[0]
    assert [t.logprob for t in pen.top_logprobs] != pytest.approx([t.logprob for t in base.top_logprobs], abs=1e-4)


def vocabulary():
    """SmolLM2's token strings, read from the GGUF file with the `gguf` package (byte-level BPE:
    'Ġ' is a space)."""
    gguf = pytest.importorskip("gguf")
    field = gguf.GGUFReader(MODEL).fields["tokenizer.ggml.tokens"]
    return [bytes(field.parts[i]).decode().replace("Ġ", " ") for i in field.data]


def test_logit_bias_plus_100_makes_greedy_choose_that_token(dep):
    vocab = vocabulary()
    assert len(vocab) == 49152
    greedy = chat(dep, temperature=0, max_tokens=2, logprobs=True).choices[0]
    for token in (30, 5000):
        biased = chat(dep, temperature=0, max_tokens=2, logprobs=True, logit_bias={str(token): 100}).choices[0]
        assert [t.token for t in biased.logprobs.content] == [vocab[token]] * 2, token
        assert vocab[token] != greedy.logprobs.content[0].token


@pytest.mark.parametrize("field,value,param", [
    ("top_k", -2, "top_k"), ("top_k", 1.5, "top_k"), ("min_p", 1.5, "min_p"), ("min_p", -0.1, "min_p"),
    ("repetition_penalty", 0, "repetition_penalty"), ("repetition_penalty", -1, "repetition_penalty"),
    ("logit_bias", {"49152": 1}, "logit_bias.49152"), ("logit_bias", {"abc": 1}, "logit_bias.abc"),
    ("logit_bias", {"5": 101}, "logit_bias.5"), ("frobnicate", 1, "frobnicate"),
])
def test_out_of_range_sampling_fields_are_400_naming_the_field(dep, field, value, param):
    r = httpx.post(f"http://127.0.0.1:{dep.port}/v1/chat/completions", timeout=60,
                   json={"model": "m", "messages": PROMPT, "max_tokens": 1, field: value})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_models_shows_openai_defaults_without_declared_ones(dep):
    d = httpx.get(f"http://127.0.0.1:{dep.port}/v1/models", timeout=10).json()["data"][0]["sampling_defaults"]
    assert d == {"temperature": 1, "top_p": 1, "top_k": 0, "min_p": 0, "repetition_penalty": 1}


def test_declared_defaults_apply_to_what_a_request_leaves_out():
    d = Deployment(MODEL, 1, extra=["--sampling-defaults", json.dumps({"temperature": 0, "top_k": 40})])
    try:
        card = httpx.get(f"http://127.0.0.1:{d.port}/v1/models", timeout=10).json()["data"][0]
        assert card["sampling_defaults"] == {"temperature": 0, "top_p": 1, "top_k": 40, "min_p": 0, "repetition_penalty": 1}
        # Temperature 0 by default: two seeds, one text, equal to explicit greedy.
        texts = {chat(d, seed=s, max_tokens=8).choices[0].message.content for s in (11, 12, 13)}
        assert len(texts) == 1
        assert texts == {chat(d, temperature=0, max_tokens=8).choices[0].message.content}
        # An explicit temperature still wins over the default.
        sampled = {chat(d, temperature=1.5, seed=s, max_tokens=8).choices[0].message.content for s in (11, 12, 13)}
        assert len(sampled) > 1
    finally:
        d.stop()


def test_gateway_forwards_sampling_fields_and_leaves_omitted_ones_to_the_upstream(gateway, stubs):
    c = gateway.client().chat.completions.create(
        model="big", messages=[{"role": "user", "content": "fields"}], temperature=0.3, logit_bias={"7": -5, "12": 3},
        user="u-sampling", extra_body={"top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2})
    assert c.choices[0].message.content
    body = [r for r in stubs["big-0"].requests() if r["body"].get("user") == "u-sampling"][-1]["body"]
    assert body["top_k"] == 5
    assert body["min_p"] == pytest.approx(0.1)
    assert body["repetition_penalty"] == pytest.approx(1.2)
    assert body["logit_bias"] == {"7": -5, "12": 3}
    assert body["temperature"] == pytest.approx(0.3)
    # Left out by the client: left to the upstream's model defaults.
    assert "top_p" not in body


def test_gateway_forwards_n_and_returns_every_choice(gateway, stubs):
    for stream in (False, True):
        r = gateway.client().chat.completions.create(model="big", messages=[{"role": "user", "content": "choices"}], n=3,
                                                     user=f"u-n-{stream}", stream=stream)
        if stream:
            finished = {c.index: c.finish_reason for chunk in r for c in chunk.choices if c.finish_reason}
            assert sorted(finished) == [0, 1, 2]
        else:
            assert sorted(c.index for c in r.choices) == [0, 1, 2]
            assert all(c.message.content for c in r.choices)
        body = [q for q in stubs["big-0"].requests() if q["body"].get("user") == f"u-n-{stream}"][-1]["body"]
        assert body["n"] == 3


def test_every_field_the_openapi_document_lists_is_accepted(dep):
    import yaml
    doc = yaml.safe_load(open(ROOT / "gateway" / "openapi.yaml"))
    for schema, path, base, limit in (("ChatCompletionRequest", "/v1/chat/completions", {"messages": PROMPT}, "max_tokens"),
                                      ("CompletionRequest", "/v1/completions", {"prompt": "Hi"}, "max_tokens"),
                                      ("ResponsesRequest", "/v1/responses", {"input": "Hi"}, "max_output_tokens")):
        fields = doc["components"]["schemas"][schema]["x-accepted-fields"]
        extra = {f: None for f in fields if f not in base and f != "model"}
        r = httpx.post(f"http://127.0.0.1:{dep.port}{path}", timeout=60,
                       json={"model": "m", **base, **extra, limit: 1})
        assert r.status_code == 200, (schema, r.text)


def prefill_tokens(dep):
    text = httpx.get(f"{dep.url}/metrics", timeout=10).text
    return int(next(float(line.split()[-1]) for line in text.splitlines() if line.startswith("tandem_engine_prefill_tokens_total{")))


def test_n_choices_share_one_prefill_and_each_has_its_own_sample(invariant):
    # On the batch-invariant deployment: the four choices decode as a batch of four, and choice i
    # is compared with the same request alone.
    dep = invariant
    import uuid
    prompt = [{"role": "user", "content": f"Tell me a short story about a fox. ({uuid.uuid4().hex})"}]
    before = prefill_tokens(dep)
    r = dep.client().chat.completions.create(model="m", messages=prompt, n=4, temperature=1.0, seed=11, max_tokens=12,
                                             logprobs=True)
    after = prefill_tokens(dep)
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3]
    # The prompt's K/V was computed once, not once per choice: the tokens past the cached prefix
    # (the chat template's opening, shared with earlier requests), once.
    cached = r.usage.prompt_tokens_details.cached_tokens
    assert cached < r.usage.prompt_tokens - 8
    assert after - before == r.usage.prompt_tokens - cached
    # Usage counts every choice's tokens; each choice's logprobs list one entry per token.
    assert r.usage.completion_tokens == sum(len(c.logprobs.content) for c in r.choices)
    assert len({c.message.content for c in r.choices}) >= 2
    for c in r.choices:
        assert c.finish_reason in ("stop", "length")
    # Choice i is what the request with seed + i gives alone.
    for i in (0, 2):
        alone = dep.client().chat.completions.create(model="m", messages=prompt, temperature=1.0, seed=11 + i, max_tokens=12)
        assert alone.choices[0].message.content == r.choices[i].message.content, i


def test_n_choices_stream_with_their_indexes(dep):
    finished, text = {}, {}
    for chunk in dep.client().chat.completions.create(model="m", messages=PROMPT, n=3, temperature=0.9, seed=5, max_tokens=8,
                                                      stream=True):
        for c in chunk.choices:
            text[c.index] = text.get(c.index, "") + (c.delta.content or "")
            if c.finish_reason:
                finished[c.index] = c.finish_reason
    assert sorted(finished) == [0, 1, 2]
    assert all(text[i] for i in range(3))


@pytest.fixture(scope="module")
def invariant():
    d = Deployment(MODEL, 1, extra=("--batch-invariant", "on"))
    try:
        yield d
    finally:
        d.stop()


def test_the_same_seed_gives_the_same_text_alone_and_in_a_batch_of_8(invariant):
    # With --batch-invariant on every projection takes the GEMM route whatever the batch, so a
    # request's logits, and its seeded samples, do not depend on what shares its steps. (Without
    # it, one token goes through the fused GEMV and a batch through the GEMM: they differ by f32
    # rounding, about 1e-5 in a log-probability, enough to flip a temperature-1 sample.)
    from concurrent.futures import ThreadPoolExecutor
    client = invariant.client()

    def ask(seed):
        return client.chat.completions.create(model="m", messages=PROMPT, temperature=1.0, seed=seed,
                                              max_tokens=16).choices[0].message.content
    alone = ask(42)
    with ThreadPoolExecutor(max_workers=8) as pool:
        batch = list(pool.map(ask, [42, 1, 2, 3, 42, 4, 5, 6]))
    assert batch[0] == alone and batch[4] == alone
