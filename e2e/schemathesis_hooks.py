"""Schemathesis hooks for e2e/test_gateway_ops.py: most generated request bodies name a model
the test gateway serves, so the fuzzing reaches routing, the upstream and the response
rendering instead of stopping at 404 model_not_found (one body in four keeps its random name)."""
import zlib

import schemathesis

MODELS = ["small", "fast", "big", "auto", "thinker", "ext"]


@schemathesis.hook
def map_body(context, body):
    if isinstance(body, dict) and isinstance(body.get("model"), str):
        pick = zlib.crc32(repr(sorted(body.keys())).encode() + body["model"].encode()) % (len(MODELS) + 2)
        if pick < len(MODELS):
            body = dict(body, model=MODELS[pick])
    return body
