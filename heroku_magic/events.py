"""The typed events a chat response is made of: frozen values, no I/O.

A response is a sequence of events ending in exactly one terminal event, :class:`Done` or
:class:`Error`. Renderers and the accumulator consume the same sequence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import ChatResult


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
