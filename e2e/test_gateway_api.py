"""The gateway's OpenAI-compatible API, driven with the official `openai` client."""
import json

import httpx
import pytest


def last_request(stub, predicate=lambda r: True):
    matching = [r for r in stub.requests() if predicate(r)]
    assert matching, f"no request reached {stub.name}"
    return matching[-1]


def test_chat_completion_returns_answer_usage_and_route_headers(gateway):
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="big", messages=[{"role": "user", "content": "Say hello"}])
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.model == "big"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hello from big-0."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 4
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert raw.headers["x-tandem-model"] == "big"
    assert raw.headers["x-tandem-route-reason"] == "explicit"
    assert raw.headers["x-request-id"]


def test_completion_endpoint_and_echo(gateway):
    c = gateway.client().completions.create(model="big", prompt="Once upon a time", max_tokens=2, echo=True)
    assert c.object == "text_completion"
    assert c.choices[0].text == "Once upon a timeHello from"
    assert c.choices[0].finish_reason == "length"
    assert c.usage.completion_tokens == 2
    forwarded = last_request(gateway_stub(gateway, "big-0"), lambda r: r["path"] == "/v1/completions")
    assert forwarded["body"]["prompt"] == "Once upon a time"
    assert forwarded["body"]["max_tokens"] == 2


def test_token_prompt_is_forwarded_as_ids(gateway):
    c = gateway.client().completions.create(model="big", prompt=[1, 2, 3])
    assert c.choices[0].text
    forwarded = last_request(gateway_stub(gateway, "big-0"), lambda r: r["path"] == "/v1/completions")
    assert forwarded["body"]["prompt"] == [1, 2, 3]


def test_streaming_chat_with_usage(gateway):
    stream = gateway.client().chat.completions.create(
        model="big", messages=[{"role": "user", "content": "Stream please"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from big-0."
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 4
    assert all(c.model == "big" for c in chunks)


def test_streaming_completion_ends_with_done(gateway):
    with httpx.stream("POST", gateway.url + "/v1/completions", headers={"Authorization": "Bearer sk-acme"},
                      json={"model": "big", "prompt": "x", "stream": True}, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [l for l in r.iter_lines() if l.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    text = "".join(json.loads(l[6:])["choices"][0]["text"] for l in lines[:-1])
    assert text == "Hello from big-0."


def test_sampling_fields_are_forwarded(gateway):
    c = gateway.client().chat.completions.create(
        model="big", messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "fields"}],
        temperature=0.3, top_p=0.8, seed=1234, presence_penalty=0.5, frequency_penalty=-0.5,
        max_completion_tokens=50, stop=["STOP", "END"], logprobs=True, top_logprobs=2, user="u-42")
    assert c.choices[0].message.content
    body = last_request(gateway_stub(gateway, "big-0"), lambda r: r["body"].get("user") == "u-42")["body"]
    assert body["temperature"] == pytest.approx(0.3)
    assert body["top_p"] == pytest.approx(0.8)
    assert body["seed"] == 1234
    assert body["presence_penalty"] == pytest.approx(0.5)
    assert body["frequency_penalty"] == pytest.approx(-0.5)
    assert body["max_completion_tokens"] == 50
    assert body["stop"] == ["STOP", "END"]
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}


def test_stop_and_max_tokens_shape_the_answer(gateway):
    client = gateway.client()
    c = client.chat.completions.create(model="big", messages=[{"role": "user", "content": "stop test"}], stop=" from")
    assert c.choices[0].message.content == "Hello"
    c = client.chat.completions.create(model="big", messages=[{"role": "user", "content": "length test"}], max_tokens=1)
    assert c.choices[0].message.content == "Hello"
    assert c.choices[0].finish_reason == "length"


def test_logprobs_are_returned(gateway):
    c = gateway.client().chat.completions.create(
        model="big", messages=[{"role": "user", "content": "logprobs"}], logprobs=True, top_logprobs=2)
    content = c.choices[0].logprobs.content
    assert [t.token for t in content] == ["Hello", " from", " big-0", "."]
    assert content[0].logprob == pytest.approx(-0.1)
    assert len(content[0].top_logprobs) == 2
    assert content[0].bytes == list(b"Hello")
    legacy = gateway.client().completions.create(model="big", prompt="lp", logprobs=1)
    assert legacy.choices[0].logprobs.tokens == ["Hello", " from", " big-0", "."]
    assert legacy.choices[0].logprobs.token_logprobs[1] == pytest.approx(-0.2)


def test_reasoning_content_is_separate_from_the_answer(gateway):
    client = gateway.client()
    c = client.chat.completions.create(model="thinker", messages=[{"role": "user", "content": "Think"}])
    assert c.choices[0].message.content == "Hello from thinker-0."
    assert c.choices[0].message.model_extra["reasoning_content"] == "Let me think."
    assert c.usage.completion_tokens_details.reasoning_tokens == 3
    chunks = list(client.chat.completions.create(model="thinker", messages=[{"role": "user", "content": "Think"}], stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices)
    assert reasoning == "Let me think."


def test_reasoning_floor_warns_or_rejects_per_config(gateway):
    client = gateway.client()
    raw = client.chat.completions.with_raw_response.create(
        model="thinker", messages=[{"role": "user", "content": "short"}], max_tokens=10)
    assert "reasoning floor" in raw.headers["x-tandem-warning"]
    import openai
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="thinker-strict", messages=[{"role": "user", "content": "short"}], max_tokens=10)
    assert e.value.param == "max_tokens"
    assert e.value.code == "below_reasoning_floor"


def test_json_response_format_is_checked(gateway):
    c = gateway.client().chat.completions.create(
        model="big", messages=[{"role": "user", "content": "json please"}], response_format={"type": "json_object"})
    assert json.loads(c.choices[0].message.content) == {"answer": "from big-0"}


def test_unknown_fields_are_refused_naming_them(gateway):
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-acme"}, timeout=10,
                   json={"model": "big", "messages": [{"role": "user", "content": "x"}], "frobnicate": {"a": 1}})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "frobnicate" and r.json()["error"]["code"] == "unknown_parameter"
    # Accepted fields that change nothing here.
    r = httpx.post(gateway.url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-acme"}, timeout=10,
                   json={"model": "big", "messages": [{"role": "user", "content": "x"}],
                         "parallel_tool_calls": False, "metadata": {"k": "v"}, "store": False})
    assert r.status_code == 200, r.text


def test_models_lists_what_the_tenant_may_use(gateway):
    ids = {m.id for m in gateway.client().models.list()}
    assert {"small", "fast", "big", "thinker", "auto", "ext"} <= ids
    limited = {m.id for m in gateway.client("sk-limited").models.list()}
    assert limited == {"small", "fast"}


def test_external_upstream_gets_its_key_and_model_but_no_tenant_headers(gateway):
    c = gateway.client().chat.completions.create(model="ext", messages=[{"role": "user", "content": "outside"}])
    assert c.model == "ext"
    forwarded = last_request(gateway_stub(gateway, "ext-0"))
    assert forwarded["headers"]["authorization"] == "Bearer sk-external-secret"
    assert forwarded["body"]["model"] == "their-model"
    assert "x-tandem-tenant" not in forwarded["headers"]
    assert "x-tandem-cache-salt" not in forwarded["headers"]


def test_health_and_ready(gateway):
    assert httpx.get(gateway.url + "/health").json() == {"status": "ok"}
    r = httpx.get(gateway.url + "/ready", timeout=10)
    # Two configured models point at a closed port: not ready, and it says which.
    assert r.status_code == 503
    body = r.json()
    assert body["models"]["small"]["status"] == "ready"
    assert body["models"]["lonely-down"]["status"] == "unavailable"
    assert r.headers["retry-after"]


def gateway_stub(gateway, name):
    from conftest import Stub  # noqa: F401  (type only)
    return gateway.stubs[name]


@pytest.fixture(autouse=True)
def _attach_stubs(gateway, stubs):
    gateway.stubs = stubs
