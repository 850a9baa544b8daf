"""Plain-text rendering for frontends without widgets (terminal IPython, ``--no-widgets``)."""

from __future__ import annotations

import sys
from typing import TextIO

from ..events import Event, ReasoningDelta, TextDelta, ToolCall
from ..result import ChatResult
from .static import footer, status_line


class TextRenderer:
    """Streams reasoning and answer as plain text, then a footer line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._section: str | None = None

    @property
    def stream(self) -> TextIO:
        """Where text goes: the given stream, else the current sys.stdout (captured by IPython)."""
        return self._stream or sys.stdout

    def _enter(self, section: str) -> None:
        if self._section == section:
            return
        if self._section is not None:
            self.stream.write("\n\n")
        if section == "reasoning":
            self.stream.write("[thinking]\n")
        elif self._section == "reasoning":
            self.stream.write("[answer]\n")
        self._section = section

    def handle(self, event: Event) -> None:
        """Write deltas as they arrive."""
        if isinstance(event, ReasoningDelta) and event.text:
            self._enter("reasoning")
            self.stream.write(event.text)
        elif isinstance(event, TextDelta) and event.text:
            self._enter("answer")
            self.stream.write(event.text)
        elif isinstance(event, ToolCall):
            self._enter("tools")
            self.stream.write(f"[tool call] {event.name}({event.arguments})\n")
        else:
            return
        self.stream.flush()

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """End with the footer (and why the answer is partial, if it is)."""
        status = status_line(result, error)
        self.stream.write(("\n\n" if self._section else "") + f"-- {footer(result)}\n")
        if status:
            self.stream.write(f"-- {status}\n")
        self.stream.flush()
