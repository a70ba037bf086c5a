"""A multi-step tool loop by an agent library from PyPI (`openai-agents`, on its Chat
Completions model) against a real `tandem gateway` in front of a real `tandem serve` with
SmolLM2: the agent calls a Python function tool through Tandem's tool calling, gets its result
back as a `role: tool` message, and finishes with an answer."""
import asyncio
import json

import pytest

from conftest import gateway_in_front


@pytest.fixture(scope="module")
def gateway_url(dep):
    gw = gateway_in_front(dep.url, "sk-agent", prefix="tandem-gw-agent-")
    try:
        yield gw.url, "sk-agent"
    finally:
        gw.stop()


def test_an_openai_agents_tool_loop_completes_through_the_gateway(gateway_url):
    from openai import AsyncOpenAI
    from agents import Agent, ModelSettings, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)  # no trace export to a hosted service
    url, key = gateway_url
    calls = []

    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        calls.append(city)
        return json.dumps({"city": city, "temperature_c": 21, "sky": "sunny"})

    client = AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)
    agent = Agent(
        name="weather",
        instructions="Answer questions about the weather. Use the get_weather tool, then answer in one sentence.",
        model=OpenAIChatCompletionsModel(model="smol", openai_client=client),
        model_settings=ModelSettings(tool_choice="required", temperature=0, max_tokens=120),
        tools=[get_weather],
    )
    result = asyncio.run(Runner.run(agent, "What is the weather in Paris?", max_turns=4))
    assert calls, "the agent never called the tool"
    assert all(isinstance(c, str) and c for c in calls)
    assert isinstance(result.final_output, str) and result.final_output.strip()
    # The run went model → tool → model: the tool's output came back into the conversation.
    kinds = [type(item).__name__ for item in result.new_items]
    assert "ToolCallItem" in kinds and "ToolCallOutputItem" in kinds and kinds[-1] == "MessageOutputItem", kinds
