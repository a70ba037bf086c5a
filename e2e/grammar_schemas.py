"""Corpus of JSON Schemas for testing structured output (constrained decoding).

The schemas have the shapes real applications send as a ``response_format``
JSON schema or as tool (function-calling) ``parameters``: tool arguments,
RAG answers with citations, plans, Docker Compose and Kubernetes fragments,
invoices, profiles, GitHub objects, log events, recursive trees,
discriminated unions, pydantic-generated models and so on.

Every schema in ``SCHEMAS`` uses only the keywords the constrained-decoding
engine supports and has at least one valid instance, so the server must
accept it and every document it generates must validate against it.
A few schemas use the OpenAPI ``nullable: true`` keyword, which lets the
engine emit ``null`` where a plain Draft 2020-12 validator would not; their
names are in ``USES_NULLABLE``.

Each schema in ``UNSUPPORTED`` uses exactly one keyword the engine refuses;
the server must answer it with a 400 that names ``keyword``.

Everything is plain data built deterministically at import time.
"""

import copy
import json

SCHEMAS = []
UNSUPPORTED = []

# --------------------------------------------------------------------------
# Small builders
# --------------------------------------------------------------------------


def string(description=None, **kw):
    s = {"type": "string"}
    if description:
        s["description"] = description
    s.update(kw)
    return s


def integer(minimum=None, maximum=None, description=None, **kw):
    s = {"type": "integer"}
    if description:
        s["description"] = description
    if minimum is not None:
        s["minimum"] = minimum
    if maximum is not None:
        s["maximum"] = maximum
    s.update(kw)
    return s


def number(minimum=None, maximum=None, description=None, **kw):
    s = {"type": "number"}
    if description:
        s["description"] = description
    if minimum is not None:
        s["minimum"] = minimum
    if maximum is not None:
        s["maximum"] = maximum
    s.update(kw)
    return s


def boolean(description=None, **kw):
    s = {"type": "boolean"}
    if description:
        s["description"] = description
    s.update(kw)
    return s


def enum(values, description=None, **kw):
    s = {"type": "string", "enum": list(values)}
    if description:
        s["description"] = description
    s.update(kw)
    return s


def array(items, min_items=None, max_items=None, description=None, **kw):
    s = {"type": "array", "items": items}
    if description:
        s["description"] = description
    if min_items is not None:
        s["minItems"] = min_items
    if max_items is not None:
        s["maxItems"] = max_items
    s.update(kw)
    return s


def obj(properties, required=(), additional=False, description=None, **kw):
    """An object with named properties; additional=None leaves additionalProperties out."""
    s = {"type": "object"}
    if description:
        s["description"] = description
    s["properties"] = properties
    if required == "all":
        required = list(properties)
    if required:
        s["required"] = list(required)
    if additional is not None:
        s["additionalProperties"] = additional
    s.update(kw)
    return s


def map_of(values, description=None, **kw):
    """An object used as a map: no named properties, every value matches `values`."""
    s = {"type": "object", "additionalProperties": values}
    if description:
        s["description"] = description
    s.update(kw)
    return s


def ref(name, container="$defs"):
    return {"$ref": "#/%s/%s" % (container, name)}


def null_or(schema, **kw):
    """Optional[X] the way pydantic writes it: anyOf [X, null]."""
    s = {"anyOf": [schema, {"type": "null"}]}
    s.update(kw)
    return s


def nullable(schema):
    """The same schema with null also allowed, written with a type list when possible."""
    s = copy.deepcopy(schema)
    if "type" in s and "const" not in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if "null" not in types:
            s["type"] = types + ["null"]
        if "enum" in s and None not in s["enum"]:
            s["enum"] = s["enum"] + [None]
        return s
    return {"anyOf": [s, {"type": "null"}]}


def email(description=None, **kw):
    return string(description, format="email", **kw)


def uri(description=None, **kw):
    return string(description, format="uri", **kw)


def date(description=None, **kw):
    return string(description, format="date", **kw)


def date_time(description=None, **kw):
    return string(description, format="date-time", **kw)


def uuid(description=None, **kw):
    return string(description, format="uuid", **kw)


def ipv4(description=None, **kw):
    return string(description, format="ipv4", **kw)


def latitude(description="Latitude in decimal degrees"):
    return number(-90, 90, description)


def longitude(description="Longitude in decimal degrees"):
    return number(-180, 180, description)


def lon_lat():
    """A GeoJSON position: [longitude, latitude]."""
    return {
        "type": "array",
        "prefixItems": [number(-180, 180), number(-90, 90)],
        "minItems": 2,
        "maxItems": 2,
    }


def add(name, schema):
    assert name not in _NAMES, name
    _NAMES.add(name)
    SCHEMAS.append({"name": name, "schema": schema})


_NAMES = set()

# Patterns (ECMA syntax, anchored at both ends, no lookaround or backreferences).
IATA = r"^[A-Z]{3}$"
CURRENCY = r"^[A-Z]{3}$"
COUNTRY = r"^[A-Z]{2}$"
LANG = r"^[a-z]{2}(-[A-Z]{2})?$"
PHONE = r"^\+[1-9][0-9]{6,14}$"
HEX_COLOR = r"^#[0-9a-fA-F]{6}$"
SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
SEMVER = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$"
SHA1 = r"^[0-9a-f]{40}$"
ZIP_US = r"^[0-9]{5}(-[0-9]{4})?$"
REPO = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
SQL_IDENT = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
FILE_PATH = r"^/?([A-Za-z0-9._-]+/)*[A-Za-z0-9._-]+$"
TIMEZONE = r"^[A-Z][A-Za-z_]+(/[A-Z][A-Za-z_]+){1,2}$"
DOCKER_IMAGE = r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9._-]{1,128})?$"
COMPOSE_PORT = r"^([0-9]{1,5}:)?[0-9]{1,5}(/(tcp|udp))?$"
COMPOSE_VOLUME = r"^[^:]+:[^:]+(:(ro|rw))?$"
GO_DURATION = r"^[0-9]+(ms|s|m|h)$"
CPU_QUANTITY = r"^[0-9]+(\.[0-9]+)?m?$"
MEMORY_QUANTITY = r"^[0-9]+(Ki|Mi|Gi|Ti|K|M|G)?$"
TICKER = r"^[A-Z]{1,5}$"
SKU = r"^[A-Z]{3}-[0-9]{4,6}$"
HEX32 = r"^[0-9a-f]{32}$"
HEX16 = r"^[0-9a-f]{16}$"
USERNAME = r"^[a-z][a-z0-9_]{2,31}$"

# --------------------------------------------------------------------------
# Function-calling tools: `parameters` objects, plain and in OpenAI strict mode
# --------------------------------------------------------------------------

TOOLS = []


def tool(name, properties, required=(), additional=False, **extra):
    params = {"type": "object", "properties": properties}
    if required:
        params["required"] = list(required)
    if additional is not None:
        params["additionalProperties"] = additional
    params.update(extra)
    TOOLS.append((name, params))


tool("get_weather", {
    "location": string("City and country, e.g. 'Paris, France'", minLength=1, maxLength=100),
    "unit": enum(["celsius", "fahrenheit"], "Temperature unit", default="celsius"),
}, ["location"])

tool("get_forecast", {
    "location": string("City name or 'lat,lon'", minLength=1),
    "days": integer(1, 14, "Number of days to forecast", default=3),
    "include_hourly": boolean("Include hourly breakdown", default=False),
    "unit": enum(["metric", "imperial"], default="metric"),
}, ["location"])

tool("search_web", {
    "query": string("The search query", minLength=1, maxLength=400),
    "num_results": integer(1, 20, default=5),
    "site": string("Restrict results to this domain", pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$"),
    "recency": enum(["day", "week", "month", "year", "any"], default="any"),
    "safe_search": boolean(default=True),
}, ["query"])

tool("send_email", {
    "to": array(email(), 1, 50, "Recipients"),
    "cc": array(email(), max_items=50),
    "bcc": array(email(), max_items=50),
    "subject": string(maxLength=200),
    "body": string("Plain-text body", maxLength=2000),
    "importance": enum(["low", "normal", "high"], default="normal"),
    "attachments": array(obj({
        "filename": string(minLength=1, maxLength=255),
        "url": uri(),
    }, ["filename", "url"]), max_items=10),
}, ["to", "subject", "body"])

tool("create_calendar_event", {
    "title": string(minLength=1, maxLength=200),
    "start": date_time("Start time, RFC 3339"),
    "end": date_time("End time, RFC 3339"),
    "attendees": array(email(), max_items=100),
    "location": string(maxLength=200),
    "reminder_minutes": integer(0, 10080, default=10),
    "recurrence": enum(["none", "daily", "weekly", "monthly", "yearly"], default="none"),
    "video_call": boolean(default=False),
}, ["title", "start", "end"])

tool("book_flight", {
    "origin": string("IATA airport code", pattern=IATA, examples=["SFO"]),
    "destination": string("IATA airport code", pattern=IATA, examples=["JFK"]),
    "departure_date": date(),
    "return_date": date("Leave out for a one-way trip"),
    "passengers": obj({
        "adults": integer(1, 9, default=1),
        "children": integer(0, 8, default=0),
        "infants": integer(0, 4, default=0),
    }, ["adults"]),
    "cabin": enum(["economy", "premium_economy", "business", "first"], default="economy"),
    "nonstop_only": boolean(default=False),
    "max_price": number(description="Maximum total price in USD", exclusiveMinimum=0),
}, ["origin", "destination", "departure_date", "passengers"])

tool("run_sql", {
    "query": string("A single SQL statement", minLength=1, maxLength=2000),
    "database": string(pattern=SQL_IDENT),
    "params": array({"type": ["string", "number", "boolean", "null"]}, max_items=50,
                    description="Positional parameters bound to $1, $2, ..."),
    "timeout_ms": integer(100, 60000, default=5000),
    "read_only": boolean(default=True),
    "max_rows": integer(1, 10000, default=100),
}, ["query"])

tool("read_file", {
    "path": string("Path relative to the workspace root", pattern=FILE_PATH, maxLength=1024),
    "encoding": enum(["utf-8", "latin-1", "base64"], default="utf-8"),
    "start_line": integer(1),
    "end_line": integer(1),
}, ["path"])

tool("write_file", {
    "path": string(pattern=FILE_PATH, maxLength=1024),
    "content": string(maxLength=2000),
    "mode": enum(["overwrite", "append", "create_only"], default="overwrite"),
    "create_dirs": boolean(default=True),
}, ["path", "content"])

tool("list_directory", {
    "path": string(pattern=FILE_PATH, default="."),
    "recursive": boolean(default=False),
    "include_hidden": boolean(default=False),
    "max_depth": integer(1, 10, default=2),
    "glob": string("Glob filter such as '*.py'", maxLength=100),
}, ["path"])

tool("delete_file", {
    "path": string(pattern=FILE_PATH),
    "confirm": {"type": "boolean", "const": True, "description": "Must be true"},
}, ["path", "confirm"])

tool("move_file", {
    "source": string(pattern=FILE_PATH),
    "destination": string(pattern=FILE_PATH),
    "overwrite": boolean(default=False),
}, ["source", "destination"])

tool("get_stock_price", {
    "symbol": string("Ticker symbol", pattern=TICKER, examples=["AAPL"]),
    "exchange": enum(["NYSE", "NASDAQ", "LSE", "TSE", "HKEX"]),
    "interval": enum(["1m", "5m", "1h", "1d"], default="1d"),
}, ["symbol"])

tool("convert_currency", {
    "amount": number(exclusiveMinimum=0),
    "from_currency": string(pattern=CURRENCY),
    "to_currency": string(pattern=CURRENCY),
    "date": date("Historical rate date; today if absent"),
}, ["amount", "from_currency", "to_currency"])

tool("translate_text", {
    "text": string(minLength=1, maxLength=2000),
    "source_language": string("BCP 47 code; detected if absent", pattern=LANG),
    "target_language": string(pattern=LANG),
    "formality": enum(["default", "more", "less"], default="default"),
}, ["text", "target_language"])

tool("create_github_issue", {
    "repo": string("owner/name", pattern=REPO),
    "title": string(minLength=1, maxLength=256),
    "body": string(maxLength=2000),
    "labels": array(string(maxLength=50), max_items=10),
    "assignees": array(string(pattern=r"^[A-Za-z0-9-]{1,39}$"), max_items=10),
    "milestone": integer(1),
}, ["repo", "title"])

tool("http_request", {
    "method": enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    "url": uri(),
    "headers": map_of(string(maxLength=1000)),
    "body": string(maxLength=2000),
    "timeout_seconds": number(0, 120, default=30),
    "follow_redirects": boolean(default=True),
}, ["method", "url"])

tool("execute_python", {
    "code": string("Python source to run", minLength=1, maxLength=2000),
    "timeout_seconds": integer(1, 300, default=30),
    "packages": array(string(pattern=r"^[A-Za-z0-9_.-]+(==[0-9A-Za-z.]+)?$"), max_items=20),
}, ["code"])

tool("set_reminder", {
    "text": string(minLength=1, maxLength=500),
    "remind_at": date_time(),
    "channel": enum(["push", "email", "sms"], default="push"),
}, ["text", "remind_at"])

tool("order_food", {
    "restaurant_id": string(pattern=r"^rest_[a-z0-9]{6,12}$"),
    "items": array(obj({
        "menu_item_id": string(minLength=1),
        "quantity": integer(1, 20),
        "notes": string(maxLength=200),
    }, ["menu_item_id", "quantity"]), 1, 30),
    "delivery_address": ref("Address"),
    "tip_percent": integer(0, 50, default=15),
    "scheduled_for": date_time(),
}, ["restaurant_id", "items", "delivery_address"], **{"$defs": {"Address": obj({
    "street": string(minLength=1),
    "city": string(minLength=1),
    "postal_code": string(pattern=ZIP_US),
    "instructions": string(maxLength=300),
}, ["street", "city", "postal_code"])}})

tool("control_smart_light", {
    "device_id": string(minLength=1, maxLength=64),
    "power": enum(["on", "off", "toggle"]),
    "brightness": integer(0, 100),
    "color": string("Hex color", pattern=HEX_COLOR),
    "transition_ms": integer(0, 10000, default=400),
}, ["device_id", "power"])

tool("play_music", {
    "query": string(minLength=1, maxLength=200),
    "type": enum(["track", "album", "playlist", "artist"], default="track"),
    "shuffle": boolean(default=False),
    "volume": integer(0, 100),
    "device": string(maxLength=100),
}, ["query"])

tool("get_directions", {
    "origin": string(minLength=1),
    "destination": string(minLength=1),
    "mode": enum(["driving", "walking", "bicycling", "transit"], default="driving"),
    "avoid": array(enum(["tolls", "highways", "ferries"]), max_items=3),
    "departure_time": date_time(),
}, ["origin", "destination"])

tool("create_support_ticket", {
    "subject": string(minLength=5, maxLength=150),
    "description": string(minLength=1, maxLength=2000),
    "priority": enum(["low", "medium", "high", "urgent"], default="medium"),
    "category": enum(["billing", "technical", "account", "feature_request", "other"]),
    "customer_email": email(),
}, ["subject", "description", "category", "customer_email"])

tool("lookup_customer", {
    "identifier": {
        "description": "Customer UUID or e-mail address",
        "anyOf": [uuid(), email()],
    },
    "include_orders": boolean(default=False),
}, ["identifier"])

tool("calculate", {
    "expression": string("Arithmetic expression", pattern=r"^[0-9+*/(). -]+$", maxLength=500),
    "precision": integer(0, 15, default=6),
}, ["expression"])

tool("get_news_headlines", {
    "category": enum(["business", "entertainment", "health", "science", "sports", "technology"]),
    "country": string(pattern=r"^[a-z]{2}$", default="us"),
    "page_size": integer(1, 100, default=20),
}, [])

tool("create_task", {
    "title": string(minLength=1, maxLength=200),
    "project_key": string(pattern=r"^[A-Z][A-Z0-9]{1,9}$"),
    "due_date": date(),
    "priority": enum(["P0", "P1", "P2", "P3"], default="P2"),
    "estimate_hours": number(0, 200),
    "tags": array(string(pattern=SLUG), max_items=10),
}, ["title", "project_key"])

tool("resize_image", {
    "image_url": uri(),
    "width": integer(1, 8192),
    "height": integer(1, 8192),
    "format": enum(["png", "jpeg", "webp"], default="png"),
    "keep_aspect_ratio": boolean(default=True),
}, ["image_url", "width"])

tool("schedule_meeting", {
    "participants": array(email(), 2, 50),
    "duration_minutes": {"type": "integer", "enum": [15, 30, 45, 60, 90, 120]},
    "earliest": date_time(),
    "latest": date_time(),
    "timezone": string(pattern=TIMEZONE, examples=["Europe/Berlin"]),
    "agenda": string(maxLength=1000),
}, ["participants", "duration_minutes"])

tool("get_exchange_rates", {
    "base": string(pattern=CURRENCY, default="USD"),
    "symbols": array(string(pattern=CURRENCY), 1, 20),
}, ["symbols"])

tool("query_vector_store", {
    "query": string(minLength=1, maxLength=1000),
    "top_k": integer(1, 50, default=5),
    "namespace": string(pattern=SLUG),
    "filter": map_of({"type": ["string", "number", "boolean"]},
                     "Exact-match metadata filter"),
    "min_score": number(0, 1, default=0),
}, ["query"])

tool("kubectl_scale", {
    "namespace": string(pattern=K8S_NAME, maxLength=63, default="default"),
    "deployment": string(pattern=K8S_NAME, maxLength=253),
    "replicas": integer(0, 100),
}, ["deployment", "replicas"])

tool("git_commit", {
    "message": string(minLength=1, maxLength=500),
    "files": array(string(pattern=FILE_PATH), 1, 100),
    "amend": boolean(default=False),
    "sign_off": boolean(default=False),
}, ["message", "files"])

tool("send_slack_message", {
    "channel": string("#channel or @user", pattern=r"^[#@][a-z0-9_-]{1,80}$"),
    "text": string(minLength=1, maxLength=2000),
    "thread_ts": string(pattern=r"^[0-9]{10}\.[0-9]{6}$"),
    "unfurl_links": boolean(default=True),
}, ["channel", "text"])

tool("create_payment", {
    "amount": integer(1, 99999999, "Amount in the smallest currency unit"),
    "currency": string(pattern=r"^[a-z]{3}$"),
    "customer_id": string(pattern=r"^cus_[A-Za-z0-9]{8,24}$"),
    "description": string(maxLength=500),
    "capture": boolean(default=True),
    "metadata": map_of(string(maxLength=500)),
}, ["amount", "currency"])

tool("geocode_address", {
    "address": string(minLength=3, maxLength=300),
    "country_code": string(pattern=COUNTRY),
    "language": string(pattern=LANG, default="en"),
}, ["address"])

tool("reverse_geocode", {
    "latitude": latitude(),
    "longitude": longitude(),
    "zoom": integer(0, 18, default=16),
}, ["latitude", "longitude"])

tool("get_order_status", {
    "order_id": string(pattern=r"^ORD-[0-9]{8}$"),
    "include_items": boolean(default=False),
}, ["order_id"])

tool("cancel_subscription", {
    "subscription_id": string(pattern=r"^sub_[A-Za-z0-9]{14}$"),
    "reason": enum(["too_expensive", "missing_features", "switched_service", "unused", "other"]),
    "feedback": string(maxLength=1000),
    "at_period_end": boolean(default=True),
}, ["subscription_id", "reason"])

tool("summarize_document", {
    "document_url": uri(),
    "max_words": integer(50, 1000, default=200),
    "style": enum(["bullets", "paragraph", "tldr"], default="paragraph"),
    "focus_topics": array(string(maxLength=100), max_items=5),
}, ["document_url"])

tool("create_user", {
    "username": string(pattern=USERNAME),
    "email": email(),
    "password": string(minLength=12, maxLength=128, writeOnly=True),
    "role": enum(["viewer", "editor", "admin"], default="viewer"),
    "send_invite": boolean(default=True),
}, ["username", "email"])

tool("browser_action", {
    "step": {
        "description": "One browser action",
        "oneOf": [
            obj({"action": {"const": "click"}, "selector": string(minLength=1)},
                ["action", "selector"]),
            obj({"action": {"const": "type"}, "selector": string(minLength=1),
                 "text": string(maxLength=1000), "submit": boolean(default=False)},
                ["action", "selector", "text"]),
            obj({"action": {"const": "scroll"}, "direction": enum(["up", "down"]),
                 "pixels": integer(1, 10000)}, ["action", "direction"]),
            obj({"action": {"const": "navigate"}, "url": uri()}, ["action", "url"]),
        ],
    },
    "wait_ms": integer(0, 30000, default=0),
}, ["step"])

tool("log_workout", {
    "activity": enum(["run", "walk", "cycle", "swim", "strength", "yoga"]),
    "duration_minutes": integer(1, 600),
    "distance_km": number(0, 500),
    "calories": integer(0, 10000),
    "date": date(),
    "notes": string(maxLength=500),
}, ["activity", "duration_minutes"], additional=None)

tool("add_to_cart", {
    "product_id": string(pattern=SKU),
    "quantity": integer(1, 99, default=1),
    "options": map_of(string(maxLength=50), "Variant options such as size or color"),
}, ["product_id"], additional=None)

tool("set_thermostat", {
    "zone": enum(["living_room", "bedroom", "office", "whole_house"], default="whole_house"),
    "target_temperature": number(5, 35, "Degrees Celsius"),
    "mode": enum(["heat", "cool", "auto", "off"]),
    "hold_until": {"type": ["string", "null"], "format": "time",
                   "description": "Time of day to resume the schedule; null holds indefinitely"},
}, ["target_temperature", "mode"])


def make_strict(schema):
    """OpenAI strict mode: every property required, optional ones made nullable,
    additionalProperties false on every object with properties."""
    s = copy.deepcopy(schema)
    _strictify(s)
    return s


def _strictify(node):
    if not isinstance(node, dict):
        return
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types and "properties" in node:
        required = set(node.get("required", []))
        props = node["properties"]
        for key in list(props):
            if key not in required:
                props[key] = nullable(props[key])
        node["required"] = list(props)
        node["additionalProperties"] = False
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions"):
            for sub in value.values():
                _strictify(sub)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for sub in value:
                _strictify(sub)
        elif key in ("items", "additionalProperties"):
            _strictify(value)


for _name, _params in TOOLS:
    add("tool_" + _name, _params)
for _name, _params in TOOLS:
    add("tool_" + _name + "_strict", make_strict(_params))

_TOOL_PARAMS = dict(TOOLS)


def tool_choice(names, combinator="oneOf"):
    """A model's choice of one tool call among several: {name, arguments}."""
    return {
        combinator: [
            obj({"name": {"const": n}, "arguments": copy.deepcopy(_TOOL_PARAMS[n])},
                ["name", "arguments"])
            for n in names
        ]
    }


add("tool_choice_weather_or_search", tool_choice(["get_weather", "search_web"]))
add("tool_choice_files", tool_choice(["read_file", "write_file", "move_file", "delete_file"]))
add("tool_choice_assistant", tool_choice(["set_reminder", "get_weather", "play_music"], "anyOf"))
add("tool_choice_devops", tool_choice(["kubectl_scale", "git_commit", "run_sql"]))
add("tool_calls_parallel", obj({
    "tool_calls": array(tool_choice(["get_weather", "get_stock_price", "convert_currency"]), 1, 5),
}, "all"))

# --------------------------------------------------------------------------
# Pydantic-style models (model_json_schema() output shapes)
# --------------------------------------------------------------------------

REQUIRED = object()


def F(schema, default=REQUIRED, description=None):
    return (schema, default, description)


def _title(name):
    return " ".join(part.capitalize() for part in name.split("_"))


def model(title, fields, description=None, defs=None, forbid=False):
    props = {}
    required = []
    for name, (schema, default, desc) in fields.items():
        p = dict(schema)
        if "$ref" not in p:
            p["title"] = _title(name)
        if desc:
            p["description"] = desc
        if default is REQUIRED:
            required.append(name)
        else:
            p["default"] = default
        props[name] = p
    s = {"title": title, "type": "object", "properties": props}
    if description:
        s["description"] = description
    if required:
        s["required"] = required
    if forbid:
        s["additionalProperties"] = False
    if defs:
        s = {"$defs": defs, **s}
    return s


def opt(schema):
    """Optional[X] = None"""
    return F(null_or(schema), None)


def str_enum(title, values):
    return {"title": title, "type": "string", "enum": list(values)}


def lst(items, **kw):
    return dict({"type": "array", "items": items}, **kw)


# pydantic writes maxLength 2083 for HttpUrl; the engine caps maxLength at 2000.
HTTP_URL = {"type": "string", "format": "uri", "minLength": 1, "maxLength": 2000}

_ADDRESS_MODEL = model("Address", {
    "street": F(string()),
    "city": F(string()),
    "postal_code": F(string(maxLength=10)),
    "country": F(string(pattern=COUNTRY), "US"),
})

PYDANTIC = {}

PYDANTIC["user_profile"] = model("UserProfile", {
    "id": F(uuid()),
    "username": F(string(pattern=USERNAME)),
    "email": F(email()),
    "full_name": opt(string()),
    "age": opt(integer(13, 120)),
    "address": opt(ref("Address")),
    "tags": F(lst(string()), []),
    "is_active": F(boolean(), True),
    "created_at": F(date_time()),
}, defs={"Address": _ADDRESS_MODEL})

PYDANTIC["invoice"] = model("Invoice", {
    "invoice_number": F(string(pattern=r"^INV-[0-9]{6}$")),
    "issue_date": F(date()),
    "due_date": F(date()),
    "customer": F(ref("Customer")),
    "line_items": F(lst(ref("LineItem"), minItems=1)),
    "currency": F(string(pattern=CURRENCY), "USD"),
    "status": F(ref("InvoiceStatus"), "draft"),
    "notes": opt(string()),
    "total": F(number(0)),
}, description="A customer invoice.", defs={
    "Customer": model("Customer", {
        "name": F(string()),
        "email": F(email()),
        "tax_id": opt(string()),
    }),
    "LineItem": model("LineItem", {
        "description": F(string()),
        "quantity": F(integer(1)),
        "unit_price": F(number(0)),
        "tax_rate": F(number(0, 1), 0.0),
    }),
    "InvoiceStatus": str_enum("InvoiceStatus", ["draft", "sent", "paid", "void"]),
})

PYDANTIC["movie_review"] = model("MovieReview", {
    "title": F(string()),
    "year": F(integer(1888, 2100)),
    "rating": F(integer(1, 10), description="Score out of 10"),
    "sentiment": F(enum(["positive", "negative", "mixed"])),
    "pros": F(lst(string())),
    "cons": F(lst(string())),
    "contains_spoilers": F(boolean(), False),
    "summary": F(string(maxLength=500)),
})

PYDANTIC["recipe"] = model("Recipe", {
    "name": F(string()),
    "servings": F(integer(1, 50)),
    "prep_time_minutes": F(integer(0)),
    "cook_time_minutes": F(integer(0)),
    "difficulty": F(ref("Difficulty")),
    "ingredients": F(lst(ref("Ingredient"))),
    "steps": F(lst(string(), minItems=1)),
    "tags": F(lst(string()), []),
    "vegetarian": F(boolean(), False),
}, defs={
    "Difficulty": str_enum("Difficulty", ["easy", "medium", "hard"]),
    "Unit": str_enum("Unit", ["g", "kg", "ml", "l", "tsp", "tbsp", "cup", "piece"]),
    "Ingredient": model("Ingredient", {
        "name": F(string()),
        "quantity": opt(number(0)),
        "unit": opt(ref("Unit")),
    }),
})

PYDANTIC["extracted_entities"] = model("ExtractedEntities", {
    "people": F(lst(ref("Person")), []),
    "organizations": F(lst(string()), []),
    "locations": F(lst(ref("Location")), []),
    "dates": F(lst(date()), []),
    "amounts": F(lst(ref("Money")), []),
}, defs={
    "Person": model("Person", {"name": F(string()), "role": opt(string())}),
    "Location": model("Location", {
        "name": F(string()),
        "kind": F(enum(["city", "country", "region", "address", "other"])),
    }),
    "Money": model("Money", {"amount": F(number()), "currency": F(string(pattern=CURRENCY))}),
})

PYDANTIC["sentiment"] = model("SentimentResult", {
    "label": F(ref("Label")),
    "confidence": F(number(0, 1)),
    "aspects": F(lst(ref("AspectSentiment")), []),
}, defs={
    "Label": str_enum("Label", ["positive", "negative", "neutral", "mixed"]),
    "AspectSentiment": model("AspectSentiment", {
        "aspect": F(string()),
        "label": F(ref("Label")),
        "confidence": F(number(0, 1)),
    }),
})

PYDANTIC["research_answer"] = model("ResearchAnswer", {
    "answer": F(string()),
    "citations": F(lst(ref("Citation"))),
    "confidence": F(number(0, 1)),
    "follow_up_questions": F(lst(string(), maxItems=3), []),
}, defs={
    "Citation": model("Citation", {
        "source_id": F(string()),
        "url": F(HTTP_URL),
        "quote": F(string(maxLength=300)),
        "page": opt(integer(1)),
    }),
})

PYDANTIC["plan"] = model("Plan", {
    "goal": F(string()),
    "steps": F(lst(ref("Step"), minItems=1, maxItems=20)),
    "estimated_total_hours": F(number(0)),
}, defs={
    "Priority": str_enum("Priority", ["low", "medium", "high", "critical"]),
    "Step": model("Step", {
        "id": F(integer(1)),
        "title": F(string()),
        "description": opt(string()),
        "depends_on": F(lst(integer(1)), []),
        "priority": F(ref("Priority"), "medium"),
        "status": F(enum(["pending", "in_progress", "done"]), "pending"),
        "assignee": opt(string()),
    }),
})

PYDANTIC["meeting_notes"] = model("MeetingNotes", {
    "title": F(string()),
    "date": F(date()),
    "attendees": F(lst(string())),
    "decisions": F(lst(string()), []),
    "action_items": F(lst(ref("ActionItem")), []),
}, defs={
    "ActionItem": model("ActionItem", {
        "owner": F(string()),
        "task": F(string()),
        "due": opt(date()),
    }),
})

PYDANTIC["tree_node"] = {
    "$defs": {
        "TreeNode": model("TreeNode", {
            "name": F(string()),
            "value": opt(integer()),
            "children": F(lst(ref("TreeNode")), []),
        }),
    },
    "$ref": "#/$defs/TreeNode",
}

PYDANTIC["comment"] = {
    "$defs": {
        "Comment": model("Comment", {
            "id": F(integer(1)),
            "author": F(string()),
            "body": F(string(maxLength=2000)),
            "created_at": F(date_time()),
            "replies": F(lst(ref("Comment")), []),
        }),
    },
    "$ref": "#/$defs/Comment",
}

PYDANTIC["drawing"] = model("Drawing", {
    "name": F(string()),
    "shapes": F(lst({"oneOf": [ref("Circle"), ref("Rectangle"), ref("Triangle")]})),
}, defs={
    "Circle": model("Circle", {
        "kind": F({"const": "circle", "type": "string"}),
        "radius": F(number(exclusiveMinimum=0)),
    }),
    "Rectangle": model("Rectangle", {
        "kind": F({"const": "rectangle", "type": "string"}),
        "width": F(number(exclusiveMinimum=0)),
        "height": F(number(exclusiveMinimum=0)),
    }),
    "Triangle": model("Triangle", {
        "kind": F({"enum": ["triangle"], "type": "string"}),
        "a": F(number(exclusiveMinimum=0)),
        "b": F(number(exclusiveMinimum=0)),
        "c": F(number(exclusiveMinimum=0)),
    }),
})

PYDANTIC["job_posting"] = model("JobPosting", {
    "title": F(string()),
    "company": F(string()),
    "location": opt(string()),
    "remote": F(boolean(), False),
    "employment_type": F(enum(["full_time", "part_time", "contract", "internship"])),
    "salary": opt(ref("SalaryRange")),
    "requirements": F(lst(string())),
    "posted": F(date()),
}, defs={
    "SalaryRange": model("SalaryRange", {
        "min": F(integer(0)),
        "max": F(integer(0)),
        "currency": F(string(pattern=CURRENCY), "USD"),
        "period": F(enum(["hour", "month", "year"]), "year"),
    }),
})

PYDANTIC["product"] = model("Product", {
    "sku": F(string(pattern=SKU)),
    "name": F(string(maxLength=200)),
    "description": opt(string()),
    "price": F(number(exclusiveMinimum=0)),
    "currency": F(string(pattern=CURRENCY), "USD"),
    "categories": F(lst(string()), []),
    "in_stock": F(boolean(), True),
    "dimensions": opt(ref("Dimensions")),
    "images": F(lst(HTTP_URL), []),
}, defs={
    "Dimensions": model("Dimensions", {
        "length_cm": F(number(0)),
        "width_cm": F(number(0)),
        "height_cm": F(number(0)),
        "weight_kg": F(number(0)),
    }),
})

PYDANTIC["weather_report"] = model("WeatherReport", {
    "location": F(string()),
    "observed_at": F(date_time()),
    "temperature_c": F(number(-90, 60)),
    "humidity_percent": F(integer(0, 100)),
    "wind": F(ref("Wind")),
    "conditions": F(ref("Condition")),
    "forecast": F(lst(ref("DailyForecast"), maxItems=7), []),
}, defs={
    "Wind": model("Wind", {
        "speed_kmh": F(number(0)),
        "direction_deg": F(integer(0, 360)),
    }),
    "Condition": str_enum("Condition", ["clear", "cloudy", "rain", "snow", "storm", "fog"]),
    "DailyForecast": model("DailyForecast", {
        "date": F(date()),
        "high_c": F(number(-90, 60)),
        "low_c": F(number(-90, 60)),
        "precipitation_chance": F(integer(0, 100)),
    }),
})

PYDANTIC["api_error"] = model("ErrorResponse", {
    "error": F(ref("ErrorDetail")),
}, defs={
    "FieldError": model("FieldError", {"field": F(string()), "issue": F(string())}),
    "ErrorDetail": model("ErrorDetail", {
        "code": F(string(pattern=r"^[a-z]+(_[a-z]+)*$")),
        "message": F(string()),
        "details": F(lst(ref("FieldError")), []),
        "request_id": opt(uuid()),
    }),
})

PYDANTIC["ticket_classification"] = model("TicketClassification", {
    "category": F(ref("Category")),
    "priority": F(ref("Priority")),
    "language": F(string(pattern=LANG)),
    "is_spam": F(boolean()),
    "reasoning": F(string()),
    "tags": F(lst(string(), maxItems=5), []),
}, defs={
    "Category": str_enum("Category", ["billing", "bug", "how_to", "account", "feedback"]),
    "Priority": {"title": "Priority", "type": "integer", "enum": [1, 2, 3, 4]},
})

PYDANTIC["order"] = model("Order", {
    "order_id": F(uuid()),
    "customer_email": F(email()),
    "items": F(lst(ref("OrderItem"), minItems=1)),
    "shipping_address": F(ref("Address")),
    "billing_address": opt(ref("Address")),
    "status": F(enum(["pending", "paid", "shipped", "delivered", "cancelled"])),
    "placed_at": F(date_time()),
    "coupon": opt(string(pattern=r"^[A-Z0-9]{4,12}$")),
}, defs={
    "Address": _ADDRESS_MODEL,
    "OrderItem": model("OrderItem", {
        "sku": F(string(pattern=SKU)),
        "quantity": F(integer(1)),
        "unit_price": F(number(0)),
    }),
})

PYDANTIC["calendar_event"] = model("CalendarEvent", {
    "summary": F(string()),
    "start": F(date_time()),
    "end": F(date_time()),
    "all_day": F(boolean(), False),
    "location": opt(string()),
    "attendees": F(lst(ref("Attendee")), []),
    "recurrence": opt(ref("Recurrence")),
}, defs={
    "Attendee": model("Attendee", {
        "email": F(email()),
        "optional": F(boolean(), False),
        "response": F(enum(["needsAction", "accepted", "declined", "tentative"]), "needsAction"),
    }),
    "Recurrence": model("Recurrence", {
        "freq": F(enum(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"])),
        "interval": F(integer(1), 1),
        "until": opt(date()),
    }),
})

PYDANTIC["log_event"] = model("LogEvent", {
    "timestamp": F(date_time()),
    "level": F(enum(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])),
    "logger": F(string()),
    "message": F(string(maxLength=2000)),
    "trace_id": opt(string(pattern=HEX32)),
    "span_id": opt(string(pattern=HEX16)),
    "attributes": F(map_of({"anyOf": [string(), integer(), number(), boolean()]}), {}),
    "exception": opt(ref("ExceptionInfo")),
}, defs={
    "ExceptionInfo": model("ExceptionInfo", {
        "type": F(string()),
        "message": F(string()),
        "stacktrace": F(lst(string()), []),
    }),
})

PYDANTIC["geo_feature"] = model("Feature", {
    "type": F({"const": "Feature", "type": "string"}),
    "geometry": F(ref("Point")),
    "properties": F(map_of(string()), {}),
}, defs={
    "Point": model("Point", {
        "type": F({"const": "Point", "type": "string"}),
        "coordinates": F(lon_lat()),
    }),
})

PYDANTIC["app_settings"] = model("AppSettings", {
    "app_name": F(string()),
    "debug": F(boolean(), False),
    "log_level": F(enum(["DEBUG", "INFO", "WARNING", "ERROR"]), "INFO"),
    "database": F(ref("DatabaseSettings")),
    "cache": opt(ref("CacheSettings")),
    "allowed_hosts": F(lst(string()), ["localhost"]),
    "feature_flags": F(map_of(boolean()), {}),
}, defs={
    "DatabaseSettings": model("DatabaseSettings", {
        "host": F(string(), "localhost"),
        "port": F(integer(1, 65535), 5432),
        "name": F(string()),
        "user": F(string()),
        "pool_size": F(integer(1, 100), 10),
    }),
    "CacheSettings": model("CacheSettings", {
        "url": F(uri()),
        "ttl_seconds": F(integer(0), 300),
    }),
})

PYDANTIC["contact_card"] = model("ContactCard", {
    "name": F(string(minLength=1)),
    "emails": F(lst(email()), []),
    "phones": F(lst(string(pattern=PHONE)), []),
    "company": opt(string()),
    "title": opt(string()),
    "website": opt(HTTP_URL),
    "birthday": opt(date()),
})

PYDANTIC["quiz"] = model("Quiz", {
    "topic": F(string()),
    "questions": F(lst(ref("Question"), minItems=1, maxItems=10)),
}, defs={
    "Question": model("Question", {
        "prompt": F(string()),
        "options": F(lst(string(), minItems=2, maxItems=6)),
        "correct_index": F(integer(0, 5)),
        "explanation": opt(string()),
        "difficulty": F(integer(1, 5), 3),
    }),
})

for _key, _schema in PYDANTIC.items():
    add("pyd_" + _key, _schema)


def to_pydantic_v1(schema):
    """Pydantic v1 wrote nested models under `definitions`."""
    text = json.dumps(schema).replace('"#/$defs/', '"#/definitions/').replace('"$defs":', '"definitions":')
    return json.loads(text)


def forbid_extra(schema):
    """model_config = ConfigDict(extra="forbid") on every model."""
    s = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(s)
    return s


for _key in ["user_profile", "invoice", "recipe", "plan", "tree_node", "drawing",
             "weather_report", "app_settings", "order"]:
    add("pyd_v1_" + _key, to_pydantic_v1(PYDANTIC[_key]))
for _key in ["movie_review", "sentiment", "research_answer", "extracted_entities",
             "calendar_event", "ticket_classification", "quiz"]:
    add("pyd_forbid_" + _key, forbid_extra(PYDANTIC[_key]))

# --------------------------------------------------------------------------
# RAG answers with citations
# --------------------------------------------------------------------------

add("rag_answer_with_citations", obj({
    "answer": string("Answer grounded in the provided documents", minLength=1, maxLength=2000),
    "citations": array(obj({
        "document_id": string(minLength=1),
        "title": string(),
        "url": uri(),
        "quote": string("Verbatim supporting span", maxLength=500),
    }, ["document_id", "quote"]), max_items=10),
}, ["answer", "citations"]))

add("rag_answer_grounded", obj({
    "answer": string(maxLength=2000),
    "insufficient_context": boolean("True when the sources do not answer the question"),
    "sources": array(obj({
        "chunk_id": string(pattern=r"^doc[0-9]+#chunk[0-9]+$"),
        "relevance": number(0, 1),
        "used_for": enum(["direct_answer", "background", "contradiction"]),
    }, "all"), max_items=8),
    "confidence": enum(["low", "medium", "high"]),
}, ["answer", "insufficient_context", "sources"]))

add("rag_multi_hop", obj({
    "question": string(),
    "sub_questions": array(obj({
        "question": string(),
        "answer": string(),
        "citation_ids": array(integer(0), max_items=5),
    }, "all"), 1, 6),
    "final_answer": string(),
    "sources": array(obj({"id": integer(0), "url": uri(), "snippet": string(maxLength=400)},
                         ["id", "url"]), max_items=10),
}, "all"))

add("rag_claim_verification", obj({
    "claims": array(obj({
        "claim": string(minLength=1, maxLength=500),
        "verdict": enum(["supported", "refuted", "not_enough_info"]),
        "evidence": array(obj({
            "source": string(),
            "span": string(maxLength=300),
        }, "all"), max_items=3),
    }, "all"), 1, 20),
}, "all"))

add("rag_query_rewrite", obj({
    "rewritten_queries": array(string(minLength=3, maxLength=200), 1, 5),
    "keywords": array(string(maxLength=40), max_items=10),
    "filters": obj({
        "date_from": nullable(date()),
        "date_to": nullable(date()),
        "source_types": array(enum(["web", "pdf", "wiki", "ticket", "email"]), max_items=5),
    }, "all"),
}, "all"))

# --------------------------------------------------------------------------
# Task decomposition and agents
# --------------------------------------------------------------------------

add("task_plan_steps", obj({
    "objective": string(minLength=1),
    "steps": array(obj({
        "id": string(pattern=r"^step-[0-9]+$"),
        "description": string(minLength=1, maxLength=500),
        "depends_on": array(string(pattern=r"^step-[0-9]+$"), max_items=10),
        "priority": enum(["low", "medium", "high"]),
        "estimated_minutes": integer(1, 480),
        "tool": nullable(enum(["search", "code", "browser", "email", "none"])),
    }, ["id", "description", "depends_on", "priority"]), 1, 25),
    "risks": array(string(maxLength=300), max_items=5),
}, ["objective", "steps"]))

add("task_decomposition_tree", {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Task",
    "type": "object",
    "properties": {
        "title": string(minLength=1, maxLength=200),
        "done": boolean(default=False),
        "effort": enum(["xs", "s", "m", "l", "xl"]),
        "subtasks": {"type": "array", "items": {"$ref": "#"}, "maxItems": 10},
    },
    "required": ["title"],
    "additionalProperties": False,
})

add("task_gantt", obj({
    "project": string(),
    "tasks": array(obj({
        "id": integer(1),
        "name": string(),
        "start": date(),
        "end": date(),
        "milestone": boolean(),
        "predecessors": array(integer(1), max_items=5),
        "owner": nullable(string()),
        "progress": integer(0, 100),
    }, ["id", "name", "start", "end"]), 1, 50),
}, "all"))

add("task_kanban_board", obj({
    "board": string(),
    "columns": array(obj({
        "name": enum(["backlog", "todo", "doing", "review", "done"]),
        "wip_limit": nullable(integer(1, 20)),
        "cards": array(obj({
            "title": string(maxLength=120),
            "labels": array(string(pattern=SLUG), max_items=5),
            "assignee": nullable(string()),
            "points": {"type": "integer", "enum": [1, 2, 3, 5, 8, 13]},
        }, ["title", "points"]), max_items=30),
    }, "all"), 1, 5),
}, "all"))

add("agent_react_step", obj({
    "thought": string(maxLength=1000),
    "action": {
        "oneOf": [
            obj({"type": {"const": "tool_call"}, "tool": enum(["search", "calculator", "python"]),
                 "input": string(maxLength=1000)}, "all"),
            obj({"type": {"const": "final_answer"}, "answer": string(maxLength=2000)}, "all"),
            obj({"type": {"const": "ask_user"}, "question": string(maxLength=500)}, "all"),
        ],
    },
}, "all"))

add("agent_reflection", obj({
    "success": boolean(),
    "score": integer(0, 10),
    "mistakes": array(string(), max_items=5),
    "next_action": enum(["retry", "replan", "finish", "escalate"]),
    "revised_plan": nullable(array(string(), 1, 10)),
}, "all"))

add("agent_handoff", obj({
    "target_agent": enum(["billing_agent", "tech_support_agent", "sales_agent", "human"]),
    "reason": string(maxLength=300),
    "context_summary": string(maxLength=1500),
    "urgency": integer(1, 5),
    "customer": obj({
        "id": nullable(string()),
        "sentiment": enum(["calm", "frustrated", "angry"]),
    }, "all"),
}, "all"))

# --------------------------------------------------------------------------
# Docker Compose and Kubernetes
# --------------------------------------------------------------------------

COMPOSE_SERVICE = obj({
    "image": string(pattern=DOCKER_IMAGE, examples=["postgres:16", "ghcr.io/acme/api:1.4.2"]),
    "build": {"anyOf": [string(), obj({"context": string(), "dockerfile": string()}, ["context"])]},
    "command": {"anyOf": [string(), array(string())]},
    "ports": array(string(pattern=COMPOSE_PORT), max_items=20, examples=[["8080:80", "443"]]),
    "environment": {"anyOf": [
        map_of({"type": ["string", "number", "boolean", "null"]}),
        array(string(pattern=r"^[A-Za-z_][A-Za-z0-9_]*=.*$")),
    ]},
    "volumes": array(string(pattern=COMPOSE_VOLUME), max_items=20),
    "depends_on": array(string(pattern=r"^[a-z0-9][a-z0-9_-]*$"), max_items=10),
    "restart": enum(["no", "always", "on-failure", "unless-stopped"]),
    "healthcheck": obj({
        "test": array(string(), 1, 10),
        "interval": string(pattern=GO_DURATION),
        "timeout": string(pattern=GO_DURATION),
        "retries": integer(0, 100),
    }, ["test"]),
    "networks": array(string(), max_items=5),
}, [])

add("compose_service", COMPOSE_SERVICE)

add("compose_file", obj({
    "version": string(enum=["3.8", "3.9"], deprecated=True),
    "services": map_of(COMPOSE_SERVICE),
    "volumes": map_of(obj({"driver": string(default="local")}, [])),
    "networks": map_of(obj({"driver": enum(["bridge", "overlay", "host"])}, [])),
}, ["services"], additional=None))

add("compose_minimal", obj({
    "services": map_of(obj({
        "image": string(pattern=DOCKER_IMAGE),
        "ports": array(string(pattern=COMPOSE_PORT)),
        "environment": map_of(string()),
    }, ["image"])),
}, ["services"]))

add("compose_web_db_stack", obj({
    "services": obj({
        "web": obj({
            "build": string(default="."),
            "ports": array(string(pattern=COMPOSE_PORT), 1, 4),
            "depends_on": array(enum(["db", "cache"]), max_items=2),
            "environment": map_of(string()),
        }, ["build", "ports"]),
        "db": obj({
            "image": string(pattern=r"^postgres:[0-9]{2}(-alpine)?$"),
            "volumes": array(string(pattern=COMPOSE_VOLUME)),
            "environment": obj({
                "POSTGRES_USER": string(minLength=1),
                "POSTGRES_PASSWORD": string(minLength=8, writeOnly=True),
                "POSTGRES_DB": string(pattern=SQL_IDENT),
            }, ["POSTGRES_PASSWORD"]),
        }, ["image", "environment"]),
        "cache": obj({"image": string(pattern=r"^redis:[0-9.]+(-alpine)?$")}, ["image"]),
    }, ["web", "db"]),
}, ["services"]))

K8S_RESOURCE_LIST = obj({
    "cpu": string(pattern=CPU_QUANTITY, examples=["500m", "2"]),
    "memory": string(pattern=MEMORY_QUANTITY, examples=["512Mi"]),
}, [])

K8S_CONTAINER = obj({
    "name": string(pattern=K8S_NAME, maxLength=63),
    "image": string(pattern=DOCKER_IMAGE),
    "imagePullPolicy": enum(["Always", "IfNotPresent", "Never"]),
    "command": array(string()),
    "args": array(string()),
    "ports": array(obj({
        "name": string(pattern=K8S_NAME, maxLength=15),
        "containerPort": integer(1, 65535),
        "protocol": enum(["TCP", "UDP", "SCTP"], default="TCP"),
    }, ["containerPort"])),
    "env": array(obj({
        "name": string(pattern=ENV_NAME),
        "value": string(),
        "valueFrom": obj({
            "secretKeyRef": obj({"name": string(), "key": string()}, ["name", "key"]),
        }, []),
    }, ["name"])),
    "resources": obj({"limits": ref("ResourceList"), "requests": ref("ResourceList")}, []),
}, ["name", "image"], **{"$defs": {"ResourceList": K8S_RESOURCE_LIST}})

add("k8s_container", K8S_CONTAINER)

add("k8s_pod", {
    "$defs": {
        "Container": obj({
            "name": string(pattern=K8S_NAME, maxLength=63),
            "image": string(pattern=DOCKER_IMAGE),
            "ports": array(obj({"containerPort": integer(1, 65535)}, ["containerPort"])),
            "env": array(obj({"name": string(pattern=ENV_NAME), "value": string()},
                             ["name", "value"])),
        }, ["name", "image"]),
    },
    "type": "object",
    "properties": {
        "apiVersion": {"const": "v1"},
        "kind": {"const": "Pod"},
        "metadata": obj({
            "name": string(pattern=K8S_NAME, maxLength=253),
            "namespace": string(pattern=K8S_NAME, default="default"),
            "labels": map_of(string(maxLength=63)),
        }, ["name"]),
        "spec": obj({
            "containers": array(ref("Container"), 1, 10),
            "restartPolicy": enum(["Always", "OnFailure", "Never"], default="Always"),
            "nodeSelector": map_of(string()),
        }, ["containers"]),
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
})

add("k8s_service", obj({
    "apiVersion": {"const": "v1"},
    "kind": {"const": "Service"},
    "metadata": obj({"name": string(pattern=K8S_NAME), "labels": map_of(string())}, ["name"]),
    "spec": obj({
        "type": enum(["ClusterIP", "NodePort", "LoadBalancer"], default="ClusterIP"),
        "selector": map_of(string()),
        "ports": array(obj({
            "name": string(pattern=K8S_NAME),
            "port": integer(1, 65535),
            "targetPort": {"anyOf": [integer(1, 65535), string(pattern=K8S_NAME)]},
            "nodePort": integer(30000, 32767),
            "protocol": enum(["TCP", "UDP"]),
        }, ["port"]), 1, 20),
    }, ["ports"]),
}, ["apiVersion", "kind", "metadata", "spec"]))

add("k8s_configmap", obj({
    "apiVersion": {"const": "v1"},
    "kind": {"const": "ConfigMap"},
    "metadata": obj({"name": string(pattern=K8S_NAME), "namespace": string(pattern=K8S_NAME)},
                    ["name"]),
    "data": map_of(string(maxLength=2000)),
}, ["apiVersion", "kind", "metadata", "data"]))

add("k8s_resource_requirements", obj({
    "limits": K8S_RESOURCE_LIST,
    "requests": K8S_RESOURCE_LIST,
}, []))

add("k8s_probe", obj({
    "httpGet": obj({
        "path": string(pattern=r"^/[A-Za-z0-9/._-]*$"),
        "port": {"anyOf": [integer(1, 65535), string(pattern=K8S_NAME)]},
        "scheme": enum(["HTTP", "HTTPS"], default="HTTP"),
    }, ["port"]),
    "initialDelaySeconds": integer(0, 600, default=0),
    "periodSeconds": integer(1, 600, default=10),
    "timeoutSeconds": integer(1, 120, default=1),
    "failureThreshold": integer(1, 100, default=3),
}, ["httpGet"]))

add("k8s_hpa_spec", obj({
    "scaleTargetRef": obj({
        "apiVersion": string(default="apps/v1"),
        "kind": enum(["Deployment", "StatefulSet"]),
        "name": string(pattern=K8S_NAME),
    }, "all"),
    "minReplicas": integer(1, 100),
    "maxReplicas": integer(1, 1000),
    "targetCPUUtilizationPercentage": integer(1, 100),
}, ["scaleTargetRef", "maxReplicas"]))

# --------------------------------------------------------------------------
# Commerce: invoices, orders, receipts, products
# --------------------------------------------------------------------------

MONEY = obj({"amount": number(0), "currency": string(pattern=CURRENCY)}, "all")

add("invoice_simple", obj({
    "invoice_number": string(pattern=r"^INV-[0-9]{4}-[0-9]{4}$"),
    "issued": date(),
    "due": date(),
    "seller": obj({"name": string(), "vat_id": nullable(string())}, "all"),
    "buyer": obj({"name": string(), "email": email()}, ["name"]),
    "lines": array(obj({
        "description": string(minLength=1),
        "quantity": number(exclusiveMinimum=0),
        "unit_price": number(0),
        "amount": number(0),
    }, "all"), 1, 100),
    "subtotal": number(0),
    "tax": number(0),
    "total": number(0),
    "currency": string(pattern=CURRENCY),
    "paid": boolean(),
}, ["invoice_number", "issued", "lines", "total", "currency"]))

add("purchase_order", obj({
    "po_number": string(pattern=r"^PO[0-9]{6}$"),
    "vendor_id": uuid(),
    "order_date": date(),
    "ship_to": ref("Address"),
    "bill_to": ref("Address"),
    "items": array(obj({
        "sku": string(pattern=SKU),
        "quantity": integer(1, 100000),
        "unit_cost": number(0),
        "expected_delivery": date(),
    }, ["sku", "quantity", "unit_cost"]), 1, 200),
    "payment_terms": enum(["NET15", "NET30", "NET60", "DUE_ON_RECEIPT"]),
    "approved": boolean(default=False),
}, ["po_number", "vendor_id", "order_date", "ship_to", "items"], **{"$defs": {
    "Address": obj({
        "line1": string(), "line2": string(), "city": string(),
        "postal_code": string(), "country": string(pattern=COUNTRY),
    }, ["line1", "city", "country"]),
}}))

add("receipt_extraction", obj({
    "merchant": obj({"name": string(), "address": nullable(string()), "phone": nullable(string())},
                    "all"),
    "date": nullable(date()),
    "time": nullable(string(pattern=HHMM)),
    "items": array(obj({
        "name": string(),
        "quantity": number(0),
        "price": number(),
    }, "all"), max_items=100),
    "subtotal": nullable(number()),
    "tax": nullable(number(0)),
    "tip": nullable(number(0)),
    "total": number(),
    "payment_method": enum(["cash", "credit_card", "debit_card", "mobile", "other", "unknown"]),
    "card_last4": nullable(string(pattern=r"^[0-9]{4}$")),
}, "all"))

add("order_line_items", obj({
    "order_id": string(pattern=r"^ORD-[0-9]{8}$"),
    "line_items": array(obj({
        "line": integer(1),
        "product": obj({"id": string(pattern=SKU), "name": string(), "variant": nullable(string())},
                       ["id", "name"]),
        "quantity": integer(1, 999),
        "price": MONEY,
        "discount": nullable(MONEY),
    }, ["line", "product", "quantity", "price"]), 1, 50),
    "shipping": MONEY,
}, "all"))

add("shipping_label", obj({
    "carrier": enum(["ups", "fedex", "usps", "dhl"]),
    "service": enum(["ground", "2day", "overnight", "international"]),
    "tracking_number": string(pattern=r"^[A-Z0-9]{10,30}$"),
    "from": ref("Party"),
    "to": ref("Party"),
    "parcel": obj({
        "weight_kg": number(0, 70),
        "length_cm": integer(1, 300),
        "width_cm": integer(1, 300),
        "height_cm": integer(1, 300),
    }, "all"),
    "insured_value": nullable(number(0)),
}, ["carrier", "service", "from", "to", "parcel"], **{"$defs": {
    "Party": obj({
        "name": string(), "street": string(), "city": string(),
        "postal_code": string(), "country": string(pattern=COUNTRY),
        "phone": string(pattern=PHONE),
    }, ["name", "street", "city", "postal_code", "country"]),
}}))

add("bank_transaction", obj({
    "id": uuid(),
    "booked_at": date_time(),
    "amount": number(),
    "currency": string(pattern=CURRENCY),
    "direction": enum(["credit", "debit"]),
    "counterparty": obj({"name": string(), "iban": nullable(string(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"))},
                        "all"),
    "category": enum(["groceries", "rent", "salary", "utilities", "travel", "dining", "other"]),
    "memo": nullable(string(maxLength=140)),
}, "all"))

add("product_catalog", obj({
    "catalog": string(),
    "updated_at": date_time(),
    "products": array(obj({
        "sku": string(pattern=SKU),
        "title": string(maxLength=150),
        "brand": string(),
        "price": number(exclusiveMinimum=0),
        "currency": string(pattern=CURRENCY),
        "categories": array(string(), 1, 5),
        "variants": array(obj({
            "sku": string(pattern=SKU),
            "color": string(),
            "size": enum(["XS", "S", "M", "L", "XL", "XXL"]),
            "stock": integer(0),
        }, ["sku", "stock"]), max_items=20),
        "rating": number(0, 5),
    }, ["sku", "title", "price", "currency"]), max_items=50),
}, ["catalog", "products"]))

add("product_listing_generation", obj({
    "title": string(minLength=10, maxLength=80),
    "bullet_points": array(string(maxLength=200), 3, 5),
    "description": string(maxLength=2000),
    "search_keywords": array(string(pattern=r"^[a-z0-9 ]{2,30}$"), max_items=15),
    "suggested_price": number(1, 10000),
    "age_restricted": boolean(),
}, "all"))

add("product_comparison", obj({
    "products": array(string(), 2, 4),
    "criteria": array(obj({
        "name": string(),
        "weight": number(0, 1),
        "scores": array(integer(0, 10), 2, 4),
    }, "all"), 1, 10),
    "winner_index": integer(0, 3),
    "summary": string(maxLength=1000),
}, "all"))

add("product_search_results", obj({
    "query": string(),
    "total": integer(0),
    "hits": array(obj({
        "id": string(),
        "title": string(),
        "price": number(0),
        "score": number(0, 1),
        "highlight": nullable(string()),
    }, ["id", "title", "score"]), max_items=50),
    "facets": map_of(array(obj({"value": string(), "count": integer(0)}, "all"), max_items=20)),
}, ["query", "total", "hits"]))

# --------------------------------------------------------------------------
# Addresses and people
# --------------------------------------------------------------------------

add("address_us", obj({
    "street": string(minLength=1, maxLength=200),
    "unit": string(maxLength=20),
    "city": string(minLength=1),
    "state": enum(["AL", "AK", "AZ", "CA", "CO", "FL", "GA", "IL", "MA", "NY", "OR", "TX", "WA"]),
    "zip": string(pattern=ZIP_US),
    "country": {"const": "US"},
}, ["street", "city", "state", "zip"]))

add("address_international", obj({
    "recipient": string(),
    "lines": array(string(maxLength=100), 1, 4),
    "locality": string(),
    "region": {"type": ["string", "null"]},
    "postal_code": {"type": ["string", "null"], "maxLength": 12},
    "country_code": string(pattern=COUNTRY),
}, "all"))

add("address_geocoded", obj({
    "formatted": string(),
    "components": obj({
        "house_number": nullable(string()),
        "road": nullable(string()),
        "city": nullable(string()),
        "postcode": nullable(string()),
        "country": string(),
    }, "all"),
    "location": obj({"lat": latitude(), "lng": longitude()}, "all"),
    "accuracy": enum(["rooftop", "street", "city", "approximate"]),
    "place_id": string(),
}, "all"))

add("user_profile_basic", obj({
    "id": integer(1),
    "username": string(pattern=USERNAME),
    "display_name": string(maxLength=80),
    "email": email(),
    "avatar_url": uri(),
    "bio": string(maxLength=500),
    "joined": date(),
    "verified": boolean(default=False),
    "role": enum(["member", "moderator", "admin"], default="member"),
}, ["id", "username", "email"]))

add("user_account_settings", obj({
    "user_id": uuid(readOnly=True),
    "locale": string(pattern=LANG, default="en-US"),
    "timezone": string(pattern=TIMEZONE),
    "theme": enum(["light", "dark", "system"], default="system"),
    "notifications": obj({
        "email": boolean(default=True),
        "push": boolean(default=False),
        "digest": enum(["never", "daily", "weekly"], default="weekly"),
        "quiet_hours": nullable(obj({"start": string(pattern=HHMM), "end": string(pattern=HHMM)},
                                    "all")),
    }, []),
    "privacy": obj({
        "profile_visibility": enum(["public", "friends", "private"]),
        "show_email": boolean(default=False),
    }, []),
    "two_factor_enabled": boolean(),
}, ["user_id"]))

add("user_public_profile", obj({
    "handle": string(pattern=r"^@[A-Za-z0-9_]{1,15}$"),
    "name": {"type": ["string", "null"]},
    "location": {"type": ["string", "null"]},
    "website": {"type": ["string", "null"], "format": "uri"},
    "followers": integer(0),
    "following": integer(0),
    "links": map_of(uri(), "Social network name to profile URL"),
    "pinned_post_id": {"type": ["integer", "null"], "minimum": 1},
}, "all"))

add("employee_record", obj({
    "employee_id": string(pattern=r"^E[0-9]{5}$"),
    "first_name": string(),
    "last_name": string(),
    "middle_name": {"type": ["string", "null"]},
    "department": enum(["engineering", "sales", "marketing", "finance", "hr", "operations"]),
    "manager_id": {"type": ["string", "null"], "pattern": r"^E[0-9]{5}$"},
    "hire_date": date(),
    "termination_date": {"type": ["string", "null"], "format": "date"},
    "salary": obj({"amount": integer(0), "currency": string(pattern=CURRENCY)}, "all"),
    "skills": array(string(), max_items=20),
}, "all"))

add("resume_extraction", obj({
    "name": string(),
    "contact": obj({"email": nullable(email()), "phone": nullable(string()),
                    "linkedin": nullable(uri())}, "all"),
    "summary": nullable(string(maxLength=1000)),
    "experience": array(obj({
        "company": string(),
        "title": string(),
        "start": string(pattern=r"^[0-9]{4}(-[0-9]{2})?$"),
        "end": {"type": ["string", "null"], "pattern": r"^[0-9]{4}(-[0-9]{2})?$"},
        "highlights": array(string(maxLength=300), max_items=6),
    }, "all"), max_items=15),
    "education": array(obj({
        "institution": string(),
        "degree": nullable(string()),
        "year": nullable(integer(1950, 2035)),
    }, "all"), max_items=5),
    "skills": array(string(), max_items=30),
}, "all"))

# --------------------------------------------------------------------------
# GitHub
# --------------------------------------------------------------------------

GH_USER = obj({"login": string(pattern=r"^[A-Za-z0-9-]{1,39}$"), "id": integer(1),
               "type": enum(["User", "Bot", "Organization"])}, ["login", "id"])

add("github_issue", obj({
    "number": integer(1),
    "title": string(minLength=1, maxLength=256),
    "body": {"type": ["string", "null"], "maxLength": 2000},
    "state": enum(["open", "closed"]),
    "state_reason": nullable(enum(["completed", "not_planned", "reopened"])),
    "user": GH_USER,
    "labels": array(obj({"name": string(), "color": string(pattern=r"^[0-9a-f]{6}$")},
                        ["name"]), max_items=20),
    "assignees": array(GH_USER, max_items=10),
    "comments": integer(0),
    "created_at": date_time(),
    "closed_at": {"type": ["string", "null"], "format": "date-time"},
    "html_url": uri(),
}, ["number", "title", "state", "user", "created_at"], additional=None))

add("github_pull_request", obj({
    "number": integer(1),
    "title": string(maxLength=256),
    "state": enum(["open", "closed"]),
    "draft": boolean(),
    "merged": boolean(),
    "head": obj({"ref": string(), "sha": string(pattern=SHA1)}, "all"),
    "base": obj({"ref": string(), "sha": string(pattern=SHA1)}, "all"),
    "requested_reviewers": array(string(), max_items=15),
    "additions": integer(0),
    "deletions": integer(0),
    "changed_files": integer(0),
    "mergeable_state": enum(["clean", "dirty", "blocked", "behind", "unstable", "unknown"]),
}, ["number", "title", "state", "head", "base"]))

add("github_issue_triage", obj({
    "type": enum(["bug", "feature", "question", "docs", "duplicate", "invalid"]),
    "labels": array(enum(["bug", "enhancement", "documentation", "good first issue",
                          "help wanted", "performance", "security"]), max_items=4),
    "severity": nullable(enum(["S1", "S2", "S3", "S4"])),
    "duplicate_of": nullable(integer(1)),
    "component": enum(["api", "cli", "docs", "server", "web", "unknown"]),
    "reply": string(maxLength=1500),
}, "all"))

add("github_review_comments", obj({
    "summary": string(maxLength=1000),
    "verdict": enum(["APPROVE", "REQUEST_CHANGES", "COMMENT"]),
    "comments": array(obj({
        "path": string(pattern=FILE_PATH),
        "line": integer(1),
        "side": enum(["LEFT", "RIGHT"], default="RIGHT"),
        "severity": enum(["nit", "suggestion", "issue", "blocker"]),
        "body": string(minLength=1, maxLength=2000),
    }, ["path", "line", "body", "severity"]), max_items=30),
}, "all"))

add("github_release", obj({
    "tag_name": string(pattern=r"^v[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.]+)?$"),
    "name": string(),
    "prerelease": boolean(),
    "published_at": date_time(),
    "changelog": obj({
        "features": array(string(), max_items=30),
        "fixes": array(string(), max_items=30),
        "breaking": array(string(), max_items=10),
    }, "all"),
    "assets": array(obj({"name": string(), "size": integer(0), "download_url": uri()}, "all"),
                    max_items=20),
}, "all"))

add("github_workflow_run", obj({
    "id": integer(1),
    "name": string(),
    "head_branch": string(),
    "head_sha": string(pattern=SHA1),
    "event": enum(["push", "pull_request", "schedule", "workflow_dispatch", "release"]),
    "status": enum(["queued", "in_progress", "completed"]),
    "conclusion": nullable(enum(["success", "failure", "cancelled", "skipped", "timed_out"])),
    "run_attempt": integer(1),
    "jobs": array(obj({
        "name": string(),
        "conclusion": nullable(enum(["success", "failure", "cancelled", "skipped"])),
        "duration_seconds": integer(0),
    }, "all"), max_items=20),
}, "all"))

# --------------------------------------------------------------------------
# Logs and observability
# --------------------------------------------------------------------------

add("log_event_structured", obj({
    "ts": date_time(),
    "level": enum(["trace", "debug", "info", "warn", "error", "fatal"]),
    "service": string(pattern=SLUG),
    "host": string(),
    "msg": string(maxLength=2000),
    "trace_id": string(pattern=HEX32),
    "fields": map_of({"type": ["string", "number", "boolean", "null"]}),
}, ["ts", "level", "msg"], additional=None))

add("log_http_access", obj({
    "timestamp": date_time(),
    "client_ip": ipv4(),
    "method": enum(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    "path": string(pattern=r"^/[^ ]*$"),
    "status": integer(100, 599),
    "bytes_sent": integer(0),
    "latency_ms": number(0),
    "user_agent": nullable(string(maxLength=500)),
    "referer": nullable(string()),
}, "all"))

add("log_audit_event", obj({
    "event_id": uuid(),
    "occurred_at": date_time(),
    "actor": obj({
        "type": enum(["user", "service_account", "system"]),
        "id": string(),
        "ip": nullable(ipv4()),
    }, "all"),
    "action": enum(["create", "read", "update", "delete", "login", "logout", "grant", "revoke"]),
    "resource": obj({"type": string(), "id": string()}, "all"),
    "outcome": enum(["success", "failure", "denied"]),
    "reason": nullable(string()),
}, "all"))

add("log_alert", obj({
    "alertname": string(pattern=r"^[A-Za-z][A-Za-z0-9_]*$"),
    "severity": enum(["info", "warning", "critical", "page"]),
    "status": enum(["firing", "resolved"]),
    "startsAt": date_time(),
    "endsAt": nullable(date_time()),
    "labels": map_of(string()),
    "annotations": obj({"summary": string(maxLength=300), "runbook_url": uri()}, ["summary"]),
}, ["alertname", "severity", "status", "startsAt", "labels"]))

add("log_incident_summary", obj({
    "title": string(maxLength=120),
    "severity": enum(["SEV1", "SEV2", "SEV3", "SEV4"]),
    "started_at": date_time(),
    "resolved_at": nullable(date_time()),
    "impact": string(maxLength=1000),
    "root_cause": nullable(string(maxLength=1000)),
    "timeline": array(obj({"at": date_time(), "event": string(maxLength=300)}, "all"), 1, 40),
    "follow_ups": array(obj({"task": string(), "owner": string(),
                             "priority": enum(["P0", "P1", "P2"])}, "all"), max_items=15),
}, "all"))

add("metric_datapoints", obj({
    "metric": string(pattern=r"^[a-z_][a-z0-9_]*$"),
    "unit": enum(["ms", "s", "bytes", "percent", "count", "requests_per_second"]),
    "tags": map_of(string()),
    "points": array({
        "type": "array",
        "prefixItems": [integer(0, description="Unix time in seconds"), number()],
        "minItems": 2,
        "maxItems": 2,
    }, 1, 256),
}, ["metric", "points"]))

# --------------------------------------------------------------------------
# Calendar and weather
# --------------------------------------------------------------------------

add("calendar_event_simple", obj({
    "title": string(minLength=1),
    "date": date(),
    "start_time": string(pattern=HHMM),
    "end_time": string(pattern=HHMM),
    "location": nullable(string()),
    "participants": array(string(), max_items=50),
}, "all"))

add("calendar_availability", obj({
    "timezone": string(pattern=TIMEZONE),
    "weekly_hours": array(obj({
        "day": enum(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        "intervals": array(obj({"from": string(pattern=HHMM), "to": string(pattern=HHMM)}, "all"),
                           max_items=4),
    }, "all"), max_items=7),
    "date_overrides": array(obj({"date": date(), "available": boolean()}, "all"), max_items=30),
    "buffer_minutes": integer(0, 120, default=0),
}, ["timezone", "weekly_hours"]))

add("calendar_free_busy", obj({
    "time_min": date_time(),
    "time_max": date_time(),
    "calendars": map_of(obj({
        "busy": array(obj({"start": date_time(), "end": date_time()}, "all"), max_items=100),
    }, ["busy"])),
}, "all"))

add("calendar_ics_like", obj({
    "uid": string(pattern=r"^[A-Za-z0-9-]+@[A-Za-z0-9.-]+$"),
    "dtstart": date_time(),
    "dtend": date_time(),
    "summary": string(),
    "description": string(maxLength=2000),
    "organizer": email(),
    "status": enum(["TENTATIVE", "CONFIRMED", "CANCELLED"]),
    "rrule": string(pattern=r"^FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY)(;[A-Z]+=[A-Z0-9,]+)*$"),
    "sequence": integer(0, default=0),
}, ["uid", "dtstart", "summary"]))

add("weather_current", obj({
    "location": obj({"name": string(), "lat": latitude(), "lon": longitude()}, "all"),
    "observed_at": date_time(),
    "temperature": number(-90, 60),
    "feels_like": number(-100, 70),
    "unit": enum(["C", "F"]),
    "humidity": integer(0, 100),
    "pressure_hpa": number(850, 1090),
    "wind_speed": number(0, 500),
    "wind_direction": enum(["N", "NE", "E", "SE", "S", "SW", "W", "NW"]),
    "condition": enum(["sunny", "partly_cloudy", "cloudy", "rain", "thunderstorm", "snow", "fog"]),
    "uv_index": integer(0, 15),
}, ["location", "temperature", "unit", "condition"]))

add("weather_forecast_daily", obj({
    "location": string(),
    "days": array(obj({
        "date": date(),
        "min": number(-90, 60),
        "max": number(-90, 60),
        "precipitation_mm": number(0, 1000),
        "precipitation_probability": number(0, 1),
        "summary": string(maxLength=120),
    }, "all"), 1, 16),
}, "all"))

add("weather_alert", obj({
    "id": string(),
    "event": enum(["Tornado Warning", "Flood Watch", "Heat Advisory", "Winter Storm Warning",
                   "High Wind Warning"]),
    "severity": enum(["Minor", "Moderate", "Severe", "Extreme"]),
    "areas": array(string(), 1, 20),
    "effective": date_time(),
    "expires": date_time(),
    "instructions": string(maxLength=2000),
    "polygon": array(lon_lat(), max_items=64),
}, ["id", "event", "severity", "areas", "effective", "expires"]))

# --------------------------------------------------------------------------
# Classification, sentiment, extraction
# --------------------------------------------------------------------------

add("classify_sentiment", obj({
    "sentiment": enum(["positive", "negative", "neutral"]),
    "confidence": number(0, 1),
}, "all"))

add("classify_sentiment_scored", obj({
    "label": enum(["very_negative", "negative", "neutral", "positive", "very_positive"]),
    "score": integer(1, 5),
    "rationale": string(maxLength=300),
}, ["label", "score"]))

add("classify_intent", obj({
    "intent": enum(["book_table", "cancel_booking", "opening_hours", "menu_question",
                    "complaint", "other"]),
    "confidence": number(0, 1),
    "slots": obj({
        "party_size": nullable(integer(1, 30)),
        "date": nullable(date()),
        "time": nullable(string(pattern=HHMM)),
        "name": nullable(string()),
    }, "all"),
}, "all"))

add("classify_topics_multilabel", obj({
    "topics": array(enum(["politics", "business", "technology", "science", "health",
                          "sports", "entertainment", "world"]), 1, 3),
    "primary": enum(["politics", "business", "technology", "science", "health",
                     "sports", "entertainment", "world"]),
}, "all"))

add("classify_toxicity", obj({
    "flagged": boolean(),
    "categories": obj({
        "harassment": boolean(),
        "hate": boolean(),
        "self_harm": boolean(),
        "sexual": boolean(),
        "violence": boolean(),
    }, "all"),
    "category_scores": obj({
        "harassment": number(0, 1),
        "hate": number(0, 1),
        "self_harm": number(0, 1),
        "sexual": number(0, 1),
        "violence": number(0, 1),
    }, "all"),
}, "all"))

add("classify_language", obj({
    "language": string(pattern=r"^[a-z]{2,3}$"),
    "script": enum(["Latn", "Cyrl", "Arab", "Hans", "Hant", "Deva", "Jpan", "Kore"]),
    "confidence": number(0, 1),
    "alternatives": array(obj({"language": string(pattern=r"^[a-z]{2,3}$"),
                               "confidence": number(0, 1)}, "all"), max_items=3),
}, "all"))

add("classify_email_triage", obj({
    "category": enum(["action_required", "fyi", "newsletter", "spam", "personal", "receipt"]),
    "priority": integer(1, 5),
    "needs_reply": boolean(),
    "reply_by": nullable(date()),
    "summary": string(maxLength=280),
    "suggested_folder": enum(["Inbox", "Archive", "Finance", "Travel", "Promotions"]),
}, "all"))

add("classify_yes_no", obj({
    "answer": {"type": "string", "enum": ["yes", "no", "unsure"]},
}, "all"))

add("classify_boolean_only", obj({"is_relevant": boolean()}, "all"))

add("classify_rating_enum_int", obj({
    "stars": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
    "would_recommend": boolean(),
}, "all"))

add("extract_named_entities", obj({
    "entities": array(obj({
        "text": string(minLength=1),
        "type": enum(["PERSON", "ORG", "LOC", "DATE", "MONEY", "PRODUCT", "EVENT"]),
        "start": integer(0),
        "end": integer(0),
        "confidence": number(0, 1),
    }, ["text", "type", "start", "end"]), max_items=100),
}, "all"))

add("extract_contact_info", obj({
    "name": nullable(string()),
    "emails": array(email(), max_items=5),
    "phones": array(string(pattern=PHONE), max_items=5),
    "company": nullable(string()),
    "job_title": nullable(string()),
    "address": nullable(string()),
}, "all"))

add("extract_key_values", obj({
    "document_type": enum(["invoice", "receipt", "contract", "form", "letter", "other"]),
    "fields": map_of({"type": ["string", "number", "boolean", "null"]}),
}, "all"))

add("extract_relations", obj({
    "triples": array({
        "type": "array",
        "prefixItems": [string(description="subject"), string(description="predicate"),
                        string(description="object")],
        "minItems": 3,
        "maxItems": 3,
    }, max_items=50),
}, "all"))

add("extract_table", obj({
    "columns": array(string(), 1, 12),
    "rows": array(array({"type": ["string", "number", "null"]}, max_items=12), max_items=100),
    "caption": nullable(string()),
}, "all"))

add("extract_dates_and_deadlines", obj({
    "deadlines": array(obj({
        "description": string(),
        "date": date(),
        "time": nullable(string(format="time")),
        "hard": boolean(),
    }, "all"), max_items=20),
    "effective_date": nullable(date()),
}, "all"))

add("extract_medication", obj({
    "medications": array(obj({
        "name": string(),
        "dose": nullable(number(0)),
        "dose_unit": nullable(enum(["mg", "mcg", "g", "ml", "units"])),
        "route": nullable(enum(["oral", "iv", "im", "topical", "inhaled"])),
        "frequency": nullable(string(pattern=r"^(q[0-9]{1,2}h|qd|bid|tid|qid|prn)$")),
    }, "all"), max_items=30),
}, "all"))

# --------------------------------------------------------------------------
# Configuration files
# --------------------------------------------------------------------------

add("config_application", obj({
    "server": obj({
        "host": string(default="0.0.0.0"),
        "port": integer(1, 65535, default=8080),
        "tls": obj({"enabled": boolean(default=False), "cert_file": string(), "key_file": string()},
                   ["enabled"]),
    }, ["port"]),
    "database": obj({
        "url": string(pattern=r"^(postgres|mysql|sqlite)://.+$"),
        "max_connections": integer(1, 1000, default=20),
    }, ["url"]),
    "logging": obj({
        "level": enum(["debug", "info", "warn", "error"], default="info"),
        "format": enum(["json", "text"], default="json"),
    }, []),
    "features": map_of(boolean()),
}, ["server", "database"]))

add("config_feature_flags", obj({
    "flags": map_of(obj({
        "enabled": boolean(),
        "rollout_percent": integer(0, 100, default=100),
        "allow_users": array(string(), max_items=50),
        "description": string(maxLength=300),
    }, ["enabled"])),
    "environment": enum(["dev", "staging", "prod"]),
}, "all"))

add("config_logging", obj({
    "version": {"const": 1},
    "root": obj({"level": enum(["DEBUG", "INFO", "WARNING", "ERROR"]),
                 "handlers": array(string())}, ["level"]),
    "handlers": map_of(obj({
        "class": enum(["logging.StreamHandler", "logging.FileHandler",
                       "logging.handlers.RotatingFileHandler"]),
        "level": enum(["DEBUG", "INFO", "WARNING", "ERROR"]),
        "filename": string(),
        "maxBytes": integer(0),
    }, ["class"])),
}, ["version", "root"]))

add("config_ci_pipeline", obj({
    "name": string(),
    "on": array(enum(["push", "pull_request", "schedule", "workflow_dispatch"]), 1, 4),
    "env": map_of(string()),
    "jobs": map_of(obj({
        "runs_on": enum(["ubuntu-latest", "macos-latest", "windows-latest"]),
        "timeout_minutes": integer(1, 360, default=60),
        "needs": array(string(), max_items=10),
        "steps": array(obj({
            "name": string(),
            "uses": string(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$"),
            "run": string(maxLength=2000),
        }, ["name"]), 1, 50),
    }, ["runs_on", "steps"])),
}, ["name", "on", "jobs"]))

add("config_load_balancer", obj({
    "upstream": string(pattern=SLUG),
    "algorithm": enum(["round_robin", "least_conn", "ip_hash"], default="round_robin"),
    "servers": array(obj({
        "address": ipv4(),
        "port": integer(1, 65535),
        "weight": integer(1, 100, default=1),
        "backup": boolean(default=False),
    }, ["address", "port"]), 1, 32),
    "health_check": obj({
        "path": string(pattern=r"^/.*$"),
        "interval_seconds": integer(1, 300),
        "unhealthy_threshold": integer(1, 10),
    }, ["path"]),
}, ["upstream", "servers"]))

add("config_package_manifest", obj({
    "name": string(pattern=r"^(@[a-z0-9-]+/)?[a-z0-9._-]+$", maxLength=214),
    "version": string(pattern=SEMVER),
    "description": string(),
    "license": enum(["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0-only", "UNLICENSED"]),
    "private": boolean(default=False),
    "scripts": map_of(string()),
    "dependencies": map_of(string(pattern=r"^[~^]?[0-9]+\.[0-9]+\.[0-9]+$")),
    "devDependencies": map_of(string(pattern=r"^[~^]?[0-9]+\.[0-9]+\.[0-9]+$")),
    "engines": obj({"node": string()}, []),
}, ["name", "version"], additional=None))

add("config_cron_jobs", obj({
    "jobs": array(obj({
        "name": string(pattern=SLUG),
        "schedule": string(pattern=r"^(\*|[0-9,/*-]+) (\*|[0-9,/*-]+) (\*|[0-9,/*-]+) (\*|[0-9,/*-]+) (\*|[0-9,/*-]+)$",
                           examples=["*/5 * * * *", "0 3 * * 1"]),
        "command": string(minLength=1),
        "enabled": boolean(default=True),
        "timeout": string(pattern=GO_DURATION),
    }, ["name", "schedule", "command"]), 1, 50),
}, "all"))

# --------------------------------------------------------------------------
# Recipes, reviews, media
# --------------------------------------------------------------------------

add("recipe_simple", obj({
    "title": string(),
    "servings": integer(1, 24),
    "total_time_minutes": integer(1, 1440),
    "ingredients": array(obj({"item": string(), "amount": string()}, "all"), 1, 40),
    "instructions": array(string(maxLength=500), 1, 30),
    "cuisine": enum(["italian", "mexican", "indian", "chinese", "japanese", "french",
                     "american", "other"]),
}, "all"))

add("recipe_nutrition", obj({
    "per_serving": obj({
        "calories": integer(0, 5000),
        "protein_g": number(0, 500),
        "fat_g": number(0, 500),
        "carbs_g": number(0, 1000),
        "fiber_g": number(0, 200),
        "sodium_mg": integer(0, 20000),
    }, "all"),
    "allergens": array(enum(["gluten", "dairy", "egg", "peanut", "tree_nut", "soy", "fish",
                             "shellfish", "sesame"]), max_items=9),
    "diet_labels": array(enum(["vegan", "vegetarian", "keto", "paleo", "gluten_free"]),
                         max_items=5),
}, "all"))

add("movie_review_simple", obj({
    "movie": string(),
    "rating": number(0, 10),
    "verdict": enum(["must_watch", "worth_it", "skip"]),
    "review": string(maxLength=1500),
}, "all"))

add("movie_metadata", obj({
    "title": string(),
    "original_title": nullable(string()),
    "year": integer(1888, 2100),
    "runtime_minutes": integer(1, 1000),
    "genres": array(enum(["action", "comedy", "drama", "horror", "sci-fi", "romance",
                          "thriller", "documentary", "animation"]), 1, 3),
    "directors": array(string(), 1, 3),
    "cast": array(obj({"actor": string(), "character": string()}, "all"), max_items=15),
    "mpaa_rating": nullable(enum(["G", "PG", "PG-13", "R", "NC-17"])),
    "imdb_id": string(pattern=r"^tt[0-9]{7,8}$"),
}, "all"))

add("book_summary", obj({
    "title": string(),
    "author": string(),
    "isbn13": string(pattern=r"^97[89][0-9]{10}$"),
    "themes": array(string(), 1, 6),
    "chapters": array(obj({"number": integer(1), "title": string(), "summary": string(maxLength=600)},
                          "all"), max_items=40),
    "reading_level": enum(["children", "young_adult", "adult", "academic"]),
}, "all"))

add("podcast_episode_notes", obj({
    "episode": integer(1),
    "title": string(),
    "guests": array(string(), max_items=5),
    "chapters": array(obj({
        "start": string(pattern=r"^[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]$"),
        "title": string(),
    }, "all"), max_items=30),
    "links": array(uri(), max_items=20),
}, "all"))

# --------------------------------------------------------------------------
# API errors and envelopes
# --------------------------------------------------------------------------

add("api_error_problem_details", obj({
    "type": uri(default="about:blank"),
    "title": string(),
    "status": integer(400, 599),
    "detail": string(),
    "instance": string(pattern=r"^/.*$"),
}, ["title", "status"], additional=None,
    **{"$comment": "RFC 9457 problem details", "title": "ProblemDetails"}))

add("api_error_validation", obj({
    "detail": array(obj({
        "loc": array({"type": ["string", "integer"]}, 1, 10),
        "msg": string(),
        "type": string(pattern=r"^[a-z_.]+$"),
    }, "all")),
}, "all"))

add("api_error_graphql", obj({
    "errors": array(obj({
        "message": string(),
        "locations": array(obj({"line": integer(1), "column": integer(1)}, "all"), max_items=5),
        "path": array({"type": ["string", "integer"]}, max_items=10),
        "extensions": obj({
            "code": enum(["BAD_USER_INPUT", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND",
                          "INTERNAL_SERVER_ERROR"]),
        }, ["code"], additional=None),
    }, ["message"]), 1, 10),
    "data": {"type": "null"},
}, ["errors"]))

add("api_error_openai_style", obj({
    "error": obj({
        "message": string(),
        "type": enum(["invalid_request_error", "authentication_error", "rate_limit_error",
                      "server_error"]),
        "param": {"type": ["string", "null"]},
        "code": {"type": ["string", "null"]},
    }, "all"),
}, "all"))

add("pagination_cursor_generic", obj({
    "data": array(map_of(True), max_items=100),
    "has_more": boolean(),
    "next_cursor": {"type": ["string", "null"]},
}, "all"))

add("pagination_offset", obj({
    "items": array(obj({"id": integer(1), "name": string()}, "all"), max_items=100),
    "offset": integer(0),
    "limit": integer(1, 100),
    "total": integer(0),
}, "all"))

add("pagination_hal_links", obj({
    "_links": obj({
        "self": obj({"href": uri()}, "all"),
        "next": nullable(obj({"href": uri()}, "all")),
        "prev": nullable(obj({"href": uri()}, "all")),
    }, "all"),
    "_embedded": obj({
        "orders": array(obj({"id": string(), "total": number(0), "status": string()}, "all")),
    }, "all"),
    "page": obj({"size": integer(1), "totalElements": integer(0), "totalPages": integer(0),
                 "number": integer(0)}, "all"),
}, "all"))

add("webhook_delivery", obj({
    "id": string(pattern=r"^evt_[A-Za-z0-9]{16,32}$"),
    "type": string(pattern=r"^[a-z_]+\.[a-z_]+$", examples=["invoice.paid"]),
    "created": integer(0),
    "livemode": boolean(),
    "data": obj({"object": map_of(True)}, "all"),
    "attempt": integer(1, 20),
}, "all"))

# --------------------------------------------------------------------------
# Geo
# --------------------------------------------------------------------------

add("geo_point", obj({
    "lat": latitude(),
    "lon": longitude(),
    "accuracy_m": number(exclusiveMinimum=0),
}, ["lat", "lon"]))

add("geo_bounding_box", {
    "$defs": {"LatLng": obj({"lat": latitude(), "lng": longitude()}, "all")},
    "type": "object",
    "properties": {
        "southwest": ref("LatLng"),
        "northeast": ref("LatLng"),
    },
    "required": ["southwest", "northeast"],
    "additionalProperties": False,
})

add("geo_route", obj({
    "name": string(),
    "mode": enum(["walk", "bike", "car"]),
    "waypoints": array(lon_lat(), 2, 100),
    "distance_km": number(0, 40075),
    "elevation_gain_m": number(0, 20000),
}, "all"))

add("geo_place", obj({
    "name": string(),
    "category": enum(["restaurant", "cafe", "museum", "park", "hotel", "shop", "landmark"]),
    "location": obj({"latitude": latitude(), "longitude": longitude()}, "all"),
    "rating": number(0, 5),
    "price_level": integer(0, 4),
    "open_now": nullable(boolean()),
    "address": string(),
}, "all"))

add("geojson_polygon", obj({
    "type": {"const": "Feature"},
    "geometry": obj({
        "type": {"const": "Polygon"},
        "coordinates": array(array(lon_lat(), 4, 64), 1, 4),
    }, "all"),
    "properties": map_of({"type": ["string", "number", "boolean", "null"]}),
}, "all"))

add("geo_itinerary_stops", obj({
    "trip": string(),
    "stops": array(obj({
        "day": integer(1, 30),
        "place": string(),
        "coordinates": lon_lat(),
        "arrive": nullable(string(pattern=HHMM)),
        "notes": nullable(string()),
    }, "all"), 1, 40),
}, "all"))

# --------------------------------------------------------------------------
# Recursive schemas
# --------------------------------------------------------------------------

add("tree_file_system", {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "name": string(minLength=1, maxLength=255),
                "type": enum(["file", "directory", "symlink"]),
                "size_bytes": integer(0),
                "modified": date_time(),
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "maxItems": 50},
            },
            "required": ["name", "type"],
            "additionalProperties": False,
        },
    },
    "$ref": "#/$defs/Node",
})

add("tree_comment_thread", {
    "type": "object",
    "properties": {
        "id": string(),
        "author": string(),
        "text": string(maxLength=2000),
        "score": integer(),
        "replies": {"type": "array", "items": {"$ref": "#"}},
    },
    "required": ["id", "author", "text"],
})

add("tree_org_chart", {
    "definitions": {
        "Employee": {
            "type": "object",
            "properties": {
                "name": string(),
                "title": string(),
                "email": email(),
                "reports": {"type": "array", "items": {"$ref": "#/definitions/Employee"}},
            },
            "required": ["name", "title"],
        },
    },
    "type": "object",
    "properties": {
        "company": string(),
        "ceo": {"$ref": "#/definitions/Employee"},
    },
    "required": ["company", "ceo"],
})

add("tree_menu", {
    "$defs": {
        "MenuItem": obj({
            "label": string(maxLength=50),
            "href": string(pattern=r"^/[a-z0-9/_-]*$"),
            "icon": nullable(string()),
            "children": {"type": "array", "items": ref("MenuItem"), "maxItems": 12},
        }, ["label"]),
    },
    "type": "object",
    "properties": {"menu": array(ref("MenuItem"), 1, 12)},
    "required": ["menu"],
})

add("tree_expression", {
    "$defs": {
        "Expr": {
            "oneOf": [
                obj({"kind": {"const": "number"}, "value": number()}, "all"),
                obj({"kind": {"const": "variable"}, "name": string(pattern=r"^[a-z][a-z0-9_]*$")},
                    "all"),
                obj({"kind": {"const": "call"},
                     "op": enum(["add", "sub", "mul", "div", "neg", "max", "min"]),
                     "args": {"type": "array", "items": ref("Expr"), "maxItems": 4}}, "all"),
            ],
        },
    },
    "type": "object",
    "properties": {"expression": ref("Expr"), "description": string()},
    "required": ["expression"],
})

add("tree_json_value_payload", {
    "$defs": {
        "Json": {
            "anyOf": [
                {"type": ["string", "number", "boolean", "null"]},
                {"type": "array", "items": ref("Json"), "maxItems": 16},
                {"type": "object", "additionalProperties": ref("Json")},
            ],
        },
    },
    "type": "object",
    "properties": {
        "event": string(),
        "payload": ref("Json"),
    },
    "required": ["event", "payload"],
})

add("tree_category_taxonomy", {
    "title": "Category",
    "type": "object",
    "properties": {
        "slug": string(pattern=SLUG),
        "name": string(),
        "product_count": integer(0),
        "subcategories": {"type": "array", "items": {"$ref": "#"}, "maxItems": 20},
    },
    "required": ["slug", "name"],
    "additionalProperties": False,
})

add("tree_document_outline", {
    "$defs": {
        "Section": obj({
            "heading": string(maxLength=120),
            "level": integer(1, 6),
            "summary": string(maxLength=500),
            "subsections": array(ref("Section"), max_items=10),
        }, ["heading", "level", "subsections"]),
    },
    "type": "object",
    "properties": {
        "title": string(),
        "sections": array(ref("Section"), 1, 20),
    },
    "required": ["title", "sections"],
    "additionalProperties": False,
})

add("tree_linked_list", {
    "$defs": {
        "ListNode": obj({
            "value": integer(),
            "next": {"anyOf": [ref("ListNode"), {"type": "null"}]},
        }, ["value"]),
    },
    "$ref": "#/$defs/ListNode",
})

add("tree_bill_of_materials", {
    "definitions": {
        "Part": obj({
            "part_number": string(pattern=r"^[A-Z]{2}[0-9]{4}$"),
            "description": string(),
            "quantity": integer(1, 1000),
            "components": array({"$ref": "#/definitions/Part"}, max_items=20),
        }, ["part_number", "quantity"]),
    },
    "type": "object",
    "properties": {"assembly": {"$ref": "#/definitions/Part"}, "revision": string(pattern=r"^[A-Z]$")},
    "required": ["assembly"],
})

add("tree_chat_thread_ref_root_optional", {
    "type": "object",
    "properties": {
        "message": string(),
        "parent": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
    },
    "required": ["message"],
    "additionalProperties": False,
})

# --------------------------------------------------------------------------
# Discriminated unions
# --------------------------------------------------------------------------

add("union_payment_method", obj({
    "payment_method": {
        "oneOf": [
            obj({"type": {"const": "card"}, "number": string(pattern=r"^[0-9]{12,19}$"),
                 "exp_month": integer(1, 12), "exp_year": integer(2024, 2050),
                 "cvc": string(pattern=r"^[0-9]{3,4}$", writeOnly=True)},
                ["type", "number", "exp_month", "exp_year"]),
            obj({"type": {"const": "bank_transfer"}, "iban": string(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"),
                 "bic": string(pattern=r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")}, ["type", "iban"]),
            obj({"type": {"const": "paypal"}, "email": email()}, ["type", "email"]),
            obj({"type": {"const": "cash_on_delivery"}}, ["type"]),
        ],
    },
    "amount": number(0),
}, "all"))

add("union_shape", {
    "oneOf": [
        obj({"kind": {"const": "circle"}, "radius": number(exclusiveMinimum=0)}, "all"),
        obj({"kind": {"const": "square"}, "side": number(exclusiveMinimum=0)}, "all"),
        obj({"kind": {"const": "rectangle"}, "width": number(exclusiveMinimum=0),
             "height": number(exclusiveMinimum=0)}, "all"),
    ],
})

add("union_notification", obj({
    "notifications": array({
        "anyOf": [
            obj({"channel": {"const": "email"}, "to": email(), "subject": string(maxLength=200),
                 "body": string()}, "all"),
            obj({"channel": {"const": "sms"}, "to": string(pattern=PHONE),
                 "text": string(maxLength=160)}, "all"),
            obj({"channel": {"const": "push"}, "device_token": string(minLength=10),
                 "title": string(maxLength=60), "badge": integer(0, 99)},
                ["channel", "device_token", "title"]),
        ],
    }, 1, 10),
}, "all"))

add("union_stream_event", {
    "oneOf": [
        obj({"event": {"type": "string", "enum": ["message_start"]}, "id": string()}, "all"),
        obj({"event": {"type": "string", "enum": ["content_delta"]}, "index": integer(0),
             "text": string()}, "all"),
        obj({"event": {"type": "string", "enum": ["message_stop"]},
             "stop_reason": enum(["end_turn", "max_tokens", "stop_sequence", "tool_use"])}, "all"),
        obj({"event": {"type": "string", "enum": ["error"]},
             "error": obj({"type": string(), "message": string()}, "all")}, "all"),
    ],
})

add("union_chat_message", {
    "$defs": {
        "ToolCall": obj({"id": string(), "name": string(pattern=r"^[a-zA-Z0-9_-]{1,64}$"),
                         "arguments": string()}, "all"),
    },
    "type": "object",
    "properties": {
        "messages": array({
            "oneOf": [
                obj({"role": {"const": "system"}, "content": string()}, "all"),
                obj({"role": {"const": "user"}, "content": string(), "name": string()},
                    ["role", "content"]),
                obj({"role": {"const": "assistant"}, "content": {"type": ["string", "null"]},
                     "tool_calls": array(ref("ToolCall"), max_items=8)}, ["role", "content"]),
                obj({"role": {"const": "tool"}, "tool_call_id": string(), "content": string()}, "all"),
            ],
        }, 1, 50),
    },
    "required": ["messages"],
})

add("union_search_filter_by_type", obj({
    "field": string(pattern=r"^[a-z_]+$"),
    "value": {
        "oneOf": [
            string(maxLength=200),
            obj({"gte": number(), "lte": number()}, []),
            array(string(), 1, 20),
            boolean(),
        ],
    },
}, "all"))

add("union_content_blocks", obj({
    "content": array({
        "oneOf": [
            obj({"type": {"const": "text"}, "text": string()}, "all"),
            obj({"type": {"const": "image"},
                 "source": obj({"type": enum(["url", "base64"]), "data": string(),
                                "media_type": enum(["image/png", "image/jpeg", "image/webp"])},
                               "all")}, "all"),
            obj({"type": {"const": "tool_use"}, "id": string(), "name": string(),
                 "input": map_of(True)}, "all"),
        ],
    }, 1, 20),
}, "all"))

add("union_ui_component", {
    "$defs": {
        "Component": {
            "anyOf": [
                obj({"component": {"const": "button"}, "label": string(maxLength=40),
                     "action": enum(["submit", "cancel", "link"])}, "all"),
                obj({"component": {"const": "input"}, "name": string(pattern=r"^[a-z_]+$"),
                     "input_type": enum(["text", "email", "number", "password"]),
                     "required": boolean()}, "all"),
                obj({"component": {"const": "select"}, "name": string(pattern=r"^[a-z_]+$"),
                     "options": array(string(), 1, 20)}, "all"),
                obj({"component": {"const": "container"}, "direction": enum(["row", "column"]),
                     "children": array(ref("Component"), max_items=10)}, "all"),
            ],
        },
    },
    "type": "object",
    "properties": {"title": string(), "root": ref("Component")},
    "required": ["title", "root"],
})

add("union_api_result", {
    "oneOf": [
        obj({"ok": {"const": True}, "value": obj({"id": uuid(), "created": date_time()}, "all")},
            "all"),
        obj({"ok": {"const": False}, "error": obj({"code": integer(400, 599), "message": string()},
                                                  "all")}, "all"),
    ],
})

add("union_by_primitive_type", obj({
    "cells": array({"oneOf": [
        {"type": "string", "maxLength": 100},
        {"type": "integer"},
        {"type": "boolean"},
        {"type": "null"},
    ]}, max_items=20),
}, "all"))

add("union_vehicle", obj({
    "vehicle": {
        "oneOf": [
            obj({"kind": {"const": "car"}, "doors": integer(2, 5), "fuel": enum(["petrol", "diesel", "electric", "hybrid"])}, "all"),
            obj({"kind": {"const": "bike"}, "gears": integer(1, 30), "electric": boolean()}, "all"),
            obj({"kind": {"const": "truck"}, "payload_tonnes": number(0, 60), "axles": integer(2, 9)}, "all"),
        ],
    },
    "registration": nullable(string(pattern=r"^[A-Z0-9-]{2,10}$")),
}, "all"))

# --------------------------------------------------------------------------
# allOf composition and annotations
# --------------------------------------------------------------------------

add("allof_timestamped_entity", {
    "allOf": [
        obj({"id": uuid(readOnly=True), "created_at": date_time(readOnly=True),
             "updated_at": date_time(readOnly=True)}, ["id", "created_at"], additional=None),
        obj({"name": string(minLength=1), "status": enum(["active", "archived"])},
            ["name"], additional=None),
    ],
})

add("allof_extended_address", {
    "$defs": {
        "BaseAddress": obj({"street": string(), "city": string()}, ["street", "city"],
                           additional=None),
    },
    "allOf": [
        {"$ref": "#/$defs/BaseAddress"},
        obj({"postal_code": string(pattern=ZIP_US), "delivery_notes": string(maxLength=300)},
            ["postal_code"], additional=None),
    ],
})

add("allof_paged_users", {
    "type": "object",
    "allOf": [
        obj({"page": integer(1), "per_page": integer(1, 100)}, ["page", "per_page"],
            additional=None),
        obj({"users": array(obj({"id": integer(1), "login": string()}, "all"), max_items=100)},
            ["users"], additional=None),
    ],
})

add("annotated_everything", {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/schemas/customer-note.json",
    "$comment": "Exercises every annotation keyword the engine ignores.",
    "title": "CustomerNote",
    "description": "A note attached to a customer record.",
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True,
               "examples": ["0b0f6a6e-3f7a-4d2c-9b1e-2f9a0c6d8e11"]},
        "text": {"type": "string", "minLength": 1, "maxLength": 1000,
                 "title": "Text", "examples": ["Called about the refund."]},
        "pinned": {"type": "boolean", "default": False},
        "legacy_flag": {"type": "boolean", "deprecated": True,
                        "$comment": "kept for old clients"},
        "api_token": {"type": "string", "writeOnly": True, "minLength": 20},
    },
    "required": ["text"],
    "additionalProperties": False,
    "examples": [{"text": "Hello"}],
})

add("openapi_pet", {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string"},
        "tag": {"type": "string", "nullable": True},
        "birthday": {"type": "string", "format": "date", "nullable": True},
        "status": {"type": "string", "enum": ["available", "pending", "sold"]},
    },
    "required": ["id", "name"],
})

add("openapi_customer", {
    "type": "object",
    "properties": {
        "customer_id": {"type": "string", "pattern": r"^C[0-9]{6}$"},
        "company": {"type": "string", "nullable": True, "maxLength": 100},
        "credit_limit": {"type": "number", "minimum": 0, "nullable": True},
        "contacts": {"type": "array", "items": {"type": "string", "format": "email"},
                     "nullable": True},
    },
    "required": ["customer_id", "company", "credit_limit"],
    "additionalProperties": False,
})

add("nullable_sensor_reading", obj({
    "sensor_id": string(pattern=r"^[a-z]+-[0-9]{3}$"),
    "reading_at": date_time(),
    "temperature_c": {"type": ["number", "null"], "minimum": -50, "maximum": 150},
    "humidity": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
    "battery": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
    "status": {"type": ["string", "null"], "enum": ["ok", "degraded", "offline", None]},
}, "all"))

add("nullable_everything_optional_profile", obj({
    "nickname": null_or(string(maxLength=30)),
    "age": null_or(integer(0, 150)),
    "height_cm": null_or(number(30, 272)),
    "newsletter": null_or(boolean()),
    "favorite_colors": null_or(array(string(pattern=HEX_COLOR), max_items=5)),
    "home": null_or(obj({"city": string(), "country": string(pattern=COUNTRY)}, "all")),
}, "all"))

add("type_list_scalars", obj({
    "id": {"type": ["integer", "string"]},
    "value": {"type": ["number", "boolean", "null"]},
    "note": {"type": ["string", "null"], "maxLength": 50},
}, "all"))

# --------------------------------------------------------------------------
# Miscellaneous application outputs
# --------------------------------------------------------------------------

add("flight_itinerary", obj({
    "confirmation": string(pattern=r"^[A-Z0-9]{6}$"),
    "passengers": array(obj({"first": string(), "last": string(),
                             "type": enum(["adult", "child", "infant"])}, "all"), 1, 9),
    "segments": array(obj({
        "flight": string(pattern=r"^[A-Z0-9]{2}[0-9]{1,4}$"),
        "from": string(pattern=IATA),
        "to": string(pattern=IATA),
        "departs": date_time(),
        "arrives": date_time(),
        "seat": nullable(string(pattern=r"^[0-9]{1,2}[A-K]$")),
    }, "all"), 1, 8),
    "total_fare": MONEY,
}, "all"))

add("hotel_booking", obj({
    "hotel": string(),
    "check_in": date(),
    "check_out": date(),
    "rooms": array(obj({
        "type": enum(["single", "double", "twin", "suite"]),
        "guests": integer(1, 4),
        "breakfast": boolean(),
    }, "all"), 1, 5),
    "special_requests": nullable(string(maxLength=500)),
    "refundable": boolean(),
}, "all"))

add("email_draft", obj({
    "to": array(email(), 1, 10),
    "subject": string(minLength=1, maxLength=150),
    "body": string(maxLength=2000),
    "tone": enum(["formal", "friendly", "apologetic", "assertive"]),
    "send_at": nullable(date_time()),
}, "all"))

add("sms_reply_suggestions", obj({
    "suggestions": array(string(minLength=1, maxLength=160), 1, 3),
}, "all"))

add("translation_result", obj({
    "source_language": string(pattern=LANG),
    "target_language": string(pattern=LANG),
    "translation": string(maxLength=2000),
    "glossary_hits": array(obj({"term": string(), "translation": string()}, "all"), max_items=20),
    "quality_estimate": number(0, 1),
}, "all"))

add("summarization_result", obj({
    "title": string(maxLength=100),
    "tldr": string(maxLength=280),
    "key_points": array(string(maxLength=300), 3, 7),
    "word_count": integer(0),
    "reading_time_minutes": integer(0, 600),
}, "all"))

add("code_review_findings", obj({
    "findings": array(obj({
        "file": string(pattern=FILE_PATH),
        "line_start": integer(1),
        "line_end": integer(1),
        "category": enum(["bug", "security", "performance", "style", "maintainability"]),
        "severity": enum(["low", "medium", "high", "critical"]),
        "message": string(maxLength=1000),
        "suggested_fix": nullable(string(maxLength=2000)),
    }, "all"), max_items=50),
    "overall_risk": enum(["low", "medium", "high"]),
}, "all"))

add("sql_generation", obj({
    "sql": string(pattern=r"^(SELECT|WITH) [^;]*;?$", maxLength=2000),
    "tables_used": array(string(pattern=SQL_IDENT), 1, 10),
    "explanation": string(maxLength=1000),
    "is_read_only": {"const": True},
}, "all"))

add("unit_test_plan", obj({
    "function": string(),
    "cases": array(obj({
        "name": string(pattern=r"^test_[a-z0-9_]+$"),
        "inputs": map_of({"type": ["string", "number", "boolean", "null"]}),
        "expected": {"type": ["string", "number", "boolean", "null"]},
        "kind": enum(["happy_path", "edge_case", "error"]),
    }, "all"), 1, 20),
}, "all"))

add("chatbot_reply", obj({
    "message": string(minLength=1, maxLength=2000),
    "suggested_replies": array(string(maxLength=40), max_items=3),
    "handoff_to_human": boolean(),
    "detected_language": string(pattern=r"^[a-z]{2}$"),
}, "all"))

add("seo_metadata", obj({
    "title": string(minLength=10, maxLength=60),
    "meta_description": string(minLength=50, maxLength=160),
    "slug": string(pattern=SLUG, maxLength=80),
    "keywords": array(string(maxLength=40), 3, 10),
    "og_image": nullable(uri()),
    "noindex": boolean(),
}, "all"))

add("math_solution", obj({
    "steps": array(obj({"explanation": string(), "output": string()}, "all"), 1, 20),
    "final_answer": number(),
    "units": nullable(string()),
}, "all"))

add("knowledge_graph", obj({
    "nodes": array(obj({
        "id": string(pattern=r"^n[0-9]+$"),
        "label": string(),
        "type": enum(["person", "organization", "place", "concept", "event"]),
    }, "all"), 1, 100),
    "edges": array(obj({
        "source": string(pattern=r"^n[0-9]+$"),
        "target": string(pattern=r"^n[0-9]+$"),
        "relation": string(pattern=r"^[a-z_]+$"),
        "weight": number(0, 1),
    }, "all"), max_items=200),
}, "all"))

add("spreadsheet_rows_tuples", obj({
    "header": {"type": "array", "prefixItems": [{"const": "date"}, {"const": "region"},
                                                {"const": "units"}, {"const": "revenue"}],
               "minItems": 4, "maxItems": 4},
    "rows": array({
        "type": "array",
        "prefixItems": [date(), enum(["north", "south", "east", "west"]), integer(0),
                        number(0)],
        "minItems": 4,
        "maxItems": 4,
    }, max_items=100),
}, "all"))

add("color_palette", obj({
    "name": string(),
    "colors": array(obj({"hex": string(pattern=HEX_COLOR), "name": string(),
                         "role": enum(["primary", "secondary", "accent", "background", "text"])},
                        "all"), 3, 8),
    "dark_mode": boolean(),
}, "all"))

add("ip_allowlist", obj({
    "name": string(),
    "entries": array(obj({
        "ip": ipv4(),
        "prefix_length": integer(0, 32),
        "comment": nullable(string(maxLength=100)),
        "expires": nullable(date()),
    }, "all"), max_items=256),
}, "all"))

add("uuid_batch", obj({
    "ids": array(uuid(), 1, 50),
    "generated_at": date_time(),
}, "all"))

add("survey_response", obj({
    "respondent_id": uuid(),
    "submitted_at": date_time(),
    "nps": integer(0, 10),
    "satisfaction": enum(["very_dissatisfied", "dissatisfied", "neutral", "satisfied",
                          "very_satisfied"]),
    "features_used": array(enum(["search", "export", "sharing", "api", "mobile"]), max_items=5),
    "comments": nullable(string(maxLength=2000)),
    "contact_ok": boolean(),
}, "all"))

add("medical_appointment_request", obj({
    "patient_name": string(),
    "date_of_birth": date(),
    "reason": string(maxLength=500),
    "urgency": enum(["routine", "soon", "urgent"]),
    "preferred_dates": array(date(), 1, 5),
    "preferred_time_of_day": enum(["morning", "afternoon", "evening", "any"]),
    "insurance_member_id": nullable(string(pattern=r"^[A-Z0-9]{6,15}$")),
}, "all"))

add("real_estate_listing", obj({
    "address": string(),
    "price": integer(0),
    "bedrooms": integer(0, 20),
    "bathrooms": number(0, 20),
    "square_feet": integer(100, 100000),
    "property_type": enum(["house", "condo", "townhouse", "apartment", "land"]),
    "year_built": nullable(integer(1700, 2030)),
    "features": array(string(), max_items=20),
    "location": obj({"lat": latitude(), "lon": longitude()}, "all"),
}, "all"))

add("crypto_transaction", obj({
    "hash": string(pattern=r"^0x[0-9a-f]{64}$"),
    "from": string(pattern=r"^0x[0-9a-fA-F]{40}$"),
    "to": {"type": ["string", "null"], "pattern": r"^0x[0-9a-fA-F]{40}$"},
    "value_wei": string(pattern=r"^[0-9]+$"),
    "gas_used": integer(21000),
    "status": enum(["success", "reverted"]),
    "block_number": integer(0),
}, "all"))

add("sports_match_result", obj({
    "competition": string(),
    "date": date(),
    "home": obj({"team": string(), "score": integer(0, 200)}, "all"),
    "away": obj({"team": string(), "score": integer(0, 200)}, "all"),
    "status": enum(["scheduled", "live", "finished", "postponed"]),
    "scorers": array(obj({"player": string(), "minute": integer(1, 130),
                          "team": enum(["home", "away"])}, "all"), max_items=30),
}, "all"))

add("version_bump_decision", obj({
    "current": string(pattern=SEMVER),
    "next": string(pattern=SEMVER),
    "bump": enum(["major", "minor", "patch", "none"]),
    "reasons": array(string(), max_items=10),
}, "all"))

add("form_field_spec", obj({
    "fields": array(obj({
        "name": string(pattern=r"^[a-z][a-zA-Z0-9]*$"),
        "label": string(maxLength=80),
        "kind": enum(["text", "textarea", "number", "date", "select", "checkbox"]),
        "required": boolean(),
        "options": array(string(), max_items=30),
        "placeholder": nullable(string()),
    }, "all"), 1, 25),
    "submit_label": string(default="Submit"),
}, ["fields"]))

add("time_tracking_entry", obj({
    "date": date(),
    "start": string(format="time"),
    "end": string(format="time"),
    "project": string(pattern=r"^[A-Z]{2,6}$"),
    "billable": boolean(),
    "description": string(maxLength=300),
}, "all"))

add("dns_record", obj({
    "name": string(pattern=r"^([a-z0-9-]+\.)*[a-z0-9-]+\.?$"),
    "type": enum(["A", "AAAA", "CNAME", "MX", "TXT", "NS"]),
    "ttl": integer(60, 86400, default=3600),
    "value": string(maxLength=255),
    "priority": nullable(integer(0, 65535)),
}, "all"))

add("empty_object_open", {"type": "object"})

add("top_level_array_of_strings", array(string(minLength=1, maxLength=50), 1, 10))

add("top_level_enum_only", {"enum": ["approve", "reject", "escalate"]})

add("top_level_const_bool_object", obj({"acknowledged": {"const": True}}, "all"))

# --------------------------------------------------------------------------
# Envelope variants of schemas above
# --------------------------------------------------------------------------


def _hoist(schema):
    """Split a schema into its body and its $defs/definitions so it can be nested."""
    body = copy.deepcopy(schema)
    defs = {}
    for key in ("$defs", "definitions"):
        if key in body:
            defs[key] = body.pop(key)
    for key in ("$schema", "$id"):
        body.pop(key, None)
    assert '"$ref": "#"' not in json.dumps(body), "cannot nest a schema that refers to its root"
    return body, defs


def _by_name(name):
    for entry in SCHEMAS:
        if entry["name"] == name:
            return entry["schema"]
    raise KeyError(name)


def list_of(name, key, min_items=0, max_items=20):
    body, defs = _hoist(_by_name(name))
    s = obj({key: array(body, min_items, max_items)}, "all")
    return {**defs, **s}


def paginated(name):
    body, defs = _hoist(_by_name(name))
    s = obj({
        "data": array(body, max_items=25),
        "pagination": obj({
            "page": integer(1),
            "per_page": integer(1, 100),
            "total": integer(0),
            "next_cursor": {"type": ["string", "null"]},
        }, "all"),
    }, "all")
    return {**defs, **s}


def api_result(name):
    body, defs = _hoist(_by_name(name))
    s = {
        "oneOf": [
            obj({"status": {"const": "ok"}, "result": body}, "all"),
            obj({"status": {"const": "error"},
                 "error": obj({"code": string(pattern=r"^[A-Z_]+$"), "message": string()}, "all")},
                "all"),
        ],
    }
    return {**defs, **s}


for _name, _key in [
    ("address_us", "addresses"), ("user_profile_basic", "users"),
    ("calendar_event_simple", "events"), ("classify_sentiment", "results"),
    ("movie_review_simple", "reviews"), ("geo_point", "points"),
    ("log_http_access", "entries"), ("pyd_contact_card", "contacts"),
    ("recipe_simple", "recipes"), ("pyd_product", "products"),
    ("github_issue_triage", "triage"), ("bank_transaction", "transactions"),
    ("weather_current", "observations"), ("dns_record", "records"),
    ("pyd_extracted_entities", "documents"), ("union_shape", "shapes"),
]:
    add("list_of_" + _name, list_of(_name, _key))

for _name in ["github_pull_request", "pyd_user_profile", "log_audit_event", "geo_place",
              "pyd_job_posting", "employee_record", "product_search_results", "survey_response"]:
    add("paginated_" + _name, paginated(_name))

for _name in ["invoice_simple", "k8s_configmap", "pyd_weather_report", "flight_itinerary",
              "classify_intent", "tool_send_email"]:
    add("api_result_" + _name, api_result(_name))

USES_NULLABLE = sorted(
    entry["name"] for entry in SCHEMAS if '"nullable": true' in json.dumps(entry["schema"])
)

# --------------------------------------------------------------------------
# Schemas the engine must refuse (one unsupported keyword each)
# --------------------------------------------------------------------------


def unsupported(name, keyword, schema):
    UNSUPPORTED.append({"name": name, "schema": schema, "keyword": keyword})


unsupported("unique_tags", "uniqueItems", obj({
    "tags": {"type": "array", "items": string(), "uniqueItems": True},
}, ["tags"]))

unsupported("unique_emails_tool", "uniqueItems", obj({
    "to": {"type": "array", "items": email(), "minItems": 1, "uniqueItems": True},
    "subject": string(),
}, ["to", "subject"]))

unsupported("quantity_multiple_of", "multipleOf", obj({
    "sku": string(pattern=SKU),
    "quantity": {"type": "integer", "minimum": 0, "multipleOf": 6},
}, "all"))

unsupported("price_multiple_of_cents", "multipleOf", obj({
    "price": {"type": "number", "minimum": 0, "multipleOf": 0.01},
}, "all"))

unsupported("extensions_pattern_properties", "patternProperties", {
    "type": "object",
    "properties": {"name": string()},
    "patternProperties": {"^x-": string()},
})

unsupported("role_not_admin", "not", obj({
    "role": {"type": "string", "not": {"const": "admin"}},
}, "all"))

unsupported("shipping_if_then", "if", {
    "type": "object",
    "properties": {"country": string(), "postal_code": string()},
    "required": ["country"],
    "if": {"properties": {"country": {"const": "US"}}},
    "then": {"required": ["postal_code"]},
})

unsupported("labels_min_properties", "minProperties", {
    "type": "object",
    "additionalProperties": string(),
    "minProperties": 1,
})

unsupported("labels_max_properties", "maxProperties", {
    "type": "object",
    "additionalProperties": string(),
    "maxProperties": 10,
})

unsupported("env_property_names", "propertyNames", {
    "type": "object",
    "additionalProperties": string(),
    "propertyNames": {"pattern": ENV_NAME},
})

unsupported("roles_contains_owner", "contains", obj({
    "roles": {"type": "array", "items": string(), "contains": {"const": "owner"}},
}, "all"))

unsupported("card_dependent_required", "dependentRequired", {
    "type": "object",
    "properties": {"card_number": string(), "billing_address": string(), "name": string()},
    "required": ["name"],
    "dependentRequired": {"card_number": ["billing_address"]},
})

unsupported("remote_ref_address", "$ref", obj({
    "name": string(),
    "address": {"$ref": "https://example.com/schemas/address.json"},
}, "all"))

unsupported("password_lookahead", "pattern", obj({
    "password": string(pattern=r"^(?=.*[0-9])(?=.*[A-Z])[A-Za-z0-9]{8,64}$"),
}, "all"))

unsupported("repeated_word_backreference", "pattern", obj({
    "token": string(pattern=r"^([a-z]+)-\1$"),
}, "all"))

unsupported("negative_lookahead_username", "pattern", obj({
    "username": string(pattern=r"^(?!admin)[a-z]{3,16}$"),
}, "all"))
