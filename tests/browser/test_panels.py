"""``%heroku_controls`` and ``%%heroku_explore`` in a real JupyterLab + Chromium, against the simulator.

The panels notebook (``harness.PANEL_CELLS``) opens in its own workspace. Cells are run one at a
time with ``notebook:run-cell``. The controls test clicks the panel like a user would (sampling
toggle, "Extended thinking") and checks what the page shows and what the next chat cell sends;
two smaller tests check that the dropdowns show their selection and what the top_p slider sends.
The explore run is watched from inside the page: a ``setInterval`` sampler records, every 30 ms,
each card's answer length and position, so the tests can check the grid layout and that several
cards stream at the same time; then the static comparison table is checked. A last grid is stopped
with JupyterLab's interrupt command while one card streams: what had finished stays on the page.

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from heroku_magic.simulator import Simulator

from .harness import (
    CELL,
    CELL_TIMEOUT,
    CONTROLS_CELL,
    ERRORS,
    EXPLORE_CELL,
    EXPLORE_WORDS,
    KERNEL_IDLE,
    KERNEL_READY_TIMEOUT_MS,
    PANEL_CELLS,
    PANEL_CHAT_CELL,
    PANELS_NOTEBOOK,
    PANELS_WORKSPACE,
    RATE_LIMITED_CELL,
    RUN_CELL,
    STATIC,
    STOPPED_CELL,
    Lab,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SAMPLE_EVERY_MS = 30
GROWTH_WINDOW_MS = 300  # a card "is streaming" at a sample when its text grows within this window
CARDS = 4
SETTLED_MS = 500  # for checks of a state that has already settled
SHOT = "browser-panels.png"
FAILURE_SHOT = "browser-panels-failure.png"
THINKING_LABEL = "claude-4-5-sonnet · thinking, vision, tools"


# Runs in the page: every ``every`` ms, each explore card's answer length and position.
SAMPLER = """([cellIndex, every]) => {
  window.__explore = [];
  const shown = (el) => !!el && el.getClientRects().length > 0;
  window.__exploreSampler = setInterval(() => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[cellIndex].node;
    const cards = [...cell.querySelectorAll('.heroku-magic-explore .hm-card')].map((card) => {
      const answer = card.querySelector(':scope > .hm-steps > .hm-step > .hm-answer');
      const box = card.getBoundingClientRect();
      return {
        answer: answer ? answer.textContent.trim().length : 0,
        top: Math.round(box.top),
        left: Math.round(box.left),
        shown: shown(card),
      };
    });
    window.__explore.push({
      t: Math.round(performance.now()),
      cards,
      table: !!cell.querySelector('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-RenderedHTMLCommon table'),
    });
  }, every);
}"""


@dataclass
class Notebook:
    """The panels notebook open in Chromium, with its extension loaded and the panel shown."""

    page: Page
    lab: Lab
    artifacts: Path

    def cell(self, index: int) -> Locator:
        """Cell ``index`` of the notebook."""
        return self.page.locator(CELL).nth(index)

    @property
    def controls(self) -> Locator:
        """The controls panel."""
        return self.cell(CONTROLS_CELL).locator(".heroku-magic-controls")

    def line(self, heading: str) -> Locator:
        """The panel's HTML line that starts with ``heading`` (e.g. "Next request:")."""
        return self.controls.locator(".widget-html-content", has_text=heading)

    def slider(self, label: str) -> Locator:
        """The noUiSlider element of the panel's slider labelled ``label``."""
        row = self.controls.locator(".widget-hslider").filter(
            has=self.page.locator(".widget-label", has_text=label)
        )
        return row.locator(".noUi-target")

    def set_thinking(self, on: bool) -> None:
        """Click the "Extended thinking" checkbox if it is not already ``on``; wait for the kernel."""
        box = self.controls.get_by_label("Extended thinking")
        if box.is_checked() != on:
            box.click()
        line = expect(self.line("Next request:"))
        if on:
            line.to_contain_text("thinking=")
        else:
            line.not_to_contain_text("thinking=")

    def run(self, index: int, *, wait: bool) -> None:
        """Run one cell (``wait``: until it has finished; otherwise return at once)."""
        self.page.evaluate(RUN_CELL, [index, wait])

    def wait_for(self, index: int, selector: str, what: str) -> None:
        """Poll until cell ``index`` shows ``selector``; fail at once on an error output."""
        deadline = time.monotonic() + CELL_TIMEOUT
        cell = self.cell(index)
        shot = self.artifacts / FAILURE_SHOT
        while True:
            if self.page.locator(ERRORS).count():
                self.page.screenshot(path=str(shot))
                pytest.fail(f"a cell failed (screenshot {shot}):\n{self.text()}")
            if cell.locator(selector).count():
                return
            if time.monotonic() > deadline:
                self.page.screenshot(path=str(shot))
                pytest.fail(
                    f"{what} did not appear within {CELL_TIMEOUT:.0f} s (screenshot {shot}):\n"
                    f"{self.text()}\n--- JupyterLab log ---\n{self.lab.log_tail()}"
                )
            self.page.wait_for_timeout(100)

    def text(self) -> str:
        """The end of what the notebook shows, for failure messages."""
        return str(self.page.evaluate("() => document.querySelector('.jp-Notebook').innerText"))[-3000:]


@pytest.fixture(scope="module")
def notebook(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[Notebook]:
    """Open the panels notebook (left sidebar collapsed, room for the grid), run the first two cells."""
    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(lab.notebook_url(PANELS_NOTEBOOK, workspace=PANELS_WORKSPACE))
        page.wait_for_function(KERNEL_IDLE, arg=len(PANEL_CELLS), timeout=KERNEL_READY_TIMEOUT_MS)
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        nb = Notebook(page=page, lab=lab, artifacts=artifacts)
        nb.run(0, wait=True)
        nb.run(CONTROLS_CELL, wait=True)
        nb.wait_for(CONTROLS_CELL, ".heroku-magic-controls", "the controls panel")
        yield nb
    finally:
        context.close()


def _chat_requests(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body or {} for r in sim.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


def test_controls_thinking_click_reaches_the_next_chat_cell(
    notebook: Notebook, browser_simulator: Simulator
) -> None:
    nb, controls = notebook, notebook.controls
    expect(controls).to_be_visible()
    labels = controls.locator(".widget-dropdown select").first.evaluate(
        "(s) => [...s.options].map((o) => o.textContent.replace(/\\u00a0/g, ' '))"
    )
    assert THINKING_LABEL in labels, f"model dropdown options: {labels}"
    expect(nb.line("Next request:")).to_be_visible()
    expect(nb.line("Next request:")).to_contain_text("model=claude-4-5-sonnet")
    expect(nb.line("Next request:")).not_to_contain_text("thinking")
    expect(nb.line("Last request:")).to_contain_text("none yet")

    # Choose temperature sampling: its slider becomes usable.
    temperature = nb.slider("Temperature")
    controls.get_by_role("button", name="temperature", exact=True).click()
    expect(temperature).not_to_have_attribute("disabled", "true")
    expect(nb.line("Next request:")).to_contain_text("temperature=1.0")

    # Extended thinking: the slider is locked (Heroku needs temperature 1) and the note says why.
    thinking = controls.get_by_label("Extended thinking")
    thinking.click()
    expect(thinking).to_be_checked()
    expect(temperature).to_have_attribute("disabled", "true")
    expect(controls).to_contain_text("Heroku requires temperature 1")
    expect(controls.get_by_label("Show reasoning")).to_be_enabled()
    expect(nb.line("Next request:")).to_contain_text("thinking=1024 tokens")  # the kernel has it

    before = len(_chat_requests(browser_simulator))
    nb.run(PANEL_CHAT_CELL, wait=False)
    nb.wait_for(PANEL_CHAT_CELL, STATIC, "the chat cell's result")
    sent = _chat_requests(browser_simulator)
    assert len(sent) == before + 1, f"expected one chat request, got {len(sent) - before}"
    body = sent[-1]
    assert body.get("extended_thinking") == {
        "enabled": True,
        "budget_tokens": 1024,
        "include_reasoning": True,
    }
    assert body.get("temperature") in (None, 1, 1.0), body
    assert "top_p" not in body, body
    # The answer came with its reasoning, and the panel's last-request line followed the cell.
    expect(nb.cell(PANEL_CHAT_CELL).locator(f"{STATIC} details summary")).to_contain_text("Thought for")
    expect(nb.line("Last request:")).to_contain_text("thinking=1024 tokens")
    expect(nb.line("Last request:")).not_to_contain_text("none yet")


def test_controls_dropdowns_show_their_selection(notebook: Notebook) -> None:
    selects = notebook.controls.locator(".widget-dropdown select")
    # The "use the default" options are shown as selected, not a blank box (fixed in 175bb9b).
    expect(selects.nth(0)).to_have_value("attachment default (claude-4-5-sonnet)")
    expect(selects.nth(1)).to_have_value("not set")


def test_controls_top_p_sends_the_value_shown(notebook: Notebook) -> None:
    nb, controls = notebook, notebook.controls
    nb.set_thinking(False)
    controls.get_by_role("button", name="top_p", exact=True).click()
    expect(nb.slider("top_p")).not_to_have_attribute("disabled", "true")
    readout = controls.locator(".widget-hslider", has_text="top_p").locator(".widget-readout")
    expect(readout).to_have_text("0.90")
    expect(nb.line("Next request:")).to_contain_text("top_p=")  # the kernel has the click
    expect(nb.line("Next request:")).to_contain_text(re.compile(r"top_p=0\.9(?![0-9])"), timeout=SETTLED_MS)


@dataclass
class Explore:
    """A finished explore cell: what the sampler saw while it ran."""

    nb: Notebook
    samples: list[dict[str, Any]]
    seconds: float

    @property
    def static(self) -> Locator:
        """The static result (sanitized HTML) of the explore cell."""
        return self.nb.cell(EXPLORE_CELL).locator(STATIC)


@pytest.fixture(scope="module")
def explore(notebook: Notebook) -> Explore:
    """Reset the panel's sampling, run the explore cell while sampling the page, screenshot the end."""
    nb, page = notebook, notebook.page
    # The panel's settings are the grid's base: with thinking on, the temperature=0 configurations
    # could not be sent (Heroku's rule), nor any with a top_p. Back to the model's defaults.
    nb.set_thinking(False)
    nb.controls.get_by_role("button", name="model default", exact=True).click()
    for name in ("thinking=", "temperature=", "top_p="):
        expect(nb.line("Next request:")).not_to_contain_text(name)
    started = time.monotonic()
    page.evaluate(SAMPLER, [EXPLORE_CELL, SAMPLE_EVERY_MS])
    nb.run(EXPLORE_CELL, wait=False)
    nb.wait_for(EXPLORE_CELL, f"{STATIC} table", "the explore comparison table")
    seconds = time.monotonic() - started
    page.wait_for_timeout(4 * SAMPLE_EVERY_MS)  # a few samples of the final state
    samples: list[dict[str, Any]] = page.evaluate(
        "() => { clearInterval(window.__exploreSampler); return window.__explore; }"
    )
    # The panel at the top of the view, the explore results below it.
    nb.controls.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(nb.artifacts / SHOT))
    return Explore(nb=nb, samples=samples, seconds=seconds)


def _describe(samples: list[dict[str, Any]]) -> str:
    """The samples as compact lines (answer lengths per card), for assertion messages."""
    lines, previous = [], None
    for sample in samples:
        key = ([c["answer"] for c in sample["cards"]], sample["table"])
        if key != previous:
            lines.append(f"{sample['t']}: answers={key[0]} table={key[1]}")
            previous = key
    return "\n".join(lines[:80])


def _streaming_at(samples: list[dict[str, Any]], index: int) -> int:
    """How many cards have non-empty text at sample ``index`` that grows within the window after it."""
    here = samples[index]
    later = next(
        (s for s in samples[index:] if s["t"] - here["t"] >= GROWTH_WINDOW_MS and len(s["cards"]) == CARDS),
        None,
    )
    if later is None or len(here["cards"]) != CARDS:
        return 0
    return sum(
        1
        for now, after in zip(here["cards"], later["cards"], strict=True)
        if now["shown"] and 0 < now["answer"] < after["answer"]
    )


def test_explore_shows_four_cards_side_by_side(explore: Explore) -> None:
    live = [s for s in explore.samples if len(s["cards"]) == CARDS and all(c["shown"] for c in s["cards"])]
    assert live, f"never saw {CARDS} cards shown:\n{_describe(explore.samples)}"
    cards = live[len(live) // 2]["cards"]
    tops = [c["top"] for c in cards]
    rows = {top: sum(1 for t in tops if abs(t - top) <= 1) for top in tops}
    assert max(rows.values()) >= 2, f"no two cards share a row (tops {tops}): not laid out as a grid"
    lefts = {c["left"] for c in cards if abs(c["top"] - tops[0]) <= 1}
    assert len(lefts) >= 2, f"the cards of the first row all start at the same x: {cards}"


def test_explore_cards_stream_at_the_same_time(explore: Explore) -> None:
    samples = explore.samples
    counts = [_streaming_at(samples, i) for i in range(len(samples))]
    assert max(counts, default=0) >= 2, (
        f"at most {max(counts, default=0)} card(s) streamed at once:\n{_describe(samples)}"
    )
    # Every card's text grew in several steps (streamed, not painted once at the end).
    for card in range(CARDS):
        lengths = [s["cards"][card]["answer"] for s in samples if len(s["cards"]) == CARDS]
        steps = sorted({n for n in lengths if n > 0})
        assert len(steps) >= 4, f"card {card} grew in {len(steps)} steps:\n{_describe(samples)}"
    # When all are done the live grid gives way to the static result.
    assert samples[-1]["table"] and not any(c["shown"] for c in samples[-1]["cards"]), _describe(samples)


def test_explore_comparison_table_renders(explore: Explore) -> None:
    static = explore.static
    expect(static.locator("table")).to_have_count(1)
    table = static.locator("table")
    expect(table.locator("thead th").first).to_have_text("settings")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(CARDS)
    settings = [rows.nth(i).locator("td").first.inner_text() for i in range(CARDS)]
    for temperature in ("0", "1"):
        for model in ("claude-4-5-haiku", "claude-4-5-sonnet"):
            label = f"temperature={temperature}, model={model}"
            assert any(label in s for s in settings), f"no row {label!r} in {settings}"
    expect(rows.locator("td:last-child")).to_have_text(["stop"] * CARDS)
    # The chart: an image (matplotlib is in the test extra), 900 px wide, drawn from the same figures.
    chart = explore.nb.cell(EXPLORE_CELL).locator('.jp-RenderedImage[data-mime-type="image/png"] img')
    expect(chart).to_have_count(1)
    assert chart.evaluate("(img) => img.complete && img.naturalWidth") == 900
    expect(static.locator("h4")).to_have_count(CARDS)
    expect(static).to_contain_text(f"w{EXPLORE_WORDS}")
    # The live grid left the cell, and its widgets with it.
    expect(explore.nb.cell(EXPLORE_CELL).locator(".heroku-magic-explore")).to_have_count(0)
    expect(explore.nb.cell(EXPLORE_CELL)).not_to_contain_text("Error displaying widget")


def test_panels_screenshot_saved(explore: Explore) -> None:
    shot = explore.nb.artifacts / SHOT
    assert shot.stat().st_size > 10_000
    expect(explore.nb.controls).to_be_in_viewport()
    expect(explore.static.locator("table")).to_be_in_viewport()
    print(f"\nthe explore cell took {explore.seconds:.1f} s")  # a figure, not a threshold


# Runs in the page: every ``every`` ms, each card's status line and answer length in one cell.
CARD_SAMPLER = """([cellIndex, every]) => {
  window.__cards = [];
  window.__cardSampler = setInterval(() => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[cellIndex].node;
    window.__cards.push([...cell.querySelectorAll('.heroku-magic-explore .hm-card')].map((card) => ({
      status: card.querySelector(':scope > .hm-status').textContent,
      answer: card.querySelector(':scope > .hm-steps > .hm-step > .hm-answer').textContent.trim().length,
    })));
  }, every);
}"""


def test_a_rate_limited_card_says_so_then_answers(notebook: Notebook, browser_simulator: Simulator) -> None:
    nb, page = notebook, notebook.page
    before = len(_chat_requests(browser_simulator))
    browser_simulator.inject("rate_limit", retry_after="2")  # the first request of the grid gets a 429
    page.evaluate(CARD_SAMPLER, [RATE_LIMITED_CELL, SAMPLE_EVERY_MS])
    nb.run(RATE_LIMITED_CELL, wait=False)
    nb.wait_for(RATE_LIMITED_CELL, f"{STATIC} table", "the comparison table of the rate-limited grid")
    samples: list[list[dict[str, Any]]] = page.evaluate(
        "() => { clearInterval(window.__cardSampler); return window.__cards; }"
    )
    noted = [
        (n, i)
        for n, cards in enumerate(samples)
        for i, card in enumerate(cards)
        if card["status"].startswith("Rate limited by Heroku (429): sending again in 2 s")
    ]
    assert noted, f"no card said it was rate limited: {samples[::10]}"
    first, card = noted[0]
    # While it waited its card was blank; then the new attempt's answer streamed into it.
    assert samples[first][card]["answer"] == 0
    assert any(cards[card]["answer"] > 0 and not cards[card]["status"] for cards in samples[first:])
    rows = nb.cell(RATE_LIMITED_CELL).locator(f"{STATIC} table tbody tr")
    expect(rows.locator("td:last-child")).to_have_text(["stop", "stop"])  # no configuration failed
    assert len(_chat_requests(browser_simulator)) - before == 3  # two, and the one sent again


def test_interrupting_a_grid_leaves_the_comparison_of_what_finished(notebook: Notebook) -> None:
    nb, page = notebook, notebook.page
    nb.run(STOPPED_CELL, wait=False)
    cell = nb.cell(STOPPED_CELL)
    cards = cell.locator(".heroku-magic-explore .hm-card")
    expect(cards).to_have_count(2)
    # Once the short configuration has answered (its footer counts the tokens of its finished
    # answer) and the long one is streaming, stop the kernel. Both start together: on a loaded
    # machine the long one's first words can come before the short one's end.
    expect(cards.nth(0).locator(".hm-footer")).to_contain_text(" tokens", timeout=CELL_TIMEOUT * 1000)
    expect(cards.nth(1).locator(".hm-answer")).to_contain_text(re.compile(r"\S"), timeout=CELL_TIMEOUT * 1000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:interrupt-kernel')")
    rows = cell.locator(f"{STATIC} table tbody tr")
    expect(rows).to_have_count(2, timeout=CELL_TIMEOUT * 1000)
    expect(rows.locator("td:first-child")).to_have_text(["max_tokens=3", "max_tokens=4000"])
    expect(rows.locator("td:last-child")).to_have_text(["length", "error"])  # the second: interrupted
    expect(cell.locator(ERRORS)).to_contain_text(
        "Interrupted: the grid was stopped: 1 of 2 configurations had finished, shown above; "
        "--out stopped keeps them"
    )
    expect(cards).to_have_count(0)  # the cards left with the grid
    expect(cell).not_to_contain_text("Error displaying widget")
