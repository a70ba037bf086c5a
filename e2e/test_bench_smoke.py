"""CI-sized smoke run of `tandem bench` against a LIVE `tandem serve` (stories260K, one rank, a
real process on a free 127.0.0.1 port), checking that the harness's numbers are internally
consistent: request counts, token totals equal the sum of the per-request usage, percentiles
ordered, throughput = totals / span, goodput within throughput, and the files a person opens.

Bounded: the server start waits at most 120 s; the bench scenario sends at most 8 + 1 requests in
at most 30 s, each bounded by 30 s; the subprocess is killed after 180 s.
"""
import json
import os
import subprocess

import pytest

from tandemkit import ROOT, STORIES260K as STORIES, Deployment, free_port, tandem_bin

pytestmark = pytest.mark.skipif(not os.path.exists(STORIES), reason="stories260K model not found")


@pytest.fixture(scope="module")
def server():
    dep = Deployment(STORIES, 1)
    try:
        yield dep
    finally:
        dep.stop()


def run_bench(dep, out, *extra):
    cmd = [tandem_bin(), "bench", "--base-url", f"http://127.0.0.1:{dep.port}", "--model", "m",
           "--scenario", os.path.join(ROOT, "bench", "scenarios", "smoke.json"), "--out", str(out), *extra]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def ordered(d):
    return d["min"] <= d["p50"] <= d["p90"] <= d["p99"] <= d["max"] and d["min"] <= d["mean"] <= d["max"]


def check_level(level, records, slo_met):
    ok = [r for r in records if r.get("error") is None]
    assert level["requests"] == len(records)
    assert level["succeeded"] == len(ok)
    assert level["failed"] == len(records) - len(ok) == sum(level["errors"].values())
    # Token totals are exactly the sum of each request's usage.
    assert level["outputTokens"] == sum(r["outputTokens"] for r in ok)
    assert level["promptTokens"] == sum(r["promptTokens"] for r in ok)
    assert level["cachedTokens"] == sum(r["cachedTokens"] for r in ok)
    for r in ok:
        assert r["promptTokens"] > 0
        assert 0 <= r["cachedTokens"] <= r["promptTokens"]
        # Every text-carrying chunk holds at least one token; one gap per chunk after the first.
        assert r["chunks"] <= r["outputTokens"]
        assert len(r["itl"]) == max(0, r["chunks"] - 1)
        if r["outputTokens"] > 0:
            assert 0 < r["ttft"] <= r["e2e"]
            assert r["ttft"] + sum(r["itl"]) <= r["e2e"] + 1e-9
        if r["outputTokens"] > 1:
            assert abs(r["tpot"] - (r["e2e"] - r["ttft"]) / (r["outputTokens"] - 1)) < 1e-9
    for name in ("ttft", "tpot", "e2e", "itl"):
        d = level[name]
        if d["count"] > 0:
            assert ordered(d), (name, d)
    assert level["ttft"]["count"] == sum(1 for r in ok if r.get("ttft") is not None)
    assert level["itl"]["count"] == sum(len(r["itl"]) for r in ok)
    # Throughput is totals over the level's span (first start -> last end).
    span = max(r["start"] + r["e2e"] for r in records) - min(r["start"] for r in records)
    assert abs(level["duration"] - span) < 1e-6
    assert abs(level["requestThroughput"] - len(ok) / span) < 1e-6
    assert abs(level["outputThroughput"] - level["outputTokens"] / span) < 1e-6
    assert level["good"] == slo_met
    assert level["goodput"] <= level["requestThroughput"] + 1e-9


def test_smoke_scenario_numbers_are_consistent(server, tmp_path):
    p = run_bench(server, tmp_path)
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["warmupRequests"] == 1
    assert len(report["levels"]) == 1
    level = report["levels"][0]
    records = [r for r in report["records"] if r["level"] == level["level"]]
    assert len(records) == 8 and [r["index"] for r in records] == list(range(8))
    assert all(r.get("error") is None for r in records), [r.get("errorMessage") for r in records]
    slo = level["slo"]
    met = sum(1 for r in records if r["ttft"] is not None and r["ttft"] <= slo["ttft"]
              and (r.get("tpot") is None or r["tpot"] <= slo["tpot"]))
    check_level(level, records, met)
    assert level["outputTokens"] > 0
    # The answering model comes from the server's X-Tandem-Model header, request by request.
    assert {r.get("model") for r in records} == {"m"} and level["servedBy"] == {"m": 8}
    # The files a person opens.
    summary = (tmp_path / "summary.md").read_text()
    assert "Answered by: m × 8" in summary
    assert "| concurrency=2 | 8 | 8 | 0 |" in summary
    for svg in ("ttft_cdf.svg", "tpot_cdf.svg", "itl_cdf.svg", "e2e_cdf.svg"):
        text = (tmp_path / svg).read_text()
        assert text.startswith("<svg ") and text.rstrip().endswith("</svg>")
    assert "concurrency=2" in p.stdout
    assert "[c=2]" in p.stderr  # the live progress line


def test_rate_sweep_with_shared_prefix_counts_and_cache(server, tmp_path):
    run_bench(server, tmp_path, "--workload", "shared-prefix", "--groups", "2", "--questions", "3",
              "--prefix-len", "40", "--question-len", "4", "--output-len", "8",
              "--rate", "4,8", "--requests", "6", "--duration", "20", "--warmup", "0")
    report = json.loads((tmp_path / "results.json").read_text())
    assert [l["level"] for l in report["levels"]] == ["4/s", "8/s"]
    for level in report["levels"]:
        records = [r for r in report["records"] if r["level"] == level["level"]]
        assert len(records) == 6
        slo = level["slo"]
        met = sum(1 for r in records if r.get("error") is None and r["ttft"] is not None and r["ttft"] <= slo["ttft"]
                  and (r.get("tpot") is None or r["tpot"] <= slo["tpot"]))
        check_level(level, records, met)
    for svg in ("sweep_ttft.svg", "sweep_tpot.svg", "sweep_goodput.svg"):
        assert (tmp_path / svg).exists()


def test_multi_turn_measures_reuse_across_turns(server, tmp_path):
    # One at a time, so each turn follows its conversation's previous turn: from turn 2 on, the
    # history (system prompt, earlier turns) comes from the prefix cache.
    run_bench(server, tmp_path, "--workload", "multi-turn", "--groups", "2", "--questions", "3", "--prefix-len", "40",
              "--question-len", "4", "--reply-len", "6", "--output-len", "4", "--concurrency", "1", "--requests", "6",
              "--duration", "30", "--warmup", "0")
    report = json.loads((tmp_path / "results.json").read_text())
    (level,) = report["levels"]
    records = [r for r in report["records"] if r["level"] == level["level"]]
    assert [r["tag"] for r in records] == ["conv-0/turn-1", "conv-1/turn-1", "conv-0/turn-2", "conv-1/turn-2",
                                           "conv-0/turn-3", "conv-1/turn-3"]
    turns = {t["turn"]: t for t in level["turns"]}
    assert sorted(turns) == [1, 2, 3] and all(turns[k]["requests"] == 2 for k in turns)
    # The summary's turns add up the records'.
    for k, t in turns.items():
        mine = [r for r in records if r["tag"].endswith(f"/turn-{k}")]
        assert t["promptTokens"] == sum(r["promptTokens"] for r in mine)
        assert t["cachedTokens"] == sum(r["cachedTokens"] for r in mine)
    assert turns[1]["cachedTokens"] < 0.2 * turns[1]["promptTokens"], turns[1]
    for k in (2, 3):
        # Prompts grow turn by turn, and most of each comes from the cache.
        assert turns[k]["promptTokens"] > turns[k - 1]["promptTokens"]
        assert turns[k]["cachedTokens"] > 0.5 * turns[k]["promptTokens"], turns[k]
    assert "Prompt tokens from the cache by turn: turn 1" in (tmp_path / "summary.md").read_text()


def test_unreachable_server_is_reported_not_hung(tmp_path):
    port = free_port()
    cmd = [tandem_bin(), "bench", "--base-url", f"http://127.0.0.1:{port}", "--model", "m", "--requests", "2",
           "--duration", "30", "--request-timeout", "5", "--out", str(tmp_path), "--quiet"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stdout + p.stderr
    report = json.loads((tmp_path / "results.json").read_text())
    # Connection refused is retried until the connect timeout (min(5 s, request timeout / 2)), then reported.
    assert report["levels"][0]["failed"] == 2
    assert list(report["levels"][0]["errors"]) == ["connect"]


def test_council_puts_two_deployments_side_by_side(tmp_path):
    """`tandem council` against two real deployments (SmolLM2 twice, greedy): every task reaches
    both, answers are kept and checked, and since both serve the same weights at temperature 0
    their answers and check results agree; the report, JSON and plot are written."""
    from tandemkit import SMOLLM2
    a, b = Deployment(SMOLLM2, 1), Deployment(SMOLLM2, 1)
    try:
        out = tmp_path / "council"
        p = subprocess.run([tandem_bin(), "council", "--base-url", a.url, "--base-url", b.url, "--model", "m", "--model", "m",
                            "--label", "spark", "--label", "dark", "--max-tokens-cap", "24", "--price", "spark=1,4,0.5",
                            "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        a.stop()
        b.stop()
    report = json.loads((out / "council.json").read_text())
    assert report["labels"] == ["spark", "dark"]
    tasks = ["task-decomposition", "ambiguity-handling", "priority-summary", "business-strategy", "docker-compose",
             "rag-design", "incident-json"]
    for entries in report["entries"]:
        assert [e["task"] for e in entries] == tasks
        for e in entries:
            r = e["record"]
            assert r.get("error") is None and r["outputTokens"] == 24 and r["finishReason"] == "length", r
            checks = {c["name"]: c["passed"] for c in e["checks"]}
            assert checks["answered"] is True and checks["finished"] is False, e["checks"]
            assert len(e["checks"]) == 3
    spark, dark = report["entries"]
    assert [e["record"]["answer"] for e in spark] == [e["record"]["answer"] for e in dark]
    assert [e["checks"] for e in spark] == [e["checks"] for e in dark]
    md = (out / "council.md").read_text()
    assert "| task | spark: s |" in md and "| docker-compose |" in md and "- dark:" in md
    # Priced for spark only: its cost per answer, dark's column empty; the total is their sum.
    assert "| spark: cost |" in md and "| dark: cost |" in md
    costs = [(e["record"]["promptTokens"] - e["record"]["cachedTokens"]) * 1 + e["record"]["cachedTokens"] * 0.5
             + e["record"]["outputTokens"] * 4 for e in spark]
    assert f"- spark: " in md and f"${sum(costs) / 1e6:.6f}" in md, md
    bad = subprocess.run([tandem_bin(), "council", "--model", "a", "--model", "b", "--price", "c=1,2"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no model is labelled c" in bad.stderr, bad.stderr
    assert (out / "council_latency.svg").read_text().startswith("<svg")
    assert "| incident-json |" in p.stdout
