"""When live views paint: one scheduler, one thread, for every live view in the kernel.

What a view shows is its own business (:mod:`heroku_magic.render.live`); when it is painted is this
module's, as in rich's ``Live``. A live view paints its first token itself, at once; after that the
scheduler asks every registered view to repaint once per ``interval``, and a view sends something
only if its response changed. So the frontend gets at most one message per view per interval
however fast tokens arrive, nothing while a response is quiet, and a grid of 64 cards costs one
thread, not 64. The thread is started and stopped explicitly (the extension's load and unload) and
sleeps while no view is registered; the clock is injectable, and :meth:`PaintScheduler.step` runs
one round without the thread, for tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

Clock = Callable[[], float]
# 6 paints a second: a line or so of a fast model's answer at a time, and few messages for the
# frontend. A cell also sends 6 messages of its own (the kernel's status and echo, the view's display,
# the static output, the view's removal): with them, a 1.5 s answer stays within 12 messages a second.
DEFAULT_INTERVAL = 1 / 6
MIN_INTERVAL = 0.005  # a shorter interval would keep the thread spinning, starving the stream's
log = logging.getLogger(__name__)


class Paintable(Protocol):
    """A live view: repaints what changed since its last paint (nothing if nothing did)."""

    def repaint(self, now: float) -> None:
        """Send what changed, as of ``now``."""


class PaintScheduler:
    """Repaints registered views every ``interval`` seconds from one thread."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Clock = time.perf_counter) -> None:
        self.interval = interval
        self.clock = clock
        self._views: list[Paintable] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the paint thread is running."""
        return self._thread is not None

    def start(self) -> None:
        """Start the paint thread (once; starting a running scheduler does nothing)."""
        with self._changed:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="heroku-magic-paint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the paint thread and wait for it; registered views are forgotten."""
        with self._changed:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._views.clear()
            self._changed.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def add(self, view: Paintable) -> None:
        """Repaint ``view`` every interval until it is removed."""
        with self._changed:
            if self._thread is None:
                raise RuntimeError("the paint scheduler is not running: call start() first")
            self._views.append(view)
            self._changed.notify_all()

    def remove(self, view: Paintable) -> None:
        """Stop repainting ``view`` (removing one that is not registered does nothing)."""
        with self._changed:
            if view in self._views:
                self._views.remove(view)

    def step(self) -> None:
        """One round: every registered view repaints what changed."""
        with self._changed:
            views = list(self._views)
        now = self.clock()
        for view in views:
            try:
                view.repaint(now)
            except Exception:
                # One broken view (its frontend gone, a bug) must not stop the others' paints.
                log.exception("a live view failed to paint; it is no longer painted")
                self.remove(view)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._views and not self._stopping:
                    self._changed.wait()  # idle: no wake-ups while nothing streams
                if self._stopping:
                    return
                # stop() notifies, so stopping is never delayed by a round's wait.
                self._changed.wait(max(self.interval, MIN_INTERVAL))
                if self._stopping:
                    return
            self.step()
