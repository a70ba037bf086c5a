"""The oracle for chat templates: a fixed set of conversations rendered with Python's `jinja2`
in the environment Hugging Face `transformers` renders `chat_template` with (sandboxed,
`trim_blocks`, `lstrip_blocks`, loop controls, its `tojson`, `raise_exception`, `strftime_now`
and the `{% generation %}` tag), and the corpus of real templates that ships in the
`llama-cpp-python` sdist (`vendor/llama.cpp/models/templates/*.jinja`)."""
import json
import pathlib
import subprocess
import sys
import tarfile
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
SDIST_VERSION = "0.3.36"
# strftime_now reads this instant on both sides, so dates in prompts compare.
NOW = datetime(2026, 12, 7, 9, 30, 5)
SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def corpus_dir():
    """The 70 templates, fetched from PyPI once into .peer/ (76 MB sdist, templates only kept)."""
    out = ROOT / ".peer" / "chat-templates"
    if out.is_dir() and any(out.glob("*.jinja")):
        return out
    dl = ROOT / ".peer" / "dl"
    sdist = dl / f"llama_cpp_python-{SDIST_VERSION}.tar.gz"
    if not sdist.exists():
        dl.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", "llama-cpp-python", "--no-deps",
                        f"llama-cpp-python=={SDIST_VERSION}", "-d", str(dl)], check=True)
    tmp = out.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if "/vendor/llama.cpp/models/templates/" in m.name and m.name.endswith(".jinja"):
                m.name = pathlib.PurePosixPath(m.name).name
                tar.extract(m, tmp)
    tmp.rename(out)
    return out


class GenerationTag(Extension):
    """`{% generation %}…{% endgeneration %}` renders its body (transformers' AssistantTracker,
    which also records where assistant text is; rendering is unchanged)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


def render(source, context):
    """("text", str) or ("error", message)."""
    try:
        return "text", environment().from_string(source).render(**context)
    except Exception as e:  # noqa: BLE001 - every template error is an outcome to compare
        return "error", f"{type(e).__name__}: {e}"


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                   "required": ["query"]}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}


def conversations():
    """name -> template variables (besides the special tokens)."""
    sys_ = {"role": "system", "content": "You are a terse assistant."}
    u1 = {"role": "user", "content": "What is 2+2?"}
    a1 = {"role": "assistant", "content": "4."}
    u2 = {"role": "user", "content": "And 3+3?"}
    return {
        "user": {"messages": [u1], "add_generation_prompt": True},
        "system": {"messages": [sys_, u1], "add_generation_prompt": True},
        "multi_turn": {"messages": [sys_, u1, a1, u2], "add_generation_prompt": True},
        "ends_with_assistant": {"messages": [u1, a1], "add_generation_prompt": False},
        "unicode": {"messages": [{"role": "user", "content": "Héllo — 日本語 \"quotes\" 'single' <b>tag</b> {{ not jinja }} \\n tab\tend"}],
                    "add_generation_prompt": True},
        "tools_offered": {"messages": [sys_, {"role": "user", "content": "Weather in Paris?"}],
                          "tools": [WEATHER, SEARCH], "add_generation_prompt": True},
        "tool_round_trip": {"messages": [{"role": "user", "content": "Weather in Paris?"},
                                         {"role": "assistant", "content": "", "tool_calls": [CALL]},
                                         {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp_c\": 21}"}],
                            "tools": [WEATHER], "add_generation_prompt": True},
        "parallel_calls_and_answer": {"messages": [
            sys_, {"role": "user", "content": "Weather in Paris and news about it?"},
            {"role": "assistant", "content": "", "tool_calls": [
                CALL, {"id": "call_2", "type": "function", "function": {"name": "search", "arguments": {"query": "Paris news", "limit": 3}}}]},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp_c\": 21}"},
            {"role": "tool", "tool_call_id": "call_2", "name": "search", "content": "[\"Louvre reopens\"]"},
            {"role": "assistant", "content": "It is 21 °C; the Louvre reopens."},
            {"role": "user", "content": "Thanks!"}],
            "tools": [WEATHER, SEARCH], "add_generation_prompt": True},
        "content_parts": {"messages": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                                       {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]}],
                          "add_generation_prompt": True},
        "reasoning": {"messages": [u1, {"role": "assistant", "content": "4.", "reasoning_content": "Two plus two is four."}, u2],
                      "add_generation_prompt": True},
        "thinking_off": {"messages": [u1], "add_generation_prompt": True, "enable_thinking": False},
    }


def cases(template_paths):
    """Every (template, conversation) pair with its jinja2 outcome."""
    out = []
    convs = conversations()
    for path in template_paths:
        source = pathlib.Path(path).read_text()
        for name, variables in convs.items():
            context = {**SPECIAL, **variables}
            kind, value = render(source, context)
            out.append({"template": str(path), "conversation": name, "context": context, kind: value})
    return out
