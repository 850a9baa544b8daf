"""``%%heroku_chat`` in a real JupyterLab + Chromium, against the local simulator.

One notebook run (module fixture) is watched from inside the page: a ``setInterval`` sampler records
what the chat cell shows every 30 ms (answer length, reasoning length, whether the reasoning panel
is open, whether the live view is still shown). The tests then check the streaming, the Markdown,
the reasoning panel, the static ``<details>`` and that model-supplied HTML runs nothing.

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from .harness import (
    CHAT_CELL,
    CHAT_PROMPT,
    COUNT_CELL,
    ERRORS,
    KERNEL_READY_TIMEOUT_MS,
    STATIC,
    XSS_CELL,
    Lab,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RUN_TIMEOUT = 40.0  # seconds for all cells to finish (they take ~5 s)
SAMPLE_EVERY_MS = 30


KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && !!panel.content && panel.content.widgets.length > 2;
}"""

# Runs in the page: every SAMPLE_EVERY_MS, what the chat cell shows right now.
SAMPLER = """([cellIndex, every, staticSelector]) => {
  window.__samples = [];
  // On screen: laid out and not hidden by an ancestor. checkVisibility() is needed for a closed
  // <details>: Chromium keeps its content laid out (client rects) but hides it (content-visibility).
  const shown = (el) => !!el && el.getClientRects().length > 0 && el.checkVisibility();
  window.__sampler = setInterval(() => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[cellIndex];
    const chat = cell && cell.querySelector('.heroku-magic-chat');
    const done = !!cell && !!cell.querySelector(staticSelector);
    if (!chat && !done) return;  // not started yet (at the end the live view leaves the cell)
    const answer = chat && chat.querySelector(':scope > .hm-steps > .hm-step > .hm-answer');
    const accordion = chat && chat.querySelector(':scope > .hm-steps > .hm-step > details.hm-reasoning');
    const contents = accordion && accordion.querySelector(':scope > .hm-column');
    const title = accordion && accordion.querySelector(':scope > summary');
    window.__samples.push({
      t: Math.round(performance.now()),
      answer: answer ? answer.textContent.trim().length : 0,
      reasoning: contents ? contents.textContent.trim().length : 0,
      panelShown: shown(accordion),
      panelOpen: shown(contents),
      title: title ? title.textContent.trim() : '',
      live: shown(chat),
      done,
    });
  }, every);
}"""


# Runs in the page: every SAMPLE_EVERY_MS, what the XSS cell's live view shows (the widget that
# served the chat cell, taken again from the kernel's pool).
NEXT_VIEW_SAMPLER = """([cellIndex, every]) => {
  window.__next = [];
  window.__nextSampler = setInterval(() => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[cellIndex];
    const chat = cell && cell.querySelector('.heroku-magic-chat');
    if (!chat) return;
    const status = chat.querySelector(':scope > .hm-status');
    const reasoning = chat.querySelector(':scope > .hm-steps > .hm-step > details.hm-reasoning');
    window.__next.push({
      status: status ? status.textContent : '',
      text: chat.querySelector(':scope > .hm-steps').textContent,
      reasoning: !!reasoning && !reasoning.hidden,
    });
  }, every);
}"""


@dataclass
class Run:
    """A finished run of the notebook: the page still open, and what the samplers saw."""

    page: Page
    samples: list[dict[str, Any]]
    seconds: float
    next_view: list[dict[str, Any]]

    def cell(self, index: int) -> Locator:
        """Cell ``index`` of the notebook."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def static(self, index: int) -> Locator:
        """The static result (sanitized HTML) a chat cell leaves."""
        return self.cell(index).locator(STATIC)


def _outputs_text(page: Page) -> str:
    return str(page.evaluate("() => document.querySelector('.jp-Notebook').innerText"))[-3000:]


def _wait_for_cells(page: Page, lab: Lab, failure_shot: Path) -> None:
    """Poll until both chat cells left their static result; fail at once on an error output."""
    deadline = time.monotonic() + RUN_TIMEOUT
    cells = page.locator(".jp-Notebook .jp-Cell")
    while True:
        if page.locator(ERRORS).count():
            page.screenshot(path=str(failure_shot))
            pytest.fail(f"a cell failed (screenshot {failure_shot}):\n{_outputs_text(page)}")
        if all(cells.nth(i).locator(STATIC).count() for i in (CHAT_CELL, XSS_CELL)):
            return
        if time.monotonic() > deadline:
            page.screenshot(path=str(failure_shot))
            pytest.fail(
                f"cells did not finish within {RUN_TIMEOUT:.0f} s (screenshot {failure_shot}):\n"
                f"{_outputs_text(page)}\n--- JupyterLab log ---\n{lab.log_tail()}"
            )
        page.wait_for_timeout(100)


@pytest.fixture(scope="module")
def run(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[Run]:
    """Open the notebook in Chromium, run all cells while sampling, wait for the end, screenshot."""
    started = time.monotonic()
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(lab.notebook_url())
        page.wait_for_function(KERNEL_IDLE, timeout=KERNEL_READY_TIMEOUT_MS)
        page.evaluate(SAMPLER, [CHAT_CELL, SAMPLE_EVERY_MS, STATIC])
        page.evaluate(NEXT_VIEW_SAMPLER, [XSS_CELL, SAMPLE_EVERY_MS])
        # Not awaited: the command's promise resolves only when every cell has finished.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        _wait_for_cells(page, lab, artifacts / "browser-failure.png")
        page.wait_for_timeout(4 * SAMPLE_EVERY_MS)  # a few samples of the final state
        samples: list[dict[str, Any]] = page.evaluate(
            "() => { clearInterval(window.__sampler); return window.__samples; }"
        )
        next_view: list[dict[str, Any]] = page.evaluate(
            "() => { clearInterval(window.__nextSampler); return window.__next; }"
        )
        page.screenshot(path=str(artifacts / "browser-quickstart.png"))
        yield Run(page=page, samples=samples, seconds=time.monotonic() - started, next_view=next_view)
    finally:
        context.close()


def _describe(samples: list[dict[str, Any]]) -> str:
    """The samples as compact lines, for assertion messages (only those where something changed)."""
    lines, previous = [], None
    for sample in samples:
        key = {k: v for k, v in sample.items() if k != "t"}
        if key != previous:
            lines.append(str(sample))
            previous = key
    return "\n".join(lines[:80])


def _rises(values: list[int]) -> list[int]:
    """Each value that is larger than every value before it (the steps of a growing text)."""
    steps: list[int] = []
    for value in values:
        if value > (steps[-1] if steps else 0):
            steps.append(value)
    return steps


def test_answer_grows_on_screen_in_several_steps(run: Run) -> None:
    live = [s for s in run.samples if s["live"] and not s["done"]]
    steps = _rises([s["answer"] for s in live])
    assert len(steps) >= 4, f"the live answer grew in {len(steps)} steps {steps}:\n{_describe(run.samples)}"
    final = run.static(CHAT_CELL).evaluate("(el) => el.textContent.length")
    assert steps[0] < final / 2, f"the first painted answer was already {steps[0]} of {final} characters"
    # When the response ends the live view gives way to the static result: it leaves the cell.
    assert run.samples[-1]["done"] and not run.samples[-1]["live"], _describe(run.samples)
    expect(run.cell(CHAT_CELL).locator(".heroku-magic-chat")).to_have_count(0)
    expect(run.cell(CHAT_CELL)).not_to_contain_text("Error displaying widget")


def test_markdown_renders_a_list_and_a_code_block(run: Run) -> None:
    static = run.static(CHAT_CELL)
    expect(static.locator("li")).to_have_count(3)
    expect(static.locator("pre code")).to_have_count(1)
    expect(static.locator("pre code")).to_contain_text("def summarize")
    expect(static.locator("h3")).to_contain_text(CHAT_PROMPT)
    assert "```" not in static.inner_text(), "code fences shown as text: the Markdown did not render"


def test_reasoning_streams_then_collapses_and_the_details_open(run: Run) -> None:
    samples = [s for s in run.samples if s["live"] and not s["done"]]
    thinking = [s for s in samples if s["answer"] == 0 and s["reasoning"] > 0]
    steps = _rises([s["reasoning"] for s in thinking])
    assert len(steps) >= 2, (
        f"reasoning grew in {len(steps)} steps before the answer:\n{_describe(run.samples)}"
    )
    # Every step of the reasoning was shown in the open panel while the model was thinking. (The
    # last reasoning and the collapse can arrive in one paint, so the final step may be collapsed.)
    grew = [
        s
        for before, s in itertools.pairwise(thinking)
        if s["reasoning"] > before["reasoning"] and not s["title"].startswith("Thought for")
    ]
    assert grew and all(s["panelShown"] and s["panelOpen"] for s in grew), (
        f"the reasoning panel was not open while the reasoning grew:\n{_describe(run.samples)}"
    )
    assert any(s["title"].startswith("Thinking…") for s in thinking), _describe(run.samples)
    answering = [s for s in samples if s["answer"] > 0]
    assert answering, _describe(run.samples)
    assert not any(s["panelOpen"] for s in answering), (
        f"the reasoning panel stayed open after the answer started:\n{_describe(run.samples)}"
    )
    assert answering[-1]["title"].startswith("Thought for"), _describe(run.samples)

    details = run.static(CHAT_CELL).locator("details")
    expect(details).to_have_count(1)
    summary = details.locator("summary")
    expect(summary).to_contain_text("Thought for")
    reasoning = details.locator("p").first
    expect(reasoning).to_be_hidden()
    summary.click()
    expect(reasoning).to_be_visible()
    expect(reasoning).to_contain_text("The user wrote")
    assert details.evaluate("(d) => d.open") is True


def test_html_in_an_answer_executes_nothing(run: Run) -> None:
    assert run.page.evaluate("() => typeof window.__pwned") == "undefined"
    static = run.static(XSS_CELL)
    expect(static).to_contain_text("<script>window.__pwned = 1</script>")
    expect(static).to_contain_text('<img src=x onerror="window.__pwned = 2">')
    # The image is a link the user may follow, never fetched by the page.
    image = static.get_by_role("link", name="[image: pixel]")
    expect(image).to_have_attribute("href", "http://127.0.0.1:9/leak.png?q=secret")
    outputs = run.cell(XSS_CELL).locator(".jp-Cell-outputArea")
    expect(outputs.locator("script, img, [onerror]")).to_have_count(0)


def test_screenshot_saved(run: Run, artifacts: Path) -> None:
    shot = artifacts / "browser-quickstart.png"
    assert shot.stat().st_size > 10_000
    print(f"\nthe browser run took {run.seconds:.1f} s")  # a figure, not a threshold: timings flake


def test_live_answer_never_shrinks_or_repeats_a_block(run: Run) -> None:
    live = [s["answer"] for s in run.samples if s["live"] and not s["done"] and s["answer"]]
    drops = [(before, after) for before, after in itertools.pairwise(live) if after < before]
    assert not drops, f"the live answer shrank (flicker) {drops}:\n{_describe(run.samples)}"


def test_the_next_cell_reuses_the_widget_and_its_view_opens_blank(run: Run) -> None:
    # One chat widget served both chat cells: the kernel pools it rather than opening one per cell.
    expect(run.cell(COUNT_CELL).locator(".jp-OutputArea-output")).to_have_text("chat widgets: 1")
    seen = run.next_view
    assert seen, "the XSS cell's live view was never seen"
    # Its view opened on a blank page, waiting for the model (0.3 s to the first token), and never
    # showed the chat cell's answer or reasoning.
    assert seen[0]["status"].startswith("⏳ Waiting for") and seen[0]["text"] == "", seen[:3]
    assert not any(CHAT_PROMPT in s["text"] or s["reasoning"] for s in seen), seen
    assert any("Injected:" in s["text"] for s in seen), seen  # and then streamed its own answer
