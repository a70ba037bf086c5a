"""A request without max_tokens through the gateway: the deployment is asked for the model's
default_max_tokens (so the tenant's token budget is charged for what may be generated, and a
deployment with a small K/V pool is not asked for its whole context)."""


def test_missing_max_tokens_is_sent_upstream_as_the_models_default(gateway, stubs):
    for s in ("small-0", "small-1"):
        stubs[s].reset()
    gateway.client().chat.completions.create(model="small", messages=[{"role": "user", "content": "no limit given"}])
    sent = [r["body"] for s in ("small-0", "small-1") for r in stubs[s].requests()
            if "no limit given" in str(r["body"].get("messages"))]
    assert sent, "the request did not reach a stub"
    # base_config leaves default_max_tokens at its documented default, 512.
    assert sent[-1].get("max_completion_tokens") == 512, sent[-1]
    # An explicit value is passed on unchanged.
    gateway.client().chat.completions.create(model="small", max_tokens=7, messages=[{"role": "user", "content": "seven please"}])
    sent = [r["body"] for s in ("small-0", "small-1") for r in stubs[s].requests()
            if "seven please" in str(r["body"].get("messages"))]
    assert sent[-1].get("max_completion_tokens") == 7, sent[-1]
