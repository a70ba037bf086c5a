"""Two hosts for real: network namespaces `spark` and `dark` joined by a veth pair, built by
cluster/netns.sh from topology/two-node.yaml's nodes. `tandem serve` with one rank in each, over
MPI/TCP, must give the single-rank deployment's greedy output; and `tandem up topology/two-node.yaml`
run on spark must start the whole file (a TP=1 model on spark, a TP=2 model across both, the
gateway) and answer a client on dark. Runs only as root with `ip` and `mpirun`, and says why not.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tandemkit import ROOT, SMOLLM2 as MODEL, STORIES260K as STORIES, Deployment, free_port, tandem_bin
from test_cluster_serve import greedy

NETNS = os.path.join(ROOT, "cluster", "netns.sh")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("mpirun") is None,
    reason="needs root, iproute2 and mpirun to create the spark/dark namespaces")


def in_spark(*cmd, timeout=60):
    return subprocess.run([NETNS, "exec", "spark", *cmd], capture_output=True, text=True, errors="replace", timeout=timeout)


def complete_in_spark(port, prompt, n):
    body = json.dumps({"model": "m", "prompt": prompt, "max_tokens": n, "temperature": 0})
    code = ("import json,sys,urllib.request;"
            f"r=urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:{port}/v1/completions',"
            "data=sys.argv[1].encode(),headers={'content-type':'application/json'}),timeout=60);"
            "print(json.dumps(json.load(r)['choices'][0]['text']))")
    out = in_spark("python3", "-c", code, body)
    assert out.returncode == 0, out.stderr
    # JSON-escaped, so control characters in the text survive the pipe.
    return json.loads(out.stdout)


MOE = os.path.join(ROOT, "Tests", "TandemModelTests", "Fixtures", "family_qwen2moe.gguf")


@pytest.mark.parametrize("model,weights,parallel", [(STORIES, "native", "tensor"), (MODEL, "native", "tensor"),
                                                    (STORIES, "fp8", "tensor"), (MODEL, "fp8", "tensor"),
                                                    (MOE, "native", "expert")],
                         ids=["stories260K-f32", "smollm2-q4_1", "stories260K-fp8", "smollm2-fp8", "qwen2moe-expert-parallel"])
def test_tp2_across_spark_and_dark_equals_tp1(model, weights, parallel):
    # The MoE fixture's vocabulary is bytes: token-id prompts.
    prompts = [[3, 17, 42, 5, 88, 23], [60, 61, 62, 7, 7, 7, 90, 1, 14]] if model == MOE else ["Once upon a time", "The capital of France is"]
    one = Deployment(model, 1, extra=("--weights", weights))
    try:
        expected = [greedy(one, p, 16)[0] for p in prompts]
    finally:
        one.stop()
    subprocess.run([NETNS, "up"], check=True, capture_output=True, timeout=60, env=dict(os.environ, TANDEM_BIN=tandem_bin()))
    port = free_port()
    log = open(f"/tmp/tandem-netns-{port}.log", "w")
    proc = subprocess.Popen([NETNS, "mpirun", "-np", "2", tandem_bin(), "serve", "--model", model, "--model-name", "m",
                             "--port", str(port), "--kv-mib", "32", "--log-level", "info", "--weights", weights,
                             "--parallel", parallel],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            assert proc.poll() is None, open(log.name).read()[-3000:]
            if in_spark("python3", "-c", f"import urllib.request;urllib.request.urlopen('http://127.0.0.1:{port}/health',timeout=1)").returncode == 0:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the spark/dark deployment did not become ready: " + open(log.name).read()[-3000:])
        got = [complete_in_spark(port, p, 16) for p in prompts]
        text = open(log.name).read()
        assert "rank 0 on spark" in text and "rank 1 on dark" in text, text[-2000:]
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        subprocess.run([NETNS, "down"], capture_output=True, timeout=60)
        log.close()
    assert got == expected


TWO_NODE = os.path.join(ROOT, "topology", "two-node.yaml")
KEY = "sk-demo-change-me"  # gateway/keys.example.json, tenant demo


def chat_from_dark(model, content, n=16):
    """The openai client in dark's namespace, against the gateway on spark by host name."""
    code = ("import sys, openai; c = openai.OpenAI(base_url='http://spark:8080/v1', api_key=sys.argv[1], timeout=120);"
            "r = c.chat.completions.create(model=sys.argv[2], messages=[{'role': 'user', 'content': sys.argv[3]}],"
            " max_tokens=int(sys.argv[4]), temperature=0);"
            "print(r.model + '\\t' + r.choices[0].message.content, end='')")
    out = subprocess.run([NETNS, "exec", "dark", sys.executable, "-c", code, KEY, model, content, str(n)],
                         capture_output=True, text=True, errors="replace", timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split("\t", 1)


def test_netns_nodes_come_from_the_topology(tmp_path):
    """The namespaces carry the names, addresses and interfaces of the file's nodes, not fixed ones."""
    text = open(TWO_NODE).read().replace("10.77.0.1", "10.78.5.1").replace("10.77.0.2", "10.78.5.2")
    text = text.replace("interface: tandem0", "interface: tnd-data").replace("../gateway/", os.path.join(ROOT, "gateway") + "/")
    path = tmp_path / "renumbered.yaml"
    path.write_text(text)
    env = dict(os.environ, TANDEM_BIN=tandem_bin())
    up = subprocess.run([NETNS, "up", str(path)], capture_output=True, text=True, errors="replace", timeout=60, env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert "spark 10.78.5.1 on tnd-data, dark 10.78.5.2 on tnd-data" in up.stdout, up.stdout
        status = subprocess.run([NETNS, "status"], capture_output=True, text=True, errors="replace", timeout=30).stdout
        assert "10.78.5.1/24" in status and "10.78.5.2/24" in status, status
        assert "route spark -> dark: 10.78.5.2 dev tnd-data" in status, status
        hosts = subprocess.run([NETNS, "exec", "dark", "cat", "/etc/hosts"], capture_output=True, text=True, errors="replace", timeout=30).stdout
        assert "10.78.5.1 spark" in hosts, hosts
    finally:
        subprocess.run([NETNS, "down"], capture_output=True, timeout=60)
    # A file with one node cannot be simulated; the message says why.
    one = tmp_path / "one.yaml"
    one.write_text(open(os.path.join(ROOT, "topology", "local.yaml")).read()
                   .replace("../gateway/", os.path.join(ROOT, "gateway") + "/"))
    bad = subprocess.run([NETNS, "up", str(one)], capture_output=True, text=True, errors="replace", timeout=60, env=env)
    assert bad.returncode != 0 and "has 1 nodes; the namespace simulation joins exactly two" in bad.stderr, bad.stderr


def test_tandem_up_two_node_topology_across_namespaces(tmp_path):
    """topology/two-node.yaml as it is checked in: `tandem up` on spark starts smollm2-fast (TP=1, spark),
    smollm2 (TP=2, spark + dark, RDMA preferred -> MPI fallback logged) and the gateway; a client on
    dark gets the same greedy answer from both models; SIGTERM leaves no process in either namespace."""
    if not os.path.exists(MODEL):
        pytest.skip(f"default model missing at {MODEL} (deploy/fetch-model.sh)")
    env = dict(os.environ, TANDEM_BIN=tandem_bin())
    subprocess.run([NETNS, "up", TWO_NODE], check=True, capture_output=True, timeout=60, env=env)
    run_dir = tmp_path / "run"
    out = open(tmp_path / "up.out", "w+")
    proc = subprocess.Popen([NETNS, "exec", "spark", tandem_bin(), "up", TWO_NODE, "--run-dir", str(run_dir),
                             "--rsh-agent", os.path.join(ROOT, "cluster", "netns-rsh.sh"), "--ready-timeout", "240"],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        deadline = time.time() + 300
        while "ready: the OpenAI-compatible API is at http://spark:8080/v1" not in open(out.name).read():
            assert proc.poll() is None, open(out.name).read()[-3000:]
            assert time.time() < deadline, "tandem up did not become ready: " + open(out.name).read()[-3000:]
            time.sleep(1)
        split_model, split_text = chat_from_dark("smollm2", "Name three colors.")
        fast_model, fast_text = chat_from_dark("fast", "Name three colors.")
        assert (split_model, fast_model) == ("smollm2", "smollm2-fast")
        assert split_text and split_text == fast_text, (split_text, fast_text)
        log = open(run_dir / "smollm2.log").read()
        assert "rank 0 on spark" in log and "rank 1 on dark" in log, log[-3000:]
        assert "RDMA preferred but not usable; falling back to MPI" in log, log[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        left = subprocess.run(["pgrep", "-f", "--", str(run_dir)], capture_output=True, text=True).stdout.split()
        subprocess.run([NETNS, "down"], capture_output=True, timeout=60)
        out.close()
    assert proc.returncode == 0, open(out.name).read()[-3000:]
    assert "stopped: every process has exited" in open(out.name).read()
    assert left == [], f"processes left behind: {left}"
