"""The values a chat response is made of: its typed events and its result, frozen, no I/O.

A response is a sequence of events ending in exactly one terminal event, :class:`Done` or
:class:`Error`, which carries the :class:`ChatResult`. Renderers and the response state
(``result.py``) consume the same sequence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer; ``refusal`` marks text the model sent as a refusal."""

    text: str
    refusal: bool = False


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's extended-thinking trace."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of a tool call being streamed; ``index`` is the call's position in the answer."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True)
class ToolCall:
    """A complete tool call the model asked for."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON (an empty string is no arguments)."""
        return json.loads(self.arguments) if self.arguments.strip() else {}

    def to_message(self) -> dict[str, Any]:
        """The call in OpenAI's ``tool_calls`` message shape."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class ToolResult:
    """What running a tool returned, sent back as a ``tool`` message."""

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Usage:
    """Token counts; ``reasoning_tokens`` where the server reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class ResponseInfo:
    """Facts about the response as they become known: model, ids, finish reason."""

    model: str | None = None
    response_id: str | None = None
    request_id: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class ChatResult:
    """One model response: answer, reasoning, tool calls, usage and timings."""

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None
    response_id: str | None = None
    request_id: str | None = None
    time_to_first_token: float | None = None
    thinking_time: float | None = None
    total_time: float = 0.0
    interrupted: bool = False
    refusal: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens over the time spent generating them, when both are known."""
        if not self.usage or not self.usage.completion_tokens:
            return None
        generating = self.total_time - (self.time_to_first_token or 0.0)
        return self.usage.completion_tokens / generating if generating > 0 else None

    def json(self) -> Any:
        """The answer parsed as JSON (for JSON-mode responses); tolerates a fenced ```json block."""
        text = self.text.strip()
        if text.startswith("```"):
            text = text.split("\n", 1)[1] if "\n" in text else ""
            text = text.rsplit("```", 1)[0]
        return json.loads(text)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Done:
    """The response ended normally; carries everything accumulated."""

    result: ChatResult


@dataclass(frozen=True)
class Error:
    """The response failed; carries the error and whatever arrived before it."""

    error: Exception
    result: ChatResult


Event = (
    TextDelta | ReasoningDelta | ToolCallDelta | ToolCall | ToolResult | Usage | ResponseInfo | Done | Error
)
