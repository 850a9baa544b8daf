"""Real-browser fixtures: the simulator in a thread, JupyterLab as a subprocess, Debian's Chromium.

Everything listens on 127.0.0.1 on free ports and lives in temporary directories. Kernels inherit
the simulator's ``INFERENCE_*`` environment from the JupyterLab process. CI needs
``apt-get install -y chromium`` (Playwright cannot download its own browser here); without
``/usr/lib/chromium/chromium`` these tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from heroku_magic.simulator import Simulator, SimulatorConfig

from .harness import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Lab,
    LabStartError,
    RecordingServer,
    running_lab,
)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; without it a skip, or a failure in CI (``CI`` set), where it must be installed."""
    if not CHROMIUM.is_file():
        message = f"Chromium is not installed at {CHROMIUM} (CI: apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):  # CI=true: it must be there
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser_simulator() -> Iterator[Simulator]:
    """The simulator, paced so a response streams for a few seconds (many paints to watch)."""
    with Simulator(SimulatorConfig(port=0, ttft=0.3, interval=0.025)) as sim:
        yield sim


@pytest.fixture(scope="session")
def leak_server() -> Iterator[RecordingServer]:
    """Where the attacks notebook's images point: it records any request the page makes to it."""
    with RecordingServer() as server:
        yield server


@pytest.fixture(scope="session")
def lab(
    chromium: Path,
    browser_simulator: Simulator,
    leak_server: RecordingServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Lab]:
    """JupyterLab serving a temporary folder with the test notebooks, pointed at the simulator."""
    try:
        base = tmp_path_factory.mktemp("lab")
        with running_lab(base, browser_simulator.env(), leak=leak_server.url) as server:
            yield server
    except LabStartError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The git-ignored folder for screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test (``item.rep_call``...), so a fixture can tell that it failed."""
    report: pytest.TestReport = yield
    setattr(item, f"rep_{report.when}", report)
    return report
