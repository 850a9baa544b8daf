"""The values a chat turn is made of: its typed events, its steps and its result, frozen, no I/O.

A turn is a sequence of events ending in exactly one terminal event, :class:`Done` or
:class:`Error`, which carries the :class:`ChatResult`. A turn with tool calls has several steps
(model calls): :class:`NewStep` separates them, and the :class:`ToolResult` events between them
answer the calls of the step before. Renderers and the response state (``result.py``) consume the
same sequence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_JSON_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL | re.IGNORECASE)

Content = str | Sequence[Mapping[str, Any]]
"""A user message's content: text, or OpenAI content parts (``{"type": "text", "text": ...}``, images)."""


def content_text(content: Content) -> str:
    """The content as text for display: text parts as they are, any other part as a ``[type]`` line.

    An image from :mod:`heroku_magic.images` is ``[image: NAME, 120 kB]`` (its private
    ``_heroku_image`` key), or ``[image: URL]`` for a URL sent as it is: never its base64.
    """
    if isinstance(content, str):
        return content

    def line(part: Mapping[str, Any]) -> str:
        if part.get("type") == "text":
            return str(part.get("text", ""))
        meta = part.get("_heroku_image")
        if part.get("type") == "image_url" and isinstance(meta, Mapping) and meta.get("label"):
            return f"[image: {meta['label']}]"
        if part.get("type") == "image_url":  # a part built by hand: what its URL says
            image_url = part.get("image_url")
            url = str(image_url.get("url", "")) if isinstance(image_url, Mapping) else ""
            head, comma, data = url.partition(",")
            if url.startswith("data:") and comma:
                return f"[image: {head[5:].split(';')[0] or 'data'}, {len(data) * 3 // 4:,} bytes]"
            return f"[image: {url[:200]}]" if url else "[image]"
        return f"[{part.get('type', 'part')}]"

    return "\n\n".join(line(part) for part in content)


def wire_content(content: Content) -> str | list[dict[str, Any]]:
    """The content as a request sends it (a part's private ``_`` keys, such as an image's name, left out)."""
    if isinstance(content, str):
        return content
    return [{key: value for key, value in part.items() if not key.startswith("_")} for part in content]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer; ``refusal`` marks text the model sent as a refusal."""

    text: str
    refusal: bool = False


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's extended-thinking trace; ``fields`` are any other keys of its object."""

    text: str
    fields: Mapping[str, Any] | None = None  # e.g. a signature: sent back unchanged within the turn


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
    duration: float | None = None  # seconds the tool ran, when it ran here


@dataclass(frozen=True)
class ToolStatus:
    """A tool call waiting for the user's approval (``awaiting``) or running (``running``)."""

    tool_call_id: str
    status: str


@dataclass(frozen=True)
class Logprobs:
    """Log probabilities of the answer's tokens, as the server sent them (``--logprobs``)."""

    tokens: tuple[tuple[str, float], ...]


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
class NewStep:
    """The model is called again within the turn, with the results of the tools it asked for."""

    index: int


@dataclass(frozen=True)
class Notice:
    """A line for the user about how the turn went (a limit reached, a setting left out)."""

    text: str


@dataclass(frozen=True)
class ChatResult:
    """A turn's result: the final answer, reasoning, usage summed over its steps, timings.

    ``steps`` holds every model call of the turn in order (each with the results of the tools it
    called); ``tool_calls`` and ``tool_results`` gather them across steps.
    """

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
    steps: tuple[Step, ...] = ()
    notices: tuple[str, ...] = ()
    error: str | None = None  # the failure that ended a turn whose earlier steps are kept
    reasoning_fields: Mapping[str, Any] | None = None
    logprobs: tuple[tuple[str, float], ...] = ()  # (token, log probability), when asked for
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def model_calls(self) -> int:
        """How many times the model was called in this turn."""
        return len(self.steps) or 1

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens over the time spent generating them, when both are known."""
        if not self.usage or not self.usage.completion_tokens:
            return None
        generating = self.total_time - (self.time_to_first_token or 0.0)
        return self.usage.completion_tokens / generating if generating > 0 else None

    def json(self) -> Any:
        """The answer parsed as JSON (JSON mode); the first fenced JSON block when the answer wraps it.

        Heroku lists ``response_format`` as accepted but ignored (or partial): a model may put the
        JSON inside a code fence, with a sentence around it.
        """
        text = self.text.strip()
        try:
            return json.loads(text)
        except ValueError:
            pass
        fence = _JSON_FENCE.search(text)
        if fence is not None:
            try:
                return json.loads(fence.group(1))
            except ValueError as exc:
                raise ValueError(f"the answer's fenced JSON block is not valid JSON: {exc}") from None
        raise ValueError("the answer is not JSON and holds no ```json block: " + (text[:80] or "(empty)"))

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Step:
    """One model call of a turn and the results of the tools it called."""

    response: ChatResult
    tool_results: tuple[ToolResult, ...] = ()


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
    TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | ToolCall
    | ToolResult
    | ToolStatus
    | Usage
    | Logprobs
    | ResponseInfo
    | NewStep
    | Notice
    | Done
    | Error
)
