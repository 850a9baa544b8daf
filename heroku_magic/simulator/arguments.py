"""Tool-call arguments from a JSON schema: deterministic samples, prompt values, deliberate breakage.

`build_arguments` fills an object schema's required properties with sample values by type and
applies ``key=value`` pairs from the prompt; `invalid_arguments` and `malformed_arguments` spoil
good arguments on purpose, for the ``invalid arguments`` / ``malformed arguments`` directives
documented in `heroku_magic.simulator.toolcalls`.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_DEPTH = 6


def build_arguments(schema: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Arguments for a JSON-schema ``object``: required properties sampled, prompt values applied."""
    return _object(schema, schema, given, 0)


def malformed_arguments(arguments: dict[str, Any]) -> str:
    """``arguments`` as JSON cut short by one character: an unterminated object, never valid JSON."""
    return json.dumps(arguments)[:-1]


def invalid_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str:
    """Valid JSON that breaks ``schema``: a required property left out, else one of the wrong type.

    A schema with no properties at all gets an unknown property (invalid only when the schema
    forbids additional properties: nothing else can break it while staying an object).
    """
    broken = dict(arguments)
    required = schema.get("required")
    properties = schema.get("properties")
    if isinstance(required, list) and required:
        broken.pop(required[0], None)
    elif isinstance(properties, dict) and properties:
        name, prop = next(iter(properties.items()))
        broken[name] = _wrong_value(_resolve(prop, schema))
    else:
        broken["unexpected_argument"] = True
    return json.dumps(broken)


def _wrong_value(schema: dict[str, Any]) -> Any:
    """A value whose JSON type differs from the schema's."""
    return 12345 if _type(schema) in (None, "string") else "not a valid value"


def _object(
    schema: dict[str, Any], root: dict[str, Any], given: dict[str, str], depth: int
) -> dict[str, Any]:
    """Fill an object schema's required properties (and any the prompt gives) in schema order."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    arguments = {}
    for name, prop in properties.items():
        prop = _resolve(prop, root)
        if name in given:
            arguments[name] = _coerce(given[name], prop)
        elif name in required:
            arguments[name] = _sample(name, prop, root, depth + 1)
    return arguments


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (pydantic puts nested models under ``$defs``) and pick the first union arm."""
    for _ in range(_MAX_DEPTH):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
            continue
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list) and options:
            # Prefer a non-null arm, so Optional[X] samples an X.
            schema = next((o for o in options if isinstance(o, dict) and o.get("type") != "null"), options[0])
            continue
        return schema
    return {}


def _type(schema: dict[str, Any]) -> str | None:
    """The schema's JSON type (the first non-null one of a list)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _sample(name: str, schema: dict[str, Any], root: dict[str, Any], depth: int) -> Any:
    """A deterministic sample value for a property schema."""
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = _type(schema)
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return []
        return [_sample(name, _resolve(schema.get("items", {}), root), root, depth + 1)]
    if kind == "object":
        return {} if depth >= _MAX_DEPTH else _object(schema, root, {}, depth)
    return f"sample {name}"


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A prompt-given string converted to the property's type when it parses as one."""
    kind = _type(schema)
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind in ("array", "object"):
            return json.loads(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() in ("true", "yes", "1", "on")
    return value
