"""What a live view sends at each paint: a patch holding only what changed since the previous one.

The browser side of a live view is a page that only grows (``widgets/chat_view.js`` applies the
patches). The answer and the reasoning are each a column of finished Markdown blocks and an
unfinished tail. A finished block is rendered once, by the one safe renderer, and sent once as
sanitized HTML; the tail travels as plain-text deltas that the browser inserts as text, never as
HTML, and a finishing block's HTML replaces the tail text that showed it. Timers tick in the
browser: a patch carries the elapsed time when it was made, so no message is needed to move them.

Plain Python: the patches are JSON-ready dicts, so they are tested without a kernel or a browser.
"""

from __future__ import annotations

from typing import Any

from ..result import Progress
from .markdown import plain_html, render_markdown, split_blocks


class _Column:
    """One growing text (the answer or the reasoning) as finished blocks plus a tail."""

    def __init__(self, text_format: str) -> None:
        self._format = text_format
        self.finished = 0  # how much of the text is in finished blocks, already sent as HTML
        self.shown = 0  # how much of the text the browser has, as HTML or as tail text

    def update(self, text: str) -> dict[str, Any] | None:
        """The change since the last update: new finished blocks as HTML, and the tail."""
        if len(text) == self.shown:
            return None
        blocks, tail = split_blocks(text[self.finished :])
        if not blocks:
            delta = text[self.shown :]
            self.shown = len(text)
            return {"tail": delta}
        finished = "".join(blocks)
        self.finished += len(finished)
        self.shown = len(text)
        # The blocks that finished since the last paint are rendered together: one parser run per
        # paint, however many blocks a fast stream finished meanwhile.
        html = plain_html(finished) if self._format == "text" else render_markdown(finished)
        return {"html": html, "tail": tail, "reset": True}


class LivePatcher:
    """Turns successive snapshots of one response into patches for its live view."""

    def __init__(self, text_format: str = "markdown") -> None:
        self._answer = _Column(text_format)
        self._reasoning = _Column("markdown")
        self._tools = 0
        self._thinking: tuple[float | None, float | None] = (None, None)
        self._collapsed = False

    def patch(self, progress: Progress, now: float) -> dict[str, Any]:
        """What changed since the last patch, with the clock as of ``now`` (``{}`` if nothing did)."""
        patch: dict[str, Any] = {}
        reasoning = self._reasoning.update(progress.reasoning)
        if reasoning:
            patch["reasoning"] = reasoning
        thinking = (
            None if progress.thinking_since is None else progress.thinking_since - progress.started,
            None if progress.thinking_until is None else progress.thinking_until - progress.started,
        )
        if thinking != self._thinking:
            self._thinking = thinking
            patch["thinking"] = {"start": thinking[0], "end": thinking[1]}
        if progress.text and progress.reasoning and not self._collapsed:
            # The answer has started: fold the thoughts away (the user may open them again). The
            # browser applies this after the reasoning above, so their last words are drawn first.
            self._collapsed = True
            patch["collapse"] = True
        answer = self._answer.update(progress.text)
        if answer:
            patch["answer"] = answer
        if len(progress.tool_calls) != self._tools:
            self._tools = len(progress.tool_calls)
            patch["tools"] = [f"{call.name}({call.arguments})" for call in progress.tool_calls]
        if patch:
            patch["clock"] = {
                "elapsed": round(now - progress.started, 3),
                "model": progress.model,
                "tokens": progress.usage.completion_tokens if progress.usage else None,
            }
        return patch
