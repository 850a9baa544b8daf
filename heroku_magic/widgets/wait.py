"""Waiting, inside a running cell, for the user to click a widget (e.g. Approve/Deny).

While a cell runs, the kernel reads no shell message: a widget's click (a ``comm_msg``) would
arrive only after the cell ends. :func:`wait_for` processes them while it waits, as
``jupyter-ui-poll`` does with ipykernel 6; with ipykernel 7 that library polls nothing, silently
(7.0's ``Kernel.do_one_iteration`` no longer sees the shell's messages, and 7.1 removed it).

Each step flushes the stream the kernel reads the main shell's messages from (as ipykernel's own
GUI event-loop integration does) through a callback of ours: ``comm_open``, ``comm_msg`` and
``comm_close`` are handled at once, by the kernel's own handlers; every other message (an
``execute_request`` for the next cell, a completion request…) is handed back to the kernel's
callback unchanged and in order, so it runs after the waiting cell, as it would have anyway.

Tested with ipykernel 6.29.5, 7.0.1, 7.2.0 and 7.4.0. Call it from the cell's own (main) thread;
everything it needs is imported on first use, so loading the extension imports none of it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("heroku_magic.wait")

_COMM_MESSAGES = frozenset({"comm_open", "comm_msg", "comm_close"})
_waiting = False  # one wait at a time: a nested one would take its own callback for the kernel's
_tasks: set[asyncio.Future[Any]] = set()  # handed-back messages' dispatches, held until they finish


def can_wait() -> bool:
    """Whether :func:`wait_for` can process widget events here (this thread runs an ipykernel cell)."""
    return not _waiting and _shell_stream() is not None


def wait_for(decided: Callable[[], bool], *, timeout: float | None = None, interval: float = 0.05) -> bool:
    """Process the kernel's widget messages until ``decided()`` is true (True) or ``timeout`` passes (False)."""
    global _waiting
    found = _shell_stream()
    deadline = None if timeout is None else time.monotonic() + timeout
    if found is not None and _waiting:
        raise RuntimeError("wait_for is already waiting")
    _waiting = found is not None
    try:
        while True:
            if found is not None:
                _step(*found)
            if decided():
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            # Without a kernel (a script, a test) this only polls decided(); another thread decides.
            time.sleep(interval if left is None else min(interval, left))
    finally:
        _waiting = False


def _shell_stream() -> tuple[Any, Any] | None:
    """The running ipykernel and the stream its main shell reads messages from, if this thread runs it."""
    if threading.current_thread() is not threading.main_thread():
        return None  # a subshell's or a user's thread: the main shell's stream belongs to another
    try:
        from IPython import get_ipython
        from zmq.eventloop.zmqstream import ZMQStream
    except ImportError:
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None or getattr(kernel, "session", None) is None:
        return None  # a terminal IPython, or an in-process kernel
    channel = getattr(kernel, "shell_channel_thread", None)
    if channel is not None:  # ipykernel 7: a thread reads the socket and passes them on
        stream = channel.manager.get_shell_channel_to_subshell_pair(None).to_stream
    else:  # ipykernel 6 reads the socket itself
        stream = getattr(kernel, "shell_stream", None)
    if not isinstance(stream, ZMQStream) or stream.closed() or stream._recv_callback is None:
        return None
    return kernel, stream


def _step(kernel: Any, stream: Any) -> None:
    """Handle the comm messages waiting on ``stream`` now; hand every other one back to the kernel."""
    import zmq

    received: deque[list[Any]] = deque()
    kernels_callback, copy = stream._recv_callback, stream._recv_copy
    ident, parent = kernel._parent_ident["shell"], kernel.get_parent("shell")
    stream.on_recv(received.append, copy=False)
    try:
        stream.flush(zmq.POLLIN)
    finally:
        stream.on_recv(kernels_callback, copy=copy)
        try:
            while received:
                message = received.popleft()
                if _message_type(kernel, message) in _COMM_MESSAGES:
                    # A copy of the context: the handler's parent (the comm message, for what it
                    # sends or prints) does not become the cell's.
                    contextvars.copy_context().run(_handle_comm, kernel, stream, message)
                else:
                    _hand_back(kernels_callback, message)
        finally:
            for message in received:  # interrupted: the rest runs after the cell, in order
                _hand_back(kernels_callback, message)
            kernel.set_parent(ident, parent, channel="shell")  # ipykernel 6 keeps the parent globally


def _message_type(kernel: Any, message: list[Any]) -> str | None:
    """The message's type, read from its header without checking (or recording) its signature."""
    try:
        _, parts = kernel.session.feed_identities(message, copy=False)
        header = kernel.session.unpack(getattr(parts[1], "bytes", parts[1]))
        return str(header["msg_type"])
    except Exception:  # e.g. ipykernel 7's internal "stop aborting" marker
        return None


def _handle_comm(kernel: Any, stream: Any, message: list[Any]) -> None:
    """Run the kernel's handler for one comm message (a widget's click), as the kernel would."""
    idents, parts = kernel.session.feed_identities(message, copy=False)
    try:
        msg = kernel.session.deserialize(parts, content=True, copy=False)
    except Exception:
        log.error("Invalid message while waiting for a widget", exc_info=True)
        return
    kernel.set_parent(idents, msg, channel="shell")
    handler = kernel.shell_handlers.get(msg["header"]["msg_type"])
    try:
        _schedule(handler(stream, idents, msg))  # ipykernel's own comm handlers are plain functions
    except Exception:
        log.error("Exception in a comm handler while waiting for a widget", exc_info=True)


def _hand_back(callback: Callable[[list[Any]], object], message: list[Any]) -> None:
    """Give ``message`` to the kernel's own callback (ipykernel 7's schedules a task to dispatch it)."""
    _schedule(callback(message))


def _schedule(result: object) -> None:
    """Run ``result`` on the kernel's event loop if it is awaitable (after the cell, the loop being busy)."""
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
