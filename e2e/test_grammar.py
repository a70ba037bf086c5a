"""Constrained decoding (issue 22): outputs generated inside a JSON Schema, a regex or a GBNF
grammar, checked by independent validators (`jsonschema` from PyPI, Python's `re`, `json`).

1. The grammar engine alone (`tandem grammar`: the real SmolLM2 vocabulary, tokens drawn at
   random from each step's mask) over the corpus in grammar_schemas.py: every sampled text is
   complete and valid for its schema; every refused schema names its keyword.
2. A real `tandem serve` with SmolLM2: greedy output under a schema equals greedy output without
   it whenever the unconstrained output already satisfied the schema; `guided_regex`,
   `guided_choice`, `grammar` outputs match; an unsupported keyword is a 400 naming it.
3. Through a real `tandem gateway` in front of it, the official `openai` client's
   `chat.completions.parse` with a pydantic model parses on every one of 50 prompts.
"""
import json
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from enum import Enum

import httpx
import jsonschema
import pytest
from pydantic import BaseModel, Field

from conftest import gateway_in_front
from grammar_schemas import SCHEMAS, UNSUPPORTED
import tandemkit
from tandemkit import SMOLLM2 as MODEL, tandem_bin

# The 2020-12 format checker: RFC 3339 `time` (the default FormatChecker checks draft 3's).
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def openapi_nullable(schema):
    """OpenAPI's `nullable: true` as JSON Schema (`type` plus "null"), which jsonschema knows."""
    if isinstance(schema, list):
        return [openapi_nullable(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: openapi_nullable(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = types + (["null"] if "null" not in types else [])
    return out


def run_grammar(items, seeds):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(items, f)
    out = subprocess.run([tandem_bin(), "grammar", "--model", MODEL, "--schemas", f.name, "--seeds", str(seeds)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_corpus_has_enough_real_world_schemas():
    assert len(SCHEMAS) >= 200
    assert len({s["name"] for s in SCHEMAS}) == len(SCHEMAS)
    for s in SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(s["schema"])


def test_every_sampled_output_validates_against_its_schema():
    results = run_grammar(SCHEMAS, seeds=2)
    assert len(results) == len(SCHEMAS)
    failures = []
    for spec, r in zip(SCHEMAS, results):
        assert r["name"] == spec["name"]
        if "error" in r:
            failures.append(f"{spec['name']}: refused: {r['error']['message']}")
            continue
        validator = jsonschema.Draft202012Validator(openapi_nullable(spec["schema"]), format_checker=FORMATS)
        for sample in r["samples"]:
            if not sample["complete"]:
                failures.append(f"{spec['name']} seed {sample['seed']}: incomplete: {sample['text'][:200]!r}")
                continue
            try:
                value = json.loads(sample["text"])
            except json.JSONDecodeError as e:
                failures.append(f"{spec['name']} seed {sample['seed']}: not JSON ({e}): {sample['text'][:200]!r}")
                continue
            errors = list(validator.iter_errors(value))
            if errors:
                failures.append(f"{spec['name']} seed {sample['seed']}: {errors[0].message}: {sample['text'][:300]!r}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:30])


def test_unsupported_schemas_are_refused_naming_the_keyword():
    results = run_grammar(UNSUPPORTED, seeds=1)
    for spec, r in zip(UNSUPPORTED, results):
        assert "error" in r, spec["name"]
        assert r["error"]["keyword"] == spec["keyword"], (spec["name"], r["error"])
        assert spec["keyword"] in r["error"]["message"]


def test_regexes_and_grammars_sample_inside_their_language():
    items = [
        {"name": "phone", "regex": r"\(\d{3}\) \d{3}-\d{4}"},
        {"name": "word-list", "regex": r"[a-z]+(, [a-z]+){0,3}\."},
        {"name": "yes-no", "regex": "(yes|no|maybe)"},
        {"name": "arith", "grammar": 'root ::= expr\nexpr ::= term (("+" | "-") term)*\nterm ::= [0-9]+ | "(" expr ")"'},
    ]
    results = run_grammar(items, seeds=4)
    for item, r in zip(items, results):
        assert "error" not in r, r
        for s in r["samples"]:
            assert s["complete"], s
            if "regex" in item:
                assert re.fullmatch(item["regex"], s["text"]), (item["name"], s["text"])
            else:
                assert re.fullmatch(r"[0-9+\-()]+", s["text"]) and s["text"].count("(") == s["text"].count(")"), s["text"]
                eval(s["text"], {"__builtins__": {}})  # a well-formed arithmetic expression


def chat(dep, content, **kw):
    r = httpx.post(f"{dep.url}/v1/chat/completions", timeout=120,
                   json={"model": "m", "messages": [{"role": "user", "content": content}], "temperature": 0, **kw})
    return r


def schema_of(value):
    """A schema this very value satisfies: its types, its keys in its order, all required."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if value is None:
        return {"type": "null"}
    if isinstance(value, list):
        return {"type": "array", "items": schema_of(value[0]) if value else {}}
    return {"type": "object", "properties": {k: schema_of(v) for k, v in value.items()}, "required": list(value),
            "additionalProperties": False}


JSON_PROMPTS = [
    'Reply with only this JSON, nothing else: {"name": "Ada", "age": 36}',
    'Return a JSON object with keys "city" and "country" for Paris. Only JSON.',
    'Output only JSON: {"colors": ["red", "green", "blue"]}',
    'Give me a JSON object {"ok": true, "count": 3} and nothing else.',
    "Write a JSON object describing a cat with a name and an age. Only the JSON.",
    'Reply with exactly: {"a": 1, "b": {"c": "d"}}',
]


def test_a_schema_does_not_change_greedy_output_that_already_satisfies_it(dep):
    compared = 0
    for prompt in JSON_PROMPTS:
        free = chat(dep, prompt, max_tokens=80)
        assert free.status_code == 200, free.text
        text = free.json()["choices"][0]["message"]["content"]
        if free.json()["choices"][0]["finish_reason"] != "stop":
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            continue
        if not isinstance(value, dict):
            continue
        schema = schema_of(value)
        jsonschema.validate(value, schema)
        constrained = chat(dep, prompt, max_tokens=80,
                           response_format={"type": "json_schema", "json_schema": {"name": "same", "schema": schema, "strict": True}})
        assert constrained.status_code == 200, constrained.text
        assert constrained.json()["choices"][0]["message"]["content"] == text, prompt
        compared += 1
    assert compared >= 2, "too few prompts gave valid JSON unconstrained to compare"


def test_schema_output_validates_where_the_free_output_does_not(dep):
    schema = {"type": "object", "properties": {
        "title": {"type": "string", "maxLength": 40},
        "genre": {"type": "string", "enum": ["drama", "comedy", "horror", "documentary"]},
        "year": {"type": "integer", "minimum": 1900, "maximum": 2030},
        "cast": {"type": "array", "items": {"type": "string", "maxLength": 30}, "minItems": 1, "maxItems": 3}},
        "required": ["title", "genre", "year", "cast"], "additionalProperties": False}
    prompt = "Tell me about a famous film."
    r = chat(dep, prompt, max_tokens=200, response_format={"type": "json_schema", "json_schema": {"name": "film", "schema": schema}})
    assert r.status_code == 200, r.text
    body = r.json()["choices"][0]
    assert body["finish_reason"] == "stop"
    jsonschema.validate(json.loads(body["message"]["content"]), schema)
    # json_object: any object.
    r = chat(dep, prompt, max_tokens=200, response_format={"type": "json_object"})
    assert r.status_code == 200, r.text
    if r.json()["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(r.json()["choices"][0]["message"]["content"]), dict)


def test_guided_regex_choice_and_grammar_fields(dep):
    r = chat(dep, "What is the phone number of the pizza place?", max_tokens=30, guided_regex=r"\(\d{3}\) \d{3}-\d{4}")
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", r.json()["choices"][0]["message"]["content"])
    r = chat(dep, "Is the sky green?", max_tokens=10, guided_choice=["yes", "no"])
    assert r.json()["choices"][0]["message"]["content"] in ("yes", "no")
    r = chat(dep, "Count to three.", max_tokens=30, grammar='root ::= "1" (", " [0-9]){1,4} "."')
    assert r.json()["choices"][0]["finish_reason"] == "stop"
    text = r.json()["choices"][0]["message"]["content"]
    assert re.fullmatch(r"1(, [0-9]){1,4}\.", text), text
    # Through the openai client's extra_body, as vLLM users send it.
    c = dep.client().chat.completions.create(model="m", messages=[{"role": "user", "content": "Pick a colour."}], temperature=0,
                                              max_tokens=10, extra_body={"guided_choice": ["red", "green", "blue"]})
    assert c.choices[0].message.content in ("red", "green", "blue")


def test_unusable_constraints_are_400s_naming_the_keyword(dep):
    cases = [
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array", "uniqueItems": True}}}},
         "uniqueItems", "response_format.json_schema.schema"),
        ({"guided_json": {"type": "object", "patternProperties": {"^a": {}}}}, "patternProperties", "guided_json"),
        ({"guided_regex": "(?=a)b"}, "look-ahead", "guided_regex"),
        ({"grammar": "root ::= missing"}, "missing", "grammar"),
        ({"guided_regex": "a", "grammar": 'root ::= "a"'}, "one output constraint", "grammar"),
    ]
    for extra, word, param in cases:
        r = chat(dep, "Hi", max_tokens=5, **extra)
        assert r.status_code == 400, (extra, r.text)
        err = r.json()["error"]
        assert word in err["message"], (extra, err)
        assert err["param"] == param, (extra, err)


class Priority(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"


class Step(BaseModel):
    title: str = Field(max_length=24)
    priority: Priority
    minutes: int = Field(ge=1, le=600)


class Person(BaseModel):
    name: str = Field(max_length=20)
    role: str = Field(max_length=20)


class Plan(BaseModel):
    goal: str = Field(max_length=40)
    owner: Person
    steps: list[Step] = Field(min_length=1, max_length=3)


TASKS = ["bake bread", "move house", "learn to swim", "plan a wedding", "write a novel", "start a garden", "run a marathon",
         "paint a room", "adopt a dog", "learn French"]


@pytest.fixture(scope="module")
def smol_gateway(dep):
    gw = gateway_in_front(dep.url, "sk-grammar", prefix="tandem-gw-grammar-")
    yield gw, "sk-grammar"
    gw.stop()


def test_openai_parse_with_a_pydantic_model_through_the_gateway(smol_gateway):
    gw, key = smol_gateway
    client = gw.client(key, timeout=300)
    prompts = [f"Make a short plan to {task}{' for a beginner' if i % 2 else ''}. Variant {i // len(TASKS)}."
               for i, task in enumerate(TASKS * 5)]
    assert len(prompts) == 50

    def one(prompt):
        r = client.chat.completions.parse(model="smol", messages=[{"role": "user", "content": prompt}],
                                          response_format=Plan, max_tokens=700, temperature=0.7, seed=len(prompt))
        return r.choices[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        choices = list(pool.map(one, prompts))
    for prompt, choice in zip(prompts, choices):
        assert choice.finish_reason == "stop", prompt
        plan = choice.message.parsed
        assert isinstance(plan, Plan), prompt
        assert 1 <= len(plan.steps) <= 3
        assert len(plan.goal) <= 40 and all(len(s.title) <= 24 for s in plan.steps)
        jsonschema.validate(json.loads(choice.message.content), Plan.model_json_schema())


@pytest.fixture(scope="module")
def thinker():
    """SmolLM2 served as a 'reasoning model' whose block is delimited by two of its own special
    tokens, <repo_name> (id 3) and <file_sep> (id 5), so a test can steer it into a block with
    logit_bias."""
    d = tandemkit.Deployment(tandemkit.SMOLLM2, 1, extra=("--reasoning-open", "<repo_name>", "--reasoning-close", "<file_sep>"))
    try:
        yield d
    finally:
        d.stop()


def test_a_reasoning_block_comes_before_the_constrained_answer(thinker):
    # logit_bias pushes the open tag first and the close tag right after (repetition_penalty
    # takes the open tag's lead away once it is out): outside a reasoning block the schema's mask
    # would forbid both, so that they come out at all shows the constraint starts only after the
    # close tag; the answer after it follows the schema.
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"],
              "additionalProperties": False}
    r = thinker.client().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Name a city, as JSON."}], temperature=0, max_tokens=40,
        logit_bias={"3": 100, "5": 90}, logprobs=True, extra_body={"repetition_penalty": 10},
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}})
    msg = r.choices[0].message
    # The two tags (special tokens: no text of their own in logprobs) open and close the block;
    # everything after them is the answer's text.
    entries = r.choices[0].logprobs.content
    assert [(e.token, e.bytes) for e in entries[:2]] == [("", []), ("", [])], entries[:4]
    assert entries[2].token and "".join(e.token for e in entries[2:]).strip() == msg.content.strip()
    assert (getattr(msg, "reasoning_content", None) or "") == ""
    jsonschema.validate(json.loads(msg.content), schema)
    assert r.choices[0].finish_reason == "stop"
    # Without the bias the model answers at once, inside the schema from its first token.
    r = thinker.client().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Name a city, as JSON."}], temperature=0, max_tokens=40,
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}})
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)
