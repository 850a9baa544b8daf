"""The simulated model catalogue and THE table of model facts the simulator enforces.

Every capability the simulator checks per model lives in `CATALOGUE`, one row per model, each row
with its source. Columns (`ModelInfo`):

``thinking``
    ``extended_thinking`` is accepted (refused with a 400 otherwise).
``vision``
    ``image_url`` content parts are accepted (refused with a 400 otherwise).
``tools``
    function ``tools`` are accepted.
``pair_refused``
    ``temperature`` and ``top_p`` together are refused (Anthropic's Claude 4.5 generation only).
``max_tokens``
    the highest ``max_tokens`` / ``max_completion_tokens`` / ``max_tokens_per_inference_request``.
``parallel_ignored``
    ``parallel_tool_calls`` is ignored (the model may call several tools whatever it says).
``native_reasoning``
    the model reasons natively, so ``reasoning_effort`` sets how much it thinks (gpt-oss).

Sources (stored copies, see the project's notes on Heroku's API):

- [CARD] Heroku Dev Center model cards (claude-4-5-sonnet 2025-10-24, claude-4-5-haiku 2026-01-30,
  claude-3-5-haiku 2026-02-12, gpt-oss-120b 2025-09-04).
- [SDK] Heroku's "OpenAI SDK" guide, model compatibility table (thinking and vision per family).
- [COMPAT] Dev Center "OpenAI Compatibility for Chat Completions": ``parallel_tool_calls`` "Yes for
  Anthropic and OpenAI models, ignored for nova models"; tools on all chat models.
- [CAPS] Dev Center chat-completions page (2025-05): max tokens 4096 for Haiku, 8192 for Sonnet.
- [FLOSHIP] live test (3rd party): 400 "`temperature` and `top_p` cannot both be specified for this
  model" on claude-4-5-sonnet; Heroku's own LangChain clients send both to claude-3-7-sonnet, so
  the refusal is model-specific (Anthropic refuses the pair from the 4.5 generation on).
- [NOVA] Amazon Nova's documented output limit, 5000 tokens.
- [NONE] no source: the simulator fails closed (capability off) or takes the family's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

US = "us-east-1"
EU = "eu-central-1"

TEXT_TO_TEXT = "text-to-text"
DEFAULT_MODEL = "claude-4-5-sonnet"
SONNET_MAX_TOKENS = 8192  # [CAPS]
HAIKU_MAX_TOKENS = 4096  # [CAPS]
NOVA_MAX_TOKENS = 5000  # [NOVA]


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue row: id, capability types, regions and the facts the simulator enforces."""

    model_id: str
    types: tuple[str, ...]
    regions: tuple[str, ...]
    thinking: bool = False
    vision: bool = False
    tools: bool = False
    pair_refused: bool = False
    max_tokens: int = SONNET_MAX_TOKENS
    parallel_ignored: bool = False
    native_reasoning: bool = False

    @property
    def is_chat(self) -> bool:
        """Whether the model answers ``/v1/chat/completions``."""
        return TEXT_TO_TEXT in self.types

    @property
    def is_claude(self) -> bool:
        """Whether Anthropic's rules (thinking, tool_choice) apply."""
        return self.model_id.startswith("claude")

    def to_json(self) -> dict[str, Any]:
        """The entry as ``/available-models`` serialises it."""
        return {"model_id": self.model_id, "type": list(self.types), "regions": list(self.regions)}


_CHAT = (TEXT_TO_TEXT,)
# fmt: off
CATALOGUE: tuple[ModelInfo, ...] = (
    # thinking [CARD][SDK]; vision [SDK]; pair refused [FLOSHIP]; 8192 [CAPS]
    ModelInfo("claude-4-5-sonnet", _CHAT, (US, EU), thinking=True, vision=True, tools=True, pair_refused=True),
    # thinking and text+image inputs [CARD 2026-01-30, newer than SDK's ✗]; pair refused: 4.5 generation; 4096 [CAPS]
    ModelInfo("claude-4-5-haiku", _CHAT, (US, EU), thinking=True, vision=True, tools=True, pair_refused=True,
              max_tokens=HAIKU_MAX_TOKENS),
    # thinking and vision [SDK]; the pair is accepted (4.x before 4.5); 8192 [CAPS]
    ModelInfo("claude-4-sonnet", _CHAT, (US,), thinking=True, vision=True, tools=True),
    # thinking and vision [SDK]; the pair is accepted (Heroku's LangChain clients send both); 8192 [CAPS]
    ModelInfo("claude-3-7-sonnet", _CHAT, (US,), thinking=True, vision=True, tools=True),
    # no thinking [CARD], no vision [SDK]; 4096 [CAPS]
    ModelInfo("claude-3-5-haiku", _CHAT, (US,), tools=True, max_tokens=HAIKU_MAX_TOKENS),
    # thinking and pair refused: 4.5 generation [NONE: family]; vision off [NONE]; 8192 [NONE: Sonnet's]
    ModelInfo("claude-opus-4-5", _CHAT, (US,), thinking=True, tools=True, pair_refused=True),
    # no extended_thinking, reasons natively (reasoning_effort) [CARD]; no vision [NONE]; 8192 [NONE]
    ModelInfo("gpt-oss-120b", _CHAT, (US,), tools=True, native_reasoning=True),
    # no thinking, no vision [SDK]; parallel_tool_calls ignored [COMPAT]; 5000 [NOVA]
    ModelInfo("nova-pro", _CHAT, (US,), tools=True, parallel_ignored=True, max_tokens=NOVA_MAX_TOKENS),
    ModelInfo("nova-lite", _CHAT, (US,), tools=True, parallel_ignored=True, max_tokens=NOVA_MAX_TOKENS),
    # not chat models: /available-models lists them, chat and agents refuse them with a 403
    ModelInfo("cohere-embed-multilingual", ("text-to-embedding",), (US, EU)),
    ModelInfo("stable-image-ultra", ("text-to-image",), (EU, US)),
    ModelInfo("cohere-rerank-3-5", ("text-to-ranking",), (US,)),
)
# fmt: on

_BY_ID = {model.model_id: model for model in CATALOGUE}


def find_model(model_id: str) -> ModelInfo | None:
    """The catalogue entry for ``model_id``, or None when Heroku would not know it."""
    return _BY_ID.get(model_id)


def available_models() -> list[dict[str, Any]]:
    """The ``/available-models`` response body."""
    return [model.to_json() for model in CATALOGUE]
