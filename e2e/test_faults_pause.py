"""A coordinator paused (SIGSTOP, then SIGCONT) longer than its step timeout, with a step in
flight, resumes the request instead of declaring the step stalled: the time the whole process was
not running is not counted against the step (the watchdog sees its own tick arrive late).
A worker that stops answering while the coordinator runs is still caught (test_cluster_serve)."""
import os
import signal
import threading
import time

import httpx

from tandemkit import STORIES260K as STORIES, Deployment


def test_a_paused_coordinator_finishes_the_request_after_it_continues():
    dep = Deployment(STORIES, 1, step_timeout=2)
    try:
        result, first_token = {}, threading.Event()

        def stream():
            body = {"model": "m", "prompt": "Once upon a time", "max_tokens": 400, "temperature": 0,
                    "stream": True}
            text = ""
            try:
                with httpx.stream("POST", f"http://127.0.0.1:{dep.port}/v1/completions", json=body, timeout=120) as r:
                    result["status"] = r.status_code
                    for line in r.iter_lines():
                        if line.startswith("data: ") and line != "data: [DONE]":
                            text += line
                            first_token.set()
                result["text"] = text
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = repr(e)
            first_token.set()

        t = threading.Thread(target=stream)
        t.start()
        assert first_token.wait(60)
        os.kill(dep.proc.pid, signal.SIGSTOP)
        time.sleep(4)  # twice the step timeout
        os.kill(dep.proc.pid, signal.SIGCONT)
        t.join(120)
        assert "error" not in result, result
        assert result.get("status") == 200
        assert '"finish_reason":"length"' in result["text"] or '"finish_reason":"stop"' in result["text"], result["text"][-500:]
        assert dep.proc.poll() is None, "the coordinator exited"
        assert httpx.get(f"http://127.0.0.1:{dep.port}/health", timeout=5).status_code == 200
    finally:
        dep.stop()
