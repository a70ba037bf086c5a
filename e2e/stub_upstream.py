#!/usr/bin/env python3
"""A small OpenAI-compatible upstream for the gateway's end-to-end tests.

It stands in for a Tandem coordinator (or an external upstream) until the real one exists:
streams chat and completion answers over SSE, honours max_tokens / stop / logprobs /
response_format, reports usage with cached prompt tokens (per cache salt), records every request
it receives (headers, body, the client's port, and whether the client went away before the end)
at GET /_stub/requests, and misbehaves on request when the prompt contains a directive:

    [[stub:status=503]]      answer with that HTTP status and an OpenAI error body
    [[stub:context]]         answer 400 context_length_exceeded
    [[stub:hang]]            accept the connection, never answer (until the client goes away)
    [[stub:slow]]            stream 200 tokens, 50 ms apart
    [[stub:midfail]]         stream two tokens, then drop the connection
    [[stub:midfail-event]]   stream two tokens, then an SSE error event
    [[stub:stall]]           stream two tokens, then send nothing for 3 s, then the rest
    [[stub:drop-next]]       answer, then read the next request on the same kept-alive connection
                             and close it without a byte of answer (an upstream whose keep-alive
                             timeout fired just as the request arrived)
    [[stub:bad-usage]]       report usage with negative token counts
    [[stub:huge-usage]]      report usage with token counts of 2**62 (their sum overflows 64 bits)

Standard library only. Usage: stub_upstream.py --port 9001 --name small-0 [--reasoning]
"""
import argparse
import json
import re
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIRECTIVE = re.compile(r"\[\[stub:([a-z\-]+)(?:=(\d+))?\]\]")


class State:
    def __init__(self, name, reasoning):
        self.name = name
        self.reasoning = reasoning
        self.lock = threading.Lock()
        self.requests = []
        self.seen_prefixes = set()

    def record(self, entry):
        with self.lock:
            entry["seq"] = len(self.requests)
            self.requests.append(entry)
            return entry

    def update(self, entry, **fields):
        with self.lock:
            entry.update(fields)

    def cached_tokens(self, salt, prompt_text, prompt_tokens):
        key = (salt, prompt_text[:200])
        with self.lock:
            if key in self.seen_prefixes:
                return max(0, prompt_tokens - 1)
            self.seen_prefixes.add(key)
            return 0


def prompt_text(body):
    if "messages" in body:
        parts = []
        for m in body["messages"]:
            c = m.get("content")
            if isinstance(c, list):
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            parts.append(f"{m.get('role')}: {c or ''}")
        return "\n".join(parts)
    p = body.get("prompt", "")
    if isinstance(p, list):
        return " ".join(str(x) for x in p)
    return str(p)


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep test output quiet
            pass

        # --- plumbing -------------------------------------------------------------------
        def send_json(self, status, obj, extra=None):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def start_stream(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def chunk(self, text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def event(self, obj):
            self.chunk("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n")

        def end_stream(self):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def peer_closed(self, timeout):
            r, _, _ = select.select([self.connection], [], [], timeout)
            if not r:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        # --- routes ---------------------------------------------------------------------
        def do_GET(self):
            if self.path == "/health":
                self.send_json(200, {"status": "ok", "name": state.name})
            elif self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": state.name, "object": "model", "created": 0, "owned_by": "stub"}]})
            elif self.path == "/_stub/requests":
                with state.lock:
                    self.send_json(200, list(state.requests))
            else:
                self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error", "param": None, "code": None}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/_stub/reset":
                with state.lock:
                    state.requests.clear()
                    state.seen_prefixes.clear()
                return self.send_json(200, {"ok": True})
            if self.path not in ("/v1/chat/completions", "/v1/completions"):
                return self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error", "param": None, "code": None}})
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            entry = state.record({"path": self.path, "headers": headers, "body": body, "outcome": "started",
                                  "client_port": self.client_address[1]})
            if getattr(self, "drop_next", False):
                state.update(entry, outcome="dropped-unanswered")
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if "[[stub:drop-next]]" in prompt_text(body):
                self.drop_next = True
            try:
                self.answer(body, headers, entry)
            except (BrokenPipeError, ConnectionResetError):
                state.update(entry, outcome="cancelled")
                self.close_connection = True

        def answer(self, body, headers, entry):
            chat = self.path == "/v1/chat/completions"
            text = prompt_text(body)
            directive = DIRECTIVE.search(text)
            mode = directive.group(1) if directive else None
            if mode == "status":
                status = int(directive.group(2))
                state.update(entry, outcome=f"status {status}")
                extra = {"Retry-After": "3"} if status in (429, 503) else {}
                return self.send_json(status, {"error": {"message": f"stub says {status}", "type": "server_error", "param": None, "code": None}}, extra)
            if mode == "context":
                state.update(entry, outcome="context")
                return self.send_json(400, {"error": {"message": "This model's maximum context length is 16 tokens.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
            if mode == "hang":
                deadline = time.time() + 60
                while time.time() < deadline:
                    if self.peer_closed(0.05):
                        state.update(entry, outcome="cancelled")
                        self.close_connection = True
                        return
                state.update(entry, outcome="hung")
                self.close_connection = True
                return

            json_mode = (body.get("response_format") or {}).get("type") in ("json_object", "json_schema")
            if json_mode:
                tokens = ['{"', 'answer', '": "', 'from ', state.name, '"}']
            else:
                tokens = ["Hello", " from", " " + state.name, "."]
            if mode == "slow":
                tokens = [f" t{i}" for i in range(200)]
            reasoning = ["Let", " me", " think."] if state.reasoning else []

            max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
            finish = "stop"
            budget = max_tokens if isinstance(max_tokens, int) else None
            if budget is not None:
                reasoning = reasoning[:budget]
                left = budget - len(reasoning)
                if left < len(tokens):
                    tokens = tokens[:max(0, left)]
                    finish = "length"
            stops = body.get("stop") or []
            if isinstance(stops, str):
                stops = [stops]
            if stops and not json_mode and finish == "stop":
                joined = "".join(tokens)
                cut = min((joined.find(s) for s in stops if s and s in joined), default=-1)
                if cut >= 0:
                    kept, total = [], 0
                    for t in tokens:
                        if total + len(t) > cut:
                            if cut > total:
                                kept.append(t[:cut - total])
                            break
                        kept.append(t)
                        total += len(t)
                    tokens = kept

            prompt_tokens = max(1, len(text.split()))
            cached = state.cached_tokens(headers.get("x-tandem-cache-salt"), text, prompt_tokens)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens) + len(reasoning),
                "total_tokens": prompt_tokens + len(tokens) + len(reasoning),
                "prompt_tokens_details": {"cached_tokens": cached},
                "completion_tokens_details": {"reasoning_tokens": len(reasoning)},
            }
            if mode == "bad-usage":
                usage.update(prompt_tokens=-5, completion_tokens=-7, total_tokens=-12)
            if mode == "huge-usage":
                usage.update(prompt_tokens=2**62, completion_tokens=2**62, total_tokens=2**63)
            logprobs = body.get("logprobs")
            top_n = body.get("top_logprobs") or 0 if chat else (logprobs or 0)
            want_logprobs = bool(logprobs) if chat else logprobs is not None

            created = int(time.time())
            rid = ("chatcmpl-" if chat else "cmpl-") + f"stub{entry['seq']}"
            model = body.get("model", state.name)

            def lp(i, tok):
                if not want_logprobs:
                    return None
                value = -0.1 * (i + 1)
                alts = [{"token": tok, "logprob": value, "bytes": list(tok.encode())}] + [
                    {"token": f"alt{j}", "logprob": value - j, "bytes": list(f"alt{j}".encode())} for j in range(1, top_n)]
                alts = alts[:top_n]
                if chat:
                    return {"content": [{"token": tok, "logprob": value, "bytes": list(tok.encode()), "top_logprobs": alts}], "refusal": None}
                return {"tokens": [tok], "token_logprobs": [value], "top_logprobs": [{a["token"]: a["logprob"] for a in alts}], "text_offset": [0]}

            def piece(content=None, reasoning_content=None, finish_reason=None, logprob=None, index=0):
                if chat:
                    delta = {}
                    if content is not None:
                        delta["content"] = content
                    if reasoning_content is not None:
                        delta["reasoning_content"] = reasoning_content
                    choice = {"index": index, "delta": delta, "logprobs": logprob, "finish_reason": finish_reason}
                    return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [choice]}
                choice = {"index": index, "text": content or "", "logprobs": logprob, "finish_reason": finish_reason}
                return {"id": rid, "object": "text_completion", "created": created, "model": model, "choices": [choice]}

            if not body.get("stream"):
                content = "".join(tokens)
                if chat:
                    message = {"role": "assistant", "content": content}
                    if reasoning:
                        message["reasoning_content"] = "".join(reasoning)
                    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
                    obj = "chat.completion"
                else:
                    choice = {"index": 0, "text": content, "logprobs": None, "finish_reason": finish}
                    obj = "text_completion"
                state.update(entry, outcome="completed")
                return self.send_json(200, {"id": rid, "object": obj, "created": created, "model": model, "choices": [choice], "usage": usage})

            self.start_stream()
            if chat:
                self.event(piece(content=""))
            for r in reasoning:
                self.event(piece(reasoning_content=r))
            for i, tok in enumerate(tokens):
                if mode == "stall" and i == 2:
                    deadline = time.time() + 3
                    while time.time() < deadline:
                        if self.peer_closed(0.05):
                            state.update(entry, outcome="cancelled")
                            self.close_connection = True
                            return
                if mode in ("midfail", "midfail-event") and i == 2:
                    if mode == "midfail":
                        state.update(entry, outcome="dropped")
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.event({"error": {"message": "stub worker died", "type": "server_error", "param": None, "code": "model_unavailable"}})
                    self.event("[DONE]")
                    self.end_stream()
                    state.update(entry, outcome="error-event")
                    return
                if mode == "slow":
                    time.sleep(0.05)
                self.event(piece(content=tok, logprob=lp(i, tok)))
            self.event(piece(finish_reason=finish) if chat else piece(content="", finish_reason=finish))
            # n > 1: the other choices, each the same text in one chunk.
            for index in range(1, int(body.get("n") or 1)):
                self.event(piece(content="".join(tokens), index=index))
                self.event(piece(finish_reason=finish, index=index))
            if (body.get("stream_options") or {}).get("include_usage"):
                self.event({"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
                            "model": model, "choices": [], "usage": usage})
            self.event("[DONE]")
            self.end_stream()
            state.update(entry, outcome="completed")

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--reasoning", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(State(args.name, args.reasoning)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
