"""Usage records (`usage_log`) and spend: every request the gateway finishes is one JSON line with
its tenant, model, route, tokens, cost at the model's prices and latency; the lines sum to the
gateway's own token and spend counters; a reload reopens the file, so it can be rotated (official
`openai` client; stub upstreams)."""
import json
import time

import pytest
from conftest import Gateway, base_config, write_keys

PRICES = {"input_per_million": 2.0, "cached_input_per_million": 0.5, "output_per_million": 8.0}


def lines(path, count, deadline=10):
    end = time.time() + deadline
    while True:
        text = path.read_text() if path.exists() else ""
        recs = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(recs) >= count or time.time() > end:
            return recs
        time.sleep(0.1)


def test_usage_records_sum_to_the_metrics_and_cost_follows_the_prices(stubs, tmp_path):
    keys = tmp_path / "keys.json"
    write_keys(keys)
    config = base_config(stubs, keys)
    config["usage_log"] = "usage.jsonl"
    for m in config["models"]:
        if m["name"] == "small":
            m["prices"] = PRICES
    gw = Gateway(config, tmp_path)
    try:
        acme, globex = gw.client(), gw.client(key="sk-globex")
        acme.chat.completions.create(model="small", messages=[{"role": "user", "content": "hello there"}])
        globex.chat.completions.create(model="big", messages=[{"role": "user", "content": "and you"}])
        list(acme.chat.completions.create(model="fast", messages=[{"role": "user", "content": "stream"}], stream=True,
                                          stream_options={"include_usage": True}))
        acme.completions.create(model="big-down", prompt="fall back please", max_tokens=3)
        log = tmp_path / "usage.jsonl"
        recs = lines(log, 4)
        assert len(recs) == 4, recs
        by_model = {}
        for r in recs:
            by_model.setdefault(r["model"], []).append(r)
            assert r["status"] == 200 and r["request_id"] and r["latency_ms"] >= 0 and r["time"].endswith("Z")
        assert [r["tenant"] for r in recs].count("globex") == 1
        fallback = [r for r in recs if r["requested"] == "big-down"]
        assert fallback and fallback[0]["model"] == "small" and fallback[0]["route"] == "fallback"
        assert fallback[0]["fallback_from"] == "big-down"
        assert any(r["requested"] == "fast" and r["route"] == "alias" for r in recs)
        for r in by_model["small"]:
            expected = ((r["prompt_tokens"] - r["cached_tokens"]) * PRICES["input_per_million"]
                        + r["cached_tokens"] * PRICES["cached_input_per_million"]
                        + r["completion_tokens"] * PRICES["output_per_million"]) / 1e6
            assert r["cost"] == pytest.approx(expected, rel=1e-12)
        big = gw.config["models"][[m["name"] for m in gw.config["models"]].index("big")]
        for r in by_model["big"]:
            assert r["cost"] == pytest.approx(big["cost_per_token"] * (r["prompt_tokens"] + r["completion_tokens"]), rel=1e-12)
        # The records are the gateway's own counters, request for request.
        for family, field in [("tandem_prompt_tokens", "prompt_tokens"), ("tandem_generated_tokens", "completion_tokens")]:
            for model in ["small", "big"]:
                counted = sum(gw.sample(family, "_total", model=model, tenant=t) for t in ["acme", "globex"])
                assert counted == sum(r[field] for r in by_model.get(model, [])), (family, model)
        spend = sum(gw.sample("tandem_tenant_spend_dollars", "_total", model=m, tenant=t)
                    for m in ["small", "big"] for t in ["acme", "globex"])
        assert spend == pytest.approx(sum(r["cost"] for r in recs), rel=1e-9)
        # Rotation: the old file renamed away, a reload starts a new one.
        log.rename(tmp_path / "usage.1.jsonl")
        gw.reload()
        time.sleep(0.5)
        acme.chat.completions.create(model="small", messages=[{"role": "user", "content": "after rotation"}])
        assert len(lines(log, 1)) == 1
        assert len(lines(tmp_path / "usage.1.jsonl", 4)) == 4
    finally:
        gw.stop()


def test_budget_refuses_once_spent_and_survives_a_restart(stubs, tmp_path):
    """A tenant with a daily budget smaller than one request's cost: the first request is served
    (nothing spent yet), the next gets 429 `budget_exceeded` with Retry-After; a gateway started
    again on the same usage records still refuses it; another tenant is unaffected."""
    from openai import RateLimitError
    keys = tmp_path / "keys.json"
    write_keys(keys)
    config = base_config(stubs, keys)
    config["usage_log"] = "usage.jsonl"
    config["tenants"]["acme"]["budget_per_day"] = 1e-7
    for m in config["models"]:
        if m["name"] == "small":
            m["prices"] = PRICES
    messages = [{"role": "user", "content": "hello"}]
    gw = Gateway(config, tmp_path)
    try:
        gw.client().chat.completions.create(model="small", messages=messages)
        lines(tmp_path / "usage.jsonl", 1)
        with pytest.raises(RateLimitError) as e:
            gw.client().chat.completions.create(model="small", messages=messages)
        assert e.value.body["code"] == "budget_exceeded" and "daily budget" in e.value.body["message"]
        assert int(e.value.response.headers["retry-after"]) >= 1
        gw.client(key="sk-globex").chat.completions.create(model="small", messages=messages)
    finally:
        gw.stop()
    again = Gateway(config, tmp_path)
    try:
        with pytest.raises(RateLimitError):
            again.client().chat.completions.create(model="small", messages=messages)
    finally:
        again.stop()
