"""Waiting for something another thread or the simulator's event loop does, with a generous bound."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], timeout: float = 10.0, step: float = 0.01) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass; return its last truth."""
    # Generous by default: on a loaded 2-core CI machine the server's loop can lag by seconds, and
    # a passing test returns as soon as the condition holds, so the bound costs nothing.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(step)
    return True
