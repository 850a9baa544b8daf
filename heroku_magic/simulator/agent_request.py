"""Validation of ``/v1/agents/heroku`` bodies into an `AgentRequest`, failing closed with 400s.

The rules (and their messages) are listed in `heroku_magic.simulator.agents`. The message checks
(roles, content, tool-call shapes, Anthropic's pairing rules) are the chat endpoint's, so a
client may replay earlier agent steps (an assistant message with ``tool_calls`` answered by
``tool`` messages) in later turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalogue import ModelInfo
from .errors import invalid
from .messages import check_messages
from .validation import chat_model, positive_int, sampling, stop_sequences

# The fields Heroku documents for the agents endpoint; anything else is refused.
AGENT_FIELDS = frozenset(
    {"model", "messages", "tools", "temperature", "top_p", "stop", "max_tokens_per_inference_request"}
)
TOOL_TYPES = ("heroku_tool", "mcp")
TOOL_FIELDS = frozenset({"type", "name", "description", "runtime_params"})
RUNTIME_FIELDS = frozenset({"target_app_name", "dyno_size", "ttl_seconds", "max_calls", "tool_params"})
MAX_TTL_SECONDS = 120
DEFAULT_DYNO_SIZE = "standard-1x"
DEFAULT_MAX_CALLS = 3


@dataclass(frozen=True)
class AgentTool:
    """A tool the agent may call, with its runtime parameters (defaults filled in)."""

    type: str
    name: str
    description: str | None = None
    target_app_name: str | None = None
    dyno_size: str = DEFAULT_DYNO_SIZE
    ttl_seconds: int = MAX_TTL_SECONDS
    max_calls: int = DEFAULT_MAX_CALLS
    tool_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentRequest:
    """A validated agents request: only what the simulated agent needs."""

    model: str
    messages: list[dict[str, Any]]
    tools: tuple[AgentTool, ...] = ()
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None  # max_tokens_per_inference_request


def parse_agent_request(body: dict[str, Any]) -> AgentRequest:
    """Check ``body`` and return the parsed request, or raise `ApiError` (400, or 403 for the model)."""
    for name in ("model", "messages"):
        if body.get(name) is None:
            raise invalid(f"Invalid request: '{name}' field is required")
    info = chat_model(body["model"])
    unknown = sorted(set(body) - AGENT_FIELDS)
    if unknown:
        names = ", ".join(f"'{name}'" for name in unknown)
        raise invalid(f"Invalid request: unrecognized parameter(s) {names} for /v1/agents/heroku")
    sampling(body, info)  # temperature and top_p: ranges, and the pair on the models that refuse it
    tools = _tools(body.get("tools"))
    messages, _ = check_messages(body["messages"], bool(tools), info)
    return AgentRequest(
        model=info.model_id,
        messages=messages,
        tools=tools,
        stop=stop_sequences(body.get("stop")),
        max_tokens=_max_tokens(body.get("max_tokens_per_inference_request"), info),
    )


def _max_tokens(value: Any, info: ModelInfo) -> int | None:
    """``max_tokens_per_inference_request``: a positive integer within the model's limit (model table)."""
    if value is None:
        return None
    tokens = positive_int(value, "max_tokens_per_inference_request")
    highest, model_id = info.max_tokens, info.model_id
    if tokens > highest:
        raise invalid(
            f"Invalid request: 'max_tokens_per_inference_request' must be at most {highest} "
            f"for model '{model_id}'"
        )
    return tokens


def _tools(value: Any) -> tuple[AgentTool, ...]:
    """The offered tools: Heroku tools and MCP tools, each named once."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid("Invalid request: 'tools' must be a list")
    tools = tuple(_tool(tool, f"tools[{index}]") for index, tool in enumerate(value))
    names = [tool.name for tool in tools]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise invalid(f"Invalid request: tool names must be unique: {', '.join(repeated)}")
    return tools


def _tool(tool: Any, where: str) -> AgentTool:
    """One tool object, checked field by field."""
    if not isinstance(tool, dict):
        raise invalid(f"Invalid request: {where} must be an object")
    if tool.get("type") not in TOOL_TYPES:
        raise invalid(f"Invalid request: {where}.type must be one of heroku_tool, mcp")
    unknown = sorted(set(tool) - TOOL_FIELDS)
    if unknown:
        raise invalid(f"Invalid request: {where}: unrecognized field(s) {', '.join(unknown)}")
    name = tool.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid(f"Invalid request: {where}.name is required")
    description = tool.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid(f"Invalid request: {where}.description must be a string")
    params = tool.get("runtime_params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise invalid(f"Invalid request: {where}.runtime_params must be an object")
    return _runtime(tool["type"], name, description, params, f"{where}.runtime_params")


def _runtime(kind: str, name: str, description: str | None, params: dict[str, Any], where: str) -> AgentTool:
    """The tool with its ``runtime_params`` checked and defaulted."""
    unknown = sorted(set(params) - RUNTIME_FIELDS)
    if unknown:
        raise invalid(f"Invalid request: {where}: unrecognized field(s) {', '.join(unknown)}")
    app = params.get("target_app_name")
    if app is not None and (not isinstance(app, str) or not app.strip()):
        raise invalid(f"Invalid request: {where}.target_app_name must be a non-empty string")
    if kind == "heroku_tool" and app is None:
        raise invalid(f"Invalid request: {where}.target_app_name is required for heroku_tool '{name}'")
    dyno_size = params.get("dyno_size", DEFAULT_DYNO_SIZE)
    if not isinstance(dyno_size, str) or not dyno_size:
        raise invalid(f"Invalid request: {where}.dyno_size must be a string")
    ttl = params.get("ttl_seconds", MAX_TTL_SECONDS)
    positive_int(ttl, f"{where}.ttl_seconds")
    if ttl > MAX_TTL_SECONDS:
        raise invalid(f"Invalid request: {where}.ttl_seconds must be at most {MAX_TTL_SECONDS}")
    max_calls = positive_int(params.get("max_calls", DEFAULT_MAX_CALLS), f"{where}.max_calls")
    tool_params = params.get("tool_params")
    if tool_params is None:
        tool_params = {}
    if not isinstance(tool_params, dict):
        raise invalid(f"Invalid request: {where}.tool_params must be an object")
    for key in ("cmd", "db_attachment"):
        if key in tool_params and not isinstance(tool_params[key], str):
            raise invalid(f"Invalid request: {where}.tool_params.{key} must be a string")
    return AgentTool(kind, name, description, app, dyno_size, ttl, max_calls, dict(tool_params))
