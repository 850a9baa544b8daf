"""``%%heroku_chat --tools`` in a real JupyterLab + Chromium, against the simulator.

The tools notebook (``harness.TOOL_CELLS``, its own workspace) defines two tools that record each
call in a list. The simulator calls a tool when the prompt names it (``get_weather city=Paris``),
answers that step with no text, and its final answer quotes each tool's result.

Each chat cell is watched from inside the page: a ``setInterval`` sampler records, every 30 ms, what
the cell's live view shows (its steps, and each tool card's summary, arguments, result and buttons),
so the tests can check what a user saw while the turn ran, in order, then the static output that
replaced it. The ``--confirm`` test clicks Approve on the first card and Deny on the second, like
a user would, while the cell is still running. A hostile tool result is checked by the attacks
session (``test_attacks.py``).

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
    CONFIRM_CELL,
    RAN_CELL,
    TOOL_CELLS,
    TOOL_DEFS_CELL,
    TOOLS_NOTEBOOK,
    TOOLS_WORKSPACE,
    WEATHER_CELL,
    Lab,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

KERNEL_READY_TIMEOUT_MS = 30_000
CELL_TIMEOUT = 30.0  # seconds for a cell to leave its result (each takes ~2 s)
SAMPLE_EVERY_MS = 30
SHOT_CONFIRM = "browser-tools-confirm.png"
SHOT_END = "browser-tools.png"
FAILURE_SHOT = "browser-tools-failure.png"
DENIED = "The user did not allow this tool call."

CELL = ".jp-Notebook .jp-Cell"
STATIC = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-RenderedHTMLCommon"
PROMPT = ".jp-InputArea-prompt"  # the execution indicator: "[*]:" while the cell runs
ERRORS = (
    '.jp-Cell-outputArea [data-mime-type="application/vnd.jupyter.error"], '
    '.jp-Cell-outputArea [data-mime-type="application/vnd.jupyter.stderr"]'
)
# The summary quotes the tool's result as the model got it (compact JSON), then how long it took.
WEATHER_SUMMARY = re.compile(r'^🔧 get_weather → \{"city":"(Paris|Lyon)","temp":21\} · \d+\.\d\d s$')

KERNEL_IDLE = """(cells) => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && !!panel.content && panel.content.widgets.length === cells;
}"""

# Select cell ``index`` alone and run it; with ``wait`` the promise resolves when it has finished.
RUN_CELL = """async ([index, wait]) => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  const done = window.jupyterapp.commands.execute('notebook:run-cell');
  if (wait) await done;
}"""

# Runs in the page: every ``every`` ms, what cell ``cellIndex``'s live view shows.
SAMPLER = """([cellIndex, every, staticSelector, promptSelector]) => {
  window.__tools = [];
  const text = (el) => (el ? el.textContent : null);
  window.__toolSampler = setInterval(() => {
    const cell = window.jupyterapp.shell.currentWidget.content.widgets[cellIndex].node;
    const chat = cell.querySelector('.heroku-magic-chat');
    const done = !!cell.querySelector(staticSelector);
    if (!chat && !done) return;  // not started yet (at the end the live view leaves the cell)
    window.__tools.push({
      t: Math.round(performance.now()),
      live: !!chat && chat.getClientRects().length > 0,
      done,
      prompt: text(cell.querySelector(promptSelector)),
      steps: chat ? chat.querySelectorAll('.hm-step').length : 0,
      answer: chat ? [...chat.querySelectorAll('.hm-answer')].map((a) => a.textContent).join('') : '',
      cards: chat ? [...chat.querySelectorAll('details.hm-card-tool')].map((card) => {
        const result = card.querySelector(':scope > pre.hm-result');
        return {
          step: [...chat.querySelectorAll('.hm-step')].indexOf(card.closest('.hm-step')),
          summary: text(card.querySelector(':scope > summary')),
          args: text(card.querySelector(':scope > pre.hm-args')),
          result: result && !result.hidden ? result.textContent : null,
          error: card.classList.contains('hm-error'),
          buttons: [...card.querySelectorAll('.hm-approval button')].map((b) => b.textContent),
          shown: card.getClientRects().length > 0,
        };
      }) : [],
    });
  }, every);
}"""
STOP_SAMPLER = "() => { clearInterval(window.__toolSampler); return window.__tools; }"


@dataclass
class Notebook:
    """The tools notebook open in Chromium, with the extension loaded and the tools defined."""

    page: Page
    lab: Lab
    artifacts: Path

    def cell(self, index: int) -> Locator:
        """Cell ``index`` of the notebook."""
        return self.page.locator(CELL).nth(index)

    def static(self, index: int) -> Locator:
        """The static result (sanitized HTML) of cell ``index``."""
        return self.cell(index).locator(STATIC)

    def run(self, index: int, *, wait: bool) -> None:
        """Run one cell (``wait``: until it has finished; otherwise return at once)."""
        self.page.evaluate(RUN_CELL, [index, wait])

    def fail(self, what: str) -> None:
        """Screenshot the page and fail with what the notebook shows and the server's log."""
        shot = self.artifacts / FAILURE_SHOT
        self.page.screenshot(path=str(shot))
        pytest.fail(
            f"{what} (screenshot {shot}):\n{self.text()}\n--- JupyterLab log ---\n{self.lab.log_tail()}"
        )

    def wait_for(self, index: int, selector: str, what: str) -> None:
        """Poll until cell ``index`` shows ``selector``; fail at once on an error output."""
        deadline = time.monotonic() + CELL_TIMEOUT
        cell = self.cell(index)
        while True:
            if self.page.locator(ERRORS).count():
                self.fail("a cell failed")
            if cell.locator(selector).count():
                return
            if time.monotonic() > deadline:
                self.fail(f"{what} did not appear within {CELL_TIMEOUT:.0f} s")
            self.page.wait_for_timeout(100)

    def check(self, condition: bool, what: str) -> None:
        """Fail (with a screenshot) unless ``condition``."""
        if not condition:
            self.fail(what)

    def text(self) -> str:
        """The end of what the notebook shows, for failure messages."""
        return str(self.page.evaluate("() => document.querySelector('.jp-Notebook').innerText"))[-3000:]


@pytest.fixture(scope="module")
def notebook(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[Notebook]:
    """Open the tools notebook (left sidebar collapsed), load the extension and define the tools."""
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(lab.notebook_url(TOOLS_NOTEBOOK, workspace=TOOLS_WORKSPACE))
        page.wait_for_function(KERNEL_IDLE, arg=len(TOOL_CELLS), timeout=KERNEL_READY_TIMEOUT_MS)
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        nb = Notebook(page=page, lab=lab, artifacts=artifacts)
        nb.run(0, wait=True)
        nb.run(TOOL_DEFS_CELL, wait=True)
        if page.locator(ERRORS).count():
            nb.fail("loading the extension or defining the tools failed")
        yield nb
    finally:
        context.close()


def _describe(samples: list[dict[str, Any]]) -> str:
    """The samples as compact lines (each change of what the view shows), for assertion messages."""
    lines, previous = [], None
    for sample in samples:
        cards = [(c["summary"], c["result"] is not None, c["buttons"]) for c in sample["cards"]]
        key = (sample["live"], sample["done"], sample["prompt"], sample["steps"], cards)
        if key != previous:
            lines.append(f"{sample['t']}: live={key[0]} done={key[1]} prompt={key[2]} steps={key[3]} {cards}")
            previous = key
    return "\n".join(lines[:60])


def _first(samples: list[dict[str, Any]], test: Any) -> int | None:
    """The index of the first sample for which ``test(sample)`` holds."""
    return next((n for n, sample in enumerate(samples) if test(sample)), None)


def _chat_requests(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body or {} for r in sim.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


@dataclass
class Turn:
    """A finished tool turn: what the sampler saw while it ran, and the requests the model got."""

    samples: list[dict[str, Any]]
    requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def weather(notebook: Notebook, browser_simulator: Simulator) -> Turn:
    """Run the get_weather cell while sampling its live view."""
    nb = notebook
    before = len(_chat_requests(browser_simulator))
    nb.page.evaluate(SAMPLER, [WEATHER_CELL, SAMPLE_EVERY_MS, STATIC, PROMPT])
    nb.run(WEATHER_CELL, wait=False)
    nb.wait_for(WEATHER_CELL, STATIC, "the get_weather cell's result")
    nb.page.wait_for_timeout(4 * SAMPLE_EVERY_MS)  # a few samples of the final state
    samples: list[dict[str, Any]] = nb.page.evaluate(STOP_SAMPLER)
    return Turn(samples=samples, requests=_chat_requests(browser_simulator)[before:])


def test_a_tool_card_shows_the_call_then_its_result_while_the_turn_runs(
    notebook: Notebook, weather: Turn
) -> None:
    samples, nb = weather.samples, notebook
    story = _describe(samples)
    # The card appeared in the live view, named, before its result was there ...
    named = _first(
        samples,
        lambda s: (
            s["live"]
            and s["cards"]
            and s["cards"][0]["summary"].startswith("🔧 get_weather")
            and s["cards"][0]["result"] is None
            and s["cards"][0]["shown"]
        ),
    )
    nb.check(named is not None, f"no live card named get_weather before its result:\n{story}")
    # ... it said the tool was running while the tool slept ...
    running = _first(
        samples, lambda s: s["live"] and s["cards"] and s["cards"][0]["summary"] == "🔧 get_weather running…"
    )
    nb.check(running is not None, f"the live card never said get_weather was running:\n{story}")
    # ... then showed the tool's result (the JSON pretty-printed) and how long it took.
    result = _first(samples, lambda s: s["live"] and s["cards"] and s["cards"][0]["result"] is not None)
    nb.check(result is not None, f"the live card never showed get_weather's result:\n{story}")
    assert named is not None and running is not None and result is not None
    assert named <= running < result, story
    card = samples[result]["cards"][0]
    assert WEATHER_SUMMARY.match(card["summary"]), card
    assert card["result"] == '{\n  "city": "Paris",\n  "temp": 21\n}', card
    assert card["args"] == '{"city": "Paris"}' and not card["error"] and not card["buttons"], card
    assert card["step"] == 0, card
    # The model was called again (a second step) and its answer streamed live below the card.
    answered = _first(
        samples, lambda s: s["live"] and s["steps"] == 2 and "get_weather returned" in s["answer"]
    )
    nb.check(answered is not None, f"the second step's answer was never seen live:\n{story}")
    assert answered is not None and answered >= result, story
    # When the turn ended, the static output replaced the live view.
    assert samples[-1]["done"] and not samples[-1]["live"], story
    assert len(weather.requests) == 2, f"expected two model calls, got {len(weather.requests)}"


def test_the_static_output_keeps_the_card_and_the_answer_quotes_the_result(
    notebook: Notebook, weather: Turn
) -> None:
    static = notebook.static(WEATHER_CELL)
    cards = static.locator("details.hm-tool")
    expect(cards).to_have_count(1)
    summary = cards.locator("summary")
    expect(summary).to_have_text(WEATHER_SUMMARY)
    expect(cards).not_to_have_attribute("open", "")  # collapsed: one line per call
    summary.click()
    expect(cards).to_have_attribute("open", "")
    code = cards.locator("pre.hm-code")  # the arguments, then the result: JSON as highlighted code
    expect(code).to_have_count(2)
    expect(code.nth(0)).to_have_text('{\n  "city": "Paris"\n}\n')
    expect(code.nth(1)).to_have_text('{\n  "city": "Paris",\n  "temp": 21\n}\n')
    expect(code.nth(1).locator(".s", has_text='"Paris"')).to_have_count(1)  # highlighted
    expect(cards).to_contain_text("Result")
    expect(static).to_contain_text('get_weather returned: {"city":"Paris","temp":21}')
    expect(notebook.cell(WEATHER_CELL).locator(".heroku-magic-chat")).to_have_count(0)
    expect(notebook.cell(WEATHER_CELL)).not_to_contain_text("Error displaying widget")
    # The tool's real result went back to the model.
    tool_messages = [m for m in weather.requests[-1]["messages"] if m.get("role") == "tool"]
    assert [m["content"] for m in tool_messages] == ['{"city":"Paris","temp":21}'], tool_messages


@pytest.fixture(scope="module")
def confirmed(notebook: Notebook, browser_simulator: Simulator) -> Turn:
    """Run the --confirm cell: Approve the first call, Deny the second, while the cell waits.

    Each step is checked as it happens (the cell waits for the clicks, so nothing here races it);
    the sampler records the rest.
    """
    nb, page = notebook, notebook.page
    cell = nb.cell(CONFIRM_CELL)
    before = len(_chat_requests(browser_simulator))
    page.evaluate(SAMPLER, [CONFIRM_CELL, SAMPLE_EVERY_MS, STATIC, PROMPT])
    nb.run(CONFIRM_CELL, wait=False)
    nb.wait_for(CONFIRM_CELL, "button.hm-approve", "the first call's Approve button")
    cards = cell.locator("details.hm-card-tool")
    expect(cards).to_have_count(2)
    first, second = cards.nth(0), cards.nth(1)
    # Calls are confirmed in order: only the first card asks, and the cell is still running.
    expect(cell.locator(PROMPT)).to_have_text("[*]:")
    expect(first.locator("summary")).to_have_text("🔧 get_weather waiting for your approval")
    expect(first.locator(".hm-approval button")).to_have_text(["Approve", "Deny"])
    expect(second.locator("summary")).to_contain_text("🔧 get_time")
    expect(second.locator(".hm-approval button")).to_have_count(0)
    expect(first.locator("pre.hm-args")).to_have_text('{"city": "Lyon"}')
    expect(second.locator("pre.hm-args")).to_have_text('{"zone": "UTC"}')
    first.locator(".hm-approval").scroll_into_view_if_needed()
    page.screenshot(path=str(nb.artifacts / SHOT_CONFIRM))
    first.locator("button.hm-approve").click()
    # The kernel got the click while the cell waited: the second call asks now.
    expect(second.locator("button.hm-deny")).to_be_visible()
    expect(first.locator(".hm-approval button")).to_have_count(0)
    expect(cell.locator(PROMPT)).to_have_text("[*]:")
    second.locator("button.hm-deny").click()
    nb.wait_for(CONFIRM_CELL, STATIC, "the --confirm cell's result")
    page.wait_for_timeout(4 * SAMPLE_EVERY_MS)
    samples: list[dict[str, Any]] = page.evaluate(STOP_SAMPLER)
    page.screenshot(path=str(nb.artifacts / SHOT_END))
    return Turn(samples=samples, requests=_chat_requests(browser_simulator)[before:])


def test_confirm_approve_runs_the_call_and_deny_does_not(notebook: Notebook, confirmed: Turn) -> None:
    samples, nb = confirmed.samples, notebook
    story = _describe(samples)
    # Live: after the clicks, the approved card showed its result and the denied one the denial.
    both = _first(
        samples,
        lambda s: (
            s["live"]
            and len(s["cards"]) == 2
            and s["cards"][0]["result"] == '{\n  "city": "Lyon",\n  "temp": 21\n}'
            and s["cards"][1]["result"] == DENIED
        ),
    )
    nb.check(both is not None, f"the live cards never showed the result and the denial:\n{story}")
    assert both is not None
    approved, denied = samples[both]["cards"]
    assert WEATHER_SUMMARY.match(approved["summary"]) and not approved["error"], approved
    assert denied["summary"].startswith(f"🔧 get_time ✗ {DENIED}") and denied["error"], denied
    assert not approved["buttons"] and not denied["buttons"], samples[both]
    # The cell ran until the end of the turn, then the static output replaced the live view.
    asked = [s for s in samples if any(c["buttons"] for c in s["cards"])]
    assert asked and all(s["prompt"] == "[*]:" for s in asked), story
    assert samples[-1]["done"] and not samples[-1]["live"], story
    expect(nb.cell(CONFIRM_CELL).locator(PROMPT)).to_have_text(re.compile(r"^\[\d+\]:$"))

    # Static: both calls, the result and the denial; the answer tells what the model was told.
    static = nb.static(CONFIRM_CELL)
    cards = static.locator("details.hm-tool")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).locator("summary")).to_have_text(WEATHER_SUMMARY)
    expect(cards.nth(0).locator("summary")).to_contain_text('"city":"Lyon"')
    expect(cards.nth(1).locator("summary")).to_have_text(f"🔧 get_time ✗ {DENIED}")
    expect(cards.nth(1)).to_contain_text("Error")
    expect(cards.nth(1).locator("pre").last).to_have_text(DENIED)
    expect(static).to_contain_text('get_weather returned: {"city":"Lyon","temp":21}')
    expect(static).to_contain_text(f"get_time returned: {DENIED}")

    # The model was told: the denial went back as get_time's result.
    assert len(confirmed.requests) == 2, f"expected two model calls, got {len(confirmed.requests)}"
    tool_messages = [m["content"] for m in confirmed.requests[-1]["messages"] if m.get("role") == "tool"]
    assert tool_messages == ['{"city":"Lyon","temp":21}', DENIED], tool_messages

    # And the denied tool never ran: the notebook's own record of its calls.
    nb.run(RAN_CELL, wait=True)
    output = nb.cell(RAN_CELL).locator(".jp-OutputArea-output")
    expect(output).to_contain_text("('get_weather', 'Lyon')")
    expect(output).not_to_contain_text("get_time")


def test_tools_screenshots_saved(notebook: Notebook, confirmed: Turn) -> None:
    for name in (SHOT_CONFIRM, SHOT_END):
        assert (notebook.artifacts / name).stat().st_size > 10_000, name
