"""Hostile input at the gateway's edge, against a real `tandem gateway` process in front of stub
upstreams (e2e/conftest.py):

* an over-limit body sent whole before reading gets its 413 (not a reset after a timeout), also
  with `Connection: close`; a non-JSON `Content-Type` gets a 415 in OpenAI's error shape;
* every client-controlled size is bounded with a 400 naming the field (messages, message
  length, stop strings, nesting depth, header size);
* forged `X-Tandem-Tenant` headers and made-up model names do not grow `/metrics`;
* demo keys are refused on a non-loopback listen address; `/metrics` and the reasons of `/ready`
  need the admin key when one is configured, and `/ready` without it names no internal URL.
"""
import json
import os
import socket
import subprocess
import time

import httpx
import pytest

from conftest import Gateway, base_config, closed_port_url, write_keys
from tandemkit import ROOT, free_port, tandem_bin, wait_http

CHAT = {"model": "small", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
AUTH = {"Authorization": "Bearer sk-acme"}


def raw_post(port, body, headers, read_timeout=15):
    """Sends the whole request (head and body) before reading anything, like a naive client."""
    s = socket.create_connection(("127.0.0.1", port))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode())
    s.settimeout(read_timeout)
    start = time.time()
    s.sendall(body)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data, time.time() - start


@pytest.mark.parametrize("connection", ["keep-alive", "close"])
def test_ten_megabyte_body_sent_before_reading_gets_413(gateway, connection):
    body = json.dumps({"model": "small", "messages": [{"role": "user", "content": "x" * (10 << 20)}]}).encode()
    data, took = raw_post(gateway.port, body, {**AUTH, "Content-Type": "application/json", "Connection": connection})
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b"request_too_large" in data
    assert took < 5, took


def test_non_json_content_type_is_415(gateway):
    r = httpx.post(gateway.url + "/v1/chat/completions", content=json.dumps(CHAT),
                   headers={**AUTH, "Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 415, r.text
    err = r.json()["error"]
    assert err["code"] == "unsupported_media_type" and err["type"] == "invalid_request_error"
    # JSON with parameters, and no Content-Type at all (documented: taken as JSON), are served.
    ok = httpx.post(gateway.url + "/v1/chat/completions", content=json.dumps(CHAT),
                    headers={**AUTH, "Content-Type": "application/json; charset=utf-8"}, timeout=10)
    assert ok.status_code == 200, ok.text
    bare = httpx.Client(timeout=10)
    req = bare.build_request("POST", gateway.url + "/v1/chat/completions", content=json.dumps(CHAT).encode(), headers=AUTH)
    assert "content-type" not in req.headers
    assert bare.send(req).status_code == 200


def bounded_400(gateway, body, param, headers=None):
    r = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={**AUTH, **(headers or {})}, timeout=10)
    assert r.status_code == 400, (param, r.status_code, r.text[:300])
    assert r.json()["error"]["param"] == param, r.text[:300]


def test_client_controlled_sizes_are_bounded(stubs, tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys)
    c = base_config(stubs, keys)
    c["limits"]["max_body_bytes"] = 4 << 20
    gateway = Gateway(c, tmp_path)
    try:
        check_bounds(gateway)
    finally:
        gateway.stop()


def check_bounds(gateway):
    msgs = [{"role": "user", "content": "a"}] * 1025
    bounded_400(gateway, {**CHAT, "messages": msgs}, "messages")
    bounded_400(gateway, {**CHAT, "messages": [{"role": "user", "content": "y" * (512 * 1024 + 1)}]}, "messages[0].content")
    bounded_400(gateway, {**CHAT, "stop": ["a", "b", "c", "d", "e"]}, "stop")
    bounded_400(gateway, {**CHAT, "stop": ["ok", "z" * 257]}, "stop[1]")
    bounded_400(gateway, {**CHAT, "user": "u" * 257}, "user")
    nested = {**CHAT, "metadata": {"k": json.loads("[" * 40 + "]" * 40)}}
    bounded_400(gateway, nested, "body")
    bounded_400(gateway, CHAT, "x-tandem-tier", headers={"X-Tandem-Tier": "t" * 9000})
    # At the bounds themselves the request is served.
    r = httpx.post(gateway.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                   json={**CHAT, "stop": ["a", "b", "c", "z" * 256], "metadata": {"k": json.loads("[" * 20 + "]" * 20)}})
    assert r.status_code == 200, r.text[:300]


def series(text, family):
    return {line.split(" ")[0] for line in text.splitlines() if line.startswith(family + "{")}


def test_forged_tenants_and_models_do_not_grow_metrics(gateway):
    before = httpx.get(gateway.url + "/metrics", timeout=10).text
    for i in range(200):
        httpx.post(gateway.url + "/v1/chat/completions", timeout=10,
                   json={**CHAT, "model": f"no-such-model-{i}"},
                   headers={**AUTH, "X-Tandem-Tenant": f"forged-{i}", "X-Tandem-Cache-Salt": f"s{i}"})
    after = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert "forged-" not in after and "no-such-model-" not in after
    assert len(series(after, "tandem_requests_total")) <= len(series(before, "tandem_requests_total")) + 1


def start_gateway(config, workdir, host="127.0.0.1"):
    """A gateway process; returns (proc, port, log) once it listens or has exited."""
    path = workdir / "gw.json"
    path.write_text(json.dumps(config))
    port = free_port()
    log = workdir / "gw.log"
    proc = subprocess.Popen([tandem_bin(), "gateway", "--config", str(path), "--host", host, "--port", str(port)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=30, proc=proc, log=log, ok=lambda status: True)
    except RuntimeError:
        pass  # exited, or not listening in time: the caller looks at proc and the log
    return proc, port, log


def demo_config(stubs, keys_file):
    c = base_config(stubs, keys_file)
    c["keys_file"] = str(ROOT / "gateway" / "keys.example.json")
    c["tenants"]["demo"] = {"allowed_models": ["*"]}
    c["tenants"]["trial"] = {"allowed_models": ["*"]}
    return c


def test_demo_keys_are_refused_on_a_non_loopback_listen_address(stubs, tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys)
    proc, _, log = start_gateway(demo_config(stubs, keys), tmp_path, host="0.0.0.0")
    try:
        assert proc.wait(timeout=30) != 0
        assert "sk-demo-change-me" in log.read_text() and "not loopback" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    # The explicit override starts it; on loopback the demo keys are fine.
    c = demo_config(stubs, keys)
    c["allow_demo_keys"] = True
    for config, host in [(c, "0.0.0.0"), (demo_config(stubs, keys), "127.0.0.1")]:
        proc, port, log = start_gateway(config, tmp_path, host=host)
        try:
            assert proc.poll() is None, log.read_text()[-2000:]
            assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_metrics_and_ready_details_need_the_admin_key(stubs, tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys)
    admin = tmp_path / "admin.key"
    admin.write_text("a" * 64 + "\n")
    os.chmod(admin, 0o600)
    c = base_config(stubs, keys)
    c["admin_key_file"] = str(admin)
    gw = Gateway(c, tmp_path)
    try:
        httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=AUTH, timeout=10)
        assert httpx.get(gw.url + "/metrics", timeout=10).status_code == 401
        assert httpx.get(gw.url + "/metrics", headers=AUTH, timeout=10).status_code == 401
        m = httpx.get(gw.url + "/metrics", headers={"Authorization": "Bearer " + "a" * 64}, timeout=10)
        assert m.status_code == 200 and 'tenant="acme"' in m.text
        # big-down and lonely-down are unavailable: without the key no reason (no internal URL).
        plain = httpx.get(gw.url + "/ready", timeout=10)
        assert plain.status_code == 503
        assert "127.0.0.1" not in plain.text and "reason" not in plain.text, plain.text
        detailed = httpx.get(gw.url + "/ready", headers={"Authorization": "Bearer " + "a" * 64}, timeout=10)
        assert "reason" in detailed.text
        assert httpx.get(gw.url + "/health", timeout=10).json() == {"status": "ok"}
    finally:
        gw.stop()


def test_admin_key_file_readable_by_others_is_refused(stubs, tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys)
    admin = tmp_path / "admin.key"
    admin.write_text("b" * 64 + "\n")
    os.chmod(admin, 0o644)
    c = base_config(stubs, keys)
    c["admin_key_file"] = str(admin)
    (tmp_path / "c.json").write_text(json.dumps(c))
    out = subprocess.run([tandem_bin(), "gateway", "--config", str(tmp_path / "c.json"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "readable by others" in out.stderr + out.stdout
