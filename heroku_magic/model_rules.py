"""What each Heroku chat model supports and refuses: one table, a source per line, and the pre-check.

The magic's checks before sending, the controls panel's labels and ``%heroku_models`` read this
table. A fact no source settles is ``None``: nothing is refused on it (Heroku decides). Unknown
models get no refusal at all. The simulator keeps its own copy of the rules it enforces
(``simulator/catalogue.py``), so each is an independent check on the other.

Sources: [CARD] Heroku Dev Center model cards (claude-4-5-sonnet 2025-10-24, claude-4-5-haiku
2026-01-30, claude-3-5-haiku 2026-02-12, gpt-oss-120b 2025-09-04); [SDK] Heroku's "OpenAI SDK"
guide, model compatibility table; [FLOSHIP] a live 400 "`temperature` and `top_p` cannot both be
specified for this model" on claude-4-5-sonnet, while Heroku's own LangChain client sends both to
claude-3-7-sonnet; [CAPS] Dev Center chat-completions page, max tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import OptionsError
from .options import ChatOptions


@dataclass(frozen=True)
class ModelRules:
    """One model's facts; ``None`` where no source settles it."""

    thinking: bool | None = None
    vision: bool | None = None
    refuses_temperature_with_top_p: bool | None = None
    max_tokens: int | None = None


# fmt: off
RULES: Mapping[str, ModelRules] = {
    # thinking [CARD][SDK]; vision [SDK]; the pair refused [FLOSHIP]; 8192 [CAPS]
    "claude-4-5-sonnet": ModelRules(thinking=True, vision=True, refuses_temperature_with_top_p=True, max_tokens=8192),
    # thinking and image input [CARD 2026-01-30: newer than SDK's "no", so it wins]; pair: 4.5 generation
    "claude-4-5-haiku": ModelRules(thinking=True, vision=True, refuses_temperature_with_top_p=True, max_tokens=4096),
    # thinking and vision [SDK]; the pair accepted before 4.5 [FLOSHIP]; 8192 [CAPS]
    "claude-4-sonnet": ModelRules(thinking=True, vision=True, refuses_temperature_with_top_p=False, max_tokens=8192),
    "claude-3-7-sonnet": ModelRules(thinking=True, vision=True, refuses_temperature_with_top_p=False, max_tokens=8192),
    # no thinking [CARD]; no vision [SDK]; 4096 [CAPS]
    "claude-3-5-haiku": ModelRules(thinking=False, vision=False, refuses_temperature_with_top_p=False, max_tokens=4096),
    # 4.5 generation: thinking and the pair as its family [no card]; vision unknown
    "claude-opus-4-5": ModelRules(thinking=True, refuses_temperature_with_top_p=True),
    # no extended_thinking: reasons natively with reasoning_effort [CARD]
    "gpt-oss-120b": ModelRules(thinking=False, refuses_temperature_with_top_p=False),
    # no extended thinking [SDK]; vision: the SDK guide says no, later listings yes — unsettled
    "nova-pro": ModelRules(thinking=False, refuses_temperature_with_top_p=False),
    "nova-lite": ModelRules(thinking=False, refuses_temperature_with_top_p=False),
}
# fmt: on


def rules_for(model: str | None) -> ModelRules:
    """The facts known for ``model`` (all unknown for a model not in the table)."""
    return RULES.get(model or "", ModelRules())


def check_request(options: ChatOptions, model: str, messages: Sequence[Mapping[str, Any]] = ()) -> None:
    """Refuse, as one OptionsError line, what this model is known to refuse."""
    rules = rules_for(model)
    if rules.refuses_temperature_with_top_p and options.temperature is not None and options.top_p is not None:
        raise OptionsError(
            f"{model} refuses temperature together with top_p (Anthropic's 4.5 models take one): keep one"
        )
    if rules.thinking is False and options.thinking is not None:
        raise OptionsError(
            f"{model} has no extended thinking (Heroku's model card): drop --thinking, or pick a model "
            "that thinks (claude-4-5-sonnet, claude-4-5-haiku, claude-4-sonnet, claude-3-7-sonnet)"
        )
    if rules.vision is False and any(_has_image(message) for message in messages):
        raise OptionsError(f"{model} takes no images (Heroku's model table): pick a model with vision")


def _has_image(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, (list, tuple)) and any(
        isinstance(part, Mapping) and part.get("type") == "image_url" for part in content
    )
