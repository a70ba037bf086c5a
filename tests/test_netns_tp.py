"""Two hosts for real: network namespaces `spark` and `dark` joined by a veth pair
(cluster/netns.sh), `tandem serve` with one rank in each, over MPI/TCP. Greedy output must equal
the single-rank deployment. Runs only as root with `ip` and `mpirun` available, and says why not.
"""
import json
import os
import shutil
import subprocess
import time

import pytest

from test_cluster_serve import MODEL, STORIES, Deployment, free_port, greedy, tandem_bin, ROOT

NETNS = os.path.join(ROOT, "cluster", "netns.sh")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("mpirun") is None,
    reason="needs root, iproute2 and mpirun to create the spark/dark namespaces")


def in_spark(*cmd, timeout=60):
    return subprocess.run([NETNS, "exec", "spark", *cmd], capture_output=True, text=True, timeout=timeout)


def complete_in_spark(port, prompt, n):
    body = json.dumps({"model": "m", "prompt": prompt, "max_tokens": n, "temperature": 0})
    code = ("import json,sys,urllib.request;"
            f"r=urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:{port}/v1/completions',"
            "data=sys.argv[1].encode(),headers={'content-type':'application/json'}),timeout=60);"
            "print(json.load(r)['choices'][0]['text'],end='')")
    out = in_spark("python3", "-c", code, body)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("model", [STORIES, MODEL], ids=["stories260K", "smollm2"])
def test_tp2_across_spark_and_dark_equals_tp1(model):
    prompts = ["Once upon a time", "The capital of France is"]
    one = Deployment(model, 1)
    try:
        expected = [greedy(one, p, 16)[0] for p in prompts]
    finally:
        one.stop()
    subprocess.run([NETNS, "up"], check=True, capture_output=True, timeout=60)
    port = free_port()
    log = open(f"/tmp/tandem-netns-{port}.log", "w")
    proc = subprocess.Popen([NETNS, "mpirun", "-np", "2", tandem_bin(), "serve", "--model", model, "--model-name", "m",
                             "--port", str(port), "--kv-mib", "32", "--log-level", "info"],
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
