"""Heroku-shaped chat completion bodies and stream chunks built from a simulated `Reply`."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .models import Reply

SYSTEM_FINGERPRINT = "heroku-inf-sim0001"
ARGUMENT_FRAGMENTS = 3


@dataclass(frozen=True)
class Completion:
    """One response's identity: Heroku-style id, model and creation time."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{secrets.token_hex(11)[:21]}")
    created: int = field(default_factory=lambda: int(time.time()))

    def envelope(self, kind: str) -> dict[str, Any]:
        """The fields every body and chunk of this response carries."""
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }


def usage(reply: Reply) -> dict[str, Any]:
    """The usage object: prompt, completion and total tokens only.

    The Dev Center compatibility page lists exactly these three usage fields and says "Other usage
    field types are unsupported", so there is no ``completion_tokens_details``; reasoning tokens are
    counted in ``completion_tokens``.
    """
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def completion_body(reply: Reply, completion: Completion) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in reply.tool_calls
        ]
    if reply.reasoning is not None:
        message["reasoning"] = {"thinking": reply.reasoning}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
    return {**completion.envelope("chat.completion"), "choices": [choice], "usage": usage(reply)}


def stream_chunks(
    reply: Reply, completion: Completion, whole_tool_calls: bool = False, include_usage: bool = False
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a stream, lazily (a words:20000 answer stays cheap).

    The final chunk carries ``usage`` only when ``include_usage`` is true: whether Heroku sends
    usage without ``stream_options.include_usage`` is unconfirmed, so by default the simulator takes
    the stricter case, OpenAI's (see ``SimulatorConfig.stream_usage_always`` for the other).
    """
    yield _chunk(completion, {"role": "assistant", "content": ""})
    for piece in reply.reasoning_chunks:
        yield _chunk(completion, {"reasoning": {"thinking": piece}})
    for piece in reply.content_chunks:
        yield _chunk(completion, {"content": piece})
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        if whole_tool_calls:
            # Heroku's pilot streamed each tool call complete in one chunk.
            yield _chunk(
                completion,
                {"tool_calls": [{**head, "function": {"name": call.name, "arguments": call.arguments}}]},
            )
            continue
        yield _chunk(completion, {"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        for fragment in _fragments(call.arguments):
            yield _chunk(completion, {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    final = _chunk(completion, {}, reply.finish_reason)
    if include_usage:
        final["usage"] = usage(reply)
    yield final


def _chunk(completion: Completion, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """One chunk carrying ``delta``."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return {**completion.envelope("chat.completion.chunk"), "choices": [choice]}


def _fragments(arguments: str) -> list[str]:
    """Split an arguments string into a few non-empty fragments, as OpenAI-style streams do."""
    size = max(1, -(-len(arguments) // ARGUMENT_FRAGMENTS))
    return [arguments[start : start + size] for start in range(0, len(arguments), size)]
