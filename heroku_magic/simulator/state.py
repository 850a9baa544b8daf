"""Simulator configuration and the state shared by the server thread and its owner."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .catalogue import DEFAULT_MODEL
from .faults import FaultQueue

RATE_LIMIT_REQUESTS = 150  # the Claude Sonnet RPM from the model cards
RATE_WINDOW_SECONDS = 60.0


@dataclass
class SimulatorConfig:
    """Settings of a simulator; ``ttft``, ``interval`` and ``tool_latency`` may be changed while it runs."""

    key: str = "inf-simulator-key"
    ttft: float = 0.0  # seconds before the first chunk
    interval: float = 0.0  # seconds between chunks
    tool_latency: float = 0.0  # extra seconds before each agents tool.completion event (a tool "running")
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    model: str = DEFAULT_MODEL  # what env() offers as INFERENCE_MODEL_ID
    # Whether Heroku streams usage without stream_options.include_usage is unconfirmed. False (the
    # default) is the stricter case, OpenAI's: the final chunk carries usage only when the request
    # asks for it. True sends usage on the final chunk of every stream.
    stream_usage_always: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """A request the simulator received (rejected ones included)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The request as the ``/_simulator/requests`` endpoint lists it."""
        return {"method": self.method, "path": self.path, "headers": self.headers, "body": self.body}


@dataclass
class SimulatorState:
    """Everything a running simulator remembers; thread-safe where both threads touch it."""

    config: SimulatorConfig
    faults: FaultQueue = field(default_factory=FaultQueue)
    active_streams: int = field(default=0, init=False)  # changed only on the server's event loop
    peak_streams: int = field(default=0, init=False)  # the most active at once since the last reset
    _requests: list[RecordedRequest] = field(default_factory=list, init=False)
    _window: deque[float] = field(default_factory=deque, init=False)  # times of recent chat/agents requests
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _pacing: tuple[float, float, float] = field(init=False)

    def __post_init__(self) -> None:
        self._pacing = (self.config.ttft, self.config.interval, self.config.tool_latency)

    def record(self, request: RecordedRequest) -> None:
        """Remember a received request."""
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    def count_request(self) -> None:
        """Count a chat/agents request in the one-minute rate-limit window."""
        with self._lock:
            self._window.append(time.monotonic())

    def rate_limit_headers(self) -> dict[str, str]:
        """Heroku's ``x-ratelimit-*-requests`` headers for the current window."""
        now = time.monotonic()
        with self._lock:
            while self._window and now - self._window[0] >= RATE_WINDOW_SECONDS:
                self._window.popleft()
            used = len(self._window)
            reset = RATE_WINDOW_SECONDS - (now - self._window[0]) if self._window else RATE_WINDOW_SECONDS
        return {
            "x-ratelimit-limit-requests": str(RATE_LIMIT_REQUESTS),
            "x-ratelimit-remaining-requests": str(max(0, RATE_LIMIT_REQUESTS - used)),
            "x-ratelimit-reset-requests": f"{math.ceil(reset)}s",
        }

    def reset(self) -> None:
        """Forget requests, faults and the rate window; restore the constructed pacing."""
        with self._lock:
            self._requests.clear()
            self._window.clear()
        self.faults.clear()
        self.peak_streams = self.active_streams
        self.config.ttft, self.config.interval, self.config.tool_latency = self._pacing
