"""Shared fixtures: one local Heroku simulator per test session, reset before each test that uses it."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from polling import wait_until

from heroku_magic.simulator import Simulator, SimulatorConfig


@pytest.fixture(scope="session")
def simulator_session() -> Iterator[Simulator]:
    """A simulator on a free port with zero pacing, shared by the whole session."""
    with Simulator(SimulatorConfig(port=0, ttft=0.0, interval=0.0)) as sim:
        yield sim


@pytest.fixture
def simulator(simulator_session: Simulator) -> Simulator:
    """The session simulator with no recorded requests, no pending faults, zero pacing and no open streams."""
    # A stream an earlier test abandoned ends on the server's loop a moment later; wait for it so
    # that tests counting open streams see only their own.
    wait_until(lambda: not simulator_session.active_streams)
    simulator_session.reset()
    return simulator_session


@pytest.fixture
def simulator_env(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """The simulator, with ``INFERENCE_URL/KEY/MODEL_ID`` pointing at it for this test."""
    for name, value in simulator.env().items():
        monkeypatch.setenv(name, value)
    return simulator


@pytest.fixture
def shell(simulator_env: Simulator) -> Iterator[InteractiveShell]:
    """A fresh in-process IPython shell with the extension loaded, painting often."""
    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "heroku_magic")
    ip.run_line_magic("config", "HerokuMagics.paint_interval = 0.01")
    yield ip
    ip.run_line_magic("unload_ext", "heroku_magic")  # its paint thread stops
    InteractiveShell.clear_instance()


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt during the test, as it does in a kernel."""
    # A runner started in the background by a non-interactive shell inherits SIGINT as ignored,
    # and Python then installs no handler: an interrupt test would see nothing arrive.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def tool_registry() -> Iterator[None]:
    """Tools a test registers (``@heroku_magic.tool``) are gone after it: the registry is global."""
    from heroku_magic.tools import REGISTRY

    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    for tool in before.values():
        REGISTRY.register(tool)


@pytest.fixture
def no_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow as if not installed: importing it fails (images made before stay usable)."""
    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
