"""The live view of a streaming response: one small widget, one message per paint.

:class:`ChatView` is an anywidget whose browser side (``chat_view.js``) appends the sanitized HTML
fragments and text deltas it is sent. :class:`LiveView` ties a response's folded state to it: the
first token is painted at once, then the kernel's one :class:`~heroku_magic.paint.PaintScheduler`
repaints it at a bounded rate; each paint is one message carrying only what changed
(:class:`~heroku_magic.render.live.LivePatcher`). When the response ends, :class:`LiveCell` stops
painting, leaves the static output and gives the widget back to the kernel's :data:`POOL`, whose next
cell shows it again: a cell opens and closes no widget, and a long session holds none for past answers.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets
from IPython.display import display

from ..events import ChatResult, Event, ReasoningDelta, TextDelta, ToolCall, ToolCallDelta
from ..paint import PaintScheduler
from ..render.live import LivePatcher
from ..render.markdown import code_css
from ..result import ResponseState
from .display import EMPTY_OUTPUT, shared_layout, widget_bundle

if TYPE_CHECKING:
    from ..render import Renderer

HERE = Path(__file__).parent
# The first-paint delay is logged for the benchmark (and for anyone asking "why is it slow?").
log = logging.getLogger("heroku_magic.live")
_VISIBLE = (TextDelta, ReasoningDelta, ToolCall, ToolCallDelta)
DEFLATE_FROM = 1024  # bytes of HTML: smaller fragments gain little from compression


def _stylesheet() -> str:
    """The view's own styles and the colours of highlighted code (constants of ours, no model text)."""
    code = code_css().removeprefix("<style>").removesuffix("</style>")
    return (HERE / "chat_view.css").read_text(encoding="utf-8") + code + "\n"


class ChatView(anywidget.AnyWidget):
    """The browser side of a live view; patches reach it as custom messages."""

    # Text, not a path: anywidget watches a path's contents with a signal whose handler holds every
    # instance, so no live view would ever be freed.
    _esm = (HERE / "chat_view.js").read_text(encoding="utf-8")
    _css = _stylesheet()  # multi-line, so anywidget keeps it as the text it is
    key = traitlets.Unicode().tag(sync=True)  # the browser keeps each model's patches under it
    model_name = traitlets.Unicode("").tag(sync=True)  # shown while waiting for the first token
    title = traitlets.Unicode("").tag(sync=True)  # an exploration card's settings, shown as text
    note = traitlets.Unicode("").tag(sync=True)  # replaces the status (e.g. why a card was not sent)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(key=uuid.uuid4().hex, layout=shared_layout(), **kwargs)


class LiveView:
    """Paints one response's state into a :class:`ChatView`; a renderer for :func:`~heroku_magic.render.drive`.

    The view is ``widget`` (one of the :data:`POOL`'s, which set its model name), or a new one
    showing ``model``, ``title`` and ``note``.
    """

    def __init__(
        self,
        state: ResponseState,
        scheduler: PaintScheduler,
        *,
        model: str | None = None,
        text_format: str = "markdown",
        title: str = "",
        note: str = "",
        widget: ChatView | None = None,
    ) -> None:
        self.state = state
        self.widget = widget or ChatView(model_name=model or "", title=title, note=note)
        self.turn = uuid.uuid4().hex[:12]  # the first paint names it: the browser starts a blank page
        self.paints = 0
        self._scheduler = scheduler
        self._format = text_format
        self._patcher = LivePatcher(text_format)
        self._passing_note = False  # a note shown until the next answer starts
        self._lock = threading.Lock()  # the stream's thread and the paint thread both paint
        self._painted = -1  # the state's change count at the last paint
        self._last_paint = -math.inf  # when it was sent, on the scheduler's clock
        self._closed = False
        self.decisions: dict[str, bool] = {}  # the user's answers to tool calls, by call id
        self.widget.on_msg(self._on_message)
        if not note:
            scheduler.add(self)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """The browser's Approve/Deny clicks."""
        if isinstance(content, dict) and isinstance(content.get("approve"), str):
            self.decisions[content["approve"]] = content.get("approved") is True

    def approve(self, call: ToolCall) -> bool:
        """Show the call's Approve/Deny buttons and wait for the user's click (the cell keeps running)."""
        from .wait import wait_for

        self.paint(self._scheduler.clock())  # the buttons appear now, not at the next paint
        wait_for(lambda: call.id in self.decisions)
        return self.decisions[call.id]

    def handle(self, event: Event) -> None:
        """Paint the first token at once (the state has folded it already); later ones at the scheduler's pace."""
        if self.paints == 0 and isinstance(event, _VISIBLE):
            self.paint(self._scheduler.clock())

    def repaint(self, now: float) -> None:
        """The scheduler's round: paint, unless this view painted less than half an interval ago.

        The first token is painted when it arrives, out of the scheduler's step: without this, the
        next round could follow it by a few milliseconds (two messages where one shows the same).
        """
        if now - self._last_paint >= self._scheduler.interval / 2:
            self.paint(now)

    def paint(self, now: float) -> None:
        """Send what changed since the last paint, if anything did."""
        with self._lock:
            if self._closed or self.state.changes == self._painted:
                return
            progress = self.state.progress()
            self._painted = progress.changes
            patch = self._patcher.patch(progress, now)
            if not patch:
                return
            if self.paints == 0:
                patch["start"] = self.turn
            self.widget.send(*on_the_wire(patch))
            self.paints += 1
            self._last_paint = now
            if self._passing_note:
                self._passing_note = False
                self.widget.note = ""
        if self.paints == 1 and progress.first is not None:
            log.debug("first paint %.6f s after the first token", now - progress.first)

    def restart(self, note: str) -> None:
        """Start again from a blank view, showing ``note`` until the new answer starts (a configuration sent again)."""
        with self._lock:
            self.state = ResponseState(self._scheduler.clock)
            self._patcher = LivePatcher(self._format)
            self._painted = -1
            self.paints = 0
            self._passing_note = True
            self.widget.note = note
            self.widget.send({"clear": True})

    def close(self) -> None:
        """Stop painting. No final paint: the static output replaces the view at once."""
        with self._lock:
            self._closed = True
        self._scheduler.remove(self)
        self.widget.on_msg(self._on_message, remove=True)  # a pooled widget serves other turns


def on_the_wire(patch: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """The patch as sent: HTML of 1 kB or more travels deflated in a binary buffer (``z`` is its index).

    Finished blocks' HTML is most of what a live view sends, and the saved output sends it again; the
    browser inflates it (DecompressionStream) before applying the patch.
    """
    buffers: list[bytes] = []
    steps = []
    for step in patch.get("steps", ()):
        for name in ("answer", "reasoning"):
            change = step.get(name)
            html = change.get("html", "") if change else ""
            if change and len(html) >= DEFLATE_FROM:
                rest = {key: value for key, value in change.items() if key != "html"}
                step = {**step, name: {**rest, "z": len(buffers)}}
                buffers.append(zlib.compress(html.encode("utf-8")))
        steps.append(step)
    return ({**patch, "steps": steps} if buffers else patch), buffers


class ViewPool:
    """Chat views kept between cells, so that a cell opens and closes no widget of its own.

    Opening a view sends the browser its model with the view's whole script and styles (~13 kB), and
    closing it another message: per cell, more than a short answer's paints. A cell takes a view and
    gives it back once the static output has replaced it; the browser blanks a model's page when its
    last view leaves, and a turn's first paint starts a new page anyway. At most ``keep`` views wait.
    """

    def __init__(self, keep: int = 2) -> None:
        self.keep = keep
        self._free: list[ChatView] = []
        self._lock = threading.Lock()  # cells take views on the main thread, but nothing forbids others

    def take(self, model: str) -> ChatView:
        """A free view (open) showing ``model`` while it waits, or a new one."""
        with self._lock:
            while self._free:
                view = self._free.pop()
                if view.comm is not None:  # not closed meanwhile (``Widget.close_all()``)
                    view.model_name = model  # a message only if the last cell's model differs
                    return view
        return ChatView(model_name=model)

    def give(self, view: ChatView) -> None:
        """Keep ``view`` for a later cell (its output shows it no more), or close it if enough wait."""
        with self._lock:
            if len(self._free) < self.keep and view.comm is not None:
                self._free.append(view)
                return
        view.close()

    def close(self) -> None:
        """Close every waiting view (the extension is unloaded)."""
        with self._lock:
            views, self._free = self._free, []
        for view in views:
            view.close()

    def __len__(self) -> int:
        """How many views wait."""
        return len(self._free)


POOL = ViewPool()


class LiveCell:
    """Shows a live view in the cell; at the end, the static output (``final``) takes its place."""

    def __init__(self, live: LiveView, final: Renderer) -> None:
        self.live = live
        self._final = final
        self._handle = display(widget_bundle(live.widget), raw=True, display_id=True)

    def handle(self, event: Event) -> None:
        """Pass the event to the live view."""
        self.live.handle(event)
        self._final.handle(event)

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """Stop painting, leave the static output, then empty the view's output and pool its widget.

        Painting stops first: a paint while the static output is being rendered would be replaced at
        once. The view leaves after the static output is shown, so the cell never shrinks meanwhile;
        its output is emptied (not removed: nbval compares every output), so the saved notebook names
        no widget model.
        """
        self.live.close()
        try:
            self._final.close(result, error)
        finally:
            self._handle.update(EMPTY_OUTPUT, raw=True)
            POOL.give(self.live.widget)
