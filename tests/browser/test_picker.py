"""Browser test of ``%%heroku_explore`` without ``--grid``: the picker panel, as a user drives it.

A value no request may carry is one line under the panel (a UsageError, as in a cell), and the
panel stays usable. Values are typed into the panel and Run is pressed: the grid's cards stream
inside the panel, then the comparison takes their place there, ``--out`` holds the results, and a
second Run replaces the first one's results instead of adding to them.

Run: ``pytest tests/browser -m browser -q -p no:cacheprovider`` (needs Debian's chromium).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .harness import CELL_TIMEOUT, Lab, NotebookPage, own_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PICKER_NOTEBOOK, PICKER_WORKSPACE = "picker.ipynb", "picker"
PICKER_CELLS = (
    "%load_ext heroku_magic",
    "%%heroku_explore --out picked\nAnswer with words:200",
    "print('kept:', [o.configuration.label for o in picked])",
)
PICKER, KEPT = 1, 2
RESULTS = ".widget-output"  # the panel's Output widget, where the grid shows


@pytest.fixture(scope="module")
def notebook(lab: Lab, browser: Browser, artifacts: Path) -> Iterator[NotebookPage]:
    """The picker notebook open in Chromium, its panel shown; removed from the root after."""
    with own_notebook(
        browser,
        lab,
        artifacts,
        PICKER_NOTEBOOK,
        PICKER_WORKSPACE,
        PICKER_CELLS,
        run_first=(0, PICKER),
        failure_shot="browser-picker-failure.png",
    ) as nb:
        yield nb


def test_a_picked_grid_runs_in_the_panel_and_leaves_its_comparison(notebook: NotebookPage) -> None:
    cell = notebook.cell(PICKER)
    temperature = cell.get_by_role("textbox", name="temperature")
    run = cell.get_by_role("button", name="Run")
    results = cell.locator(RESULTS)
    # A value no request may carry: one line under the panel, as in a cell, and nothing is sent.
    temperature.fill("0, hot")
    run.click()
    expect(results).to_contain_text("UsageError: ")
    expect(results).to_contain_text("'hot'")
    expect(results).not_to_contain_text("Traceback")
    expect(run).to_be_enabled()
    temperature.fill("0, 1")
    for _ in range(2):  # the second Run replaces the first one's results (200 words: ~5 s of streaming)
        run.click()
        expect(results.locator(".hm-card")).to_have_count(2)  # the cards stream in the panel
        rows = results.locator("table tbody tr")
        expect(rows).to_have_count(2, timeout=CELL_TIMEOUT * 1000)
        expect(rows.locator("td:first-child")).to_have_text(["temperature=0", "temperature=1"])
        expect(results.locator(".hm-card")).to_have_count(0)  # the comparison took their place
        expect(run).to_be_enabled()
    expect(results.locator("table")).to_have_count(1)
    expect(cell).not_to_contain_text("Error displaying widget")
    notebook.run(KEPT, wait=True)
    expect(notebook.cell(KEPT)).to_contain_text("kept: ['temperature=0', 'temperature=1']")
