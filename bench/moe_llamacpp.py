#!/usr/bin/env python3
"""Greedy tokens of the MoE fixtures (Tests/TandemModelTests/Fixtures/family_{mixtral,qwen3moe,
qwen2moe,gptoss,llama4}.gguf: tiny random weights, written with the `gguf` package) from three implementations
of the same file: llama.cpp's llama-server, `tandem generate`, and the float64 NumPy reference
(tools/reference/llama_ref.py). Prints a Markdown table; exits 1 on any disagreement.
(Two-rank expert- and tensor-parallel serving against one rank: e2e/test_moe.py.)

Needs the llama.cpp peer (bench/peer/build_llamacpp.sh) and a built tandem ($TANDEM_BIN or
`swift build`'s). About a minute:

    python3 bench/moe_llamacpp.py
    python3 bench/moe_llamacpp.py --model models/peer/smollm2-135m-q4_k_m.gguf --prompt "The capital of France is"

With `--model` (repeatable) and `--prompt` (repeatable, text) it compares any GGUF files instead,
e.g. a real llama-quantize Q4_K_M mix.
"""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "reference"))
import llama_ref  # noqa: E402
from tandemkit import free_port, generate_json  # noqa: E402

LLAMA = ROOT / ".peer" / "llama.cpp-build" / "bin" / "llama-server"
FIXTURES = ROOT / "Tests" / "TandemModelTests" / "Fixtures"
# Bytes 1..31 are single tokens of the fixtures' byte-level vocabulary (token id = byte).
PROMPTS = ["\x03\x11\x05\x18\x17\x1c", "\x1d\x1e\x1f\x07\x07\x07\x1a\x01\x0e"]
N = 24


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))


def llama_cpp(path, prompts):
    port = free_port()
    proc = subprocess.Popen([str(LLAMA), "-m", str(path), "--port", str(port), "-t", "1", "-c", "256", "--no-warmup"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        return [post(f"http://127.0.0.1:{port}/completion",
                     {"prompt": p, "n_predict": N, "temperature": 0, "cache_prompt": False, "return_tokens": True})["tokens"]
                for p in prompts]
    finally:
        proc.terminate()
        proc.wait()


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[],
                    help="a GGUF file to compare instead of the fixtures (text prompts: --prompt)")
    ap.add_argument("--prompt", action="append", default=[])
    a = ap.parse_args()
    if not LLAMA.exists():
        sys.exit(f"missing {LLAMA}: run bench/peer/build_llamacpp.sh")
    print(f"<!-- {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; greedy, {N} tokens per prompt -->")
    print("| file | prompt ids | tokens compared | = llama.cpp | = NumPy float64 |")
    print("| --- | --- | --- | --- | --- |")
    ok = True
    files = [Path(m) for m in a.model] or [FIXTURES / f"family_{fam}.gguf" for fam in ["mixtral", "qwen3moe", "qwen2moe", "gptoss", "llama4"]]
    prompts = a.prompt or PROMPTS
    for path in files:
        fam = path.stem.replace("family_", "")
        runs = [generate_json(str(path), p, N) for p in prompts]
        ids = [r["prompt_token_ids"] for r in runs]
        peer = llama_cpp(path, ids)
        ref = llama_ref.load_gguf(str(path))
        for r, p, q in zip(runs, ids, peer):
            # The fixtures name no end-of-text token: llama.cpp then takes GPT-2's default (id 11)
            # and stops there, Tandem runs on. Compared over the tokens both produced.
            got = r["token_ids"]
            n = min(len(got), len(q))
            numpy = llama_ref.greedy(ref, p, N)[:len(got)]
            a, b = got[:n] == q[:n], got == numpy
            ok &= a and b and n >= 8
            print(f"| {fam} | {p} | {n} | {'yes' if a else 'NO'} | {'yes' if b else 'NO'} |")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
