"""Validation of ``/v1/chat/completions`` bodies into a `ChatRequest`, with Heroku's refusals."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .catalogue import find_model
from .errors import ApiError, invalid
from .pairing import check_tool_pairing

# The Dev Center compatibility table (supported and "Yes, but ignored") plus Heroku's own fields.
KNOWN_FIELDS = frozenset(
    {
        "model", "messages", "modalities", "logprobs", "max_completion_tokens", "parallel_tool_calls",
        "reasoning_effort", "stop", "stream", "stream_options", "temperature", "tool_choice",
        "tool_options", "tools", "top_p", "n", "frequency_penalty", "audio", "logit_bias", "store",
        "metadata", "prediction", "presence_penalty", "presence_quality", "prompt_cache_key",
        "response_format", "safety_identifier", "service_tier", "top_logprobs", "verbosity",
        "web_search_options", "extended_thinking", "allow_ignored_params", "top_k", "max_tokens", "user",
    }
)  # fmt: skip

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
THINKING_MIN_BUDGET = 1024
# Heroku maps reasoning_effort to fixed budgets it does not publish; these are plausible stand-ins.
EFFORT_BUDGETS = {"low": 1024, "medium": 2048, "high": 4096}
_TEXT_PARTS = frozenset({"text", "image_url"})

MISSING_CONTENT = "content is required"
TEMPERATURE_AND_TOP_P = (
    "ValidationException: `temperature` and `top_p` cannot both be specified for this model. "
    "Please use only one."
)
THINKING_TEMPERATURE = "ValidationException: `temperature` may only be set to 1 when thinking is enabled."
THINKING_TOP_P = "ValidationException: `top_p` must be unset when thinking is enabled."
THINKING_BUDGET = (
    "ValidationException: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
)


@dataclass(frozen=True)
class Tool:
    """A function tool offered by the request."""

    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request: only what the simulated models need."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_reasoning: bool = False
    budget_tokens: int | None = None  # the model thinks when set (extended_thinking or reasoning_effort)
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    json_object: bool = False
    tools: tuple[Tool, ...] = ()
    tool_choice: str = "auto"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True


def parse_chat_request(body: dict[str, Any]) -> ChatRequest:
    """Check ``body`` as Heroku does and return the parsed request, or raise `ApiError`."""
    for field in ("model", "messages"):
        if body.get(field) is None:
            raise invalid(f"Invalid request: '{field}' field is required")
    model_id = body["model"]
    info = find_model(model_id) if isinstance(model_id, str) else None
    if info is None or not info.is_chat:
        raise ApiError(403, "you do not have access to that model")
    if body.get("allow_ignored_params") is not True:
        unknown = sorted(set(body) - KNOWN_FIELDS)
        if unknown:
            names = ", ".join(f"'{name}'" for name in unknown)
            raise invalid(
                f"Invalid request: unrecognized parameter(s) {names}; "
                "set allow_ignored_params to true to ignore them"
            )
    temperature = number_field(body, "temperature", 0.0, 1.0 if model_id.startswith("claude") else 2.0)
    top_p = number_field(body, "top_p", 0.0, 1.0)
    if temperature is not None and top_p is not None:
        raise invalid(TEMPERATURE_AND_TOP_P)
    include_reasoning, budget = _thinking(body, model_id, info.thinking, temperature, top_p)
    tools = _tools(body.get("tools"))
    tool_choice, forced_tool = _tool_choice(body.get("tool_choice"), tools)
    messages = check_messages(body["messages"], bool(tools))
    return ChatRequest(
        model=model_id,
        messages=messages,
        stream=_flag(body, "stream", False),
        include_reasoning=include_reasoning,
        budget_tokens=budget,
        max_tokens=_max_tokens(body),
        stop=stop_sequences(body.get("stop")),
        json_object=_json_object(body.get("response_format")),
        tools=tools,
        tool_choice=tool_choice,
        forced_tool=forced_tool,
        parallel_tool_calls=_flag(body, "parallel_tool_calls", True),
    )


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean field, or its default when absent or null."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"Invalid request: '{name}' must be a boolean")
    return value


def number_field(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    """A numeric field within [low, high], or None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(f"Invalid request: '{name}' must be a number")
    if not low <= value <= high:
        raise invalid(f"ValidationException: {name}: Input should be between {low:g} and {high:g}")
    return float(value)


def positive_int(value: Any, name: str) -> int:
    """``value`` as a positive integer, or a 400 naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"Invalid request: '{name}' must be a positive integer")
    return value


def _max_tokens(body: dict[str, Any]) -> int | None:
    """The tighter of ``max_tokens`` and ``max_completion_tokens``."""
    limits = [
        positive_int(body[name], name)
        for name in ("max_tokens", "max_completion_tokens")
        if body.get(name) is not None
    ]
    return min(limits) if limits else None


def _thinking(
    body: dict[str, Any], model_id: str, supported: bool, temperature: float | None, top_p: float | None
) -> tuple[bool, int | None]:
    """(include_reasoning, thinking budget) from ``extended_thinking`` and ``reasoning_effort``."""
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORT_BUDGETS:
        raise invalid("Invalid request: 'reasoning_effort' must be one of low, medium, high")
    budget = EFFORT_BUDGETS.get(effort) if isinstance(effort, str) else None
    settings = body.get("extended_thinking")
    if settings is None:
        return False, budget
    if not isinstance(settings, dict):
        raise invalid("Invalid request: 'extended_thinking' must be an object")
    enabled = _flag(settings, "enabled", False)
    include = _flag(settings, "include_reasoning", False)
    if not enabled:
        return False, budget
    if not supported:
        raise invalid(f"Invalid request: extended thinking is not supported for model '{model_id}'")
    raw_budget = settings.get("budget_tokens", THINKING_MIN_BUDGET)
    if isinstance(raw_budget, bool) or not isinstance(raw_budget, int):
        raise invalid("Invalid request: 'extended_thinking.budget_tokens' must be an integer")
    if raw_budget < THINKING_MIN_BUDGET:
        raise invalid(THINKING_BUDGET)
    if temperature is not None and temperature != 1:
        raise invalid(THINKING_TEMPERATURE)
    if top_p is not None:
        raise invalid(THINKING_TOP_P)
    return include, raw_budget


def stop_sequences(value: Any) -> tuple[str, ...]:
    """Stop sequences as a tuple (a string or a list of strings)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item for item in value if item)
    raise invalid("Invalid request: 'stop' must be a string or a list of strings")


def _json_object(value: Any) -> bool:
    """Whether ``response_format`` asks for a JSON object (other formats are ignored, as Heroku does)."""
    return isinstance(value, dict) and value.get("type") == "json_object"


def _tools(value: Any) -> tuple[Tool, ...]:
    """The offered function tools; Heroku supports no other tool type."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid("Invalid request: 'tools' must be a list")
    tools = []
    for index, tool in enumerate(value):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise invalid(f"Invalid request: tools[{index}]: only function tools are supported")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"Invalid request: tools[{index}].function.name is required")
        parameters = function.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise invalid(f"Invalid request: tools[{index}].function.parameters must be an object")
        tools.append(Tool(name, parameters))
    return tuple(tools)


def _tool_choice(value: Any, tools: tuple[Tool, ...]) -> tuple[str, str | None]:
    """(mode, forced tool name) from ``tool_choice``."""
    if value is None:
        return "auto", None
    if value in ("none", "auto", "required"):
        if value == "required" and not tools:
            raise invalid("Invalid request: tool_choice 'required' needs tools")
        return str(value), None
    function = value.get("function") if isinstance(value, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(value, dict) or value.get("type") != "function" or not isinstance(name, str):
        raise invalid("Invalid request: 'tool_choice' must be none, auto, required or a function choice")
    if name not in {tool.name for tool in tools}:
        raise invalid(f"Invalid request: tool_choice names unknown tool '{name}'")
    return "required", name


def check_messages(value: Any, has_tools: bool) -> list[dict[str, Any]]:
    """The messages, checked the way Heroku (and Bedrock behind it) checks them."""
    if not isinstance(value, list) or not value:
        raise invalid("Invalid request: 'messages' must be a non-empty list")
    broken_arguments = False
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            raise invalid(f"Invalid request: messages[{index}] must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise invalid(
                f"Invalid request: messages[{index}].role must be one of {', '.join(sorted(ROLES))}"
            )
        content = message.get("content")
        _check_content(content, index)
        # Bedrock refuses empty text blocks, so every role (assistant with tool_calls too) needs content.
        if _is_empty(content):
            raise invalid(f"Invalid request: messages[{index}]: {MISSING_CONTENT}")
        tool_calls = message.get("tool_calls")
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise invalid(f"Invalid request: messages[{index}].tool_call_id is required")
        if role == "assistant" and tool_calls is not None:
            broken_arguments = broken_arguments or _has_broken_arguments(tool_calls, index)
    check_tool_pairing(value, has_tools)
    if broken_arguments:
        # Heroku fails deep inside the backend on unparseable arguments, hence a 500 (FLOSHIP).
        raise ApiError(500, "Failed to execute chat")
    return value


def _check_content(content: Any, index: int) -> None:
    """Content must be a string, a list of text/image parts, or absent."""
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(f"Invalid request: messages[{index}].content must be a string or a list of parts")
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS:
            raise invalid(f"Invalid request: messages[{index}]: only text and image_url content is supported")


def _is_empty(content: Any) -> bool:
    """Whether content carries no text (or image) at all."""
    if isinstance(content, list):
        return not any(
            part.get("type") == "image_url" or str(part.get("text") or "").strip() for part in content
        )
    return not isinstance(content, str) or not content.strip()


def _has_broken_arguments(tool_calls: Any, index: int) -> bool:
    """Check tool-call shapes; report whether any ``arguments`` string is not JSON."""
    if not isinstance(tool_calls, list):
        raise invalid(f"Invalid request: messages[{index}].tool_calls must be a list")
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(f"Invalid request: messages[{index}].tool_calls need a function name")
        if not isinstance(call.get("id"), str) or not call["id"]:
            raise invalid(f"Invalid request: messages[{index}].tool_calls need an id")
        try:
            json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            return True
    return False
