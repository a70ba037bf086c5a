"""OTLP tracing (issue 19) across real processes: a client's `traceparent` into a real `tandem
gateway`, the gateway's upstream span passed on to a real `tandem serve` (SmolLM2), and both
exporting spans over OTLP/HTTP (JSON) to a receiver here. The receiver parses every export with
the official OpenTelemetry protobuf types (`opentelemetry-proto`; OTLP/JSON's hex ids turned into
protobuf JSON's base64 first, as OTLP receivers do) and the test checks one request's spans from
client to coordinator: one trace, parent links, the request id on the roots."""
import base64
import json
import threading
import time
from hashlib import sha256
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import opentelemetry.proto.collector.trace.v1.trace_service_pb2 as pb  # tools/requirements.txt
import tandemkit
from google.protobuf import json_format

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP receiver: every POST /v1/traces parsed into ExportTraceServiceRequest."""

    def __init__(self):
        self.exports, self.paths = [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                for rs in body.get("resourceSpans", []):
                    for ss in rs.get("scopeSpans", []):
                        for s in ss.get("spans", []):
                            for k in ("traceId", "spanId", "parentSpanId"):
                                if k in s:
                                    s[k] = base64.b64encode(bytes.fromhex(s[k])).decode()
                outer.exports.append(json_format.ParseDict(body, pb.ExportTraceServiceRequest()))
                outer.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self):
        out = []
        for e in self.exports:
            for rs in e.resource_spans:
                service = {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        out.append({"service": service, "name": s.name, "trace": s.trace_id.hex(), "id": s.span_id.hex(),
                                    "parent": s.parent_span_id.hex(), "kind": s.kind, "start": s.start_time_unix_nano,
                                    "end": s.end_time_unix_nano, "attrs": {a.key: a.value.string_value for a in s.attributes},
                                    "error": s.status.code == 2})
        return out


def test_one_request_is_traced_from_the_client_to_the_coordinator(tmp_path):
    rx = Receiver()
    dep = tandemkit.Deployment(tandemkit.SMOLLM2, 1, extra=("--otlp-endpoint", rx.url))
    gw = None
    try:
        key = "sk-trace"
        (tmp_path / "keys.json").write_text(json.dumps({"keys": [{"id": "k", "tenant": "t", "sha256": sha256(key.encode()).hexdigest()}]}))
        gw = tandemkit.Gateway({
            "listen": {"host": "127.0.0.1", "port": 0}, "keys_file": "keys.json",
            "tenants": {"t": {"allowed_models": ["*"]}},
            "models": [{"name": "smol", "deployments": [{"url": dep.url, "kind": "coordinator", "upstream_model": "m"}]}],
            "tracing": {"otlp_endpoint": rx.url, "sample_ratio": 0},
        }, tmp_path)
        client = gw.client(key)
        traced = client.chat.completions.create(model="smol", max_tokens=8, temperature=0,
                                                messages=[{"role": "user", "content": "Hi"}],
                                                extra_headers={"traceparent": f"00-{TRACE}-{CLIENT_SPAN}-01"})
        # sample_ratio 0: a request without a sampled traceparent leaves no spans.
        client.chat.completions.create(model="smol", max_tokens=4, messages=[{"role": "user", "content": "Hello"}])
        deadline = time.time() + 20
        # Both exporters send about once a second: wait for the traced request's 11 spans rather
        # than leave the last ones to the processes' flush at shutdown.
        while time.time() < deadline and len(rx.spans()) < 11:
            time.sleep(0.3)
    finally:
        if gw:
            gw.stop()
        dep.stop()
    spans = rx.spans()
    assert rx.paths and all(p == "/v1/traces" for p in rx.paths)
    assert spans and all(s["trace"] == TRACE for s in spans), spans
    by_id = {s["id"]: s for s in spans}
    by_name = {(s["service"], s["name"]): s for s in spans}
    gw_root = by_name[("tandem-gateway", "tandem-gateway /v1/chat/completions")]
    upstream = by_name[("tandem-gateway", "upstream")]
    co_root = by_name[("tandem-coordinator", "tandem-coordinator /v1/chat/completions")]
    # The chain: client → gateway request → upstream call → coordinator request → its phases.
    assert gw_root["parent"] == CLIENT_SPAN and gw_root["kind"] == 2
    assert upstream["parent"] == gw_root["id"] and upstream["kind"] == 3
    assert co_root["parent"] == upstream["id"] and co_root["kind"] == 2
    for service, root in (("tandem-gateway", gw_root), ("tandem-coordinator", co_root)):
        for name in ("authenticate", "admission", "first token", "decode"):
            child = by_name[(service, name)]
            assert child["parent"] == root["id"], (service, name)
            assert root["start"] <= child["start"] <= child["end"] <= root["end"] + 5_000_000, (service, name, child, root)
        assert root["attrs"]["http.status_code"] == "200" and not root["error"]
        assert root["attrs"]["gen_ai.usage.output_tokens"] == str(traced.usage.completion_tokens)
    # One request end to end: the gateway's request id (the client's X-Request-Id and response id)
    # on every gateway span, and on the coordinator's as the caller's id.
    gw_id = traced.id.removeprefix("chatcmpl-")
    assert all(s["attrs"]["tandem.request_id"] == gw_id for s in spans if s["service"] == "tandem-gateway")
    assert all(s["attrs"]["tandem.caller_request_id"] == gw_id for s in spans if s["service"] == "tandem-coordinator")
    assert len(spans) == len(by_id) == 11, sorted((s["service"], s["name"]) for s in spans)
