"""End-to-end: `tandem serve` as real processes (one rank, and two MPI ranks via mpirun),
driven over real HTTP with the official `openai` client.

Greedy output with TP=2 must equal TP=1; killing a worker mid-generation must give the caller
an explicit error within a bound, and leave no process behind.
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

from tandemkit import ROOT, SMOLLM2 as MODEL, STORIES260K as STORIES, Deployment, free_port, mpirun_argv, tandem_bin  # noqa: F401


def rank_pid(dep, rank):
    """The pid of MPI rank `rank` of a deployment (from the rank's environment)."""
    pids = subprocess.run(["pgrep", "-f", "--", f"--port {dep.port}"], capture_output=True, text=True).stdout.split()
    for p in pids:
        try:
            env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(p)
    raise RuntimeError(f"no rank {rank} among {pids}")


needs_mpi = pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not installed")


def greedy(dep, prompt, n):
    r = dep.client().completions.create(model="m", prompt=prompt, max_tokens=n, temperature=0)
    return r.choices[0].text, r.usage


@pytest.mark.parametrize("model,weights", [(STORIES, "native"), (MODEL, "native"), (STORIES, "fp8"), (MODEL, "fp8")],
                         ids=["stories260K-f32", "smollm2-q4_1", "stories260K-fp8", "smollm2-fp8"])
@needs_mpi
def test_tp2_equals_tp1_over_mpi(model, weights):
    prompts = ["Once upon a time", "The capital of France is", "Lily and Ben"]
    extra = ("--weights", weights)
    one = Deployment(model, 1, extra=extra)
    try:
        expected = [greedy(one, p, 24)[0] for p in prompts]
    finally:
        one.stop()
    two = Deployment(model, 2, extra=extra)
    try:
        got = [greedy(two, p, 24)[0] for p in prompts]
        chat = two.client().chat.completions.create(model="m", messages=[{"role": "user", "content": "Hi"}], max_tokens=8) if model == MODEL else None
    finally:
        two.stop()
    assert got == expected
    if chat is not None:
        assert chat.choices[0].finish_reason in ("stop", "length")


MOE = str(ROOT / "Tests" / "TandemModelTests" / "Fixtures" / "family_qwen2moe.gguf")


@needs_mpi
@pytest.mark.parametrize("model,extra,prompt,max_tokens", [
    (MODEL, (), "Once upon a time, there was a dragon who lived in a cave. Every day, the dragon", 1000),
    # Expert parallelism: the same explicit error when a rank holding half of the experts dies.
    (MOE, ("--parallel", "expert"), [3, 17, 42, 5, 88, 23], 200)], ids=["smollm2-tp", "qwen2moe-ep"])
def test_killing_a_worker_fails_the_request_within_the_bound_and_leaves_no_process(model, extra, prompt, max_tokens):
    import openai
    dep = Deployment(model, 2, step_timeout=5, extra=extra)
    try:
        client = dep.client()
        stream = client.completions.create(model="m", prompt=prompt, max_tokens=max_tokens,
                                           temperature=0, stream=True)
        got = 0
        started = None
        error = None
        try:
            for chunk in stream:
                got += 1
                if got == 5:
                    os.kill(rank_pid(dep, 1), signal.SIGKILL)
                    started = time.time()
        except Exception as e:  # noqa: BLE001 - any explicit error ends the stream
            error = e
        assert started is not None, "the stream ended before the worker was killed"
        if error is None:
            # The tiny MoE fixture can generate every token before the kill lands; then the next
            # request meets the dead rank and must fail explicitly within the bound.
            assert model == MOE, "the in-flight stream finished although a rank was killed"
            with pytest.raises(openai.APIError):
                client.completions.create(model="m", prompt=prompt, max_tokens=50, temperature=0)
        assert time.time() - started < 30, "the error took longer than the bound"
    finally:
        dep.stop()
    time.sleep(1)
    assert not subprocess.run(["pgrep", "-f", "--", f"--port {dep.port}"], capture_output=True, text=True).stdout.strip()


def resident_after_warmup(dep):
    """{rank: (resident MiB, weight share MiB)} from the coordinator's log."""
    import re
    out = {}
    for m in re.finditer(r"rank (\d+) resident after warm-up: (\d+) MiB \(weight share (\d+) MiB\)", dep.log.read_text(errors="replace")):
        out[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    return out


@needs_mpi
def test_each_rank_holds_about_its_share_of_the_weights():
    one = Deployment(MODEL, 1)
    try:
        single = resident_after_warmup(one)
    finally:
        one.stop()
    two = Deployment(MODEL, 2)
    try:
        split = resident_after_warmup(two)
    finally:
        two.stop()
    assert set(single) == {0} and set(split) == {0, 1}, (single, split)
    whole_rss, whole_share = single[0]
    for rank, (rss, share) in split.items():
        saved = whole_share - share
        assert saved > 20, (rank, share, whole_share)
        # The rank's resident set shrinks by most of the weights it does not hold.
        assert rss <= whole_rss - 0.6 * saved, f"rank {rank}: {rss} MiB resident vs {whole_rss} MiB for TP=1 (share {share} of {whole_share} MiB)"


def metric_families(port):
    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {f.name: f for f in text_string_to_metric_families(text)}, text


def sample(families, name, sample_name=None, **labels):
    for s in families[name].samples:
        if s.name == (sample_name or name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError(f"{sample_name or name} {labels}")


@pytest.mark.parametrize("prefix_cache", ["on", "off"])
def test_metrics_export_engine_statistics(prefix_cache):
    pytest.importorskip("prometheus_client")
    prompt = "Once upon a time, there was a little girl named Lily. She loved to play in the park with her big red ball every day."
    dep = Deployment(STORIES, 1, extra=("--prefix-cache", prefix_cache, "--eviction", "lru", "--max-batched-tokens", "256"))
    try:
        families, _ = metric_families(dep.port)
        assert sample(families, "tandem_engine_running_sequences", model="m") == 0
        first = greedy(dep, prompt, 8)[1]
        second = greedy(dep, prompt, 8)[1]
        families, text = metric_families(dep.port)
        log = dep.log.read_text(errors="replace")
    finally:
        dep.stop()
    for gauge in ["tandem_engine_running_sequences", "tandem_engine_waiting_sequences", "tandem_engine_kv_blocks_used",
                  "tandem_engine_kv_blocks_total", "tandem_engine_kv_usage_ratio"]:
        assert families[gauge].type == "gauge", text
        assert sample(families, gauge, model="m") >= 0
    assert sample(families, "tandem_engine_kv_blocks_total", model="m") > 0
    assert 0 <= sample(families, "tandem_engine_kv_usage_ratio", model="m") <= 1
    hits = sample(families, "tandem_engine_prefix_cache_hit_tokens", "tandem_engine_prefix_cache_hit_tokens_total", model="m")
    queried = sample(families, "tandem_engine_prefix_cache_queried_tokens", "tandem_engine_prefix_cache_queried_tokens_total", model="m")
    assert families["tandem_engine_prefix_cache_hit_tokens"].type == "counter"
    assert sample(families, "tandem_engine_preemptions", "tandem_engine_preemptions_total", model="m") == 0
    assert "prefix_cache=off" in log if prefix_cache == "off" else "prefix_cache=on" in log
    assert "eviction=lru" in log and "max_batched_tokens=256" in log
    if prefix_cache == "on":
        assert hits > 0 and hits == second.prompt_tokens_details.cached_tokens, text
        assert queried == first.prompt_tokens + second.prompt_tokens
    else:
        assert hits == 0 and queried == 0
        assert not (second.prompt_tokens_details and second.prompt_tokens_details.cached_tokens)


@needs_mpi
def test_tp2_refuses_a_link_slower_than_the_bound_on_every_rank(tmp_path):
    import glob
    import re
    port = free_port()
    # Each rank's output in its own files (OUT/1/rank.N/stderr): the ranks' lines do not interleave.
    # The combined copy on mpirun's stdout may: its forwarder passes chunks, so one rank's "µ" (2 bytes)
    # can be split by the other rank's chunk; decoding with errors="replace" keeps that from failing the test.
    cmd = mpirun_argv(2, "--output-filename", str(tmp_path / "out")) + [tandem_bin(), "serve", "--model", STORIES, "--model-name", "m", "--port", str(port),
                    "--kv-mib", "16", "--max-link-latency-us", "0.001", "--log-level", "info"]
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail("the refused deployment did not exit (a rank hung): " + out[-3000:])
    elapsed = time.time() - started
    assert proc.returncode != 0, out[-3000:]
    assert elapsed < 90
    per_rank = {int(re.search(r"rank\.(\d+)", d).group(1)): open(os.path.join(d, "stderr"), errors="replace").read() + open(os.path.join(d, "stdout"), errors="replace").read()
                for d in glob.glob(str(tmp_path / "out" / "*" / "rank.*"))}
    assert sorted(per_rank) == [0, 1], out[-3000:]
    # Each rank reports the refusal and exits non-zero; rank 0 logged every rank's numbers first.
    for rank, text in per_rank.items():
        assert len(re.findall(r"^Error: refusing to start", text, re.M)) == 1, (rank, text[-3000:])
    out = per_rank[0] + per_rank[1]
    refusals = re.findall(r"Error: refusing to start a 2-rank tensor-parallel deployment: .*? is ([0-9.]+) µs \(p99 ([0-9.]+) µs, "
                          r"slowest on rank \d\) over transport (mpi.*?), above the configured bound of 0\.001 µs", out)
    assert len(refusals) == 2, out[-3000:]
    for median, p99, transport in refusals:
        assert float(median) > 0.001 and float(p99) >= float(median)
        assert transport.startswith("mpi (RDMA not used: ")
    for rank in (0, 1):
        assert re.search(rf"pre-flight rank {rank}: transport mpi .*link all-reduce median [0-9.]+ µs, p99 [0-9.]+ µs, memory headroom \d+ MiB", out), out[-3000:]
    assert not subprocess.run(["pgrep", "-f", "--", f"--port {port}"], capture_output=True).stdout


@needs_mpi
def test_tp2_starts_when_the_link_is_within_the_bound():
    dep = Deployment(STORIES, 2, extra=("--max-link-latency-us", "1000000"))
    try:
        text, _ = greedy(dep, "Once upon a time", 8)
        log = dep.log.read_text(errors="replace")
    finally:
        dep.stop()
    assert text
    assert "bound 1000000.0 µs" in log
    for rank in (0, 1):
        assert f"pre-flight rank {rank}: transport mpi" in log
