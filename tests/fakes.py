"""Test doubles: a scripted chat client (no network), in the spirit of simonw/llm's MockModel."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from heroku_magic import APIError, ChatOptions, Event, ReasoningDelta, ResponseInfo, TextDelta, Usage


class FakeClient:
    """Replays scripted events per request and records the messages and options it was given."""

    def __init__(self, *scripts: Sequence[Event | BaseException]) -> None:
        self.scripts = list(scripts)
        self.requests: list[tuple[list[Mapping[str, Any]], ChatOptions]] = []

    def events(self, messages: Sequence[Mapping[str, Any]], options: ChatOptions) -> Iterator[Event]:
        self.requests.append((list(messages), options))
        script = self.scripts.pop(0) if self.scripts else answer("ok")
        for item in script:
            if isinstance(item, BaseException):  # an error, or an interrupt (KeyboardInterrupt)
                raise item
            yield item


def answer(text: str, reasoning: str = "", model: str = "fake-model") -> list[Event | Exception]:
    """A scripted answer streamed word by word, with reasoning first and usage last."""
    events: list[Event | Exception] = [ResponseInfo(model=model, response_id="chatcmpl-fake")]
    events += [ReasoningDelta(piece) for piece in _pieces(reasoning)]
    events += [TextDelta(piece) for piece in _pieces(text)]
    words = len(text.split())
    events += [ResponseInfo(finish_reason="stop"), Usage(5, words, 5 + words)]
    return events


def failing(after: str = "", error: Exception | None = None) -> list[Event | Exception]:
    """A response that streams ``after`` and then fails."""
    return [*[TextDelta(p) for p in _pieces(after)], error or APIError("boom", status=500)]


def _pieces(text: str) -> list[str]:
    return [word + " " for word in text.split(" ")] if text else []
