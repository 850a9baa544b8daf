"""Running one model step's tool calls: concurrently, each within a timeout, every outcome a result.

Each call runs on a daemon thread of its own (an ``async def`` tool on a fresh event loop in that
thread: the kernel's loop already runs in the caller's thread). The caller's thread only waits,
in short slices so that a KeyboardInterrupt stops it at once, and reports each result as it
arrives. Nothing a tool or the model does raises out of :func:`run_calls`: an unknown name, bad
arguments, an exception or a timeout each become an error :class:`ToolResult` the model can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import decimal
import enum
import inspect
import math
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pydantic_core
from pydantic import BaseModel

from .events import ToolCall, ToolResult
from .tools import Tool, ToolArgumentsError

__all__ = ["DEFAULT_RESULT_LIMIT", "DEFAULT_TOOL_TIMEOUT", "result_text", "run_calls"]

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool may run before its call is answered with a timeout error."""
DEFAULT_RESULT_LIMIT = 20_000
"""Characters of a tool's result sent to the model; the rest is cut, with a note saying so."""

_SLICE = 0.1  # the longest single wait: how late, at most, a KeyboardInterrupt is noticed
_MAX_DEPTH = 64  # nesting beyond this (or a cycle) is shown with repr rather than walked
# Values pydantic writes as plain JSON scalars (enums as their value, dates as ISO strings).
_SCALARS = (
    str,
    int,
    float,
    type(None),
    enum.Enum,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
)


def result_text(value: object, limit: int = DEFAULT_RESULT_LIMIT) -> str:
    """A tool's return value as the text the model reads: str as is, JSON when it is JSON, else repr."""
    text = value if isinstance(value, str) else _as_text(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [cut: {len(text):,} characters, showing the first {limit:,}]"


def run_calls(
    calls: Sequence[ToolCall],
    tools: Mapping[str, Tool],
    *,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    limit: int = DEFAULT_RESULT_LIMIT,
    on_result: Callable[[int, ToolResult], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[ToolResult]:
    """Run a step's calls at once; their results in the calls' order (``timeout`` None: no limit)."""
    # ``on_result`` runs on this thread, so callers need no lock. Only a KeyboardInterrupt (or an
    # exception from ``on_result``) leaves early; calls still running are then abandoned, async
    # ones cancelled.
    results: list[ToolResult | None] = [None] * len(calls)
    done: queue.SimpleQueue[tuple[int, ToolResult]] = queue.SimpleQueue()
    pending: dict[int, _Job] = {}

    def finish(index: int, result: ToolResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    try:
        for index, call in enumerate(calls):
            started = clock()
            tool = tools.get(call.name)
            if tool is None:
                finish(index, _error(call, _unknown(call.name, tools), clock() - started))
                continue
            try:
                kwargs = tool.validate_arguments(call.arguments)
            except ToolArgumentsError as exc:
                finish(index, _error(call, f"Invalid arguments for {call.name}: {exc}", clock() - started))
                continue
            except Exception as exc:  # a validator of the user's that raised what pydantic does not wrap
                finish(index, _error(call, _failure(exc), clock() - started))
                continue
            job = _Job(index, call, tool, started)
            job.thread = threading.Thread(
                target=_work,
                args=(job, kwargs, limit, clock, done),
                name=f"heroku-tool-{call.name}",
                daemon=True,  # a thread cannot be killed; a timed-out one must not block the kernel's exit
            )
            pending[index] = job
            job.thread.start()
        _wait(pending, done, math.inf if timeout is None else timeout, clock, finish)
    except BaseException:
        for job in pending.values():
            job.abandon()
        raise
    return [result for result in results if result is not None]


@dataclasses.dataclass
class _Job:
    """One call running on its thread, as the waiting thread sees it."""

    index: int
    call: ToolCall
    tool: Tool
    started: float
    thread: threading.Thread | None = None
    cancel: Callable[[], object] | None = None  # set by an async tool's loop once its task runs

    def abandon(self) -> None:
        """Stop waiting for the call: cancel it when it is async; a plain thread runs on, ignored."""
        if self.cancel is not None:
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile: it has ended anyway
                self.cancel()


def _wait(
    pending: dict[int, _Job],
    done: queue.SimpleQueue[tuple[int, ToolResult]],
    timeout: float,
    clock: Callable[[], float],
    finish: Callable[[int, ToolResult], None],
) -> None:
    """Report each pending call's result as it arrives, or a timeout error once its time is up."""
    abandoned: dict[int, _Job] = {}  # timed out, but may still end while others run
    while pending:
        nearest = min(job.started for job in pending.values()) + timeout
        try:
            # Short slices: a signal interrupts the wait, and a deadline passed is noticed soon.
            index, result = done.get(timeout=max(0.0, min(_SLICE, nearest - clock())))
        except queue.Empty:
            pass
        else:
            late = index not in pending
            job = abandoned.pop(index) if late else pending.pop(index)
            assert job.thread is not None
            job.thread.join()  # it has sent its result and is ending: no thread outlives run_calls
            if not late:  # a call already answered with a timeout keeps that answer
                finish(index, result)
            continue  # results that arrived are taken before any deadline is judged
        now = clock()
        for index, job in list(pending.items()):
            if now - job.started >= timeout:
                abandoned[index] = pending.pop(index)
                job.abandon()
                finish(index, _error(job.call, _timed_out(job, timeout), now - job.started))


def _work(
    job: _Job,
    kwargs: dict[str, Any],
    limit: int,
    clock: Callable[[], float],
    done: queue.SimpleQueue[tuple[int, ToolResult]],
) -> None:
    """Call the tool on this thread and send back its result, whatever happens."""
    call = job.call
    try:
        value = job.tool.function(**kwargs)
        if inspect.isawaitable(value):
            # A loop of this thread's own: the caller's thread may be running the kernel's.
            value = asyncio.run(_awaited(value, job))
        result = ToolResult(call.id, call.name, result_text(value, limit), duration=clock() - job.started)
    except BaseException as exc:  # SystemExit from a tool is a failed call too, not a dead kernel
        result = _error(call, result_text(_failure(exc), limit), clock() - job.started)
    done.put((job.index, result))


async def _awaited(awaitable: Awaitable[Any], job: _Job) -> Any:
    """Await an async tool, letting the waiting thread cancel it (from its own thread) on timeout."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:
        cancel = task.cancel
        job.cancel = lambda: loop.call_soon_threadsafe(cancel)
    return await awaitable


def _error(call: ToolCall, message: str, duration: float) -> ToolResult:
    """A failed call's result."""
    return ToolResult(call.id, call.name, message, is_error=True, duration=duration)


def _failure(exc: BaseException) -> str:
    """``ValueError: the message``: what a raising tool tells the model (no traceback)."""
    try:
        message = str(exc)
    except Exception:  # an exception whose __str__ fails still has a type
        message = ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _unknown(name: str, tools: Mapping[str, Tool]) -> str:
    """The error for a call to a tool that was not offered."""
    offered = ", ".join(tools) or "none"
    return f"Unknown tool {name!r}: the tools offered are {offered}."


def _timed_out(job: _Job, timeout: float) -> str:
    """The error for a call still running at its deadline."""
    fate = (
        "it was cancelled"
        if job.cancel is not None
        else "it may still be running in the background; its result will be ignored"
    )
    return f"Timed out: {job.call.name} did not finish within {timeout:g} seconds; {fate}."


def _as_text(value: object) -> str:
    """JSON for values made of JSON-like parts (dataclasses and pydantic models too), else repr."""
    try:
        if _jsonable(value, 0):
            return pydantic_core.to_json(value).decode()
    except Exception:  # a model field pydantic cannot serialise, a property that raises, …
        pass
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object; its repr failed: {_failure(exc)}>"


def _jsonable(value: object, depth: int) -> bool:
    """Whether ``value`` is made only of parts JSON has (so a set, say, is shown with repr)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, (_SCALARS, BaseModel)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_jsonable(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _jsonable(v, depth + 1) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(_jsonable(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value))
    return False
