"""The gateway ↔ coordinator trust boundary, with real `tandem serve` (stories260K) and
`tandem gateway` processes and real HTTP:

* a coordinator given `--internal-key-file` answers 401 on /v1/* and /metrics without the key
  (or with a wrong one), keeps /health open and empty, gives /ready no reasons; with the key it
  serves, and a gateway configured with the same file serves through it (scrapes included);
* default cache salts are keyed (HMAC with the gateway's salt key): the salt derivable from a
  tenant's name no longer reads that tenant's cached prefix through the coordinator;
* 200 forged `X-Tandem-Tenant` values do not make 200 metric series on a coordinator;
* `tandem up` writes mode-0600 key files, binds coordinators to loopback and passes the key by
  file (never on the command line).
"""
import json
import os
import subprocess
import tempfile
from hashlib import sha256
from pathlib import Path

import httpx
import pytest

from conftest import Gateway
from tandemkit import STORIES260K as STORIES, Deployment, start, stop, tandem_bin

KEY = "0123456789abcdef" * 4
PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends every day"
BODY = {"model": "m", "prompt": PROMPT, "max_tokens": 4, "temperature": 0}


def key_file(directory, key=KEY, mode=0o600):
    path = Path(directory) / "internal.key"
    path.write_text(key + "\n")
    os.chmod(path, mode)
    return path


@pytest.fixture(scope="module")
def keyed():
    d = Path(tempfile.mkdtemp(prefix="tandem-sec-coord-"))
    dep = Deployment(STORIES, 1, extra=("--internal-key-file", str(key_file(d))))
    yield dep, d
    dep.stop()


@pytest.fixture(scope="module")
def open_coordinator():
    dep = Deployment(STORIES, 1)
    yield dep
    dep.stop()


def url(dep, path):
    return f"http://127.0.0.1:{dep.port}{path}"


def test_keyed_coordinator_refuses_requests_without_the_key(keyed):
    dep, _ = keyed
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + KEY[:-1] + "0"},
                    {"X-Tandem-Tenant": "demo", "X-Tandem-Cache-Salt": "x"}]:
        r = httpx.post(url(dep, "/v1/completions"), json=BODY, headers=headers, timeout=30)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]["type"] == "authentication_error"
        assert httpx.get(url(dep, "/metrics"), headers=headers, timeout=10).status_code == 401
        assert httpx.get(url(dep, "/v1/models"), headers=headers, timeout=10).status_code == 401
    assert httpx.get(url(dep, "/health"), timeout=10).json() == {"status": "ok"}
    assert set(httpx.get(url(dep, "/ready"), timeout=10).json()["models"]["m"]) == {"status"}
    ok = httpx.post(url(dep, "/v1/completions"), json=BODY, headers={"Authorization": "Bearer " + KEY}, timeout=60)
    assert ok.status_code == 200, ok.text
    assert httpx.get(url(dep, "/metrics"), headers={"Authorization": "Bearer " + KEY}, timeout=10).status_code == 200


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = key_file(tmp_path, mode=0o644)
    out = subprocess.run([tandem_bin(), "serve", "--model", STORIES, "--port", "0", "--internal-key-file", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "readable by others" in out.stderr + out.stdout


def test_gateway_sends_the_key_and_scrapes_with_it(keyed):
    dep, d = keyed
    (d / "keys.json").write_text(json.dumps({"keys": [{"tenant": "alpha", "sha256": sha256(b"sk-alpha").hexdigest()}]}))
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json",
        "tenants": {"alpha": {"allowed_models": ["*"]}},
        "models": [{"name": "stories", "deployments": [{"url": f"http://127.0.0.1:{dep.port}", "kind": "coordinator",
                                                         "upstream_model": "m", "internal_key_file": "internal.key"}]}],
    }
    gw = Gateway(config, d)
    try:
        client = gw.client("sk-alpha")
        r = client.completions.create(model="stories", prompt=PROMPT, max_tokens=4, temperature=0)
        assert r.usage.completion_tokens == 4
        assert httpx.get(gw.url + "/ready", timeout=10).status_code == 200
        fams = gw.metrics()
        assert gw.sample("tandem_upstream_up", model="stories", deployment="0") == 1.0
        assert "tandem_engine_running_sequences" in fams
    finally:
        gw.stop()


def test_default_salt_is_keyed_not_derived_from_the_tenant_name(open_coordinator, tmp_path):
    """The attack of the hardening issue: a tenant's salt computed from its name, sent straight to
    the coordinator with the same prompt, must not find that tenant's cached prefix."""
    dep = open_coordinator
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [{"tenant": "demo", "sha256": sha256(b"sk-demo").hexdigest()}]}))
    salt_key = tmp_path / "salt.key"
    salt_key.write_text("5" * 64 + "\n")
    os.chmod(salt_key, 0o600)
    config = {
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json", "salt_key_file": "salt.key",
        "tenants": {"demo": {"allowed_models": ["*"]}},
        "models": [{"name": "stories", "deployments": [{"url": f"http://127.0.0.1:{dep.port}", "kind": "coordinator",
                                                         "upstream_model": "m"}]}],
    }
    gw = Gateway(config, tmp_path)
    try:
        secret = PROMPT + " and the secret of tenant demo is in this very long sentence"
        first = gw.client("sk-demo").completions.create(model="stories", prompt=secret, max_tokens=2, temperature=0)
        again = gw.client("sk-demo").completions.create(model="stories", prompt=secret, max_tokens=2, temperature=0)
        assert again.usage.prompt_tokens_details.cached_tokens > 0, "the tenant itself must still reuse its prefix"
        name_salt = sha256(b"tandem-cache-salt\x00demo").hexdigest()[:32]
        probe = httpx.post(url(dep, "/v1/completions"), timeout=60,
                           json={**BODY, "prompt": secret, "max_tokens": 2},
                           headers={"X-Tandem-Tenant": "demo", "X-Tandem-Cache-Salt": name_salt})
        assert probe.status_code == 200, probe.text
        assert probe.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0, probe.json()["usage"]
        assert first.usage.prompt_tokens == probe.json()["usage"]["prompt_tokens"]
    finally:
        gw.stop()


def test_forged_tenants_do_not_grow_coordinator_metrics(open_coordinator):
    dep = open_coordinator
    for i in range(200):
        httpx.post(url(dep, "/v1/completions"), json={**BODY, "model": f"nope-{i}"},
                   headers={"X-Tandem-Tenant": f"forged-tenant-{i}"}, timeout=10)
    text = httpx.get(url(dep, "/metrics"), timeout=10).text
    tenants = {part.split('"')[1] for line in text.splitlines() if line.startswith("tandem_requests_total{")
               for part in line.split(",") if part.startswith("tenant=")}
    assert len(tenants) <= 65, len(tenants)
    assert "other" in tenants
    assert "nope-" not in text


@pytest.mark.timeout(300)
def test_up_generates_private_keys_and_binds_coordinators_to_loopback(tmp_path):
    from test_topology_up import MODEL, UP_READY, local_copy, processes_mentioning
    if not MODEL.exists():
        pytest.skip(f"default model missing at {MODEL}")
    path, gw, coord = local_copy(tmp_path)
    text = path.read_text().replace("nodes: [local, local]", "nodes: [local]")
    path.write_text(text)
    run_dir = tmp_path / "run"
    proc = start([tandem_bin(), "up", str(path), "--run-dir", str(run_dir), "--ready-timeout", "200"], tmp_path / "up.log",
                 text=UP_READY, timeout=240, name="tandem up", stop_timeout=60, start_new_session=True)
    try:
        key = run_dir / "smollm2.internal-key"
        assert (key.stat().st_mode & 0o777) == 0o600
        assert ((run_dir / "gateway-salt.key").stat().st_mode & 0o777) == 0o600
        config = json.loads((run_dir / "gateway.json").read_text())
        dep = config["models"][0]["deployments"][0]
        assert dep["internal_key_file"] == str(key) and dep["url"] == f"http://127.0.0.1:{coord}"
        secret = key.read_text().strip()
        assert len(secret) == 64
        # The secret is never on a command line (ps shows those).
        assert not processes_mentioning(secret)
        assert httpx.post(f"http://127.0.0.1:{coord}/v1/completions", json={**BODY, "model": "smollm2"}, timeout=30).status_code == 401
        from openai import OpenAI
        r = OpenAI(base_url=f"http://127.0.0.1:{gw}/v1", api_key="sk-demo-change-me", max_retries=0, timeout=60) \
            .chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        assert r.usage.completion_tokens >= 1
    finally:
        stop(proc, timeout=60, group=True)
