"""The plain-Python grid runner: outcomes reported as they finish, in grid order at the end."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fakes import answer

from heroku_magic import ChatOptions, Event
from heroku_magic.explore import Outcome, configurations, parse_grid, run_grid


class GatedClient:
    """Answers temperature 0 only once ``gate`` is set; every other request at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def events(self, messages: Sequence[Mapping[str, Any]], options: ChatOptions) -> Iterator[Event]:
        if options.temperature == 0:
            self.gate.wait(timeout=10)
        for item in answer(f"t={options.temperature}"):
            assert not isinstance(item, Exception)
            yield item


def test_outcomes_are_reported_on_the_callers_thread_as_each_finishes() -> None:
    client = GatedClient()
    configs = configurations(ChatOptions(model="m"), parse_grid(["temperature=0,1"]))
    reported: list[tuple[int, str, bool]] = []

    def on_outcome(index: int, outcome: Outcome) -> None:
        reported.append((index, outcome.summary(), threading.current_thread() is threading.main_thread()))
        client.gate.set()  # the slow one may finish only after the fast one was reported

    results = run_grid("hi", configs, client, concurrency=2, on_outcome=on_outcome)
    assert [index for index, _, _ in reported] == [1, 0]
    assert all(on_main for _, _, on_main in reported)
    assert reported[0][1] == results[1].summary() and reported[0][1].startswith("temperature=1: ")
    assert [o.result.text for o in results if o.result] == ["t=0.0 ", "t=1.0 "]  # grid order


def test_summary_names_the_figures_or_the_error() -> None:
    [config] = configurations(ChatOptions(model="m"), parse_grid(["max_tokens=5"]))
    results = run_grid("hi", [config], GatedClient())
    line = results[0].summary()
    assert line.startswith("max_tokens=5: ") and " s · 1 tokens · stop" in line
    [refused] = configurations(ChatOptions(model="m", temperature=0.5), parse_grid(["thinking=1024"]))
    assert run_grid("hi", [refused], GatedClient())[0].summary().startswith("thinking=1024: error: ")
