"""The exploration grid: one card per configuration, each a live view streaming its own answer.

Every card is painted by the kernel's one paint scheduler, so a 64-card grid adds widgets, not
threads. Cards fold their events on the worker threads that receive them.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from ..events import Event
from ..explore import Configuration
from ..paint import PaintScheduler
from ..result import ResponseState
from .live import LiveView


class ExploreView:
    """Cards in a responsive grid; ``view`` is what to display."""

    def __init__(
        self, configs: Sequence[Configuration], scheduler: PaintScheduler, *, model: str | None = None
    ) -> None:
        self.cards = [
            LiveView(
                ResponseState(scheduler.clock),
                scheduler,
                model=config.options.model if config.options and config.options.model else model,
                title=config.label,
                note=f"Not sent: {config.problem}" if config.problem else "",
            )
            for config in configs
        ]
        self.view = widgets.GridBox(
            [card.widget for card in self.cards],
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fill, minmax(320px, 1fr))", grid_gap="8px"
            ),
        )
        self.view.add_class("heroku-magic-explore")

    def handle(self, index: int, event: Event) -> None:
        """Show one configuration's event in its card (called from worker threads)."""
        card = self.cards[index]
        card.state.add(event)
        card.handle(event)

    def retry(self, index: int, seconds: float) -> None:
        """A rate-limited configuration will be sent again: its card starts afresh (called from its worker thread)."""
        self.cards[index].restart(f"Rate limited by Heroku (429): sending again in {seconds:.0f} s…")

    def close(self) -> None:
        """Stop painting every card (the static comparison replaces the grid)."""
        for card in self.cards:
            card.close()
