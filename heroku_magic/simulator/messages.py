"""Checks on the ``messages`` of chat and agents requests: roles, content parts, tool-call shapes.

Roles: ``system``, ``developer`` (the Dev Center compatibility page lists Developer messages as
supported), ``user``, ``assistant`` and ``tool``. Content is a string or a list of ``text`` and
``image_url`` parts; images only in ``user`` messages (OpenAI's message schema; the Dev Center page
supports user messages "except for audio and file content types") and only on vision models
(see `heroku_magic.simulator.images` and the model table in `heroku_magic.simulator.catalogue`).
"""

from __future__ import annotations

import json
from typing import Any

from .catalogue import ModelInfo
from .errors import ApiError, invalid
from .images import Image, check_image_part
from .pairing import check_tool_pairing

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MISSING_CONTENT = "content is required"
_PART_TYPES = frozenset({"text", "image_url"})


def check_messages(
    value: Any, has_tools: bool, info: ModelInfo
) -> tuple[list[dict[str, Any]], tuple[Image, ...]]:
    """The messages and the images they carry, checked the way Heroku (and Bedrock behind it) does."""
    if not isinstance(value, list) or not value:
        raise invalid("Invalid request: 'messages' must be a non-empty list")
    broken_arguments = False
    images: list[Image] = []
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            raise invalid(f"Invalid request: messages[{index}] must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise invalid(
                f"Invalid request: messages[{index}].role must be one of {', '.join(sorted(ROLES))}"
            )
        content = message.get("content")
        images += _check_content(content, index, role, info)
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
    return value, tuple(images)


def _check_content(content: Any, index: int, role: str, info: ModelInfo) -> list[Image]:
    """Content must be a string, a list of text/image parts, or absent; returns its images."""
    if content is None or isinstance(content, str):
        return []
    if not isinstance(content, list):
        raise invalid(f"Invalid request: messages[{index}].content must be a string or a list of parts")
    images = []
    for number, part in enumerate(content):
        where = f"messages[{index}].content[{number}]"
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
            raise invalid(f"Invalid request: messages[{index}]: only text and image_url content is supported")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise invalid(f"Invalid request: {where}.text must be a string")
        if part["type"] == "image_url":
            if role != "user":
                raise invalid(f"Invalid request: {where}: image content is only supported in user messages")
            images.append(check_image_part(part, where, info.model_id, info.vision))
    return images


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
