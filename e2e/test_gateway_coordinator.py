"""The whole path with real parts: the `openai` client → `tandem gateway` (keys, tenants,
routing) → `tandem serve` (engine, paged KV with prefix cache) on 127.0.0.1.

Checks the answering model and route headers, the same tenant's prefix reuse (cached_tokens),
tenant isolation of the prefix cache (another tenant's identical prompt reuses nothing), the
coordinator's engine statistics on the gateway's /metrics (labelled with the gateway's model and
the deployment), that the gateway keeps one pooled connection to the coordinator instead of one
per request, and that a coordinator that goes away turns into an explicit 503 (no fallback
declared).
"""
import http.client
import json
import tempfile
import time
from hashlib import sha256
from pathlib import Path

import pytest

from conftest import Gateway, closed_port_url
from tandemkit import STORIES260K as STORIES, Deployment

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
        "models": [{"name": "stories", "deployments": [{"url": f"http://127.0.0.1:{coordinator.port}", "kind": "coordinator", "upstream_model": "m"}]},
                   {"name": "ghost", "deployments": [{"url": closed_port_url(), "kind": "coordinator"}]}],
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


def engine(gw, family, suffix="", model="stories"):
    return gw.sample(family, suffix, model=model, deployment="0")


def test_engine_statistics_appear_on_the_gateway_per_model(stack):
    gw, _ = stack
    fams = gw.metrics()
    for name, kind in [
        ("tandem_engine_running_sequences", "gauge"), ("tandem_engine_waiting_sequences", "gauge"),
        ("tandem_engine_kv_blocks_used", "gauge"), ("tandem_engine_kv_blocks_total", "gauge"),
        ("tandem_engine_kv_usage_ratio", "gauge"), ("tandem_engine_prefix_cache_hit_tokens", "counter"),
        ("tandem_engine_prefix_cache_queried_tokens", "counter"), ("tandem_engine_preemptions", "counter"),
        ("tandem_engine_steps", "counter"), ("tandem_upstream_up", "gauge"),
        ("tandem_upstream_scrape_errors", "counter"),
    ]:
        assert name in fams, f"{name} missing from the gateway's /metrics"
        assert fams[name].type == kind, (name, fams[name].type)
    running = [s for s in fams["tandem_engine_running_sequences"].samples]
    assert [(s.labels["model"], s.labels["deployment"], s.labels["exported_model"]) for s in running] == [("stories", "0", "m")]
    assert engine(gw, "tandem_engine_kv_blocks_total") > 0
    assert engine(gw, "tandem_upstream_up") == 1
    # The deployment nobody answers for is reported down, and its failed scrapes are counted.
    assert gw.sample("tandem_upstream_up", model="ghost", deployment="0") == 0
    assert gw.sample("tandem_upstream_scrape_errors", "_total", model="ghost", deployment="0") >= 1
    assert not [s for s in fams["tandem_engine_running_sequences"].samples if s.labels["model"] == "ghost"]


def test_engine_statistics_on_the_gateway_follow_requests(stack):
    gw, _ = stack
    prompt = PROMPT + " and a brand new ending for the metrics test"
    hits = engine(gw, "tandem_engine_prefix_cache_hit_tokens", "_total")
    queried = engine(gw, "tandem_engine_prefix_cache_queried_tokens", "_total")
    generated = engine(gw, "tandem_engine_generation_tokens", "_total")
    steps = engine(gw, "tandem_engine_steps", "_total")
    first = gw.client("sk-alpha").completions.create(model="stories", prompt=prompt, max_tokens=4, temperature=0)
    again = gw.client("sk-alpha").completions.create(model="stories", prompt=prompt, max_tokens=4, temperature=0)
    cached = again.usage.prompt_tokens_details.cached_tokens
    assert cached > 0
    assert engine(gw, "tandem_engine_prefix_cache_hit_tokens", "_total") >= hits + cached
    assert engine(gw, "tandem_engine_prefix_cache_queried_tokens", "_total") >= queried + first.usage.prompt_tokens + again.usage.prompt_tokens
    assert engine(gw, "tandem_engine_generation_tokens", "_total") >= generated + 8
    assert engine(gw, "tandem_engine_steps", "_total") > steps
    assert engine(gw, "tandem_engine_running_sequences") == 0


def established_to(port):
    """Local ports of ESTABLISHED IPv4 sockets on this host whose peer is 127.0.0.1:port."""
    out = set()
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            out.add(int(local.split(":")[1], 16))
    return out


def test_the_gateway_reuses_its_connection_to_the_coordinator(stack):
    gw, coordinator = stack
    complete(gw, "sk-alpha")
    before = established_to(coordinator.port)
    assert before, "no kept-alive connection from the gateway to the coordinator"
    for _ in range(5):
        complete(gw, "sk-alpha")
    after = established_to(coordinator.port)
    # Five requests, at most one new connection (a health probe or a connection the pool retired
    # may come and go): without reuse every request would leave a connection of its own.
    assert after and len(after - before) <= 1, (before, after)


def test_the_coordinator_keeps_client_connections_open(stack):
    _, coordinator = stack
    conn = http.client.HTTPConnection("127.0.0.1", coordinator.port, timeout=30)
    local = []
    for stream in (False, True):
        conn.request("POST", "/v1/completions", headers={"Content-Type": "application/json"},
                     body=json.dumps({"model": "m", "prompt": "Once upon a time", "max_tokens": 2, "stream": stream}))
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        local.append(conn.sock.getsockname())
    conn.close()
    assert local[0] == local[1]


def test_a_client_that_leaves_stops_the_generation_on_the_coordinator(stack):
    gw, _ = stack
    generated = engine(gw, "tandem_engine_generation_tokens", "_total")
    stream = gw.client("sk-alpha").completions.create(model="stories", prompt="Once upon a time", max_tokens=400,
                                                      temperature=0.8, seed=1, stream=True)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    deadline = time.time() + 5
    while time.time() < deadline and engine(gw, "tandem_engine_running_sequences") != 0:
        time.sleep(0.05)
    assert engine(gw, "tandem_engine_running_sequences") == 0
    assert engine(gw, "tandem_engine_generation_tokens", "_total") - generated < 400


def test_a_coordinator_that_is_gone_is_an_explicit_503(stack):
    import openai
    gw, coordinator = stack
    coordinator.stop()
    with pytest.raises(openai.APIStatusError) as e:
        complete(gw, "sk-alpha")
    assert e.value.status_code == 503
    assert engine(gw, "tandem_upstream_up") == 0
