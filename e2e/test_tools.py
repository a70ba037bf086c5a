"""Tool calling (issue 22) with the official `openai` client against a real `tandem serve` with
SmolLM2, directly and through a real `tandem gateway`: tools shown through the model's chat
template, calls parsed from its answer (`<tool_call>` JSON for ChatML models), streamed as
`tool_calls` deltas; `tool_choice` required or a named function constrained by the grammar
engine so the call always parses and its arguments validate (checked with `jsonschema`); `role:
tool` results accepted on the way back; a multi-step loop completes."""
import json

import httpx
import jsonschema
import pytest

from conftest import gateway_in_front

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False}}}
SEARCH = {"type": "function", "function": {
    "name": "search_web", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {
        "query": {"type": "string", "maxLength": 60}, "max_results": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["query"], "additionalProperties": False}}}
TOOLS = [WEATHER, SEARCH]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "user", "content": "What is the weather like in Paris today?"}]


@pytest.fixture(scope="module")
def gw(dep):
    g = gateway_in_front(dep.url, "sk-tools", prefix="tandem-gw-tools-")
    yield g.client("sk-tools", timeout=120)
    g.stop()


def clients(dep, gw):
    return [("coordinator", dep.client(), "m"), ("gateway", gw, "smol")]


def check_call(call):
    assert call.type == "function"
    assert call.id.startswith("call_")
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, SCHEMAS[call.function.name])
    return args


def test_required_tool_call_parses_and_validates(dep, gw):
    for where, client, model in clients(dep, gw):
        r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, tool_choice="required",
                                           temperature=0, max_tokens=120)
        choice = r.choices[0]
        assert choice.finish_reason == "tool_calls", where
        assert choice.message.tool_calls, where
        for call in choice.message.tool_calls:
            check_call(call)


def test_streamed_tool_calls_arrive_as_deltas(dep, gw):
    for where, client, model in clients(dep, gw):
        calls, finish = {}, None
        for chunk in client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, tool_choice="required",
                                                    temperature=0, max_tokens=120, stream=True):
            if not chunk.choices:
                continue
            c = chunk.choices[0]
            for d in c.delta.tool_calls or []:
                entry = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = d.id or entry["id"]
                entry["name"] += (d.function.name or "") if d.function else ""
                entry["arguments"] += (d.function.arguments or "") if d.function else ""
            finish = c.finish_reason or finish
        assert finish == "tool_calls", where
        assert calls, where
        for entry in calls.values():
            assert entry["id"].startswith("call_")
            jsonschema.validate(json.loads(entry["arguments"]), SCHEMAS[entry["name"]])


def test_a_named_function_is_the_one_called(dep, gw):
    for where, client, model in clients(dep, gw):
        for name in ("search_web", "get_weather"):
            r = client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, temperature=0.8, seed=3, max_tokens=120,
                                               tool_choice={"type": "function", "function": {"name": name}})
            calls = r.choices[0].message.tool_calls
            assert calls and all(c.function.name == name for c in calls), (where, name)
            assert len(calls) == 1
            check_call(calls[0])


def test_tool_results_go_back_and_the_loop_completes(dep, gw):
    for where, client, model in clients(dep, gw):
        messages = list(ASK)
        for step in range(3):
            r = client.chat.completions.create(model=model, messages=messages, tools=TOOLS, temperature=0, max_tokens=120,
                                               tool_choice="required" if step == 0 else "none")
            msg = r.choices[0].message
            if not msg.tool_calls:
                break
            messages.append({"role": "assistant", "content": msg.content,
                             "tool_calls": [c.model_dump() for c in msg.tool_calls]})
            for call in msg.tool_calls:
                args = check_call(call)
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": json.dumps({"city": args.get("city", "Paris"), "temperature": 21, "sky": "sunny"})})
        assert r.choices[0].finish_reason == "stop", where
        assert r.choices[0].message.content, where
        assert len(messages) >= 3


def test_auto_answers_with_text_or_valid_calls(dep):
    r = dep.client().chat.completions.create(model="m", messages=[{"role": "user", "content": "Say hello."}], tools=TOOLS,
                                             temperature=0, max_tokens=40)
    msg = r.choices[0].message
    assert msg.content or msg.tool_calls
    for call in msg.tool_calls or []:
        json.loads(call.function.arguments)


def test_tool_fields_that_cannot_be_honoured_are_400s(dep):
    url = f"{dep.url}/v1/chat/completions"
    cases = [
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        ({"functions": [WEATHER["function"]]}, "functions"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ]
    for extra, param in cases:
        body = {"model": "m", "messages": ASK, "max_tokens": 5, **extra}
        r = httpx.post(url, json=body, timeout=60)
        assert r.status_code == 400, (extra, r.text)
        assert r.json()["error"]["param"] == param, (extra, r.text)
