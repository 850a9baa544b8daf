"""Validation of ``/v1/chat/completions`` bodies into a `ChatRequest`, with Heroku's refusals.

Fields follow the Dev Center "OpenAI Compatibility for Chat Completions" page (stored 2025-10-13)
and Heroku's OpenAI SDK guide:

- supported: ``model``, ``messages``, ``modalities`` (text), ``max_completion_tokens`` (taken as
  ``max_tokens``), ``parallel_tool_calls`` (ignored for Nova, per the model table),
  ``reasoning_effort``, ``stop``, ``stream``, ``stream_options``, ``temperature``, ``tool_choice``,
  ``tool_options``, ``tools``, ``top_p``, ``user`` (SDK guide: "Full"); Heroku's own
  ``extended_thinking``, ``allow_ignored_params``, ``max_tokens`` and ``top_k``;
- "Yes, but ignored": ``n``, ``frequency_penalty``, ``logit_bias``, ``audio``, ``store``, ``metadata``
  (SDK guide: "Partial"), ``prediction``, ``presence_quality`` (sic) / ``presence_penalty`` (SDK
  guide), ``prompt_cache_key``, ``response_format`` (SDK guide: "Partial"), ``safety_identifier``,
  ``service_tier``, ``top_logprobs``, ``verbosity``, ``web_search_options``, and ``seed`` (SDK guide:
  "Ignored");
- ``logprobs``: the page lists it twice, "Yes" and "Yes, but ignored", and the choice field
  ``logprobs`` as "Yes". The simulator takes the stricter reading for clients: accepted (a boolean)
  and ignored, so every choice carries ``"logprobs": null``.

Anything else is a 400 unless ``allow_ignored_params`` is true ("The Managed Inference and Agents
Add-on API returns an error for unrecognized parameters"; the exact wording is unconfirmed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .catalogue import ModelInfo, find_model
from .errors import ApiError, invalid
from .images import Image
from .messages import check_messages
from .thinking import flag, thinking

KNOWN_FIELDS = frozenset(
    {
        "model", "messages", "modalities", "logprobs", "max_completion_tokens", "parallel_tool_calls",
        "reasoning_effort", "stop", "stream", "stream_options", "temperature", "tool_choice",
        "tool_options", "tools", "top_p", "n", "frequency_penalty", "audio", "logit_bias", "store",
        "metadata", "prediction", "presence_penalty", "presence_quality", "prompt_cache_key",
        "response_format", "safety_identifier", "service_tier", "top_logprobs", "verbosity",
        "web_search_options", "seed", "extended_thinking", "allow_ignored_params", "top_k", "max_tokens",
        "user",
    }
)  # fmt: skip

# Live wording (FLOSHIP, Bedrock passthrough); refused only on models whose table row says so.
TEMPERATURE_AND_TOP_P = (
    "ValidationException: `temperature` and `top_p` cannot both be specified for this model. "
    "Please use only one."
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
    include_usage: bool = False  # stream_options.include_usage
    images: tuple[Image, ...] = ()


def chat_model(model_id: Any) -> ModelInfo:
    """The table row of a chat model, or Heroku's 403 for anything else."""
    info = find_model(model_id) if isinstance(model_id, str) else None
    if info is None or not info.is_chat:
        raise ApiError(403, "you do not have access to that model")
    return info


def sampling(body: dict[str, Any], info: ModelInfo) -> tuple[float | None, float | None]:
    """(temperature, top_p), refusing the pair on models whose table row says so."""
    temperature = number_field(body, "temperature", 0.0, 1.0 if info.is_claude else 2.0)
    top_p = number_field(body, "top_p", 0.0, 1.0)
    if temperature is not None and top_p is not None and info.pair_refused:
        raise invalid(TEMPERATURE_AND_TOP_P)
    return temperature, top_p


def parse_chat_request(body: dict[str, Any]) -> ChatRequest:
    """Check ``body`` as Heroku does and return the parsed request, or raise `ApiError`."""
    for field in ("model", "messages"):
        if body.get(field) is None:
            raise invalid(f"Invalid request: '{field}' field is required")
    info = chat_model(body["model"])
    if body.get("allow_ignored_params") is not True:
        unknown = sorted(set(body) - KNOWN_FIELDS)
        if unknown:
            names = ", ".join(f"'{name}'" for name in unknown)
            raise invalid(
                f"Invalid request: unrecognized parameter(s) {names}; "
                "set allow_ignored_params to true to ignore them"
            )
    flag(body, "logprobs", False)  # accepted and ignored, but must be a boolean
    temperature, top_p = sampling(body, info)
    max_tokens = max_tokens_field(body, info)
    tools = _tools(body.get("tools"))
    if tools and not info.tools:
        raise invalid(f"Invalid request: model '{info.model_id}' does not support tools")
    tool_choice, forced_tool = _tool_choice(body.get("tool_choice"), tools)
    include_reasoning, budget = thinking(
        body, info, (temperature, top_p), max_tokens, tool_choice == "required"
    )
    messages, images = check_messages(body["messages"], bool(tools), info)
    # Nova ignores parallel_tool_calls (Dev Center compatibility page): it may call several tools.
    parallel = True if info.parallel_ignored else flag(body, "parallel_tool_calls", True)
    return ChatRequest(
        model=info.model_id,
        messages=messages,
        stream=flag(body, "stream", False),
        include_reasoning=include_reasoning,
        budget_tokens=budget,
        max_tokens=max_tokens,
        stop=stop_sequences(body.get("stop")),
        json_object=_json_object(body.get("response_format")),
        tools=tools,
        tool_choice=tool_choice,
        forced_tool=forced_tool,
        parallel_tool_calls=parallel,
        include_usage=_include_usage(body.get("stream_options")),
        images=images,
    )


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


def token_cap(tokens: int, info: ModelInfo) -> int:
    """``tokens`` if the model may produce that many, else a 400.

    Anthropic's wording with Bedrock's prefix; Heroku's exact text is unconfirmed.
    """
    if tokens > info.max_tokens:
        raise invalid(
            f"ValidationException: max_tokens: {tokens} > {info.max_tokens}, which is the maximum "
            f"allowed number of output tokens for {info.model_id}"
        )
    return tokens


def max_tokens_field(body: dict[str, Any], info: ModelInfo) -> int | None:
    """The tighter of ``max_tokens`` and ``max_completion_tokens``, within the model's cap."""
    limits = [
        token_cap(positive_int(body[name], name), info)
        for name in ("max_tokens", "max_completion_tokens")
        if body.get(name) is not None
    ]
    return min(limits) if limits else None


def _include_usage(value: Any) -> bool:
    """``stream_options.include_usage`` (an object with a boolean, or absent)."""
    if value is None:
        return False
    if not isinstance(value, dict):
        raise invalid("Invalid request: 'stream_options' must be an object")
    return flag(value, "include_usage", False)


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
