"""Every fuzz target's seed corpus and every input kept from a past crash
(fuzz/regressions/<target>/) replayed through the ordinary build of `tandem-fuzz`: each must end
in a result or an error, never a trap. The seeds must also still be accepted, so the fuzzer
starts from inputs that reach past the first check.
"""
import os
import subprocess

import pytest

from tandemkit import ROOT, tandem_bin

TARGETS = ["gguf", "safetensors", "llama2c", "topology", "request", "wire"]


def fuzz_bin():
    return os.path.join(os.path.dirname(tandem_bin()), "tandem-fuzz")


@pytest.mark.parametrize("target", TARGETS)
def test_corpus_and_regressions_replay_without_a_crash(target):
    dirs = [os.path.join(ROOT, "fuzz", "corpus", target)]
    regressions = os.path.join(ROOT, "fuzz", "regressions", target)
    if os.path.isdir(regressions) and os.listdir(regressions):
        dirs.append(regressions)
    r = subprocess.run([fuzz_bin(), *dirs], env={**os.environ, "TANDEM_FUZZ_TARGET": target},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    assert "no crash" in r.stdout
    if target != "topology":  # topology seeds name model and key files that need not exist here
        accepted = int(r.stdout.split("(")[1].split(" accepted")[0])
        assert accepted >= 1, r.stdout

