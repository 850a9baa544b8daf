"""The plain-Python grid runner: outcomes reported as they finish, in grid order at the end."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from fakes import answer

import heroku_magic.explore
from heroku_magic import ChatOptions, Event, OptionsError
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


def test_a_grid_over_the_limit_is_refused_before_any_value_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    monkeypatch.setattr(heroku_magic.explore, "_value", lambda name, text: parsed.append(text))
    specs = ["max_tokens=" + ",".join(map(str, range(1, 1001))), "top_k=" + ",".join(map(str, range(1, 101)))]
    with pytest.raises(OptionsError) as info:
        parse_grid(specs, limit=64)
    assert str(info.value) == "the grid has 100000 configurations; at most 64 run at once"
    assert parsed == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("temperature=0,nan", "--grid temperature: temperature must be a finite number, got nan"),
        ("top_p=inf", "--grid top_p: top_p must be a finite number, got inf"),
        ("temperature=1.5", "--grid temperature: temperature must be from 0 to 1, got 1.5"),
        ("max_tokens=0", "--grid max_tokens: max_tokens must be at least 1, got 0"),
        ("model=a,,b", "--grid model: model must be a non-empty model id, got ''"),
        ("effort=low,", "--grid effort: reasoning effort must be one of low, medium, high, got ''"),
    ],
)
def test_a_value_no_request_may_carry_is_refused_when_the_grid_is_read(spec: str, message: str) -> None:
    with pytest.raises(OptionsError) as info:
        parse_grid([spec])
    assert str(info.value) == message
