"""Every error status the gateway answers, the openai exception it becomes, and failures mid-way."""
import time

import httpx
import openai
import pytest

AUTH = {"Authorization": "Bearer sk-acme"}


def back_in_rotation(gateway, model="big", timeout=5.0):
    """Waits until `model` has a replica in rotation again. `/ready` probes every replica and a
    passing probe puts one back (a fixed sleep raced the cooldown when the machine was busy)."""
    deadline = time.time() + timeout
    while True:
        r = httpx.get(gateway.url + "/ready", timeout=5)
        if r.json()["models"].get(model, {}).get("status") == "ready":
            return
        assert time.time() < deadline, f"{model} still out of rotation: {r.text}"
        time.sleep(0.1)


def chat(client, model="big", content="hi", **kw):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kw)


def test_400_bad_json(gateway):
    r = httpx.post(gateway.url + "/v1/chat/completions", headers=AUTH, content=b"{not json", timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("extra,param", [
    ({"temperature": 5}, "temperature"),
    ({"top_p": "high"}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"n": 17}, "n"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"response_format": {"type": "yaml"}}, "response_format.type"),
])
def test_400_invalid_field_names_the_field(gateway, extra, param):
    with pytest.raises(openai.BadRequestError) as e:
        chat(gateway.client(), extra_body=extra)
    assert e.value.status_code == 400
    assert e.value.param == param
    assert e.value.type == "invalid_request_error"


def test_400_invalid_message_names_the_message(gateway):
    with pytest.raises(openai.BadRequestError) as e:
        gateway.client().chat.completions.create(model="big", messages=[{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}])
    assert e.value.param == "messages[1].role"


def test_401_bad_or_missing_key(gateway):
    with pytest.raises(openai.AuthenticationError) as e:
        chat(gateway.client(key="sk-nope"))
    assert e.value.status_code == 401
    assert e.value.code == "invalid_api_key"
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "big", "messages": []}, timeout=10)
    assert r.status_code == 401


def test_403_model_not_allowed(gateway):
    with pytest.raises(openai.PermissionDeniedError) as e:
        chat(gateway.client(key="sk-limited"), model="big")
    assert e.value.status_code == 403
    assert e.value.code == "model_not_allowed"


def test_404_unknown_model(gateway):
    with pytest.raises(openai.NotFoundError) as e:
        chat(gateway.client(), model="gpt-17")
    assert e.value.code == "model_not_found"
    assert e.value.param == "model"


def test_413_body_too_large(gateway):
    with pytest.raises(openai.APIStatusError) as e:
        chat(gateway.client(), content="x" * 70_000)
    assert e.value.status_code == 413
    assert e.value.code == "request_too_large"


def test_413_prompt_too_large_for_the_model(gateway):
    with pytest.raises(openai.APIStatusError) as e:
        chat(gateway.client(), model="small", content="word " * 2000)
    assert e.value.status_code == 413
    assert e.value.code == "context_length_exceeded"


def test_413_when_the_upstream_says_the_context_is_too_long(gateway):
    with pytest.raises(openai.APIStatusError) as e:
        chat(gateway.client(), content="[[stub:context]]")
    assert e.value.status_code == 413
    assert e.value.code == "context_length_exceeded"


def test_429_request_rate_with_retry_after(fresh_gateway):
    client = fresh_gateway.client(key="sk-limited")
    for _ in range(3):
        chat(client, model="small")
    with pytest.raises(openai.RateLimitError) as e:
        chat(client, model="small")
    assert e.value.status_code == 429
    assert e.value.code == "rate_limit_exceeded"
    assert int(e.value.response.headers["retry-after"]) >= 1
    assert fresh_gateway.sample("tandem_rate_limited", "_total", tenant="limited", limit="requests") == 1


def test_429_concurrency_limit(gateway):
    import threading
    client = gateway.client(key="sk-solo")
    first = {}

    def slow():
        try:
            first["r"] = chat(client, content="[[stub:slow]] hold the slot", max_tokens=20)
        except Exception as exc:  # noqa: BLE001
            first["r"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    with pytest.raises(openai.RateLimitError) as e:
        chat(client, content="second")
    assert e.value.code == "concurrency_limit_exceeded"
    t.join(timeout=20)
    assert not isinstance(first["r"], Exception), first["r"]
    chat(client, content="after")  # the slot is free again


def test_503_model_down_without_fallback(gateway):
    with pytest.raises(openai.InternalServerError) as e:
        chat(gateway.client(), model="lonely-down")
    assert e.value.status_code == 503
    assert e.value.code == "model_unavailable"
    assert int(e.value.response.headers["retry-after"]) >= 1


def test_503_upstream_over_capacity(gateway):
    with pytest.raises(openai.InternalServerError) as e:
        chat(gateway.client(), model="small", content="[[stub:status=503]]")
    assert e.value.status_code == 503
    assert e.value.code == "over_capacity"
    assert e.value.response.headers["retry-after"] == "3"


def test_504_deadline_and_the_hung_upstream_is_cancelled(gateway, stubs):
    start = time.time()
    with pytest.raises(openai.InternalServerError) as e:
        chat(gateway.client(), model="big", content="[[stub:hang]] deadline-test")
    assert e.value.status_code == 504
    assert e.value.code == "upstream_timeout"
    assert 2.5 < time.time() - start < 6  # the configured 3 s deadline
    stubs["big-0"].wait_for_outcome(lambda r: "deadline-test" in str(r["body"]) and r["outcome"] == "cancelled")
    back_in_rotation(gateway)  # the timeout took big-0 out of rotation


def test_stream_failing_midway_sends_error_event_then_done(gateway):
    back_in_rotation(gateway)
    stream = chat(gateway.client(), content="[[stub:midfail-event]]", stream=True)
    received = []
    with pytest.raises(openai.APIError) as e:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received == ["Hello", " from"]
    assert e.value.code == "model_unavailable"
    # An upstream that fails mid-answer leaves rotation for the 300 ms cooldown.
    back_in_rotation(gateway)
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                      json={"model": "big", "stream": True, "messages": [{"role": "user", "content": "[[stub:midfail]]"}]}) as r:
        lines = [l for l in r.iter_lines() if l.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert '"error"' in lines[-2]
    # The broken connection took big-0 out of rotation for the 300 ms cooldown.
    back_in_rotation(gateway)


def test_client_disconnect_cancels_the_upstream_request(gateway, stubs):
    stream = chat(gateway.client(), content="[[stub:slow]] disconnect-stream", stream=True)
    seen = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen += 1
            if seen == 3:
                break
    closed = time.time()
    stream.close()
    r = stubs["big-0"].wait_for_outcome(lambda r: "disconnect-stream" in str(r["body"]) and r["outcome"] != "started", timeout=5)
    assert r["outcome"] == "cancelled"
    # Well before the 3 s request deadline could have done it.
    assert time.time() - closed < 2.0


def test_client_disconnect_cancels_a_non_streaming_request(gateway, stubs):
    start = time.time()
    with pytest.raises(openai.APITimeoutError):
        chat(gateway.client(timeout=0.5), content="[[stub:slow]] disconnect-whole")
    stubs["big-0"].wait_for_outcome(lambda r: "disconnect-whole" in str(r["body"]) and r["outcome"] == "cancelled", timeout=5)
    assert time.time() - start < 2.5  # before the 3 s request deadline


def test_unknown_path_is_an_openai_shaped_404(gateway):
    r = httpx.get(gateway.url + "/v2/nothing", timeout=5)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_url"
