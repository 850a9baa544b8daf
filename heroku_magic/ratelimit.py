"""Rate limits: how long to wait after an HTTP 429, and how many requests to keep in flight.

Plain Python, used by :func:`heroku_magic.explore.run_grid` so that a grid Heroku rate-limits backs
off and is sent again instead of failing.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import APIError

# Requests in flight at once by default. An 8-configuration grid (two values of three settings, or
# four of two) then goes out as one wave and takes about as long as its slowest request. Heroku's
# limits are per model, 150-250 requests a minute in a one-minute sliding window (the model cards),
# so a burst of 8 is far inside them; the worker threads never exceed this number, however big the grid.
DEFAULT_CONCURRENCY = 8

# Rate limits (HTTP 429) that outlast the client's own retries (the SDK's max_retries, which honour
# Retry-After): the grid waits, then sends the configuration again, at most this many times.
RATE_LIMIT_RETRIES = 4
# Without a usable reset time, the n-th wait is drawn from [d/2, d] with d = BASE * 2**(n-1) (2-4 s,
# 4-8 s, 8-16 s, 16-32 s), so configurations limited together do not come back together.
BACKOFF_BASE = 2.0
# No wait is longer than Heroku's one-minute rate-limit window (a reset time, from Retry-After or
# x-ratelimit-reset-requests, is honoured up to this).
BACKOFF_CAP = 60.0


@dataclass(frozen=True)
class Backoff:
    """How long the grid waits before sending a rate-limited configuration again, and how often.

    The reset time Heroku gave (``APIError.retry_after``: Retry-After, else x-ratelimit-reset-requests)
    when there is one, else exponential backoff with jitter; never more than ``cap`` seconds. After
    ``retries`` waits a configuration that is still rate-limited keeps the 429 as its outcome.
    """

    retries: int = RATE_LIMIT_RETRIES
    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    jitter: Callable[[], float] = field(default=random.random, compare=False)  # in [0, 1)

    def delay(self, retry: int, error: APIError | None = None) -> float:
        """Seconds to wait before the ``retry``-th new attempt (1 for the first) after ``error``."""
        reset = retry_after_seconds(error.retry_after if error is not None else None)
        if reset is not None and reset > 0:
            return min(self.cap, reset)
        ceiling = min(self.cap, self.base * 2.0 ** (retry - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2


class ConcurrencyLimiter:
    """How many requests may be in flight: at most ``limit``, fewer after a rate limit (AIMD).

    A 429 halves the allowance (not below 1), once per episode: requests that were already in flight
    when it was lowered do not lower it again when their own 429s arrive. Every ``allowed`` successes
    raise it by one, back up to ``limit``. It may be shared by grids running at the same time.
    """

    def __init__(self, limit: int = DEFAULT_CONCURRENCY) -> None:
        self.limit = max(1, limit)
        self.allowed = self.limit
        self.in_flight = 0
        self._epoch = 0  # bumped on every decrease
        self._successes = 0
        self._condition = threading.Condition()

    def __repr__(self) -> str:
        return f"ConcurrencyLimiter(limit={self.limit}, allowed={self.allowed}, in_flight={self.in_flight})"

    def acquire(self, stop: threading.Event) -> int | None:
        """Wait for a free slot and take it; a ticket for :meth:`release`, or None once ``stop`` is set."""
        with self._condition:
            while self.in_flight >= self.allowed and not stop.is_set():
                # ``stop`` cannot notify the condition: look at it a few times a second.
                self._condition.wait(0.05)
            if stop.is_set():
                return None
            self.in_flight += 1
            return self._epoch

    def release(self, ticket: int, *, rate_limited: bool = False, succeeded: bool = False) -> None:
        """Give the slot back, saying how its request ended (neither: another error, or stopped)."""
        with self._condition:
            self.in_flight -= 1
            if rate_limited:
                if ticket == self._epoch:
                    self.allowed = max(1, self.allowed // 2)
                    self._epoch += 1
                    self._successes = 0
            elif succeeded and self.allowed < self.limit:
                self._successes += 1
                if self._successes >= self.allowed:
                    self.allowed += 1
                    self._successes = 0
            self._condition.notify_all()

    def wake(self) -> None:
        """Let waiting threads look at their stop event now."""
        with self._condition:
            self._condition.notify_all()


_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION = re.compile(rf"(?:{_PART.pattern})+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def retry_after_seconds(text: str | None) -> float | None:
    """Seconds until a rate limit resets, from ``APIError.retry_after``; None when unreadable.

    Takes plain seconds (``"7"``), durations (``"0.5s"``, ``"51s"``, ``"1m30s"``: Heroku's
    x-ratelimit-reset-* headers) and HTTP dates (a Retry-After header may be one).
    """
    if not text:
        return None
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    if _DURATION.fullmatch(text.lower()):
        return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text.lower()))
    from email.utils import parsedate_to_datetime  # rarely needed, and slow to import

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
