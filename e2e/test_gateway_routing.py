"""Routing: explicit names, aliases, the `auto` policy, replica affinity, fallback only where
declared, and the tenant's cache salt."""
import httpx
import openai
import pytest


def routed(gateway, model, content, key="sk-acme", headers=None, system=None):
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
    raw = gateway.client(key).chat.completions.with_raw_response.create(model=model, messages=messages, extra_headers=headers or {})
    raw.parse()
    return raw.headers


def test_explicit_model_and_alias(gateway):
    h = routed(gateway, "big", "explicit")
    assert (h["x-tandem-model"], h["x-tandem-route-reason"]) == ("big", "explicit")
    h = routed(gateway, "fast", "alias")
    assert (h["x-tandem-model"], h["x-tandem-route-reason"]) == ("small", "alias")


@pytest.mark.parametrize("content,headers,model,reason", [
    ("hello there", {}, "small", "default"),
    ("Please prove the theorem", {}, "thinker", "rule:reasoning"),
    ("Explain it step by step", {}, "thinker", "rule:reasoning"),
    ("word " * 400, {}, "big", "rule:long-prompt"),
    ("hello", {"X-Tandem-Tier": "premium"}, "big", "rule:premium"),
    # big would cost ~0.009 $ here: the cost cap skips the rule and keeps the default.
    ("word " * 400, {"X-Tandem-Max-Cost": "0.001"}, "small", "default"),
    # thinker is too slow for the latency cap; the default answers.
    ("prove it", {"X-Tandem-Max-Latency-Ms": "1000"}, "small", "default"),
])
def test_auto_policy(gateway, content, headers, model, reason):
    h = routed(gateway, "auto", content, headers=headers)
    assert (h["x-tandem-model"], h["x-tandem-route-reason"]) == (model, reason)


def test_auto_constraints_that_nothing_meets_are_a_400_naming_the_header(gateway):
    with pytest.raises(openai.BadRequestError) as e:
        routed(gateway, "auto", "hi", headers={"X-Tandem-Max-Latency-Ms": "10"})
    assert e.value.param == "X-Tandem-Max-Latency-Ms"
    with pytest.raises(openai.BadRequestError) as e:
        routed(gateway, "auto", "hi", headers={"X-Tandem-Max-Cost": "free"})
    assert e.value.param == "X-Tandem-Max-Cost"


def test_prefix_affinity_keeps_a_shared_system_prompt_on_one_replica(gateway):
    system = "You are the support assistant of Example Corp. " * 8  # longer than the 256-char affinity prefix
    replicas = set()
    for i in range(6):
        h = routed(gateway, "small", f"question {i}", system=system)
        assert h["x-tandem-replica-reason"] == "affinity"
        replicas.add(h["x-tandem-replica"])
    assert len(replicas) == 1
    spread = {routed(gateway, "small", "q", system=f"Different system prompt number {i}.")["x-tandem-replica"] for i in range(16)}
    assert spread == {"0", "1"}


def test_fallback_only_when_declared(gateway):
    h = routed(gateway, "big-down", "fall back please")
    assert h["x-tandem-model"] == "small"
    assert h["x-tandem-route-reason"] == "fallback"
    assert h["x-tandem-fallback-from"] == "big-down"
    with pytest.raises(openai.InternalServerError) as e:
        routed(gateway, "lonely-down", "no fallback")
    assert e.value.status_code == 503
    assert e.value.response.headers["x-tandem-model"] == "lonely-down"


def test_tenant_salt_comes_from_the_gateway_never_the_client(gateway, stubs):
    marker = "salt-check-unique-prompt"
    for key in ["sk-acme", "sk-globex"]:
        httpx.post(gateway.url + "/v1/chat/completions", timeout=10,
                   headers={"Authorization": f"Bearer {key}", "X-Tandem-Cache-Salt": "client-chosen", "X-Tandem-Tenant": "root"},
                   json={"model": "big", "messages": [{"role": "user", "content": marker}]}).raise_for_status()
    # A salt in the body (vLLM's `cache_salt`) is not honoured, so it is refused by name.
    r = httpx.post(gateway.url + "/v1/chat/completions", timeout=10, headers={"Authorization": "Bearer sk-acme"},
                   json={"model": "big", "cache_salt": "client-chosen", "messages": [{"role": "user", "content": marker}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "cache_salt", r.text
    seen = [r["headers"] for r in stubs["big-0"].requests() if marker in str(r["body"])]
    assert [h["x-tandem-tenant"] for h in seen] == ["acme", "globex"]
    salts = [h["x-tandem-cache-salt"] for h in seen]
    assert "client-chosen" not in salts
    assert salts[0] != salts[1]


def test_cached_tokens_are_reported_per_tenant(gateway):
    client = gateway.client()
    prompt = [{"role": "user", "content": "cache me if you can, a prompt long enough to matter"}]
    first = client.chat.completions.create(model="big", messages=prompt)
    second = client.chat.completions.create(model="big", messages=prompt)
    other = gateway.client("sk-globex").chat.completions.create(model="big", messages=prompt)
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert second.usage.prompt_tokens_details.cached_tokens > 0
    assert other.usage.prompt_tokens_details.cached_tokens == 0
