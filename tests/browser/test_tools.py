"""``%%heroku_chat --tools`` in a real JupyterLab + Chromium, against the simulator.

The tools notebook (``harness.TOOL_CELLS``, its own workspace) defines two tools that record each
call in a list. The simulator calls a tool when the prompt names it (``get_weather city=Paris``),
answers that step with no text, and its final answer quotes each tool's result.

Each chat cell is watched from inside the page with the shared sampler (``harness.SAMPLER``), which
records, every 30 ms, what the cell's live view shows (its steps, and each tool card's summary,
arguments, result and buttons), so the tests can check what a user saw while the turn ran, in
order, then the static output that replaced it. The ``--confirm`` test clicks Approve on the first card and Deny on the second, like
a user would, while the cell is still running. A hostile tool result is checked by the attacks
session (``test_attacks.py``).

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from heroku_magic.simulator import Simulator

from .harness import (
    CONFIRM_CELL,
    PROMPT,
    RAN_CELL,
    TOOL_CELLS,
    TOOL_DEFS_CELL,
    TOOLS_NOTEBOOK,
    TOOLS_WORKSPACE,
    WEATHER_CELL,
    Lab,
    NotebookPage,
    Sample,
    describe_samples,
    first_sample,
    open_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOT_CONFIRM = "browser-tools-confirm.png"
SHOT_END = "browser-tools.png"
FAILURE_SHOT = "browser-tools-failure.png"
DENIED = "The user did not allow this tool call."

# The summary quotes the tool's result as the model got it (compact JSON), then how long it took.
WEATHER_SUMMARY = re.compile(r'^🔧 get_weather → \{"city":"(Paris|Lyon)","temp":21\} · \d+\.\d\d s$')


@pytest.fixture(scope="module")
def notebook(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[NotebookPage]:
    """The tools notebook open in Chromium, with the extension loaded and the tools defined."""
    with open_notebook(
        browser,
        lab,
        artifacts,
        TOOLS_NOTEBOOK,
        TOOLS_WORKSPACE,
        len(TOOL_CELLS),
        run_first=(0, TOOL_DEFS_CELL),
        failure_shot=FAILURE_SHOT,
    ) as nb:
        yield nb


def _chat_requests(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body or {} for r in sim.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


@dataclass
class Turn:
    """A finished tool turn: what the sampler saw while it ran, and the requests the model got."""

    samples: list[Sample]
    requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def weather(notebook: NotebookPage, browser_simulator: Simulator) -> Turn:
    """Run the get_weather cell while sampling its live view."""
    before = len(_chat_requests(browser_simulator))
    samples = notebook.run_sampled(WEATHER_CELL, "the get_weather cell's result")
    return Turn(samples=samples, requests=_chat_requests(browser_simulator)[before:])


def test_a_tool_card_shows_the_call_then_its_result_while_the_turn_runs(
    notebook: NotebookPage, weather: Turn
) -> None:
    samples, nb = weather.samples, notebook
    story = describe_samples(samples)
    # The card appeared in the live view, named, before its result was there ...
    named = first_sample(
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
    running = first_sample(
        samples, lambda s: s["live"] and s["cards"] and s["cards"][0]["summary"] == "🔧 get_weather running…"
    )
    nb.check(running is not None, f"the live card never said get_weather was running:\n{story}")
    # ... then showed the tool's result (the JSON pretty-printed) and how long it took.
    result = first_sample(samples, lambda s: s["live"] and s["cards"] and s["cards"][0]["result"] is not None)
    nb.check(result is not None, f"the live card never showed get_weather's result:\n{story}")
    assert named is not None and running is not None and result is not None
    assert named <= running < result, story
    card = samples[result]["cards"][0]
    assert WEATHER_SUMMARY.match(card["summary"]), card
    assert card["result"] == '{\n  "city": "Paris",\n  "temp": 21\n}', card
    assert card["args"] == '{"city": "Paris"}' and not card["error"] and not card["buttons"], card
    assert card["step"] == 0, card
    # The model was called again (a second step) and its answer streamed live below the card.
    answered = first_sample(
        samples, lambda s: s["live"] and s["steps"] == 2 and "get_weather returned" in s["answer"]
    )
    nb.check(answered is not None, f"the second step's answer was never seen live:\n{story}")
    assert answered is not None and answered >= result, story
    # When the turn ended, the static output replaced the live view.
    assert samples[-1]["done"] and not samples[-1]["live"], story
    assert len(weather.requests) == 2, f"expected two model calls, got {len(weather.requests)}"


def test_the_static_output_keeps_the_card_and_the_answer_quotes_the_result(
    notebook: NotebookPage, weather: Turn
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
def confirmed(notebook: NotebookPage, browser_simulator: Simulator) -> Turn:
    """Run the --confirm cell: Approve the first call, Deny the second, while the cell waits.

    Each step is checked as it happens (the cell waits for the clicks, so nothing here races it);
    the sampler records the rest.
    """
    nb, page = notebook, notebook.page
    cell = nb.cell(CONFIRM_CELL)

    def approve_then_deny() -> None:
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

    before = len(_chat_requests(browser_simulator))
    samples = nb.run_sampled(CONFIRM_CELL, "the --confirm cell's result", during=approve_then_deny)
    page.screenshot(path=str(nb.artifacts / SHOT_END))
    return Turn(samples=samples, requests=_chat_requests(browser_simulator)[before:])


def test_confirm_approve_runs_the_call_and_deny_does_not(notebook: NotebookPage, confirmed: Turn) -> None:
    samples, nb = confirmed.samples, notebook
    story = describe_samples(samples)
    # Live: after the clicks, the approved card showed its result and the denied one the denial.
    both = first_sample(
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


def test_tools_screenshots_saved(notebook: NotebookPage, confirmed: Turn) -> None:
    for name in (SHOT_CONFIRM, SHOT_END):
        assert (notebook.artifacts / name).stat().st_size > 10_000, name
