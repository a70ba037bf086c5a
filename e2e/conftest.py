"""Fixtures for the gateway's end-to-end tests: real `tandem gateway` processes in front of
stub upstream processes (e2e/stub_upstream.py), all on 127.0.0.1, all stopped at the end.

The binary is $TANDEM_BIN, else `$(swift build --show-bin-path)/tandem`. The helpers shared with
bench/ (binary, free port, start and stop, Deployment, Gateway) are in tools/tandemkit.py; this file
puts tools/ on sys.path, so every test module can `from tandemkit import ...`.
"""
import json
import sys
import tempfile
import time
from hashlib import sha256
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import tandemkit  # noqa: E402
from tandemkit import free_port, start, stop  # noqa: E402

STUB = ROOT / "e2e" / "stub_upstream.py"

KEYS = {
    "sk-acme": "acme",
    "sk-limited": "limited",
    "sk-solo": "solo",
    "sk-globex": "globex",
}


def pytest_collection_modifyitems(config, items):
    # Every test is bounded in time when pytest-timeout is installed.
    if config.pluginmanager.hasplugin("timeout"):
        for item in items:
            if item.fspath.basename.startswith("test_gateway") and not item.get_closest_marker("timeout"):
                item.add_marker(pytest.mark.timeout(180))


class Stub:
    """A running stub upstream."""

    def __init__(self, name, workdir, reasoning=False):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, str(STUB), "--port", str(self.port), "--name", name]
        if reasoning:
            args.append("--reasoning")
        self.log = Path(workdir) / f"stub-{name}.log"
        self.proc = start(args, self.log, self.url + "/health", name=f"stub {name}")

    def requests(self):
        return httpx.get(self.url + "/_stub/requests", timeout=5).json()

    def reset(self):
        httpx.post(self.url + "/_stub/reset", timeout=5)

    def wait_for_outcome(self, predicate, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.requests():
                if predicate(r):
                    return r
            time.sleep(0.05)
        raise AssertionError(f"stub {self.name}: no matching request in {self.requests()}")

    def stop(self):
        stop(self.proc)


def closed_port_url():
    """A URL nothing listens on (an unavailable deployment)."""
    return f"http://127.0.0.1:{free_port()}"


def base_config(stubs, keys_file):
    s = stubs
    down = closed_port_url()
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "keys_file": str(keys_file),
        "limits": {"max_body_bytes": 65536, "request_timeout_ms": 3000},
        "upstream": {"connect_timeout_ms": 1000, "read_timeout_ms": 10000},
        "health": {"failure_threshold": 1, "cooldown_ms": 300, "probe_timeout_ms": 1000},
        "tenants": {
            "acme": {"allowed_models": ["*"]},
            "globex": {"allowed_models": ["*"]},
            "limited": {"requests_per_minute": 3, "allowed_models": ["small", "fast"]},
            "solo": {"max_concurrent": 1, "allowed_models": ["*"]},
        },
        "models": [
            {"name": "small", "aliases": ["fast"], "cost_per_token": 1e-7, "expected_latency_ms": 300,
             "max_prompt_tokens": 2000,
             "deployments": [{"url": s["small-0"].url}, {"url": s["small-1"].url}]},
            {"name": "big", "cost_per_token": 1e-5, "expected_latency_ms": 3000,
             "deployments": [{"url": s["big-0"].url}]},
            {"name": "thinker", "reasoning": True, "reasoning_token_floor": 64, "reasoning_floor_action": "warn",
             "cost_per_token": 2e-6, "expected_latency_ms": 8000,
             "deployments": [{"url": s["thinker-0"].url}]},
            {"name": "thinker-strict", "reasoning": True, "reasoning_token_floor": 64, "reasoning_floor_action": "reject",
             "deployments": [{"url": s["thinker-0"].url}]},
            {"name": "big-down", "fallback": "small", "deployments": [{"url": down}]},
            {"name": "lonely-down", "deployments": [{"url": down}]},
            {"name": "ext", "deployments": [{"url": s["ext-0"].url + "/v1", "kind": "external",
                                             "upstream_model": "their-model", "api_key_env": "TANDEM_TEST_EXT_KEY"}]},
        ],
        "routing": {
            "affinity_prefix_chars": 256,
            "max_load_imbalance": 4,
            "policies": {
                "auto": {
                    "candidates": ["small", "big", "thinker"],
                    "rules": [
                        {"name": "reasoning", "when": {"keywords": ["prove", "step by step"]}, "model": "thinker"},
                        {"name": "long-prompt", "when": {"min_prompt_tokens": 300}, "model": "big"},
                        {"name": "premium", "when": {"headers": {"X-Tandem-Tier": "premium"}}, "model": "big"},
                    ],
                    "default": "small",
                }
            },
        },
    }


class Gateway(tandemkit.Gateway):
    """A running `tandem gateway` process with its own config and keys file; the `ext` model's
    upstream key (base_config) is in its environment."""

    def __init__(self, config, workdir):
        super().__init__(config, workdir, env={"TANDEM_TEST_EXT_KEY": "sk-external-secret"})


def write_keys(path):
    path.write_text(json.dumps({"keys": [
        {"id": f"key-{tenant}", "tenant": tenant, "sha256": sha256(key.encode()).hexdigest()} for key, tenant in KEYS.items()
    ]}))


@pytest.fixture(scope="session")
def workdir():
    with tempfile.TemporaryDirectory(prefix="tandem-gw-e2e-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def stubs(workdir):
    started = {}
    try:
        for name in ["small-0", "small-1", "big-0", "ext-0"]:
            started[name] = Stub(name, workdir)
        started["thinker-0"] = Stub("thinker-0", workdir, reasoning=True)
        yield started
    finally:
        for s in started.values():
            s.stop()


@pytest.fixture(scope="session")
def gateway(stubs, workdir):
    keys = workdir / "keys.json"
    write_keys(keys)
    gw = Gateway(base_config(stubs, keys), workdir)
    try:
        yield gw
    finally:
        gw.stop()


@pytest.fixture
def fresh_gateway(stubs, tmp_path):
    """A gateway of one's own (for tests that reload or exhaust limits)."""
    keys = tmp_path / "keys.json"
    write_keys(keys)
    gw = Gateway(base_config(stubs, keys), tmp_path)
    try:
        yield gw
    finally:
        gw.stop()


def all_requests(stubs, *names):
    out = []
    for n in names or stubs.keys():
        out += [dict(r, stub=n) for r in stubs[n].requests()]
    return out


@pytest.fixture(scope="module")
def dep():
    """A `tandem serve` of SmolLM2 as model `m` (one rank), shared by a module's tests; a module
    that needs another deployment defines its own `dep`."""
    d = tandemkit.Deployment(tandemkit.SMOLLM2, 1)
    try:
        yield d
    finally:
        d.stop()


def gateway_in_front(coordinator_url, key, model="smol", prefix="tandem-gw-"):
    """A `tandem gateway` whose one tenant (API key KEY) reaches MODEL, served by the coordinator
    at COORDINATOR_URL (as its model `m`). Stop it with `.stop()`."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    (d / "keys.json").write_text(json.dumps({"keys": [{"id": "k", "tenant": "t", "sha256": sha256(key.encode()).hexdigest()}]}))
    return Gateway({
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json",
        "limits": {"max_body_bytes": 1048576, "request_timeout_ms": 300000},
        "upstream": {"connect_timeout_ms": 2000, "read_timeout_ms": 300000},
        "tenants": {"t": {"requests_per_minute": 6000, "tokens_per_minute": 10000000, "max_concurrent": 16, "allowed_models": ["*"]}},
        "models": [{"name": model, "deployments": [{"url": coordinator_url, "kind": "coordinator", "upstream_model": "m"}]}],
    }, d)
