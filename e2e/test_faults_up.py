"""`tandem up` with two deployments, one of which keeps crashing: after --max-restarts restarts
`up` gives up on that one alone (loud in its output), its model answers an explicit 503 through
the gateway, the other model keeps answering, and SIGTERM still stops everything (127.0.0.1 only).

The crashing deployment's model is a copy of the model file that the test removes after the
topology is ready, then the test kills its coordinator: every restart fails to load the model.
"""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tandemkit import ROOT, free_port, start, tandem_bin
from test_topology_up import KEY, MODEL, UP_READY, needs_model, processes_mentioning


def topology(tmp_path, model_a, model_b):
    gw, a, b = free_port(), free_port(), free_port()
    placement = "placement: {{nodes: [local], port: {port}, kv_mib: 32, block_size: 16, max_running: 4, step_timeout_s: 30}}"
    text = f"""version: 1
nodes:
  - {{name: local, host: 127.0.0.1, address: 127.0.0.1, cores: 2, memory_gib: 8}}
transport: {{kind: mpi, mode: preferred}}
models:
  - name: steady
    source: {model_a}
    {placement.format(port=a)}
  - name: flaky
    source: {model_b}
    {placement.format(port=b)}
gateway:
  node: local
  listen: {{host: 127.0.0.1, port: {gw}}}
  keys_file: {ROOT / "gateway" / "keys.example.json"}
  limits: {{max_body_bytes: 1048576, request_timeout_ms: 60000}}
  upstream: {{connect_timeout_ms: 1000, read_timeout_ms: 30000}}
  health: {{failure_threshold: 1, cooldown_ms: 1000, probe_timeout_ms: 1000}}
  tenants:
    demo: {{requests_per_minute: 6000, tokens_per_minute: 10000000, max_concurrent: 16, allowed_models: ["*"]}}
    trial: {{requests_per_minute: 20, tokens_per_minute: 20000, max_concurrent: 2, allowed_models: [steady]}}
"""
    path = tmp_path / "two.yaml"
    path.write_text(text)
    return path, gw, a, b


def chat(gw, model):
    t0 = time.time()
    r = httpx.post(f"http://127.0.0.1:{gw}/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
                   json={"model": model, "max_tokens": 4, "temperature": 0, "messages": [{"role": "user", "content": "Hi"}]})
    return r, time.time() - t0


@needs_model
@pytest.mark.timeout(300)
def test_up_isolates_a_deployment_that_keeps_crashing(tmp_path):
    link = tmp_path / "flaky.gguf"
    shutil.copyfile(MODEL.resolve(), link)
    path, gw, port_a, port_b = topology(tmp_path, MODEL.resolve(), link)
    check = subprocess.run([tandem_bin(), "topology", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr + check.stdout
    out = tmp_path / "up.log"
    proc = start([tandem_bin(), "up", str(path), "--run-dir", str(tmp_path / "run"), "--ready-timeout", "200",
                  "--max-restarts", "2"], out,
                 text=UP_READY, timeout=220, name="tandem up", stop_timeout=60, cwd=ROOT, start_new_session=True)
    try:
        assert chat(gw, "flaky")[0].status_code == 200

        link.unlink()  # from now on the flaky deployment cannot start
        for pid in processes_mentioning(f"--port {port_b}"):
            os.kill(pid, signal.SIGKILL)

        deadline = time.time() + 90
        while "GIVING UP on model 'flaky'" not in out.read_text():
            assert proc.poll() is None, f"tandem up stopped everything (rc {proc.returncode}):\n{out.read_text()}"
            assert time.time() < deadline, out.read_text()
            time.sleep(0.5)
        text = out.read_text()
        assert "restarted model 'flaky' (TP=1) (restart 2)" in text, text
        assert "isolated model 'flaky' (TP=1): down for good; 1 of 2 deployment(s) still serving" in text, text

        # The other model keeps serving; the isolated one answers an explicit 503, fast.
        for _ in range(3):
            r, _ = chat(gw, "steady")
            assert r.status_code == 200, r.text
            r, took = chat(gw, "flaky")
            assert r.status_code == 503 and took < 5, (r.status_code, took, r.text)
        time.sleep(3)
        assert proc.poll() is None, out.read_text()
        assert not processes_mentioning(f"--port {port_b}")
    except BaseException:
        # `up` stops its deployments (each in its own process group) on SIGTERM.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        raise
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 0, out.read_text()
    assert "every process has exited" in out.read_text()
    time.sleep(0.5)
    assert not processes_mentioning(f"--port {port_a}")
