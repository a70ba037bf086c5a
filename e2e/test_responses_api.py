"""`POST /v1/responses` (issue 22, the stateless subset) with the official `openai` client against a
real `tandem serve` with SmolLM2, directly and through a real `tandem gateway` (which sends it
upstream as a chat completion and renders the Responses shape itself).

The oracle for the content is the chat-completions endpoint on the same deployment: a greedy
Responses answer must be the same text as the greedy chat answer to the same conversation
(`instructions` as the system message, function calls and outputs as `tool_calls` and `role: tool`
messages). Outputs under `text.format` and tool arguments are checked with `jsonschema`; the
streamed events with the SDK's own typed parsing and their documented order; an agent library
(`openai-agents`) runs its default Responses model through a tool loop."""
import asyncio
import json

import httpx
import jsonschema
import pytest

from conftest import gateway_in_front

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather for a city.",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string", "maxLength": 40},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
               "required": ["city", "unit"], "additionalProperties": False}}
ASK = "What is the weather like in Paris today?"


@pytest.fixture(scope="module")
def gw(dep):
    g = gateway_in_front(dep.url, "sk-resp", prefix="tandem-gw-resp-")
    yield g
    g.stop()


def clients(dep, gw):
    return [("coordinator", dep.client(), "m"), ("gateway", gw.client("sk-resp", timeout=120), "smol")]


def chat_text(client, model, messages, **kw):
    r = client.chat.completions.create(model=model, messages=messages, temperature=0, **kw)
    return r.choices[0].message


def test_a_greedy_answer_is_the_chat_answer(dep, gw):
    for where, client, model in clients(dep, gw):
        r = client.responses.create(model=model, input="Name three colors.", instructions="Be brief.",
                                    temperature=0, max_output_tokens=24)
        assert r.object == "response" and r.id.startswith("resp_"), where
        assert r.status in ("completed", "incomplete"), where
        expected = chat_text(client, model, [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "Name three colors."}], max_tokens=24)
        assert r.output_text == expected.content, where
        assert r.instructions == "Be brief." and r.max_output_tokens == 24 and r.temperature == 0, where
        assert [item.type for item in r.output] == ["message"], where
        u = r.usage
        assert u.input_tokens > 0 and u.output_tokens > 0 and u.total_tokens == u.input_tokens + u.output_tokens, where
        assert u.output_tokens_details.reasoning_tokens == 0, where


def test_max_output_tokens_gives_an_incomplete_response(dep, gw):
    for where, client, model in clients(dep, gw):
        r = client.responses.create(model=model, input="Tell me a long story about a fox.", temperature=0, max_output_tokens=5)
        assert r.status == "incomplete", where
        assert r.incomplete_details.reason == "max_output_tokens", where
        assert r.usage.output_tokens == 5, where
        assert r.output[0].status == "incomplete", where


def test_streamed_events_add_up_to_the_whole_answer(dep, gw):
    for where, client, model in clients(dep, gw):
        whole = client.responses.create(model=model, input="Name three colors.", temperature=0, max_output_tokens=24)
        events = list(client.responses.create(model=model, input="Name three colors.", temperature=0, max_output_tokens=24,
                                              stream=True))
        types = [e.type for e in events]
        assert types[:2] == ["response.created", "response.in_progress"], (where, types)
        assert types[2:4] == ["response.output_item.added", "response.content_part.added"], (where, types)
        assert types[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                              "response.completed" if whole.status == "completed" else "response.incomplete"], (where, types)
        assert [e.sequence_number for e in events] == list(range(len(events))), where
        deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert deltas == whole.output_text, where
        final = events[-1].response
        assert final.output_text == whole.output_text and final.usage.output_tokens == whole.usage.output_tokens, where
        assert events[-4].text == whole.output_text, where


def test_json_schema_output_parses_into_the_pydantic_model(dep, gw):
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        country: str
        population_millions: float

    for where, client, model in clients(dep, gw):
        for seed in (1, 2, 3):
            r = client.responses.parse(model=model, input="Describe Paris as JSON.", text_format=City,
                                       temperature=0.7, max_output_tokens=80, extra_body={"seed": seed})
            assert r.status == "completed", (where, r.output_text)
            assert isinstance(r.output_parsed, City), where
            jsonschema.validate(json.loads(r.output_text), City.model_json_schema())


def test_required_tool_call_and_its_output_complete_the_turn(dep, gw):
    for where, client, model in clients(dep, gw):
        r = client.responses.create(model=model, input=ASK, tools=[WEATHER], tool_choice="required", temperature=0,
                                    max_output_tokens=120)
        calls = [item for item in r.output if item.type == "function_call"]
        assert calls, (where, r.output)
        for call in calls:
            assert call.name == "get_weather" and call.call_id and call.id.startswith("fc_"), where
            jsonschema.validate(json.loads(call.arguments), WEATHER["parameters"])
        # The same first step as a chat completion makes the same calls.
        chat_tool = {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}
        msg = chat_text(client, model, [{"role": "user", "content": ASK}], tools=[chat_tool], tool_choice="required",
                        max_tokens=120)
        assert [(c.function.name, c.function.arguments) for c in msg.tool_calls] == [(c.name, c.arguments) for c in calls], where
        # Send the calls and their outputs back: the model answers in text, as the chat endpoint
        # answers the same conversation.
        outputs = [{"type": "function_call_output", "call_id": c.call_id,
                    "output": json.dumps({"temperature": 21, "sky": "sunny"})} for c in calls]
        items = [{"role": "user", "content": ASK}] + [c.model_dump(exclude_none=True) for c in calls] + outputs
        final = client.responses.create(model=model, input=items, tools=[WEATHER], tool_choice="none", temperature=0,
                                        max_output_tokens=60)
        assert final.output_text, where
        chat_messages = [{"role": "user", "content": ASK},
                         {"role": "assistant", "content": "", "tool_calls": [c.model_dump() for c in msg.tool_calls]}]
        chat_messages += [{"role": "tool", "tool_call_id": c.id, "content": o["output"]} for c, o in zip(msg.tool_calls, outputs)]
        again = chat_text(client, model, chat_messages, tools=[chat_tool], tool_choice="none", max_tokens=60)
        assert final.output_text == again.content, where


def test_streamed_function_call_events(dep, gw):
    for where, client, model in clients(dep, gw):
        events = list(client.responses.create(model=model, input=ASK, tools=[WEATHER], tool_choice="required", temperature=0,
                                              max_output_tokens=120, stream=True))
        types = [e.type for e in events]
        assert "response.function_call_arguments.delta" in types and types[-1] == "response.completed", (where, types)
        done = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert done, where
        args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
        assert args == "".join(e.arguments for e in done), where
        for item in events[-1].response.output:
            assert item.type == "function_call"
            jsonschema.validate(json.loads(item.arguments), WEATHER["parameters"])


@pytest.mark.parametrize("body, param", [
    ({"previous_response_id": "resp_123"}, "previous_response_id"),
    ({"store": True}, "store"),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}, "input[0].content[0].type"),
    ({"text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, "text.format.name"),
    ({"max_output_tokens": 0}, "max_output_tokens"),
    ({"background": True}, "background"),
    ({"include": ["reasoning.encrypted_content"]}, "include[0]"),
    ({"reasoning": {"effort": "high"}}, "reasoning.effort"),
])
def test_what_it_cannot_honour_is_refused_by_name(dep, gw, body, param):
    for url, key, model in ((dep.url, None, "m"), (gw.url, "sk-resp", "smol")):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = httpx.post(f"{url}/v1/responses", json={"model": model, "input": "Hi", **body}, headers=headers, timeout=60)
        assert r.status_code == 400, (url, r.text)
        assert r.json()["error"]["param"] == param, (url, r.text)


def test_an_agent_library_runs_its_default_responses_model_through_a_tool_loop(gw):
    from openai import AsyncOpenAI
    from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)  # no trace export to a hosted service
    calls = []

    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        calls.append(city)
        return json.dumps({"city": city, "temperature_c": 21, "sky": "sunny"})

    client = AsyncOpenAI(base_url=gw.url + "/v1", api_key="sk-resp", max_retries=0, timeout=120)
    agent = Agent(
        name="weather",
        instructions="Answer questions about the weather. Use the get_weather tool, then answer in one sentence.",
        model=OpenAIResponsesModel(model="smol", openai_client=client),
        model_settings=ModelSettings(tool_choice="required", temperature=0, max_tokens=120),
        tools=[get_weather],
    )
    result = asyncio.run(Runner.run(agent, "What is the weather in Paris?", max_turns=4))
    assert calls and all(isinstance(c, str) and c for c in calls)
    assert isinstance(result.final_output, str) and result.final_output.strip()
    kinds = [type(item).__name__ for item in result.new_items]
    assert "ToolCallItem" in kinds and "ToolCallOutputItem" in kinds and kinds[-1] == "MessageOutputItem", kinds
