"""``%%heroku_agent`` in a real JupyterLab + Chromium, against the simulator's agents endpoint.

The agents notebook (``harness.AGENT_CELLS``, its own workspace) runs two agent cells: one offers two
Heroku tools (``code_exec_python`` and ``dyno_run_command`` on ``my-app``) and names both, so the
run is one step calling both, a ``tool.completion`` per call, then the final answer quoting both
results; the other offers the ``mcp-brave`` server and asks for ``brave_web_search`` in 2 rounds, so
the run is three steps: one card, one card, the answer. The simulator waits ``TOOL_LATENCY``
seconds before each tool result (and ``EVENT_GAP`` between events), so every state of a card is
on screen for several paints.

Each cell is watched from inside the page with the shared sampler (``harness.SAMPLER``, every 30 ms):
the tests check that what a user saw happened in the order the run produced it — the cards in call
order, each getting its result in turn, a later step never before the earlier cards' results — and
that the static output that replaced the live view keeps every card, its result unwrapped (the
tool's own output, not Heroku's ``Tool 'x' returned result:`` envelope), then the answer.

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, expect

from heroku_magic.simulator import Simulator

from .harness import (
    AGENT_CELLS,
    AGENT_CODE,
    AGENTS_NOTEBOOK,
    AGENTS_WORKSPACE,
    HEROKU_TOOLS_CELL,
    MCP_CELL,
    Lab,
    NotebookPage,
    Sample,
    describe_samples,
    first_sample,
    own_notebook,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

TOOL_LATENCY = 0.6  # seconds the simulator waits before each tool result
# Seconds between events: the final answer and the end of the run follow the last tool result by
# this much, so the live view (painted every 1/6 s, and not a last time: the static output
# replaces it) shows that result for a few paints.
EVENT_GAP = 0.4
FAILURE_SHOT = "browser-agents-failure.png"
ENVELOPE = "returned result:"  # Heroku's wrapping of every tool result, never shown to the user
MCP_ENVELOPE = '"isError"'  # ... and the MCP envelope inside it

CODE_EXEC, DYNO = "code_exec_python", "dyno_run_command"
SEARCH = "mcp-brave/brave_web_search"
HEROKU_CARDS = [(0, CODE_EXEC), (0, DYNO)]  # (step, tool) of each card, in the order the run makes them
MCP_CARDS = [(0, SEARCH), (1, SEARCH)]

# The tools' own output, as a card shows it (JSON pretty-printed; strings keep their escapes).
CODE_STDOUT = re.compile(
    r'"stdout": "simulated python run of 1 line\(s\), sha256:[0-9a-f]{12} \(nothing was executed\)\\n"'
)
DYNO_STDOUT = '"stdout": "Procfile\\nREADME.md\\napp.py\\nrequirements.txt\\n"'
SEARCH_RESULT = '"title": "Result 1 for heroku"'
# The one-line summaries: the tool's name, then the start of its unwrapped result.
CODE_SUMMARY = re.compile(
    r'^🔧 code_exec_python → \{"returncode": 0, "stdout": "simulated python run of 1 line\(s\), sha256:'
)
DYNO_SUMMARY = re.compile(r'^🔧 dyno_run_command → \{"app": "my-app", "dyno": "run\.\d+", ')
SEARCH_SUMMARY = re.compile(
    r'^🔧 mcp-brave/brave_web_search → \{"query": "heroku", "results": \[\{"title": "Result 1 for heroku"'
)


@pytest.fixture(scope="module")
def notebook(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[NotebookPage]:
    """The agents notebook open in Chromium, with the extension loaded; removed from the root after."""
    with own_notebook(
        browser, lab, artifacts, AGENTS_NOTEBOOK, AGENTS_WORKSPACE, AGENT_CELLS, failure_shot=FAILURE_SHOT
    ) as nb:
        yield nb


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request: pytest.FixtureRequest, notebook: NotebookPage) -> Iterator[None]:
    """A failed assertion leaves a screenshot of the page in the artifacts folder."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        notebook.screenshot()


@dataclass
class Run:
    """A finished agent cell: what the sampler saw while it ran, and the agents requests it sent."""

    samples: list[Sample]
    requests: list[dict[str, Any]]

    @property
    def story(self) -> str:
        return describe_samples(self.samples)


def _agent_requests(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body or {} for r in sim.requests if r.method == "POST" and r.path == "/v1/agents/heroku"]


def _run(nb: NotebookPage, sim: Simulator, index: int, what: str) -> Run:
    """Run agent cell ``index`` with slow tools (pacing restored after), sampling its live view."""
    before, pacing = len(_agent_requests(sim)), (sim.config.tool_latency, sim.config.interval)
    sim.config.tool_latency, sim.config.interval = TOOL_LATENCY, EVENT_GAP
    try:
        samples = nb.run_sampled(index, what)
    finally:
        sim.config.tool_latency, sim.config.interval = pacing
    return Run(samples=samples, requests=_agent_requests(sim)[before:])


@pytest.fixture(scope="module")
def heroku_run(notebook: NotebookPage, browser_simulator: Simulator) -> Run:
    return _run(notebook, browser_simulator, HEROKU_TOOLS_CELL, "the Heroku tools cell's result")


@pytest.fixture(scope="module")
def mcp_run(notebook: NotebookPage, browser_simulator: Simulator, heroku_run: Run) -> Run:
    # After the Heroku cell (which it continues as a conversation), so the notebook runs top to bottom.
    return _run(notebook, browser_simulator, MCP_CELL, "the MCP cell's result")


def _tool(card: dict[str, Any]) -> str:
    """The tool a live card names ("🔧 NAME …")."""
    return str(card["summary"] or "").removeprefix("🔧 ").split(" ")[0]


def _order_problems(samples: list[Sample], expected: list[tuple[int, str]]) -> list[str]:
    """Every sample of the live view that shows the run out of the order it happened in.

    The cards must be a prefix of ``expected`` (in steps and call order), their results a prefix of
    the cards (tool results arrive in call order), and no step may show text or cards before every
    card of the earlier steps has its result.
    """
    problems = []
    for n, sample in enumerate(samples):
        if not sample["live"]:
            continue
        cards = [(card["step"], _tool(card)) for card in sample["cards"]]
        if cards != expected[: len(cards)]:
            problems.append(f"sample {n}: cards {cards}, not in the run's order {expected}")
        answered = [card["result"] is not None for card in sample["cards"]]
        if answered != sorted(answered, reverse=True):
            problems.append(f"sample {n}: a later card has its result before an earlier one: {answered}")
        for step in range(1, sample["steps"]):
            shown = sample["answers"][step].strip() or any(card["step"] == step for card in sample["cards"])
            earlier = [card for card in sample["cards"] if card["step"] < step]
            complete = len(earlier) == sum(1 for s, _ in expected if s < step) and all(
                card["result"] is not None for card in earlier
            )
            if shown and not complete:
                problems.append(f"sample {n}: step {step} shows before the earlier cards' results")
    return problems


def _check_unwrapped(text: str | None, what: str) -> None:
    assert text is not None and ENVELOPE not in text and MCP_ENVELOPE not in text, f"{what}: {text!r}"


def _in_order(container: Locator, parts: list[str]) -> None:
    """``parts`` appear in the container's visible text, in this order."""
    text, where = container.inner_text(), 0
    for part in parts:
        found = text.find(part, where)
        assert found >= 0, f"{part!r} is not after {text[:where][-80:]!r} in:\n{text}"
        where = found + len(part)


def test_heroku_tool_cards_appear_in_call_order_and_each_gets_its_result(
    notebook: NotebookPage, heroku_run: Run
) -> None:
    samples, story, nb = heroku_run.samples, heroku_run.story, notebook
    assert not _order_problems(samples, HEROKU_CARDS), "\n".join(_order_problems(samples, HEROKU_CARDS)[:10])
    # The first card appeared, named, with its arguments, while the tool ran on Heroku ...
    running = first_sample(
        samples,
        lambda s: s["live"] and s["cards"] and s["cards"][0]["shown"] and s["cards"][0]["result"] is None,
    )
    nb.check(running is not None, f"code_exec_python's card was never seen before its result:\n{story}")
    assert running is not None
    card = samples[running]["cards"][0]
    assert card["summary"] == "🔧 code_exec_python …" and card["args"] == f'{{"code": "{AGENT_CODE}"}}', card
    # ... then it had its result while the second tool still ran ...
    first_done = first_sample(
        samples,
        lambda s: (
            s["live"] and len(s["cards"]) == 2 and s["cards"][0]["result"] and s["cards"][1]["result"] is None
        ),
        running,
    )
    nb.check(
        first_done is not None, f"never saw code_exec_python's result while dyno_run_command ran:\n{story}"
    )
    assert first_done is not None
    second = samples[first_done]["cards"][1]
    assert second["summary"] == "🔧 dyno_run_command …" and second["args"] == '{"cmd": "ls"}', second
    # ... then the second had its result too: each card shows its tool's own output, unwrapped.
    both = first_sample(samples, lambda s: s["live"] and all(c["result"] for c in s["cards"][:2]), first_done)
    nb.check(both is not None, f"never saw both tools' results live:\n{story}")
    assert both is not None
    code, dyno = samples[both]["cards"]
    assert CODE_SUMMARY.match(code["summary"]) and CODE_STDOUT.search(code["result"]), code
    assert DYNO_SUMMARY.match(dyno["summary"]) and DYNO_STDOUT in dyno["result"], dyno
    assert '"command": "ls"' in dyno["result"] and not code["error"] and not dyno["error"], dyno
    for shown in (code, dyno):
        _check_unwrapped(shown["summary"], "a live summary")
        _check_unwrapped(shown["result"], "a live result")
    # The final step, if a paint caught it before the static output, came after both results.
    final = first_sample(samples, lambda s: s["live"] and s["steps"] > 1)
    assert final is None or final >= both, story
    assert samples[-1]["done"] and not samples[-1]["live"], story


def test_heroku_static_output_keeps_both_cards_with_their_unwrapped_results(
    notebook: NotebookPage, heroku_run: Run
) -> None:
    static = notebook.static(HEROKU_TOOLS_CELL)
    cards = static.locator("details.hm-tool")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).locator("summary")).to_have_text(CODE_SUMMARY)
    expect(cards.nth(1).locator("summary")).to_have_text(DYNO_SUMMARY)
    # The first step's text, its two cards, then the answer quoting both results (read collapsed).
    _in_order(
        static,
        [
            "I'll use the code_exec_python and dyno_run_command tools.",
            "🔧 code_exec_python →",
            "🔧 dyno_run_command →",
            'code_exec_python returned: {"returncode": 0, "stdout": "simulated python run of 1 line(s)',
            'dyno_run_command returned: {"app": "my-app"',
            "Based on 2 tool results from 1 round",
        ],
    )
    for n, stdout in enumerate((CODE_STDOUT, re.compile(re.escape(DYNO_STDOUT)))):
        card = cards.nth(n)
        card.locator("summary").click()
        expect(card).to_have_attribute("open", "")
        code = card.locator("pre.hm-code")  # the arguments, then the result: highlighted JSON
        expect(code).to_have_count(2)
        expect(code.nth(1)).to_have_text(stdout)
        expect(card).to_contain_text("Result")
    expect(cards.nth(0).locator("pre.hm-code").nth(0)).to_contain_text(f'"code": "{AGENT_CODE}"')
    _check_unwrapped(static.inner_text(), "the static output")
    expect(notebook.cell(HEROKU_TOOLS_CELL).locator(".heroku-magic-chat")).to_have_count(0)
    # One agents request, offering the two Heroku tools on the app.
    assert len(heroku_run.requests) == 1, heroku_run.requests
    runtime = {"target_app_name": "my-app"}
    assert heroku_run.requests[0]["tools"] == [
        {"type": "heroku_tool", "name": CODE_EXEC, "runtime_params": runtime},
        {"type": "heroku_tool", "name": DYNO, "runtime_params": runtime},
    ], heroku_run.requests[0]


def test_an_mcp_tool_card_shows_its_result_before_the_next_round(
    notebook: NotebookPage, mcp_run: Run
) -> None:
    samples, story, nb = mcp_run.samples, mcp_run.story, notebook
    assert not _order_problems(samples, MCP_CARDS), "\n".join(_order_problems(samples, MCP_CARDS)[:10])
    running = first_sample(samples, lambda s: s["live"] and s["cards"] and s["cards"][0]["result"] is None)
    nb.check(running is not None, f"the search card was never seen before its result:\n{story}")
    assert running is not None
    card = samples[running]["cards"][0]
    assert card["summary"] == f"🔧 {SEARCH} …" and card["args"] == '{"query": "heroku"}', card
    # The second round's text and card came after the first card's result, and ran in turn.
    second = first_sample(
        samples,
        lambda s: (
            s["live"]
            and s["steps"] >= 2
            and "round 2 of 2" in s["answers"][1]
            and len(s["cards"]) == 2
            and s["cards"][1]["result"] is None
        ),
        running,
    )
    nb.check(second is not None, f"the second round was never seen running:\n{story}")
    assert second is not None
    both = first_sample(samples, lambda s: s["live"] and all(c["result"] for c in s["cards"][:2]), second)
    nb.check(both is not None, f"never saw the second search's result live:\n{story}")
    assert both is not None
    for shown in samples[both]["cards"]:
        assert SEARCH_SUMMARY.match(shown["summary"]) and SEARCH_RESULT in shown["result"], shown
        assert '"url": "https://example.com/search/heroku/1"' in shown["result"] and not shown["error"], shown
        _check_unwrapped(shown["summary"], "a live summary")
        _check_unwrapped(shown["result"], "a live result")
    final = first_sample(samples, lambda s: s["live"] and s["steps"] > 2)
    assert final is None or final >= both, story
    assert samples[-1]["done"] and not samples[-1]["live"], story


def test_mcp_static_output_keeps_each_rounds_card_then_the_answer(
    notebook: NotebookPage, mcp_run: Run
) -> None:
    static = notebook.static(MCP_CELL)
    cards = static.locator("details.hm-tool")
    expect(cards).to_have_count(2)
    for n in range(2):
        expect(cards.nth(n).locator("summary")).to_have_text(SEARCH_SUMMARY)
    _in_order(
        static,
        [
            f"I'll use the {SEARCH} tool.",
            f"🔧 {SEARCH} →",
            f"I'll call {SEARCH} again (round 2 of 2).",
            f"🔧 {SEARCH} →",
            f'{SEARCH} returned: {{"query": "heroku", "results": [{{"title": "Result 1 for heroku"',
            "Based on 2 tool results from 2 rounds",
        ],
    )
    card = cards.nth(1)
    card.locator("summary").click()
    code = card.locator("pre.hm-code")
    expect(code).to_have_count(2)
    expect(code.nth(0)).to_contain_text('"query": "heroku"')
    expect(code.nth(1)).to_contain_text(SEARCH_RESULT)
    expect(code.nth(1)).to_contain_text(
        '"description": "A simulated search result (3); nothing was searched."'
    )
    _check_unwrapped(static.inner_text(), "the static output")
    # One agents request, offering the MCP server by its namespace.
    assert len(mcp_run.requests) == 1, mcp_run.requests
    assert mcp_run.requests[0]["tools"] == [{"type": "mcp", "name": "mcp-brave"}], mcp_run.requests[0]
