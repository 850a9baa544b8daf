"""Plain-text rendering for frontends without widgets (terminal IPython, ``--no-widgets``).

Model text is untrusted here too: a terminal obeys escape sequences (retitle the window, rewrite
the clipboard, hide text, move the cursor over earlier lines), so control characters other than
newline and tab are dropped before anything is written.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import TextIO

from ..events import (
    ChatResult,
    Event,
    NewStep,
    Notice,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolStatus,
)
from .static import footer, status_line

RESULT_PREVIEW = 500  # characters of a tool's result printed (the whole of it is in the result)

_CONTROL = re.compile(r"\r(?!\n)|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    """``text`` without the control characters a terminal would act on."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


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
            self.stream.write(terminal_text(event.text))
        elif isinstance(event, TextDelta) and event.text:
            self._enter("answer")
            self.stream.write(terminal_text(event.text))
        elif isinstance(event, ToolCall):
            self._enter("tools")
            self.stream.write(terminal_text(f"[tool call] {event.name}({event.arguments})") + "\n")
        elif isinstance(event, ToolStatus) and event.status == "running":
            self._enter("tools")
            self.stream.write(f"[running] {event.tool_call_id}\n")
        elif isinstance(event, ToolResult):
            self._enter("tools")
            label = "[tool error]" if event.is_error else "[tool result]"
            content = (
                event.content
                if len(event.content) <= RESULT_PREVIEW
                else event.content[:RESULT_PREVIEW] + "…"
            )
            self.stream.write(terminal_text(f"{label} {event.name}: {content}") + "\n")
        elif isinstance(event, NewStep):
            self._enter("step")
        elif isinstance(event, Notice):
            self._enter("notice")
            self.stream.write(terminal_text(event.text) + "\n")
        else:
            return
        self.stream.flush()

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """End with the footer (and why the answer is partial, if it is)."""
        # The notices were written as they came: the status line does not repeat them.
        status = status_line(dataclasses.replace(result, notices=()), error)
        self.stream.write(("\n\n" if self._section else "") + f"-- {terminal_text(footer(result))}\n")
        if status:
            self.stream.write(f"-- {status}\n")
        self.stream.flush()
