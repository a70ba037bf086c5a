"""The whole path with real parts: the `openai` client → `tandem gateway` (keys, tenants,
routing) → `tandem serve` (engine, paged KV with prefix cache) on 127.0.0.1.

Checks the answering model and route headers, the same tenant's prefix reuse (cached_tokens),
tenant isolation of the prefix cache (another tenant's identical prompt reuses nothing), and
that a coordinator that goes away turns into an explicit 503 (no fallback declared).
"""
import json
import tempfile
from hashlib import sha256
from pathlib import Path

import pytest

from conftest import Gateway
from test_cluster_serve import STORIES, Deployment

KEYS = {"sk-alpha": "alpha", "sk-beta": "beta"}


@pytest.fixture(scope="module")
def stack():
    coordinator = Deployment(STORIES, 1)
    d = Path(tempfile.mkdtemp(prefix="tandem-gw-coord-"))
    (d / "keys.json").write_text(json.dumps({"keys": [
        {"id": f"k-{t}", "tenant": t, "sha256": sha256(k.encode()).hexdigest()} for k, t in KEYS.items()]}))
    config = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "keys_file": "keys.json",
        "limits": {"max_body_bytes": 1048576, "request_timeout_ms": 60000},
        "upstream": {"connect_timeout_ms": 2000, "read_timeout_ms": 60000},
        "tenants": {t: {"requests_per_minute": 6000, "tokens_per_minute": 10000000, "max_concurrent": 8, "allowed_models": ["*"]}
                    for t in KEYS.values()},
        "models": [{"name": "stories", "deployments": [{"url": f"http://127.0.0.1:{coordinator.port}", "kind": "coordinator", "upstream_model": "m"}]}],
    }
    gw = Gateway(config, d)
    yield gw, coordinator
    gw.stop()
    coordinator.stop()


PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends every day"


def complete(gw, key):
    raw = gw.client(key).completions.with_raw_response.create(model="stories", prompt=PROMPT, max_tokens=8, temperature=0)
    return raw.headers, raw.parse()


def test_answer_headers_and_usage(stack):
    gw, _ = stack
    headers, r = complete(gw, "sk-alpha")
    assert headers["x-tandem-model"] == "stories"
    assert headers.get("x-tandem-route-reason")
    assert r.usage.completion_tokens == 8 and r.usage.prompt_tokens > 20


def test_same_tenant_reuses_the_prefix_other_tenant_does_not(stack):
    gw, _ = stack
    _, first = complete(gw, "sk-alpha")
    _, again = complete(gw, "sk-alpha")
    assert again.usage.prompt_tokens_details.cached_tokens > 0
    assert again.choices[0].text == first.choices[0].text
    _, other = complete(gw, "sk-beta")
    assert other.usage.prompt_tokens_details.cached_tokens == 0
    assert other.choices[0].text == first.choices[0].text


def test_a_coordinator_that_is_gone_is_an_explicit_503(stack):
    import openai
    gw, coordinator = stack
    coordinator.stop()
    with pytest.raises(openai.APIStatusError) as e:
        complete(gw, "sk-alpha")
    assert e.value.status_code == 503
