"""Fault injection state: a thread-safe queue of faults for the next chat/agents requests.

Kinds and their parameters (defaults in brackets):

``disconnect`` (after_chunks [3])
    Send that many chunks (non-streaming: part of the body), then drop the connection.
``malformed_chunk`` (after_chunks [3])
    Insert a ``data: {not json`` line after that many chunks (non-streaming: an unparseable body).
``in_band_error`` (after_chunks [3], message ["Failed to execute chat"])
    Send ``data: {"error": {...}}`` after that many chunks and end the stream without ``[DONE]``
    (non-streaming: status 200 with the error body).
``clean_close`` (after_chunks [3])
    Send that many chunks, then end the response cleanly: a proper end of the chunked body, but no
    ``finish_reason``, no usage and no ``[DONE]``. This is what a proxy or load balancer that closes
    an upstream stream early looks like; the HTTP layer sees nothing wrong. Non-streaming: the first
    half of the JSON body, cleanly ended (the client sees a malformed body, not a short answer).
``stall`` (after_chunks [3], seconds [30.0])
    Send that many chunks, then nothing for ``seconds`` with the connection held open, then the
    rest of the stream as usual (so a client whose read timeout is longer than the stall gets the
    whole answer). Non-streaming: the first half of the body, the stall, then the rest. A client
    that gives up during the stall ends it at once: the disconnect cancels the wait (starlette
    listens for ``http.disconnect`` while streaming), so no server task outlives the connection.
``rate_limit`` (retry_after ["1"])
    429 ``rate_limit_error`` with ``Retry-After`` and ``x-ratelimit-*`` headers.
``server_error`` (status [500], message ["Failed to execute chat"], body [None], content_type [None])
    An error status in Heroku's shape, or ``body`` sent raw (content type guessed: HTML, JSON, text).
``slow_first_byte`` (seconds [1.0])
    Wait that long before the response headers, then answer normally.
``whole_tool_calls``
    Stream each tool call whole in one chunk (Heroku's pilot behaviour) instead of fragments.

In a stream, ``after_chunks`` counts the chunks sent before the fault; the first is the role chunk.
An agents stream (`heroku_magic.simulator.agents`) counts its whole events instead (chat.completion
and tool.completion), frames a malformed event and an in-band error as ``event:message`` /
``event:error`` events, and ignores ``whole_tool_calls``; it is always streamed.
An ``after_chunks`` beyond the stream's length applies just before ``[DONE]``, after the chunk with
the finish reason and usage.

A request that passes auth consumes one use of the first pending fault.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MESSAGE = "Failed to execute chat"

FAULT_DEFAULTS: dict[str, dict[str, Any]] = {
    "disconnect": {"after_chunks": 3},
    "malformed_chunk": {"after_chunks": 3},
    "in_band_error": {"after_chunks": 3, "message": DEFAULT_MESSAGE},
    "clean_close": {"after_chunks": 3},
    "stall": {"after_chunks": 3, "seconds": 30.0},
    "rate_limit": {"retry_after": "1"},
    "server_error": {"status": 500, "message": DEFAULT_MESSAGE, "body": None, "content_type": None},
    "slow_first_byte": {"seconds": 1.0},
    "whole_tool_calls": {},
}
STREAM_FAULTS = frozenset({"disconnect", "malformed_chunk", "in_band_error", "clean_close", "stall"})


@dataclass(frozen=True)
class Fault:
    """One fault with its parameters (defaults filled in)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        """A parameter value."""
        return self.params[name]


def make_fault(kind: str, params: dict[str, Any]) -> Fault:
    """Validate ``kind`` and ``params`` and fill in the defaults; ValueError when wrong."""
    if kind not in FAULT_DEFAULTS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_DEFAULTS)}")
    defaults = FAULT_DEFAULTS[kind]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"unknown parameter(s) for {kind!r}: {', '.join(unknown)}")
    values = {**defaults, **params}
    for name in ("after_chunks", "status"):
        if name in values and (isinstance(values[name], bool) or not isinstance(values[name], int)):
            raise ValueError(f"{name} must be an integer")
    if values.get("after_chunks", 0) < 0:
        raise ValueError("after_chunks must be >= 0")
    if "status" in values and not 400 <= values["status"] <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    if "seconds" in values:
        values["seconds"] = _non_negative(values["seconds"], "seconds")
    if "retry_after" in values:
        values["retry_after"] = str(values["retry_after"])
    for name in ("message", "body", "content_type"):
        if values.get(name) is not None and not isinstance(values[name], str):
            raise ValueError(f"{name} must be a string")
    return Fault(kind, values)


def _non_negative(value: Any, name: str) -> float:
    """``value`` as a float >= 0, or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number >= 0")
    return float(value)


@dataclass
class _Pending:
    """A queued fault and how many more requests it applies to."""

    fault: Fault
    remaining: int


class FaultQueue:
    """Pending faults, shared between the test thread and the server's event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []

    def inject(self, kind: str, times: int = 1, **params: Any) -> Fault:
        """Queue ``kind`` for the next ``times`` requests; returns the validated fault."""
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        fault = make_fault(kind, params)
        with self._lock:
            self._pending.append(_Pending(fault, times))
        return fault

    def take(self) -> Fault | None:
        """Use up one application of the first pending fault, if any."""
        with self._lock:
            if not self._pending:
                return None
            entry = self._pending[0]
            entry.remaining -= 1
            if entry.remaining == 0:
                del self._pending[0]
            return entry.fault

    def pending(self) -> list[dict[str, Any]]:
        """The queue as JSON-ready dicts (kind, times left, params)."""
        with self._lock:
            return [{"kind": p.fault.kind, "times": p.remaining, **p.fault.params} for p in self._pending]

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()
