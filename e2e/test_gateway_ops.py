"""Operations: Prometheus metrics, configuration reload on SIGHUP, and a schemathesis run of
gateway/openapi.yaml."""
import json
import os
import warnings
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import Gateway, base_config, write_keys
from tandemkit import ROOT


def test_metrics_parse_and_count(gateway):
    before = gateway.sample("tandem_requests", "_total", model="big", tenant="acme", status="200")
    stream = gateway.client().chat.completions.create(model="big", messages=[{"role": "user", "content": "metrics"}],
                                                      stream=True, stream_options={"include_usage": True})
    usage = [c.usage for c in stream if c.usage][0]
    with pytest.raises(Exception):
        gateway.client().chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    fams = gateway.metrics()
    for name, kind in [
        ("tandem_requests", "counter"), ("tandem_time_to_first_token_seconds", "histogram"),
        ("tandem_inter_token_latency_seconds", "histogram"), ("tandem_request_duration_seconds", "histogram"),
        ("tandem_queue_time_seconds", "histogram"), ("tandem_prompt_tokens", "counter"),
        ("tandem_cached_prompt_tokens", "counter"), ("tandem_generated_tokens", "counter"),
        ("tandem_running_requests", "gauge"), ("tandem_routing_decisions", "counter"),
        ("tandem_replica_decisions", "counter"),
    ]:
        assert name in fams, f"{name} missing from /metrics"
        assert fams[name].type == kind, (name, fams[name].type)
    assert gateway.sample("tandem_requests", "_total", model="big", tenant="acme", status="200") == before + 1
    assert gateway.sample("tandem_requests", "_total", model="unknown", tenant="acme", status="404") >= 1
    assert gateway.sample("tandem_generated_tokens", "_total", model="big", tenant="acme") >= usage.completion_tokens
    assert gateway.sample("tandem_time_to_first_token_seconds", "_count", model="big") >= 1
    assert gateway.sample("tandem_routing_decisions", "_total", model="big", reason="explicit") >= 1
    assert gateway.sample("tandem_running_requests", model="big") == 0


def test_upstream_errors_are_counted(gateway):
    before = gateway.sample("tandem_upstream_errors", "_total", model="small", category="over_capacity")
    with pytest.raises(Exception):
        gateway.client().chat.completions.create(model="small", messages=[{"role": "user", "content": "[[stub:status=429]]"}])
    assert gateway.sample("tandem_upstream_errors", "_total", model="small", category="over_capacity") >= before + 2


def wait_until(predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_sighup_reloads_a_valid_config_and_refuses_an_invalid_one(fresh_gateway):
    gw = fresh_gateway
    config = json.loads(json.dumps(gw.config))
    config["models"][0]["aliases"].append("tiny")
    gw.write_config(config)
    gw.reload()
    models = lambda: {m.id for m in gw.client().models.list()}  # noqa: E731
    assert wait_until(lambda: "tiny" in models())
    h = gw.client().chat.completions.with_raw_response.create(model="tiny", messages=[{"role": "user", "content": "hi"}]).headers
    assert h["x-tandem-model"] == "small"

    broken = json.loads(json.dumps(config))
    broken["models"][0]["fallback"] = "no-such-model"
    gw.write_config(broken)
    gw.reload()
    assert wait_until(lambda: gw.sample("tandem_config_reloads", "_total", result="rejected") == 1)
    assert "tiny" in models()
    assert gw.proc.poll() is None
    assert "no-such-model" in gw.log.read_text()

    gw.config_path.write_text("{ not json")
    gw.reload()
    assert wait_until(lambda: gw.sample("tandem_config_reloads", "_total", result="rejected") == 2)
    gw.client().chat.completions.create(model="tiny", messages=[{"role": "user", "content": "still serving"}])


def test_invalid_config_at_start_is_refused(tmp_path, stubs):
    from tandemkit import tandem_bin
    keys = tmp_path / "keys.json"
    write_keys(keys)
    config = base_config(stubs, keys)
    config["routing"]["policies"]["auto"]["default"] = "ghost"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    out = subprocess.run([tandem_bin(), "gateway", "--config", str(path), "--check"], capture_output=True, text=True, errors="replace", timeout=60)
    assert out.returncode != 0
    assert "ghost" in out.stderr


def test_hash_key_matches_sha256():
    from hashlib import sha256
    from tandemkit import tandem_bin
    out = subprocess.run([tandem_bin(), "gateway", "--hash-key", "sk-test"], capture_output=True, text=True, errors="replace", timeout=60)
    assert out.stdout.strip() == sha256(b"sk-test").hexdigest()


@pytest.fixture
def schema_gateway(stubs, tmp_path):
    """A gateway whose models are all up (so any 5xx is a bug)."""
    keys = tmp_path / "keys.json"
    write_keys(keys)
    config = base_config(stubs, keys)
    config["models"] = [m for m in config["models"] if not m["name"].endswith("-down")]
    gw = Gateway(config, tmp_path)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.mark.timeout(400)
def test_schemathesis_finds_no_server_errors_or_schema_violations(schema_gateway, tmp_path):
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.skip("schemathesis is not installed (pip install -r tools/requirements.txt)")
    def run(seed, phases):
        cmd = [st, "run", str(ROOT / "gateway" / "openapi.yaml"), "--url", schema_gateway.url,
               "-H", "Authorization: Bearer sk-globex",
               "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
               "--phases", phases, "--max-examples", "100", "--seed", str(seed),
               "--workers", "2", "--request-timeout", "10", "--no-shrink", "--suppress-health-check", "all"]
        env = dict(os.environ, SCHEMATHESIS_HOOKS=str(ROOT / "e2e" / "schemathesis_hooks.py"))
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=360, cwd=tmp_path, env=env)

    # CPython 3.11.7 has an interpreter bug that hypothesis can hit while describing a strategy
    # ("SystemError: AST constructor recursion depth mismatch"): schemathesis then reports a
    # runtime error in its own generator, not a finding about the API. The coverage phase hits it
    # every time, so it is left out; when fuzzing hits it, retry with other seeds. Any real
    # finding (a failed check) fails the test at once.
    interpreter_bug = "AST constructor recursion depth mismatch"
    out = None
    for seed in (20240601, 7, 1234567):
        out = run(seed, "examples,fuzzing")
        text = out.stdout + out.stderr
        if out.returncode == 0 or interpreter_bug not in text or re.search(r"\b\d+ failed\b", text):
            break
    text = out.stdout + out.stderr
    if out.returncode != 0 and interpreter_bug in text and not re.search(r"\b\d+ failed\b", text):
        warnings.warn("schemathesis' fuzzing phase hit the CPython 3.11 AST bug on every seed; "
                      "the examples phase is checked alone")
        out = run(20240601, "examples")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
