"""Heroku's model catalogue (``GET /available-models``) as values, with what each chat model supports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .model_rules import rules_for


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue entry."""

    model_id: str
    types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    @property
    def is_chat(self) -> bool:
        """Whether the model answers chat completions."""
        return "text-to-text" in self.types

    @property
    def thinking(self) -> bool | None:
        """Whether extended thinking is supported, where known."""
        return rules_for(self.model_id).thinking if self.is_chat else False

    @property
    def vision(self) -> bool | None:
        """Whether image input is supported, where known."""
        return rules_for(self.model_id).vision if self.is_chat else False

    @property
    def tools(self) -> bool:
        """Heroku supports tool calling on every chat model."""
        return self.is_chat


def parse_catalog(data: Any) -> list[ModelInfo]:
    """Catalogue entries from the JSON body of ``/available-models``, skipping malformed ones."""
    items: Iterable[Any] = (
        data if isinstance(data, list) else (data or {}).get("data", []) if isinstance(data, dict) else []
    )
    models = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("model_id"), str):
            continue
        kinds, regions = item.get("type") or (), item.get("regions") or ()
        models.append(
            ModelInfo(
                model_id=item["model_id"],
                types=(kinds,) if isinstance(kinds, str) else tuple(str(k) for k in kinds),
                regions=(regions,) if isinstance(regions, str) else tuple(str(r) for r in regions),
            )
        )
    return models
