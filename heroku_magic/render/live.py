"""What a live view sends at each paint: a patch holding only what changed since the previous one.

The browser side of a live view is a page that only grows (``widgets/chat_view.js`` applies the
patches). A turn is a list of steps (model calls); each step has a reasoning column, an answer
column and tool-call cards. A column is finished Markdown blocks and an unfinished tail: a finished
block is rendered once, by the one safe renderer, and sent once as sanitized HTML; the tail travels
as plain-text deltas that the browser inserts as text, never as HTML, and a finishing block's HTML
replaces the tail text that showed it. A card carries the call's name, its arguments as text deltas
while they stream, its state (streaming, awaiting approval, running, done, error), then a one-line
summary and the result as text. Timers tick in the browser: a patch carries the elapsed time when
it was made, so no message is needed to move them.

A patch is ``{"steps": [{"n": index, ...changes of that step}], "notices": [...], "clock": {...}}``.
Plain Python: the patches are JSON-ready dicts, so they are tested without a kernel or a browser.
"""

from __future__ import annotations

from typing import Any

from ..events import ToolCall, ToolResult
from ..result import Progress, StepProgress
from .cards import card_summary, shown_value
from .markdown import plain_html, render_markdown, split_blocks


class _Column:
    """One growing text (an answer or a reasoning) as finished blocks plus a tail."""

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


class _Card:
    """What the browser has of one tool call's card."""

    def __init__(self) -> None:
        self.name = ""
        self.arguments = 0  # characters of the arguments sent
        self.state = ""

    def update(self, call: ToolCall, result: ToolResult | None, status: str | None) -> dict[str, Any]:
        change: dict[str, Any] = {}
        if call.name and call.name != self.name:
            self.name = change["name"] = call.name
        if len(call.arguments) > self.arguments:
            change["args"] = call.arguments[self.arguments :]
            self.arguments = len(call.arguments)
        state = status or ("streaming" if result is None else "error" if result.is_error else "done")
        if state != self.state:
            self.state = change["state"] = state
            if result is not None:
                change["summary"] = card_summary(call, result)
                change["result"] = shown_value(result.content)[0]
        return change


class _StepPatcher:
    """The patches of one step."""

    def __init__(self, text_format: str) -> None:
        self._answer = _Column(text_format)
        self._reasoning = _Column("markdown")
        self._cards: list[_Card] = []
        self._thinking: tuple[float | None, float | None] = (None, None)
        self._collapsed = False

    def patch(self, step: StepProgress, started: float, last: bool) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        reasoning = self._reasoning.update(step.reasoning)
        if reasoning:
            patch["reasoning"] = reasoning
        thinking = (
            None if step.thinking_since is None else step.thinking_since - started,
            None if step.thinking_until is None else step.thinking_until - started,
        )
        if thinking != self._thinking:
            self._thinking = thinking
            patch["thinking"] = {"start": thinking[0], "end": thinking[1]}
        answered = step.text or step.tool_calls or not last
        if answered and step.reasoning and not self._collapsed:
            # The answer has started: fold the thoughts away (the user may open them again). The
            # browser applies this after the reasoning above, so their last words are drawn first.
            self._collapsed = True
            patch["collapse"] = True
        answer = self._answer.update(step.text)
        if answer:
            patch["answer"] = answer
        cards = []
        for index, call in enumerate(step.tool_calls):
            if index == len(self._cards):
                self._cards.append(_Card())
            change = self._cards[index].update(call, step.results.get(call.id), step.status.get(call.id))
            if change:
                cards.append({"i": index, "id": call.id, **change})
        if cards:
            patch["cards"] = cards
        return patch


class LivePatcher:
    """Turns successive snapshots of one turn into patches for its live view."""

    def __init__(self, text_format: str = "markdown") -> None:
        self._format = text_format
        self._steps: list[_StepPatcher] = []
        self._notices = 0

    def patch(self, progress: Progress, now: float) -> dict[str, Any]:
        """What changed since the last patch, with the clock as of ``now`` (``{}`` if nothing did)."""
        patch: dict[str, Any] = {}
        steps = []
        # Only the latest steps can change: earlier ones were finished when the next one began.
        first = max(0, len(self._steps) - 1)
        for index in range(first, len(progress.steps)):
            if index == len(self._steps):
                self._steps.append(_StepPatcher(self._format))
            last = index == len(progress.steps) - 1
            change = self._steps[index].patch(progress.steps[index], progress.started, last)
            if change or index >= first + 1:
                steps.append({"n": index, **change})
        if steps:
            patch["steps"] = steps
        if len(progress.notices) > self._notices:
            patch["notices"] = list(progress.notices[self._notices :])
            self._notices = len(progress.notices)
        if patch:
            patch["clock"] = {
                "elapsed": round(now - progress.started, 3),
                "model": progress.model,
                "tokens": progress.usage.completion_tokens if progress.usage else None,
            }
        return patch
