"""End-to-end: `tandem up` on a copy of topology/local.yaml with free ports (127.0.0.1 only):
ready within a bound, a chat completion through the gateway with the `openai` client and the
example key, then SIGTERM and no process left behind.
"""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tandemkit import ROOT, SMOLLM2, free_port, start, tandem_bin  # noqa: F401

KEY = "sk-demo-change-me"  # gateway/keys.example.json, tenant demo
MODEL = Path(SMOLLM2)
UP_READY = "ready: the OpenAI-compatible API"  # what `tandem up` prints once every deployment and the gateway are ready

needs_model = pytest.mark.skipif(not MODEL.exists(), reason=f"default model missing at {MODEL} (deploy/fetch-model.sh)")


def local_copy(tmp_path):
    """topology/local.yaml with free ports, absolute paths, and a small KV cache."""
    text = (ROOT / "topology" / "local.yaml").read_text()
    gw, coord = free_port(), free_port()
    text = text.replace("port: 8101", f"port: {coord}").replace("port: 8080}", f"port: {gw}}}")
    text = text.replace("../gateway/keys.example.json", str(ROOT / "gateway" / "keys.example.json"))
    text = text.replace("source: default", f"source: {MODEL}")
    path = tmp_path / "local.yaml"
    path.write_text(text)
    return path, gw, coord


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def processes_mentioning(needle):
    out = subprocess.run(["pgrep", "-f", "--", needle], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if int(p) != os.getpid()]


@needs_model
@pytest.mark.timeout(400)
def test_up_serves_through_gateway_and_stops_cleanly(tmp_path):
    path, gw, coord = local_copy(tmp_path)
    check = subprocess.run([tandem_bin(), "topology", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    run_dir = tmp_path / "run"
    proc = start([tandem_bin(), "up", str(path), "--run-dir", str(run_dir), "--ready-timeout", "240"], tmp_path / "up.log",
                 text=UP_READY, timeout=300, name="tandem up", cwd=ROOT, start_new_session=True)
    try:
        out = (tmp_path / "up.log").read_text()
        assert f"http://127.0.0.1:{gw}/v1" in out and "curl" in out
        assert httpx.get(f"http://127.0.0.1:{gw}/ready", timeout=5).status_code == 200
        assert (run_dir / "gateway.json").exists()

        from openai import OpenAI
        client = OpenAI(base_url=f"http://127.0.0.1:{gw}/v1", api_key=KEY, timeout=120, max_retries=0)
        r = client.chat.completions.create(model="smollm2", max_tokens=12, temperature=0,
                                           messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert r.choices[0].message.content
        assert r.model == "smollm2"

        # Every process `up` started is in a group whose leader is one of its children.
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2, children  # the TP=2 mpirun job and the gateway
        ranks = processes_mentioning(f"--port {coord}")
        assert len(ranks) >= 3, ranks  # mpirun + 2 ranks
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise

    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.time() - t0 < 40
    assert rc == 0, (tmp_path / "up.log").read_text()
    for pgid in [int(c) for c in children]:
        assert not group_alive(pgid), f"process group {pgid} still alive"
    time.sleep(0.5)
    left = [p for p in ranks if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()]
    assert not left, f"left behind: {left}"
    assert "every process has exited" in (tmp_path / "up.log").read_text()


@needs_model
def test_check_reports_errors_with_places(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "topology" / "local.yaml").read_text()
                   .replace("nodes: [local, local]", "nodes: [local, nowhere]")
                   .replace("kv_mib: 64", "kv_mib: lots")
                   .replace("../gateway/keys.example.json", str(ROOT / "gateway" / "keys.example.json")))
    r = subprocess.run([tandem_bin(), "topology", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: error: models\[0\]\.placement\.kv_mib: expected an integer", r.stderr), r.stderr


@needs_model
def test_dry_run_prints_commands(tmp_path):
    path, gw, coord = local_copy(tmp_path)
    r = subprocess.run([tandem_bin(), "up", str(path), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "mpirun --allow-run-as-root --oversubscribe" in r.stdout and "-np 2" in r.stdout
    assert " gateway --config " in r.stdout


@needs_model
def test_dry_run_and_show_pass_the_topology_to_serve(tmp_path):
    path, gw, coord = local_copy(tmp_path)
    text = path.read_text()
    text = text.replace("kind: mpi", "kind: rdma").replace("max_link_latency_us: 100000", "max_link_latency_us: 250")
    text = text.replace("weights: native", "weights: fp8\n    reasoning: {tags: {open: <think>, close: </think>}, token_floor: 16}")
    text = text.replace("max_batched_tokens: 512", "max_batched_tokens: 256\n      max_waiting: 64")
    text = text.replace("prefix_cache: true", "prefix_cache: false").replace("eviction: prefix-aware", "eviction: lru")
    text = text.replace("block_size: 16", "block_size: 32").replace("kv_dtype: f32", "kv_dtype: fp8")
    path.write_text(text)
    r = subprocess.run([tandem_bin(), "up", str(path), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    serve = next(line for line in r.stdout.splitlines() if " serve " in line)
    for flags in ["--weights fp8", "--kv-mib 64", "--kv-dtype fp8", "--block-size 32", "--max-running 8", "--step-timeout 60",
                  "--max-batched-tokens 256", "--max-waiting 64", "--prefix-cache off", "--eviction lru",
                  "--reasoning-open '<think>' --reasoning-close '</think>'", "--transport auto",
                  "--rdma-address 127.0.0.1", "--max-link-latency-us 250.0"]:
        assert flags in serve, (flags, serve)
    show = subprocess.run([tandem_bin(), "topology", "show", str(path)], capture_output=True, text=True, timeout=60)
    assert show.returncode == 0, show.stderr
    assert "max batched tokens 256, max waiting 64, prefix cache off, eviction lru" in show.stdout
    assert "kv 64 MiB per rank (fp8), block 32" in show.stdout
    assert "transport: rdma (preferred), max link latency 250.0 µs" in show.stdout


@pytest.mark.parametrize("name", ["local.yaml", "two-node.yaml"])
def test_example_topologies_match_schema(name):
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    import json
    schema = json.loads((ROOT / "topology" / "schema.json").read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "topology" / name).read_text()), schema)


def start_up(tmp_path, *extra):
    path, gw, coord = local_copy(tmp_path)
    out = tmp_path / "up.log"
    proc = start([tandem_bin(), "up", str(path), "--run-dir", str(tmp_path / "run"), "--ready-timeout", "240", *extra], out,
                 text=UP_READY, timeout=300, name="tandem up", cwd=ROOT, start_new_session=True)
    return proc, out, gw, coord


def kill_a_rank(coord):
    """SIGKILL to one `tandem serve` rank of the TP=2 deployment (not mpirun): a crashed worker."""
    ranks = [p for p in processes_mentioning(f"--port {coord}")
             if " serve " in Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
             and not Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"mpirun")]
    assert ranks, "no rank process found"
    os.kill(max(ranks), signal.SIGKILL)


@needs_model
@pytest.mark.timeout(500)
def test_up_restarts_a_crashed_deployment(tmp_path):
    """After ready, a rank killed with SIGKILL takes its mpirun job down; `up` says so, starts the
    deployment again after the backoff, and the same model answers through the gateway again."""
    proc, out, gw, coord = start_up(tmp_path, "--max-restarts", "2")
    try:
        kill_a_rank(coord)
        deadline = time.time() + 120
        while "restarted model 'smollm2' (TP=2) (restart 1)" not in out.read_text():
            assert proc.poll() is None, out.read_text()
            assert time.time() < deadline, out.read_text()
            time.sleep(0.5)
        text = out.read_text()
        assert "model 'smollm2' (TP=2) exited" in text and "restarting model 'smollm2' (TP=2) in 1 s" in text, text
        from openai import OpenAI, APIStatusError
        client = OpenAI(base_url=f"http://127.0.0.1:{gw}/v1", api_key=KEY, timeout=60, max_retries=0)
        answer, errors = None, []
        while answer is None and time.time() < deadline + 120:
            try:
                answer = client.chat.completions.create(model="smollm2", max_tokens=8, temperature=0,
                                                        messages=[{"role": "user", "content": "Hi"}])
            except APIStatusError as e:  # explicit errors while the deployment loads again, never a hang
                errors.append(e.status_code)
                time.sleep(1)
        assert answer is not None and answer.choices[0].message.content, errors
        assert set(errors) <= {502, 503}, errors
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    assert rc == 0, out.read_text()
    assert "every process has exited" in out.read_text()
    assert not processes_mentioning(f"--port {coord}")


@needs_model
@pytest.mark.timeout(400)
def test_up_with_restart_never_stops_everything_when_a_deployment_dies(tmp_path):
    proc, out, gw, coord = start_up(tmp_path, "--restart", "never")
    try:
        kill_a_rank(coord)
        rc = proc.wait(timeout=90)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    text = out.read_text()
    assert rc == 1, text
    assert "model 'smollm2' (TP=2) exited" in text and "restarting" not in text, text
    assert "every process has exited" in text
    time.sleep(0.5)
    assert not processes_mentioning(f"--port {coord}")


TWO_MODELS = """version: 1
nodes:
  - name: local
    host: 127.0.0.1
    address: 127.0.0.1
    cores: 2
    memory_gib: 8
transport:
  kind: mpi
  mode: preferred
models:
  - name: alpha
    source: {model}
    placement:
      nodes: [local]
      port: {pa}
      kv_mib: 32
      max_running: 4
  - name: beta
    source: {model}
    placement:
      nodes: [local]
      port: {pb}
      kv_mib: {kv_beta}
      max_running: 4
gateway:
  node: local
  listen: {{host: 127.0.0.1, port: {gw}}}
  keys_file: {keys}
  tenants:
    demo: {{requests_per_minute: 600, tokens_per_minute: 500000, max_concurrent: 16, allowed_models: ["*"]}}
    trial: {{requests_per_minute: 20, tokens_per_minute: 20000, max_concurrent: 2, allowed_models: [alpha]}}
observability:
  log_level: info
"""


def wait_for(path, text, proc, timeout=120, after=0):
    deadline = time.time() + timeout
    while text not in path.read_text()[after:]:
        assert proc.poll() is None, path.read_text()
        assert time.time() < deadline, path.read_text()
        time.sleep(0.3)


@needs_model
@pytest.mark.timeout(500)
def test_sighup_applies_a_changed_topology_without_touching_the_rest(tmp_path):
    """Two models behind one gateway. A stream to alpha runs while beta's settings change and
    `tandem up` gets SIGHUP: beta drains and comes back with the new settings, alpha's process and
    stream are untouched (its text equals the same greedy request's afterwards), and every
    request to beta ends with its answer or an explicit 502/503. A file with errors changes
    nothing. `tandem up --apply` from another process does the same with another file."""
    import threading
    from openai import OpenAI, APIStatusError
    pa, pb, gw = free_port(), free_port(), free_port()
    fill = dict(model=MODEL, pa=pa, pb=pb, gw=gw, keys=ROOT / "gateway" / "keys.example.json")
    path = tmp_path / "two.yaml"
    path.write_text(TWO_MODELS.format(kv_beta=32, **fill))
    out = tmp_path / "up.log"
    proc = start([tandem_bin(), "up", str(path), "--run-dir", str(tmp_path / "run"), "--ready-timeout", "240"], out,
                 text=UP_READY, timeout=300, name="tandem up", cwd=ROOT, start_new_session=True)
    try:
        client = OpenAI(base_url=f"http://127.0.0.1:{gw}/v1", api_key=KEY, timeout=120, max_retries=0)
        alpha_pids = processes_mentioning(f"--port {pa}")
        beta_pids = processes_mentioning(f"--port {pb}")
        assert alpha_pids and beta_pids
        ask = dict(model="alpha", max_tokens=120, temperature=0, messages=[{"role": "user", "content": "Tell me a story about a fox."}])
        streamed, finish, first = [], [], threading.Event()

        def stream():
            for chunk in client.chat.completions.create(stream=True, **ask):
                if chunk.choices:
                    streamed.append(chunk.choices[0].delta.content or "")
                    first.set()
                    if chunk.choices[0].finish_reason:
                        finish.append(chunk.choices[0].finish_reason)

        t = threading.Thread(target=stream)
        t.start()
        assert first.wait(60)
        # beta's KV budget changes: a launch setting, so beta restarts; alpha is not in the diff.
        path.write_text(TWO_MODELS.format(kv_beta=48, **fill))
        mark = len(out.read_text())
        proc.send_signal(signal.SIGHUP)
        wait_for(out, "reloaded ", proc, after=mark)
        log = out.read_text()[mark:]
        assert "restart model 'beta'" in log and "alpha" not in log, log
        t.join(timeout=120)
        assert finish == ["length"], (finish, streamed)
        again = client.chat.completions.create(**ask).choices[0].message.content
        assert "".join(streamed) == again
        assert processes_mentioning(f"--port {pa}") == alpha_pids
        new_beta = processes_mentioning(f"--port {pb}")
        assert new_beta and set(new_beta).isdisjoint(beta_pids)
        assert "--kv-mib 48" in Path(f"/proc/{max(new_beta)}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        answer, errors = None, []
        deadline = time.time() + 120
        while answer is None and time.time() < deadline:
            try:
                answer = client.chat.completions.create(model="beta", max_tokens=8, temperature=0,
                                                        messages=[{"role": "user", "content": "Hi"}])
            except APIStatusError as e:
                errors.append(e.status_code)
                time.sleep(1)
        assert answer is not None and answer.choices[0].message.content, errors
        assert set(errors) <= {502, 503}, errors
        # A file with errors: refused, nothing stopped or started.
        path.write_text(TWO_MODELS.format(kv_beta=48, **fill).replace("kv_mib: 32", "kv_mib: -3"))
        mark = len(out.read_text())
        proc.send_signal(signal.SIGHUP)
        wait_for(out, "reload refused", proc, after=mark)
        assert processes_mentioning(f"--port {pa}") == alpha_pids and processes_mentioning(f"--port {pb}") == new_beta
        assert client.chat.completions.create(model="alpha", max_tokens=4, messages=[{"role": "user", "content": "Hi"}]).choices
        # From another shell: `tandem up --apply` with a file that drops beta; one with errors is
        # refused by --apply itself and nothing reaches the running `up`.
        text = TWO_MODELS.format(kv_beta=48, **fill)
        # Its keys file by a path relative to it: resolved from the file, not from where `up` runs.
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "keys.json").write_text((ROOT / "gateway" / "keys.example.json").read_text())
        only_alpha = tmp_path / "conf" / "only-alpha.yaml"
        only_alpha.write_text((text[:text.index("  - name: beta")] + text[text.index("gateway:"):])
                              .replace(str(ROOT / "gateway" / "keys.example.json"), "keys.json"))
        run_dir = str(tmp_path / "run")
        applied = subprocess.run([tandem_bin(), "up", "--apply", str(only_alpha), "--run-dir", run_dir],
                                 capture_output=True, text=True, timeout=200)
        assert applied.returncode == 0 and "reloaded: stop model 'beta'" in applied.stdout, applied.stdout + applied.stderr
        assert not processes_mentioning(f"--port {pb}") and processes_mentioning(f"--port {pa}") == alpha_pids
        with pytest.raises(APIStatusError) as gone:
            client.chat.completions.create(model="beta", max_tokens=4, messages=[{"role": "user", "content": "Hi"}])
        assert gone.value.status_code in (400, 404), gone.value
        broken = tmp_path / "broken.yaml"
        broken.write_text(text.replace("kv_mib: 32", "kv_mib: -3"))
        mark = len(out.read_text())
        refused = subprocess.run([tandem_bin(), "up", "--apply", str(broken), "--run-dir", run_dir],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "kv_mib" in refused.stderr, refused.stdout + refused.stderr
        time.sleep(1)
        assert "SIGHUP" not in out.read_text()[mark:]
        assert client.chat.completions.create(model="alpha", max_tokens=4, messages=[{"role": "user", "content": "Hi"}]).choices
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    assert rc == 0, out.read_text()
    assert not processes_mentioning(f"--port {pa}") and not processes_mentioning(f"--port {pb}")
