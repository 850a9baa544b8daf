"""The simulated model catalogue, mirroring Heroku's public ``/available-models`` list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

US = "us-east-1"
EU = "eu-central-1"

TEXT_TO_TEXT = "text-to-text"
DEFAULT_MODEL = "claude-4-5-sonnet"


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue entry: id, capability types, regions and whether it can think."""

    model_id: str
    types: tuple[str, ...]
    regions: tuple[str, ...]
    thinking: bool = False

    @property
    def is_chat(self) -> bool:
        """Whether the model answers ``/v1/chat/completions``."""
        return TEXT_TO_TEXT in self.types

    def to_json(self) -> dict[str, Any]:
        """The entry as ``/available-models`` serialises it."""
        return {"model_id": self.model_id, "type": list(self.types), "regions": list(self.regions)}


CATALOGUE: tuple[ModelInfo, ...] = (
    ModelInfo("claude-4-5-sonnet", (TEXT_TO_TEXT,), (US, EU), thinking=True),
    ModelInfo("claude-4-5-haiku", (TEXT_TO_TEXT,), (US, EU), thinking=True),
    ModelInfo("claude-4-sonnet", (TEXT_TO_TEXT,), (US,), thinking=True),
    ModelInfo("claude-3-7-sonnet", (TEXT_TO_TEXT,), (US,), thinking=True),
    ModelInfo("claude-3-5-haiku", (TEXT_TO_TEXT,), (US,)),
    ModelInfo("claude-opus-4-5", (TEXT_TO_TEXT,), (US,), thinking=True),
    ModelInfo("gpt-oss-120b", (TEXT_TO_TEXT,), (US,)),
    ModelInfo("nova-pro", (TEXT_TO_TEXT,), (US,)),
    ModelInfo("nova-lite", (TEXT_TO_TEXT,), (US,)),
    ModelInfo("cohere-embed-multilingual", ("text-to-embedding",), (US, EU)),
    ModelInfo("stable-image-ultra", ("text-to-image",), (EU, US)),
    ModelInfo("cohere-rerank-3-5", ("text-to-ranking",), (US,)),
)

_BY_ID = {model.model_id: model for model in CATALOGUE}


def find_model(model_id: str) -> ModelInfo | None:
    """The catalogue entry for ``model_id``, or None when Heroku would not know it."""
    return _BY_ID.get(model_id)


def available_models() -> list[dict[str, Any]]:
    """The ``/available-models`` response body."""
    return [model.to_json() for model in CATALOGUE]
