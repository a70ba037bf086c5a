"""Smoke run of bench/chaos.py: `tandem up` on its two-deployment topology, steady load through
the gateway, three seeded faults (SIGKILL / SIGSTOP of coordinators and ranks): no request left
without an end, no gateway crash, no process left behind.
"""
import json
import subprocess
import sys

import pytest

from tandemkit import ROOT
from test_topology_up import needs_model


@needs_model
@pytest.mark.timeout(240)
def test_chaos_smoke(tmp_path):
    out = tmp_path / "summary.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "chaos.py"), "--faults", "3", "--seed", "3", "--threads", "2",
                        "--stop-max", "3", "--recover-timeout", "30", "--json", str(out), "--run-dir", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=230)
    assert out.exists(), r.stdout[-3000:] + r.stderr[-3000:]
    s = json.loads(out.read_text())
    assert s["faults"] == 3, s
    assert s["never"] == 0 and s["gateway_crashes"] == 0 and s["processes_left"] == 0 and s["up_exit_status"] == 0, s
    assert s["answer"] > 0, s
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
