"""Anthropic's tool-use pairing rules, which Heroku's Claude models (on Bedrock) enforce.

In Anthropic's API an assistant ``tool_use`` block must be answered by ``tool_result`` blocks in
the very next message, and a ``tool_result`` must answer a ``tool_use`` of the message just
before. In OpenAI's shape that means:

- every assistant message with ``tool_calls`` is followed IMMEDIATELY by ``tool`` messages that
  answer each of its call ids, before any other message and before the end of the list;
- each ``tool`` message answers a call of the assistant message right before its run of ``tool``
  messages, once (an orphan result, or a second answer to the same call, is refused);
- a request whose messages hold tool calls or tool results must offer ``tools``.

Each broken rule is a 400 ``invalid_request_error`` with a message modelled on Anthropic's
(``N`` is the index of the offending message in the request's ``messages``).
"""

from __future__ import annotations

from typing import Any

from .errors import invalid

TOOLS_REQUIRED = "Requests which include tool_use or tool_result blocks must define tools."


def unanswered(index: int, ids: list[str]) -> str:
    """The message for tool calls of ``messages[index]`` left without results right after."""
    return (
        f"messages.{index}: tool_use ids were found without tool_result blocks immediately after: "
        f"{', '.join(ids)}. Each tool_use block must have a corresponding tool_result block in the "
        "next message."
    )


def unexpected(index: int, call_id: str) -> str:
    """The message for a tool result in ``messages[index]`` that answers no call just before it."""
    return (
        f"messages.{index}: unexpected tool_use_id found in tool_result blocks: {call_id}. Each "
        "tool_result block must have a corresponding tool_use block in the previous message."
    )


def check_tool_pairing(messages: list[dict[str, Any]], has_tools: bool) -> None:
    """Raise a 400 `ApiError` unless tool calls and tool results pair up as Anthropic requires.

    ``messages`` are already shape-checked: tool messages have a string ``tool_call_id`` and
    every tool call is an object with a string ``id``.
    """
    uses_tools = any(m.get("role") == "tool" or _call_ids(m) for m in messages)
    if uses_tools and not has_tools:
        raise invalid(TOOLS_REQUIRED)
    index = 0
    while index < len(messages):
        ids = _call_ids(messages[index])
        if messages[index].get("role") == "tool":  # a run of results with no calls just before it
            raise invalid(unexpected(index, messages[index]["tool_call_id"]))
        if not ids:
            index += 1
            continue
        answered: list[str] = []
        end = index + 1
        while end < len(messages) and messages[end].get("role") == "tool":
            answered.append(messages[end]["tool_call_id"])
            end += 1
        missing = [call_id for call_id in ids if call_id not in answered]
        if missing:
            raise invalid(unanswered(index, missing))
        for offset, call_id in enumerate(answered):
            if call_id not in ids or call_id in answered[:offset]:
                raise invalid(unexpected(index + 1 + offset, call_id))
        index = end


def _call_ids(message: dict[str, Any]) -> list[str]:
    """The tool call ids of an assistant message (none for other roles)."""
    if message.get("role") != "assistant":
        return []
    return [call["id"] for call in message.get("tool_calls") or ()]
