"""Live rendering in ipywidgets: a waiting state, a reasoning panel, the answer as Markdown, a footer.

State is folded in on every event, but the frontend is repainted at a bounded rate (rich's ``Live``):
the first token paints at once, then at most once per ``min_interval``, and the final state always.
Finished Markdown blocks are appended as their own output widgets and never sent again; only the
unfinished tail block is re-sent on each paint. Every block is shown as HTML from the one safe
Markdown renderer. A small ticker thread keeps the timers moving while no tokens arrive (waiting for
the first token, long thoughts) and paints anything left pending. When the response ends,
:class:`LiveCell` removes the view from the cell (the static output has taken over) and closes every
widget in it, so a long session holds no widgets for past answers.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ..events import Event, ReasoningDelta, ResponseInfo, TextDelta, ToolCall, Usage
from ..render.markdown import plain_html, render_markdown, split_blocks, with_code_style
from ..render.static import footer, status_line
from ..result import ChatResult

Clock = Callable[[], float]


class _BlockView:
    """A column of output widgets: one per finished block, plus the tail being written."""

    def __init__(self, text_format: str) -> None:
        self.box = widgets.VBox(layout=widgets.Layout(overflow="visible"))
        self._format = text_format
        self._finished = 0
        self._tail = widgets.Output()
        self._tail_text = ""
        self.box.children = (self._tail,)

    def _bundle(self, text: str, finished: bool = True) -> dict[str, Any]:
        """An output of ``text``; code in the unfinished tail, rendered again at every paint, is not coloured."""
        if self._format == "text":
            html = plain_html(text)
        else:
            html = with_code_style(render_markdown(text, highlight=finished))
        data = {"text/html": html, "text/plain": text}
        return {"output_type": "display_data", "data": data, "metadata": {}}

    def paint(self, text: str) -> None:
        """Show ``text``: the tail widget becomes the first newly finished block, a fresh one the tail.

        Nothing on screen is removed or shown twice: the finishing block keeps its widget (its
        text only grows), so the frontend never renders a moment with both copies or neither.
        """
        blocks, tail = split_blocks(text)
        if len(blocks) > self._finished:
            finishing, *more = blocks[self._finished :]
            self._tail.outputs = (self._bundle(finishing),)
            fresh = []
            for block in more:
                out = widgets.Output()
                out.outputs = (self._bundle(block),)
                fresh.append(out)
            self._finished = len(blocks)
            self._tail = widgets.Output()
            self._tail_text = ""
            self.box.children = (*self.box.children, *fresh, self._tail)
        if tail != self._tail_text:
            self._tail_text = tail
            self._tail.outputs = (self._bundle(tail, finished=False),) if tail else ()


class WidgetRenderer:
    """Streams a response into widgets; ``view`` is the widget to display."""

    def __init__(
        self,
        *,
        model: str | None = None,
        text_format: str = "markdown",
        min_interval: float = 0.1,
        tick: float | None = 0.25,
        clock: Clock = time.perf_counter,
        hide_on_close: bool = True,
    ) -> None:
        self._clock = clock
        self._hide_on_close = hide_on_close
        self._min_interval = min_interval
        self._lock = threading.RLock()
        self._start = clock()
        self._model = model
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._tools: list[str] = []
        self._usage: Usage | None = None
        self._thinking_since: float | None = None
        self._thinking_until: float | None = None
        self._dirty = False
        self._collapse = False
        self._last_paint: float | None = None
        self._closed = False
        self.paints = 0

        self.status = widgets.HTML()
        self.answer = _BlockView(text_format)
        self.thoughts = _BlockView("markdown")
        self.reasoning_panel = widgets.Accordion(
            children=(self.thoughts.box,), layout=widgets.Layout(display="none")
        )
        self.tools = widgets.HTML(layout=widgets.Layout(display="none"))
        self.footer = widgets.HTML()
        self.view = widgets.VBox(
            [self.status, self.reasoning_panel, self.answer.box, self.tools, self.footer],
            layout=widgets.Layout(width="100%"),
        )
        self.view.add_class("heroku-magic-chat")
        self._paint_timers()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        if tick:
            self._ticker = threading.Thread(
                target=self._tick, args=(tick,), daemon=True, name="heroku-magic-ticker"
            )
            self._ticker.start()

    # -- state -------------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Fold one event into the state; paint if a paint is due."""
        with self._lock:
            now = self._clock()
            if isinstance(event, ReasoningDelta) and event.text:
                if self._thinking_since is None:
                    self._thinking_since = now
                self._reasoning.append(event.text)
            elif isinstance(event, TextDelta) and event.text:
                if self._thinking_since is not None and self._thinking_until is None:
                    self._thinking_until = now
                    self._collapse = True  # at the next paint, once the last thoughts are drawn
                self._text.append(event.text)
            elif isinstance(event, ToolCall):
                self._tools.append(f"{event.name}({event.arguments})")
            elif isinstance(event, Usage):
                self._usage = event
            elif isinstance(event, ResponseInfo) and event.model:
                self._model = event.model
            else:
                return
            self._dirty = True
            first = self._last_paint is None and (self._text or self._reasoning)
            if first or (self._last_paint is not None and now - self._last_paint >= self._min_interval):
                self._paint(now)

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """Paint the final state, then hide the live view: the static output takes its place."""
        with self._lock:
            self._closed = True
            now = self._clock()
            if self._thinking_since is not None and self._thinking_until is None:
                self._thinking_until = now
            self._paint(now)
            status = status_line(result, error)
            self.status.value = f"<b>{html.escape(status)}</b>" if status else ""
            self.footer.value = f"<small>{html.escape(footer(result))}</small>"
            if self._hide_on_close:
                self.view.layout.display = "none"
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join()

    @property
    def thinking_time(self) -> float | None:
        """How long the model thought, once it has started thinking."""
        if self._thinking_since is None:
            return None
        return (self._thinking_until or self._clock()) - self._thinking_since

    # -- painting ----------------------------------------------------------------------------------

    def _paint(self, now: float) -> None:
        self.paints += 1
        self._last_paint = now
        self._dirty = False
        if self._reasoning:
            if self.reasoning_panel.layout.display == "none":
                self.reasoning_panel.layout.display = None
                self.reasoning_panel.selected_index = 0
            self.thoughts.paint("".join(self._reasoning))
        if self._collapse:
            # Collapse the thoughts once the answer starts (the user may open them again): after
            # the last reasoning is drawn and before the first answer text, so neither is missed.
            self._collapse = False
            self.reasoning_panel.selected_index = None
        self.answer.paint("".join(self._text))
        if self._tools:
            self.tools.layout.display = None
            self.tools.value = "".join(f"<div>🔧 <code>{html.escape(t)}</code></div>" for t in self._tools)
        self._paint_timers(now)

    def _paint_timers(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        elapsed = now - self._start
        model = html.escape(self._model or "the model")
        if not (self._text or self._reasoning or self._tools):
            self.status.value = f"<i>⏳ Waiting for {model}… {elapsed:.1f} s</i>"
        elif self.status.value and not self._closed:
            self.status.value = ""
        if self._thinking_since is not None:
            thought = (self._thinking_until or now) - self._thinking_since
            done = self._thinking_until is not None
            self.reasoning_panel.set_title(
                0, f"Thought for {thought:.1f} s" if done else f"Thinking… {thought:.1f} s"
            )
        if not self._closed:
            tokens = f" · {self._usage.completion_tokens} tokens" if self._usage else ""
            self.footer.value = f"<small>{model} · {elapsed:.1f} s{tokens}</small>"

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                if self._closed:
                    return
                now = self._clock()
                if self._dirty and (self._last_paint is None or now - self._last_paint >= self._min_interval):
                    self._paint(now)
                else:
                    self._paint_timers(now)


def widget_bundle(view: widgets.Widget) -> dict[str, Any]:
    """A display bundle for a widget whose text/plain is stable (nbval compares it; viewers fall back to it)."""
    return {
        "application/vnd.jupyter.widget-view+json": {
            "version_major": 2,
            "version_minor": 0,
            "model_id": view.model_id,
        },
        "text/plain": "",
    }


# A widget view whose model is gone: JupyterLab hides it, where a missing model would show an error.
EMPTY_VIEW = {
    "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": ""},
    "text/plain": "",
}


def close_widgets(root: widgets.Widget) -> None:
    """Close a widget, every widget inside it, and their layout and style widgets."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        widget = pending.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        for name in widget.keys:  # the synced traits: children, layout, style, ...
            value = getattr(widget, name, None)
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, widgets.Widget):
                    pending.append(item)
        widget.close()


class LiveCell:
    """Shows a live renderer in the cell; at the end, removes its view and frees its widgets."""

    def __init__(self, live: WidgetRenderer) -> None:
        self.live = live
        self._handle = display(widget_bundle(live.view), raw=True, display_id=True)

    def handle(self, event: Event) -> None:
        """Pass the event to the live renderer."""
        self.live.handle(event)

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """Final paint, then the view leaves the cell (the static output has taken its place)."""
        self.live.close(result, error)
        release(self._handle, self.live.view)


def release(handle: Any, view: widgets.Widget) -> None:
    """Replace a displayed view by an empty one (also in the saved notebook) and close its widgets."""
    handle.update(EMPTY_VIEW, raw=True)
    close_widgets(view)
