"""Deterministic tool-call planning: which offered tools to call and with what arguments."""

from __future__ import annotations

import json
import re
from typing import Any

from .validation import ChatRequest, Tool

_ANY_TOOL = re.compile(r"\b(?:use|call)\s+(?:a|any|the|some)\s+tools?\b", re.IGNORECASE)
_KEY_VALUE = re.compile(r"""(\w+)=("[^"]*"|'[^']*'|[^\s,;]+)""")
_MAX_DEPTH = 6


def plan_tool_calls(request: ChatRequest, prompt: str) -> list[tuple[Tool, str]]:
    """The tools the simulated model calls for ``prompt``, each with its JSON ``arguments``."""
    if not request.tools or request.tool_choice == "none":
        return []
    by_name = {tool.name: tool for tool in request.tools}
    if request.forced_tool is not None:
        chosen = [by_name[request.forced_tool]]
    else:
        chosen = _mentioned(request.tools, prompt)
        if not chosen and (request.tool_choice == "required" or _ANY_TOOL.search(prompt)):
            chosen = [request.tools[0]]
        if not request.parallel_tool_calls:
            chosen = chosen[:1]
    given = _key_values(prompt)
    return [(tool, json.dumps(build_arguments(tool.parameters, given))) for tool in chosen]


def _mentioned(tools: tuple[Tool, ...], prompt: str) -> list[Tool]:
    """Tools whose names appear in the prompt as whole words, in the order the prompt names them."""
    found = []
    for tool in tools:
        match = re.search(rf"(?<![\w-]){re.escape(tool.name)}(?![\w-])", prompt, re.IGNORECASE)
        if match:
            found.append((match.start(), tool))
    return [tool for _, tool in sorted(found, key=lambda item: item[0])]


def _key_values(prompt: str) -> dict[str, str]:
    """``key=value`` pairs written in the prompt (quotes removed)."""
    pairs = {}
    for key, value in _KEY_VALUE.findall(prompt):
        pairs[key] = value[1:-1] if value[:1] in "\"'" and len(value) > 1 else value
    return pairs


def build_arguments(schema: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Arguments for a JSON-schema ``object``: required properties sampled, prompt values applied."""
    return _object(schema, schema, given, 0)


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
