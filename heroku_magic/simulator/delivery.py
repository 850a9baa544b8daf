"""How responses leave the simulator: error bodies, paced SSE streams and injected faults."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from .errors import ApiError, error_body
from .faults import STREAM_FAULTS, Fault
from .state import SimulatorConfig, SimulatorState

DONE = b"data: [DONE]\n\n"
MALFORMED = b"data: {not json\n\n"
SSE_HEADERS = {"cache-control": "no-cache"}


class DropConnection(Exception):
    """Raised inside a response body so uvicorn cuts the connection mid-response (a fault)."""


class _HideDroppedConnections(logging.Filter):
    """Keep uvicorn from logging a traceback for connections the simulator drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for records about an injected `DropConnection`."""
        error = record.exc_info[1] if record.exc_info else None
        return not _is_drop(error)


def _is_drop(error: BaseException | None) -> bool:
    """Whether ``error`` is (or groups) a `DropConnection`."""
    if isinstance(error, DropConnection):
        return True
    return any(_is_drop(inner) for inner in getattr(error, "exceptions", ()))


def quiet_dropped_connections() -> None:
    """Install the log filter on uvicorn's error logger once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _HideDroppedConnections) for existing in logger.filters):
        logger.addFilter(_HideDroppedConnections())


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    """An error status with Heroku's JSON body."""
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def encode(event: dict[str, Any]) -> bytes:
    """One SSE ``data:`` event."""
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def no_pause(event: dict[str, Any], config: SimulatorConfig) -> float:
    """No extra wait before an event."""
    return 0.0


@dataclass(frozen=True)
class Framing:
    """How a stream writes its events, its end, a malformed event and an in-band error."""

    event: Callable[[dict[str, Any]], bytes]
    done: bytes
    malformed: bytes
    error: Callable[[dict[str, Any]], bytes]
    # Seconds to wait before an event, on top of the interval (the agents' tool latency).
    pause: Callable[[dict[str, Any], SimulatorConfig], float] = no_pause


CHAT_FRAMING = Framing(encode, DONE, MALFORMED, encode)


async def early_fault(fault: Fault | None) -> Response | None:
    """Apply the faults that act before any answer: rate limit, server error, slow first byte."""
    if fault is None:
        return None
    if fault.kind == "slow_first_byte":
        await asyncio.sleep(fault["seconds"])
    elif fault.kind == "rate_limit":
        retry_after = fault["retry_after"]
        reset = f"{retry_after}s" if retry_after.isdigit() else "60s"
        headers = {
            "retry-after": retry_after,
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": reset,
        }
        return error_response(ApiError(429, "Rate limit exceeded"), headers)
    elif fault.kind == "server_error":
        if fault["body"] is not None:
            return Response(
                fault["body"], fault["status"], media_type=fault["content_type"] or _guess(fault["body"])
            )
        return error_response(ApiError(fault["status"], fault["message"]))
    return None


def _guess(body: str) -> str:
    """A content type for a raw fault body: HTML, JSON or plain text."""
    start = body.lstrip()[:1]
    if start == "<":
        return "text/html; charset=utf-8"
    return "application/json" if start in ("{", "[") else "text/plain; charset=utf-8"


async def body_response(
    body: dict[str, Any], state: SimulatorState, chunk_count: int, fault: Fault | None
) -> Response:
    """A non-streaming answer, delayed as long as streaming it would take, with any body fault."""
    config = state.config
    await asyncio.sleep(config.ttft + config.interval * max(0, chunk_count - 1))
    # The bytes JSONResponse would send, for the faults that send them piecemeal.
    data = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    if fault is not None and fault.kind == "disconnect":
        return StreamingResponse(_cut_short(data), media_type="application/json")
    if fault is not None and fault.kind == "malformed_chunk":
        return Response(b"{not json", media_type="application/json")
    if fault is not None and fault.kind == "in_band_error":
        return JSONResponse(error_body(500, fault["message"], "server_error"))
    if fault is not None and fault.kind == "clean_close":
        return StreamingResponse(_half(data), media_type="application/json")
    if fault is not None and fault.kind == "stall":
        return StreamingResponse(_stalled(data, fault["seconds"]), media_type="application/json")
    return JSONResponse(body)


async def _cut_short(data: bytes) -> AsyncIterator[bytes]:
    """Half of ``data``, then a dropped connection."""
    yield data[: len(data) // 2]
    raise DropConnection


async def _half(data: bytes) -> AsyncIterator[bytes]:
    """Half of ``data``, then a clean end of the (chunked) body."""
    yield data[: len(data) // 2]


async def _stalled(data: bytes, seconds: float) -> AsyncIterator[bytes]:
    """Half of ``data``, nothing for ``seconds`` (cancelled if the client leaves), then the rest."""
    yield data[: len(data) // 2]
    await asyncio.sleep(seconds)
    yield data[len(data) // 2 :]


def stream_response(
    chunks: Iterator[dict[str, Any]],
    state: SimulatorState,
    fault: Fault | None,
    framing: Framing = CHAT_FRAMING,
) -> Response:
    """A paced ``text/event-stream`` response of ``chunks``, framed as chat streams by default."""
    body = _sse(chunks, state, fault, framing)
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)


async def _sse(
    chunks: Iterator[dict[str, Any]], state: SimulatorState, fault: Fault | None, framing: Framing
) -> AsyncIterator[bytes]:
    """SSE events with ``ttft`` before the first and ``interval`` between the rest, then ``[DONE]``.

    A client disconnect cancels this generator inside its sleep (starlette listens for it), so the
    ``finally`` always runs and nothing keeps generating for a closed socket. That includes the
    ``stall`` fault's long wait.
    """
    state.active_streams += 1
    state.peak_streams = max(state.peak_streams, state.active_streams)
    try:
        await asyncio.sleep(state.config.ttft)
        trigger = fault["after_chunks"] if fault is not None and fault.kind in STREAM_FAULTS else -1
        for index, chunk in enumerate(itertools.chain(chunks, [None])):
            if fault is not None and (index == trigger or (chunk is None and trigger > index)):
                if fault.kind == "disconnect":
                    raise DropConnection
                if fault.kind == "in_band_error":
                    yield framing.error(error_body(500, fault["message"], "server_error"))
                    return
                if fault.kind == "clean_close":
                    return  # the body ends properly: no finish reason, no usage, no [DONE]
                if fault.kind == "stall":
                    await asyncio.sleep(fault["seconds"])
                else:
                    yield framing.malformed
            if chunk is None:
                break
            if index:
                # Sleep even when the interval is 0: yielding to the loop keeps long streams cancellable.
                await asyncio.sleep(state.config.interval)
            pause = framing.pause(chunk, state.config)
            if pause:
                await asyncio.sleep(pause)
            yield framing.event(chunk)
        yield framing.done
    finally:
        state.active_streams -= 1
