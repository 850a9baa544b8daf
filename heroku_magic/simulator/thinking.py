"""Extended thinking and ``reasoning_effort``: which requests think, how much, and Anthropic's rules.

``extended_thinking`` (Heroku's own field) is accepted only on models whose row in the model table
(`heroku_magic.simulator.catalogue`) says ``thinking``; with it, Bedrock/Anthropic's rules apply:

- ``budget_tokens`` at least 1024, ``temperature`` only 1, no ``top_p`` (live wording, FLOSHIP);
- ``max_tokens`` must exceed ``budget_tokens`` (Anthropic's extended-thinking docs; when no
  ``max_tokens`` is sent the model's cap stands in for Heroku's unpublished default);
- no forced ``tool_choice`` (``"required"`` or a named function) with thinking (Anthropic's docs:
  only ``auto`` and ``none`` work with thinking).

The last two wordings are Anthropic's, with Bedrock's ``ValidationException:`` prefix as FLOSHIP
saw it on the others; Heroku's exact text for them is unconfirmed.

``reasoning_effort`` ("Yes" on the Dev Center compatibility page: "low, medium, high mapping to fixed
reasoning budget tokens") is accepted on every chat model and with any temperature. How Heroku maps
it per model is unconfirmed (heroku-api.md §9); the simulator's choice: on Claude models that think
it is that thinking with a fixed budget (hidden, counted in ``completion_tokens``), on gpt-oss the
model's native reasoning, elsewhere it is accepted and ignored. Anthropic's thinking rules above are
not applied to it (Heroku's mapping is unknown, and refusing would not fail closed on anything real).
"""

from __future__ import annotations

from typing import Any

from .catalogue import ModelInfo
from .errors import invalid

THINKING_MIN_BUDGET = 1024
# Heroku maps reasoning_effort to fixed budgets it does not publish; these are plausible stand-ins.
EFFORT_BUDGETS = {"low": 1024, "medium": 2048, "high": 4096}

THINKING_TEMPERATURE = "ValidationException: `temperature` may only be set to 1 when thinking is enabled."
THINKING_TOP_P = "ValidationException: `top_p` must be unset when thinking is enabled."
THINKING_BUDGET = (
    "ValidationException: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
)
THINKING_MAX_TOKENS = "ValidationException: `max_tokens` must be greater than `thinking.budget_tokens`."
THINKING_TOOL_CHOICE = "ValidationException: Thinking may not be enabled when tool_choice forces tool use."


def flag(body: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean field, or its default when absent or null."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"Invalid request: '{name}' must be a boolean")
    return value


def thinking(
    body: dict[str, Any],
    info: ModelInfo,
    sampling: tuple[float | None, float | None],
    max_tokens: int | None,
    forced_tools: bool,
) -> tuple[bool, int | None]:
    """(include_reasoning, thinking budget or None) for a chat request on ``info``'s model.

    ``sampling`` is (temperature, top_p); ``forced_tools`` whether ``tool_choice`` forces a call.
    """
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORT_BUDGETS:
        raise invalid("Invalid request: 'reasoning_effort' must be one of low, medium, high")
    settings = body.get("extended_thinking")
    if settings is not None and not isinstance(settings, dict):
        raise invalid("Invalid request: 'extended_thinking' must be an object")
    if settings is not None and flag(settings, "enabled", False):
        include = flag(settings, "include_reasoning", False)
        return include, _extended(settings, info, sampling, max_tokens, forced_tools)
    if isinstance(effort, str) and (info.native_reasoning or (info.is_claude and info.thinking)):
        return False, EFFORT_BUDGETS[effort]
    return False, None


def _extended(
    settings: dict[str, Any],
    info: ModelInfo,
    sampling: tuple[float | None, float | None],
    max_tokens: int | None,
    forced_tools: bool,
) -> int:
    """The budget of enabled ``extended_thinking``, after Anthropic's rules."""
    if not info.thinking:
        raise invalid(f"Invalid request: extended thinking is not supported for model '{info.model_id}'")
    budget = settings.get("budget_tokens", THINKING_MIN_BUDGET)
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise invalid("Invalid request: 'extended_thinking.budget_tokens' must be an integer")
    if budget < THINKING_MIN_BUDGET:
        raise invalid(THINKING_BUDGET)
    temperature, top_p = sampling
    if temperature is not None and temperature != 1:
        raise invalid(THINKING_TEMPERATURE)
    if top_p is not None:
        raise invalid(THINKING_TOP_P)
    if (max_tokens if max_tokens is not None else info.max_tokens) <= budget:
        raise invalid(THINKING_MAX_TOKENS)
    if forced_tools:
        raise invalid(THINKING_TOOL_CHOICE)
    return budget
