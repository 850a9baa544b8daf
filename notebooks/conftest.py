"""Notebook runs (``pytest --nbval notebooks/``) talk to a local simulator, never to Heroku.

The simulator starts before any kernel does; kernels inherit the environment that points at it.
"""

from __future__ import annotations

import os

import pytest

from heroku_magic.simulator import Simulator, SimulatorConfig

_SIMULATOR: Simulator | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Start the simulator and point INFERENCE_* at it (replacing any real add-on's values)."""
    global _SIMULATOR
    _SIMULATOR = Simulator(SimulatorConfig(port=0)).start()
    os.environ.update(_SIMULATOR.env())


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the simulator."""
    if _SIMULATOR is not None:
        _SIMULATOR.stop()
