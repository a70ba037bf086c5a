"""Faults behind the gateway, with real processes on 127.0.0.1: a stalled (SIGSTOPped) upstream
leaves rotation after a timeout, so later requests end fast (another replica, or an explicit 503)
instead of each waiting for the read timeout, and it comes back once a probe passes after
SIGCONT; a coordinator whose engine failed a step (the test-only TANDEM_FAULT_STEP_ERROR_AFTER
hook) fails its /health and the gateway's /ready; an external upstream reporting negative or
overflowing usage gets an error answer instead of crashing the gateway; a huge
metrics_timeout_ms is a configuration error, never a trap.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import KEYS, Gateway, Stub, write_keys
from tandemkit import STORIES260K as STORIES, free_port, start, stop, tandem_bin

HEADERS = {"Authorization": "Bearer sk-acme"}
READ_TIMEOUT_MS = 3000


def config(keys, models, **health):
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "keys_file": str(keys),
        "limits": {"max_body_bytes": 65536, "request_timeout_ms": 20000},
        "upstream": {"connect_timeout_ms": 1000, "read_timeout_ms": READ_TIMEOUT_MS},
        "health": {"failure_threshold": 1, "cooldown_ms": 1000, "probe_timeout_ms": 500, **health},
        "tenants": {t: {"allowed_models": ["*"]} for t in KEYS.values()},
        "models": models,
    }


def chat(gw, model, content="Hi", timeout=30):
    t0 = time.time()
    r = httpx.post(gw.url + "/v1/chat/completions", headers=HEADERS, timeout=timeout,
                   json={"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": content}]})
    return r, time.time() - t0


@pytest.fixture
def stalled_setup(tmp_path):
    a, b = Stub("a", tmp_path), Stub("b", tmp_path)
    keys = tmp_path / "keys.json"
    write_keys(keys)
    gw = Gateway(config(keys, [
        {"name": "solo", "deployments": [{"url": a.url}]},
        {"name": "pair", "deployments": [{"url": a.url}, {"url": b.url}]},
    ]), tmp_path)
    try:
        yield gw, a, b
    finally:
        if a.proc.poll() is None:
            a.proc.send_signal(signal.SIGCONT)
        gw.stop()
        a.stop()
        b.stop()


@pytest.mark.timeout(120)
def test_stalled_upstream_leaves_rotation_and_requests_end_fast(stalled_setup):
    gw, a, b = stalled_setup
    r, _ = chat(gw, "solo")
    assert r.status_code == 200
    a.proc.send_signal(signal.SIGSTOP)

    # The first request to the stalled replica waits for the read timeout: an explicit 504.
    r, took = chat(gw, "solo")
    assert r.status_code == 504, r.text
    assert took < READ_TIMEOUT_MS / 1000 + 2

    # Then it is out of rotation: every later request ends well before the read timeout, with an
    # explicit 503 where it is the only replica, answered by the other replica where there is one.
    for _ in range(4):
        r, took = chat(gw, "solo")
        assert r.status_code == 503, r.text
        assert took < 1.5, took
        assert r.json()["error"]["type"]
        r, took = chat(gw, "pair")
        assert r.status_code == 200 and r.headers["x-tandem-replica"] == "1", (r.status_code, r.text)
        assert took < 1.5, took
        time.sleep(0.4)  # across cooldowns: the probes fail, no client's request is sent to it

    a.proc.send_signal(signal.SIGCONT)
    # Back once a probe passes after its cooldown.
    deadline = time.time() + 10
    while True:
        r, took = chat(gw, "solo")
        if r.status_code == 200:
            break
        assert r.status_code == 503 and took < 1.5, (r.status_code, took)
        assert time.time() < deadline, "the replica did not come back"
        time.sleep(0.2)
    assert r.headers["x-tandem-replica"] == "0"
    # While it was out, no client's request reached it: the first answer, the one that timed out, this one.
    assert len([x for x in a.requests() if x["path"] == "/v1/chat/completions"]) == 3
    assert gw.proc.poll() is None


@pytest.mark.timeout(120)
@pytest.mark.skipif(not Path(STORIES).exists(), reason=f"stories260K missing at {STORIES}")
def test_step_error_fails_coordinator_health_and_gateway_readiness(tmp_path):
    port = free_port()
    env = dict(os.environ, TANDEM_FAULT_STEP_ERROR_AFTER="0")
    coord = f"http://127.0.0.1:{port}"
    serve = start([tandem_bin(), "serve", "--model", STORIES, "--model-name", "m", "--port", str(port),
                   "--kv-mib", "64", "--log-level", "info"], tmp_path / "serve.log", coord + "/health",
                  timeout=60, ok=lambda status: status == 200, interval=0.2, name="tandem serve", env=env, start_new_session=True)
    b = Stub("b", tmp_path)
    gw = None
    try:
        keys = tmp_path / "keys.json"
        write_keys(keys)
        gw = Gateway(config(keys, [
            {"name": "stories", "deployments": [{"url": coord, "kind": "coordinator", "upstream_model": "m"}]},
            {"name": "pair", "deployments": [{"url": coord, "kind": "coordinator", "upstream_model": "m"}, {"url": b.url}]},
        ]), tmp_path)
        assert httpx.get(gw.url + "/ready", timeout=5).status_code == 200

        # The first step fails: an explicit error, and the engine is unusable from now on.
        r = httpx.post(gw.url + "/v1/completions", headers=HEADERS, timeout=30,
                       json={"model": "stories", "prompt": "Once upon a time", "max_tokens": 4})
        assert r.status_code in (500, 503), r.text
        assert "injected step error" in (tmp_path / "serve.log").read_text()

        # The coordinator says so on /health, and the gateway on /ready.
        h = httpx.get(coord + "/health", timeout=5)
        assert h.status_code == 503, h.text
        ready = httpx.get(gw.url + "/ready", timeout=5)
        assert ready.status_code == 503, ready.text

        # Out of rotation: with another replica every request is answered there, across cooldowns.
        for _ in range(4):
            r, took = chat(gw, "pair")
            assert r.status_code == 200 and r.headers["x-tandem-replica"] == "1", r.text
            time.sleep(0.4)
        r, took = chat(gw, "stories")
        assert r.status_code == 503 and took < 1.5, (r.status_code, took, r.text)
        assert gw.proc.poll() is None and serve.poll() is None
    finally:
        if gw:
            gw.stop()
        b.stop()
        stop(serve, timeout=20, group=True)


@pytest.fixture
def external_setup(tmp_path):
    ext = Stub("ext", tmp_path)
    keys = tmp_path / "keys.json"
    write_keys(keys)
    gw = Gateway(config(keys, [{"name": "ext", "deployments": [{"url": ext.url + "/v1", "kind": "external"}]}]), tmp_path)
    try:
        yield gw
    finally:
        gw.stop()
        ext.stop()


@pytest.mark.parametrize("directive", ["[[stub:bad-usage]]", "[[stub:huge-usage]]"])
@pytest.mark.parametrize("stream", [False, True])
def test_invalid_usage_from_an_external_upstream_is_an_error_not_a_crash(external_setup, directive, stream):
    gw = external_setup
    r = httpx.post(gw.url + "/v1/chat/completions", headers=HEADERS, timeout=30,
                   json={"model": "ext", "stream": stream, "stream_options": {"include_usage": True} if stream else None,
                         "messages": [{"role": "user", "content": f"Hi {directive}"}]})
    if stream:
        assert r.status_code == 200
        assert '"error"' in r.text and "invalid usage" in r.text, r.text
    else:
        assert r.status_code == 500, r.text
        assert "invalid usage" in r.json()["error"]["message"]
    time.sleep(0.3)
    assert gw.proc.poll() is None, (gw.workdir / "gateway.log").read_text()[-3000:]
    assert httpx.get(gw.url + "/metrics", timeout=5).status_code == 200
    r, _ = chat(gw, "ext")
    assert r.status_code == 200


def test_huge_metrics_timeout_is_a_configuration_error(tmp_path):
    ext = Stub("ext", tmp_path)
    try:
        keys = tmp_path / "keys.json"
        write_keys(keys)
        cfg = config(keys, [{"name": "ext", "deployments": [{"url": ext.url + "/v1", "kind": "external"}]}])
        cfg["upstream"]["metrics_timeout_ms"] = 2**62
        path = tmp_path / "gateway.json"
        path.write_text(json.dumps(cfg))
        check = subprocess.run([tandem_bin(), "gateway", "--config", str(path), "--check"], capture_output=True, text=True, timeout=60)
        assert check.returncode != 0
        assert "metrics_timeout_ms" in check.stderr + check.stdout, check.stderr + check.stdout

        # Started anyway, the gateway refuses to start (before: it served, then trapped on /metrics).
        port = free_port()
        proc = subprocess.Popen([tandem_bin(), "gateway", "--config", str(path), "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for _ in range(50):
                if proc.poll() is not None:
                    break
                try:
                    httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            assert proc.poll() is not None, "the gateway started with metrics_timeout_ms = 2**62"
            out = proc.stdout.read()
            assert proc.returncode > 0 and "metrics_timeout_ms" in out, (proc.returncode, out[-2000:])
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        ext.stop()
