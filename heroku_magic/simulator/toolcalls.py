"""Deterministic tool calling: which offered tools the simulated model calls, how often, with what.

The prompt is the text of the LAST user message. A *turn* is that message and everything after it;
the turn's *rounds so far* are its assistant messages that carry ``tool_calls`` (each one answered
by ``tool`` messages, as the pairing rules in `heroku_magic.simulator.pairing` demand).

Prompt directives for tools (case-insensitive, anywhere in the prompt):

naming a tool
    When the request offers ``tools`` and ``tool_choice`` is not ``"none"``, a prompt that names a
    tool as a whole word (``get_weather``) calls it; naming several calls them in parallel, in the
    order the prompt names them (only the first when ``parallel_tool_calls`` is false).
    ``use a tool`` / ``call any tool`` (``use|call`` + ``a|any|the|some`` + ``tool(s)``) calls the
    first offered tool. ``tool_choice: "required"`` calls the named tools or else the first one;
    ``tool_choice: {"type": "function", ...}`` calls that function whatever the prompt says.
``key=value``
    Sets the argument of that name (``city=Paris``, ``days=3``, ``note="two words"``), converted
    to the property's type. Other required properties get sample values by type (enum: first value,
    string: ``"sample <name>"``, integer: 1, number: 1.5, boolean: true); optional ones are left out.
``N rounds`` / ``N times``
    A number, whitespace, then ``round``/``rounds``/``time``/``times`` (``call get_weather 3 rounds
    in a row``, ``get_time 2 times``): after each round of tool results, the same tools are called
    again until the turn has N rounds, then the model answers. N is clamped to 1..50.
    Without it the turn has ONE round: a request whose last message is a tool result and whose
    rounds are done is answered with text, never with another call (no endless tool loop).
``malformed arguments``
    The first round's ``arguments`` are not JSON: the good object cut short (``{"city": "Paris"``).
``invalid arguments``
    The first round's ``arguments`` are JSON that breaks the schema: the first required property
    left out, or without required properties the first property given a value of the wrong type.
    With either of these two the bad round is an EXTRA round: the model calls again with good
    arguments after the client's (error) result, so ``malformed arguments`` alone means two rounds
    and ``malformed arguments 2 rounds`` three. Note that Heroku answers 500 to a history whose
    ``arguments`` are not JSON: a client must repair them (e.g. to ``"{}"``) before sending back.

Replies that call tools have empty content (``""``; streamed: no content deltas), as Heroku's do.
Call ids look like Heroku's, ``tooluse_`` + 22 URL-safe characters, and are derived from the
request: the same request (streamed or not) gets the same ids.

When the turn's rounds are done (or no tool is to be called) after tool results, the answer quotes
each tool message of the turn, in order, one paragraph each, flattened to one line and cut to 200
characters, then closes with a sentence::

    get_weather returned: {"temp": 21}

    get_weather returned: Error: city not found

    Based on 2 tool results from 2 rounds, that answers "call get_weather 2 rounds".
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .arguments import build_arguments, invalid_arguments, malformed_arguments
from .validation import ChatRequest, Tool

ANY_TOOL = re.compile(r"\b(?:use|call)\s+(?:a|any|the|some)\s+tools?\b", re.IGNORECASE)
_KEY_VALUE = re.compile(r"""(\w+)=("[^"]*"|'[^']*'|[^\s,;]+)""")
_ROUNDS = re.compile(r"\b(\d+)\s+(?:rounds?|times?)\b", re.IGNORECASE)
_MALFORMED = re.compile(r"\bmalformed\s+arguments\b", re.IGNORECASE)
_INVALID = re.compile(r"\binvalid\s+arguments\b", re.IGNORECASE)
MAX_ROUNDS = 50
ID_CHARS = 22


@dataclass(frozen=True)
class ToolCall:
    """A tool call the simulated model makes."""

    id: str
    name: str
    arguments: str


def current_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last user message and everything after it (all messages when there is no user message)."""
    starts = [index for index, message in enumerate(messages) if message.get("role") == "user"]
    return messages[starts[-1] if starts else 0 :]


def tool_rounds(turn: list[dict[str, Any]]) -> int:
    """How many assistant messages of ``turn`` carry tool calls."""
    return sum(1 for m in turn if m.get("role") == "assistant" and m.get("tool_calls"))


def requested_rounds(prompt: str) -> int:
    """The ``N rounds`` / ``N times`` of the prompt, clamped to 1..50 (1 without one)."""
    match = _ROUNDS.search(prompt)
    return min(max(int(match.group(1)), 1), MAX_ROUNDS) if match else 1


def wanted_rounds(prompt: str) -> int:
    """The tool rounds the prompt asks for, counting a deliberately bad first round."""
    extra = 1 if _MALFORMED.search(prompt) or _INVALID.search(prompt) else 0
    return requested_rounds(prompt) + extra


def plan_tool_calls(request: ChatRequest, prompt: str) -> tuple[ToolCall, ...]:
    """The calls the simulated model makes now for ``prompt``; none once the turn's rounds are done."""
    if not request.tools or request.tool_choice == "none":
        return ()
    done = tool_rounds(current_turn(request.messages))
    if done and done >= wanted_rounds(prompt):
        return ()
    by_name = {tool.name: tool for tool in request.tools}
    if request.forced_tool is not None:
        chosen = [by_name[request.forced_tool]]
    else:
        chosen = _mentioned(request.tools, prompt)
        if not chosen and (request.tool_choice == "required" or ANY_TOOL.search(prompt)):
            chosen = [request.tools[0]]
        if not request.parallel_tool_calls:
            chosen = chosen[:1]
    ids = _call_ids(request, len(chosen))
    return tuple(
        ToolCall(call_id, tool.name, _arguments(tool, prompt, first_round=not done))
        for call_id, tool in zip(ids, chosen, strict=True)
    )


def _arguments(tool: Tool, prompt: str, first_round: bool) -> str:
    """The JSON ``arguments`` of a call, spoiled in the first round when the prompt asks for it."""
    arguments = build_arguments(tool.parameters, key_values(prompt))
    if first_round and _MALFORMED.search(prompt):
        return malformed_arguments(arguments)
    if first_round and _INVALID.search(prompt):
        return invalid_arguments(tool.parameters, arguments)
    return json.dumps(arguments)


def _call_ids(request: ChatRequest, count: int) -> list[str]:
    """Heroku-style ids (``tooluse_`` + 22 URL-safe characters), a function of the request."""
    conversation = json.dumps([request.model, request.messages], sort_keys=True, default=str)
    ids = []
    for index in range(count):
        digest = hashlib.sha256(f"{index}:{conversation}".encode()).digest()
        ids.append("tooluse_" + base64.urlsafe_b64encode(digest).decode()[:ID_CHARS])
    return ids


def _mentioned(tools: tuple[Tool, ...], prompt: str) -> list[Tool]:
    """Tools whose names appear in the prompt as whole words, in the order the prompt names them."""
    found = []
    for tool in tools:
        match = re.search(rf"(?<![\w-]){re.escape(tool.name)}(?![\w-])", prompt, re.IGNORECASE)
        if match:
            found.append((match.start(), tool))
    return [tool for _, tool in sorted(found, key=lambda item: item[0])]


def key_values(prompt: str) -> dict[str, str]:
    """``key=value`` pairs written in the prompt (quotes removed)."""
    pairs = {}
    for key, value in _KEY_VALUE.findall(prompt):
        pairs[key] = value[1:-1] if value[:1] in "\"'" and len(value) > 1 else value
    return pairs
