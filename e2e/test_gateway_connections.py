"""Connections: the gateway keeps pooled keep-alive connections to its upstreams, retries a
request once when a kept-alive connection turns out to be closed before any answer arrived
(never after), and keeps client connections open between answers while still cancelling the
upstream when a client goes away."""
import http.client
import json
import time

import httpx
import pytest

from conftest import Gateway, Stub, write_keys

AUTH = {"Authorization": "Bearer sk-acme", "Content-Type": "application/json"}


def lone_stack(tmp_path, read_timeout_ms=5000):
    stub = Stub("lone-0", tmp_path)
    keys = tmp_path / "keys.json"
    write_keys(keys)
    gw = Gateway({
        "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": str(keys),
        "limits": {"request_timeout_ms": 5000},
        "upstream": {"connect_timeout_ms": 1000, "read_timeout_ms": read_timeout_ms},
        "tenants": {t: {"allowed_models": ["*"]} for t in ("acme", "limited", "solo", "globex")},
        "models": [{"name": "lone", "deployments": [{"url": stub.url}]}],
    }, tmp_path)
    return gw, stub


@pytest.fixture
def lone(tmp_path):
    """A gateway of its own in front of one stub of its own (so connection counts are exact)."""
    gw, stub = lone_stack(tmp_path)
    try:
        yield gw, stub
    finally:
        gw.stop()
        stub.stop()


def ask(gw, content, stream=False):
    return httpx.post(gw.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                      json={"model": "lone", "stream": stream, "messages": [{"role": "user", "content": content}]})


def test_sequential_requests_share_one_upstream_connection(lone):
    gw, stub = lone
    for i in range(4):
        r = ask(gw, f"reuse {i}", stream=i % 2 == 1)
        assert r.status_code == 200, r.text
    ports = [r["client_port"] for r in stub.requests() if "reuse" in str(r["body"])]
    assert len(ports) == 4
    assert len(set(ports)) == 1, f"a new upstream connection per request: {ports}"


def test_a_kept_alive_connection_closed_by_the_upstream_is_retried_once(lone):
    gw, stub = lone
    errors_before = gw.sample("tandem_upstream_errors", "_total", model="lone", category="upstream_unavailable")
    assert ask(gw, "[[stub:drop-next]] first").status_code == 200
    r = ask(gw, "second, on the connection the stub will drop")
    assert r.status_code == 200, r.text
    assert r.headers["x-tandem-replica-reason"] != "retry"
    seen = [(x["outcome"], x["client_port"]) for x in stub.requests() if "second" in str(x["body"])]
    assert [o for o, _ in seen] == ["dropped-unanswered", "completed"]
    assert seen[0][1] != seen[1][1], "the retry must use another connection"
    # Not a replica failure: no error counted, the replica stays in rotation.
    assert gw.sample("tandem_upstream_errors", "_total", model="lone", category="upstream_unavailable") == errors_before
    assert ask(gw, "third").status_code == 200


def test_an_answer_that_breaks_after_it_started_is_not_sent_again(lone):
    gw, stub = lone
    with httpx.stream("POST", gw.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                      json={"model": "lone", "stream": True,
                            "messages": [{"role": "user", "content": "[[stub:midfail]] once only"}]}) as r:
        lines = [l for l in r.iter_lines() if l.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert '"error"' in lines[-2]
    assert len([x for x in stub.requests() if "once only" in str(x["body"])]) == 1


def test_client_connections_stay_open_between_answers(lone):
    gw, _ = lone
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    local = []
    for i, stream in enumerate([False, True, False]):
        body = json.dumps({"model": "lone", "stream": stream, "messages": [{"role": "user", "content": f"keep {i}"}]})
        conn.request("POST", "/v1/chat/completions", body=body, headers=AUTH)
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data
        assert (r.getheader("Connection") or "").lower() != "close"
        local.append(conn.sock.getsockname())
    conn.close()
    assert len(set(local)) == 1, f"the gateway closed the connection between answers: {local}"


def test_a_client_leaving_a_kept_alive_connection_cancels_the_upstream(lone):
    gw, stub = lone
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", headers=AUTH,
                 body=json.dumps({"model": "lone", "messages": [{"role": "user", "content": "warm up"}]}))
    assert conn.getresponse().read()
    conn.request("POST", "/v1/chat/completions", headers=AUTH,
                 body=json.dumps({"model": "lone", "stream": True,
                                  "messages": [{"role": "user", "content": "[[stub:slow]] leave me"}]}))
    r = conn.getresponse()
    assert r.status == 200
    r.fp.readline()
    closed = time.time()
    r.close()
    conn.close()
    got = stub.wait_for_outcome(lambda x: "leave me" in str(x["body"]) and x["outcome"] != "started", timeout=5)
    assert got["outcome"] == "cancelled"
    assert time.time() - closed < 2.0


def test_an_upstream_silent_longer_than_the_read_timeout_ends_the_stream(tmp_path):
    gw, stub = lone_stack(tmp_path, read_timeout_ms=500)
    try:
        start = time.time()
        with httpx.stream("POST", gw.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                          json={"model": "lone", "stream": True,
                                "messages": [{"role": "user", "content": "[[stub:stall]] silent"}]}) as r:
            lines = [l for l in r.iter_lines() if l.startswith("data: ")]
        assert time.time() - start < 2.5, "the 500 ms read timeout, not the 3 s stall or the 5 s deadline"
        assert lines[-1] == "data: [DONE]"
        assert json.loads(lines[-2][6:])["error"]["code"] == "upstream_timeout"
        assert stub.wait_for_outcome(lambda x: "silent" in str(x["body"]) and x["outcome"] != "started")["outcome"] == "cancelled"
        # A timeout is not a dead replica: the next request is served.
        assert ask(gw, "after the stall").status_code == 200
    finally:
        gw.stop()
        stub.stop()
