"""Models' own chat templates: Tandem's Jinja interpreter against Python's `jinja2` (in the
environment transformers renders `chat_template` with) on the 70 real templates that ship in
the `llama-cpp-python` sdist, each with every conversation of `chat_template_oracle.conversations()`
(system, multi-turn, tools offered, tool calls and results, parallel calls, content parts,
reasoning, thinking off, Unicode). Byte-identical text, or an error where jinja2 raises one
(with the same message for `raise_exception`)."""
import json
import os
import subprocess
import sys

import chat_template_oracle as oracle
import gguf
import jsonschema
import openai
import pytest
import tandemkit
from tandemkit import tandem_bin

# Templates allowed to differ from jinja2, each with the construct it needs. Empty: all match.
KNOWN_DIFFERENCES = {}


def render_all(cases, tmp_path):
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([{"template": c["template"], "context": c["context"]} for c in cases]))
    # strftime_now formats the oracle's fixed instant; the interpreter formats in local time.
    r = subprocess.run([tandem_bin(), "chat-template", "--cases", str(path), "--now", oracle.NOW.isoformat()],
                       capture_output=True, text=True, env=dict(os.environ, TZ="UTC"), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return [json.loads(line) for line in r.stdout.splitlines()]


def difference(case, got):
    """None when Tandem's outcome equals jinja2's, else a description."""
    if "error" in case:
        if "error" not in got:
            return f"jinja2 raised {case['error'][:120]!r}; Tandem rendered text"
        if case["error"].startswith("TemplateError: "):  # raise_exception: the template's own message
            message = case["error"][len("TemplateError: "):]
            if message not in got["error"]:
                return f"raise_exception message {message!r} not in Tandem's error {got['error']!r}"
        return None
    if "error" in got:
        return f"Tandem raised {got['error']!r}"
    if got["text"] != case["text"]:
        want, have = case["text"], got["text"]
        i = next((k for k in range(min(len(want), len(have))) if want[k] != have[k]), min(len(want), len(have)))
        return f"differs at byte {i}: jinja2 {want[max(0, i - 40):i + 60]!r} vs Tandem {have[max(0, i - 40):i + 60]!r}"
    return None


def test_corpus_renders_like_jinja2(tmp_path):
    templates = sorted(oracle.corpus_dir().glob("*.jinja"))
    assert len(templates) == 70
    cases = oracle.cases(templates)
    outcomes = render_all(cases, tmp_path)
    assert len(outcomes) == len(cases)
    failures = {}
    for case, got in zip(cases, outcomes):
        why = difference(case, got)
        if why:
            failures.setdefault(os.path.basename(case["template"]), []).append(f"{case['conversation']}: {why}")
    unexpected = {k: v for k, v in failures.items() if k not in KNOWN_DIFFERENCES}
    assert not unexpected, json.dumps(unexpected, indent=1, ensure_ascii=False)[:6000]
    # Most outcomes are texts, not errors on both sides.
    texts = sum("text" in c for c in cases)
    assert texts >= 0.8 * len(cases), f"only {texts} of {len(cases)} cases render in jinja2"
    assert len(templates) - len(failures) >= 60


def test_a_wrong_rendering_is_caught(tmp_path):
    """The comparison can fail: a template with one byte more differs on every conversation."""
    source = next(p for p in sorted(oracle.corpus_dir().glob("*.jinja")) if "Qwen2.5" in p.name)
    changed = tmp_path / "changed.jinja"
    changed.write_text("X" + source.read_text())
    cases = oracle.cases([source])
    outcomes = render_all([{**c, "template": str(changed)} for c in cases], tmp_path)
    assert all(difference(c, g) for c, g in zip(cases, outcomes) if "text" in c)


# ---- a real model with another family's template: SmolLM2's weights and tokenizer re-packaged
# with Qwen3's template (tools, `enable_thinking`) or Gemma 2's (refuses a system message).

def retemplated(tmp_dir, template_name):
    """A copy of the SmolLM2 GGUF whose tokenizer.chat_template is the corpus template NAME."""
    source = oracle.corpus_dir() / template_name
    out = tmp_dir / f"smollm2-{source.stem}.gguf"
    subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", tandemkit.SMOLLM2, str(out),
                    "--chat-template-file", str(source), "--force"], check=True, capture_output=True, timeout=300)
    return out


def gguf_special_tokens(path):
    """bos_token / eos_token as the GGUF's tokenizer names them (gguf's own reader)."""
    r = gguf.GGUFReader(str(path))
    tokens = r.fields["tokenizer.ggml.tokens"]
    def piece(key):
        f = r.fields.get(key)
        if f is None:
            return None
        i = int(f.parts[f.data[0]][0])
        return bytes(tokens.parts[tokens.data[i]]).decode()
    return {k: v for k, v in (("bos_token", piece("tokenizer.ggml.bos_token_id")),
                              ("eos_token", piece("tokenizer.ggml.eos_token_id"))) if v is not None}


@pytest.fixture(scope="module")
def qwen3_templated(tmp_path_factory):
    return retemplated(tmp_path_factory.mktemp("tpl"), "Qwen-Qwen3-0.6B.jinja")


@pytest.mark.parametrize("conversation", ["system", "tools_offered", "tool_round_trip", "reasoning", "thinking_off"])
def test_a_models_own_template_renders_as_jinja2_does(qwen3_templated, conversation, tmp_path):
    """`tandem chat-template --model` (the path `serve` takes: request validation, then the
    model's template with its special tokens) equals jinja2 on the template read from the file."""
    variables = oracle.conversations()[conversation]
    body = {"messages": variables["messages"]}
    for m in body["messages"]:  # an API client sends arguments as JSON text
        for call in m.get("tool_calls", []):
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    if "tools" in variables:
        body["tools"] = variables["tools"]
    if "enable_thinking" in variables:
        body["chat_template_kwargs"] = {"enable_thinking": variables["enable_thinking"]}
    (tmp_path / "body.json").write_text(json.dumps(body))
    r = subprocess.run([tandem_bin(), "chat-template", "--model", str(qwen3_templated), "--variables", str(tmp_path / "body.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    source = gguf.GGUFReader(str(qwen3_templated)).fields["tokenizer.chat_template"]
    template = bytes(source.parts[source.data[0]]).decode()
    context = {**gguf_special_tokens(qwen3_templated), **variables, "add_generation_prompt": True}
    kind, expected = oracle.render(template, context)
    assert kind == "text", expected
    assert r.stdout == expected


@pytest.fixture(scope="module")
def qwen3_dep(qwen3_templated):
    d = tandemkit.Deployment(str(qwen3_templated), 1)
    try:
        yield d
    finally:
        d.stop()


def test_chat_template_kwargs_reach_the_template(qwen3_dep):
    client = qwen3_dep.client()
    messages = [{"role": "user", "content": "What is 2+2?"}]
    plain = client.chat.completions.create(model="m", messages=messages, max_tokens=1, temperature=0)
    off = client.chat.completions.create(model="m", messages=messages, max_tokens=1, temperature=0,
                                         extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    # Qwen3's template adds an empty <think></think> block when thinking is off.
    assert off.usage.prompt_tokens > plain.usage.prompt_tokens
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="m", messages=messages, max_tokens=1,
                                       extra_body={"chat_template_kwargs": {"add_generation_prompt": False}})
    assert e.value.body["param"] == "chat_template_kwargs.add_generation_prompt"


def test_tools_through_the_models_own_template(qwen3_dep):
    """Qwen3's template shows the tools itself; a required call parses and names the tool."""
    client = qwen3_dep.client()
    weather = oracle.WEATHER
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Weather in Paris?"}],
                                       tools=[weather], tool_choice="required", max_tokens=80, temperature=0)
    calls = r.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    args = json.loads(calls[0].function.arguments)
    jsonschema.validate(args, weather["function"]["parameters"])


def test_a_template_that_refuses_the_conversation_is_a_400(tmp_path_factory):
    path = retemplated(tmp_path_factory.mktemp("tpl"), "google-gemma-2-2b-it.jinja")
    d = tandemkit.Deployment(str(path), 1)
    try:
        client = d.client()
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(model="m", max_tokens=1, messages=[
                {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
        assert "System role not supported" in e.value.body["message"]
        ok = client.chat.completions.create(model="m", max_tokens=1, messages=[{"role": "user", "content": "hi"}])
        assert ok.choices[0].finish_reason in ("length", "stop")
    finally:
        d.stop()


@pytest.mark.parametrize("template", ["mistralai-Mistral-Nemo-Instruct-2407.jinja",   # [TOOL_CALLS][{...}, ...]
                                      "unsloth-mistral-Devstral-Small-2507.jinja",     # [TOOL_CALLS]name[ARGS]{...}
                                      "NVIDIA-Nemotron-Nano-v2.jinja",                 # <TOOLCALL>[{...}]</TOOLCALL>
                                      # DeepSeek's tokens: function<｜tool▁sep｜>name + a ```json block (R1),
                                      # name<｜tool▁sep｜>{...} (V3.1)
                                      "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
                                      "deepseek-ai-DeepSeek-V3.1.jinja",
                                      # harmony: <|channel|>commentary to=functions.name ...<|message|>{...}<|call|>
                                      "openai-gpt-oss-120b.jinja"])
def test_required_calls_in_the_format_the_models_template_shows(tmp_path_factory, template):
    """The call format comes from the model's own template: with tool_choice required the answer
    is generated in that format (grammar) and comes back as OpenAI tool_calls (parser). One
    call (parallel_tool_calls false): a small model's greedy answer would repeat calls to
    max_tokens; lists of several calls are covered by the parser's unit tests."""
    path = retemplated(tmp_path_factory.mktemp("tpl"), template)
    d = tandemkit.Deployment(str(path), 1)
    try:
        client = d.client()
        # A system message of our own: Devstral's template otherwise adds a long default one.
        # Strings bounded, so a small model's greedy call always closes within max_tokens.
        tools = json.loads(json.dumps([oracle.WEATHER, oracle.SEARCH]))
        for t in tools:
            for prop in t["function"]["parameters"]["properties"].values():
                if prop.get("type") == "string" and "enum" not in prop:
                    prop["maxLength"] = 24
        r = client.chat.completions.create(model="m", messages=[{"role": "system", "content": "You call tools."},
                                                                {"role": "user", "content": "Weather in Paris, and news?"}],
                                           tools=tools, tool_choice="required", parallel_tool_calls=False,
                                           max_tokens=200, temperature=0)
        calls = r.choices[0].message.tool_calls
        assert calls and len(calls) == 1, r.choices[0].message
        assert r.choices[0].finish_reason == "tool_calls"
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
        for call in calls:
            jsonschema.validate(json.loads(call.function.arguments), schemas[call.function.name])
    finally:
        d.stop()


def test_harmony_channels_split_into_reasoning_and_answer(tmp_path_factory):
    """gpt-oss's harmony messages: the analysis channel is reasoning, the final channel the answer,
    with or without tools offered. SmolLM2 knows no harmony, so a guided_regex makes it write
    one analysis and one final message; the response carries them apart, headers removed."""
    path = retemplated(tmp_path_factory.mktemp("tpl"), "openai-gpt-oss-120b.jinja")
    d = tandemkit.Deployment(str(path), 1)
    try:
        pattern = (r"<\|channel\|>analysis<\|message\|>[a-z ]{3,30}<\|end\|>"
                   r"<\|start\|>assistant<\|channel\|>final<\|message\|>[A-Za-z ,.]{3,40}")
        for stream in (False, True):
            kwargs = dict(model="m", messages=[{"role": "user", "content": "Say hello."}], max_tokens=120, temperature=0,
                          extra_body={"guided_regex": pattern})
            if stream:
                reasoning, content = "", ""
                for chunk in d.client().chat.completions.create(stream=True, **kwargs):
                    if chunk.choices:
                        delta = chunk.choices[0].delta
                        reasoning += getattr(delta, "reasoning_content", None) or ""
                        content += delta.content or ""
            else:
                r = d.client().chat.completions.create(**kwargs)
                msg = r.choices[0].message
                reasoning, content = getattr(msg, "reasoning_content", None) or "", msg.content or ""
                # The analysis message's tokens are counted as reasoning, the final one's not.
                spent = r.usage.completion_tokens_details.reasoning_tokens
                assert 0 < spent < r.usage.completion_tokens, r.usage
            assert 3 <= len(reasoning) <= 30 and all(c.islower() or c == " " for c in reasoning), (stream, reasoning, content)
            assert 3 <= len(content) <= 40 and "<|" not in content, (stream, reasoning, content)
    finally:
        d.stop()
