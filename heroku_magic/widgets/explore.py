"""The exploration grid: one card per configuration, each streaming its own answer live."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from ..events import Event
from ..explore import Configuration, ExploreResults
from ..render.markdown import inline_text
from ..result import ChatResult
from .live import WidgetRenderer


class ExploreView:
    """Cards in a responsive grid, then the comparison table and chart; ``view`` is what to display."""

    def __init__(
        self, configs: Sequence[Configuration], *, model: str | None = None, min_interval: float = 0.1
    ) -> None:
        self.renderers: list[WidgetRenderer] = []
        cards = []
        for config in configs:
            renderer = WidgetRenderer(
                model=config.options.model if config.options and config.options.model else model,
                min_interval=min_interval,
                tick=0.25 if config.options else None,
                hide_on_close=False,
            )
            header = widgets.HTML(f"<b>{inline_text(config.label)}</b>")
            if config.problem:
                renderer.status.value = f"<b>Not sent:</b> {inline_text(config.problem)}"
            card = widgets.VBox(
                [header, renderer.view],
                layout=widgets.Layout(
                    border="1px solid var(--jp-border-color2, #ccc)",
                    padding="6px",
                    overflow="auto",
                    max_height="480px",
                ),
            )
            card.add_class("heroku-magic-card")
            cards.append(card)
            self.renderers.append(renderer)
        self.grid = widgets.GridBox(
            cards,
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fill, minmax(320px, 1fr))", grid_gap="8px"
            ),
        )
        self.summary = widgets.HTML()
        self.view = widgets.VBox([self.grid, self.summary])
        self.view.add_class("heroku-magic-explore")

    def handle(self, index: int, event: Event) -> None:
        """Show one configuration's event in its card (called from worker threads)."""
        self.renderers[index].handle(event)

    def interrupt(self) -> None:
        """Final state of every card after an interrupt."""
        for renderer in self.renderers:
            renderer.close(ChatResult(interrupted=True), KeyboardInterrupt())

    def finish(self, results: ExploreResults, *, hide: bool = True) -> None:
        """Final state of every card, then hide the live grid: the static result takes its place."""
        for renderer, outcome in zip(self.renderers, results, strict=True):
            if outcome.result is not None:
                renderer.close(outcome.result, RuntimeError(outcome.error) if outcome.error else None)
            elif outcome.error:
                renderer.status.value = f"<b>Failed:</b> {inline_text(outcome.error)}"
        if hide:
            self.view.layout.display = "none"
