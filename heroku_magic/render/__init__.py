"""Renderers over the event stream, and the one driver that feeds them.

A renderer has two methods: ``handle(event)`` for each event as it arrives, and
``close(result, error)`` once at the end — after a normal end (``error`` None), a failure, or an
interrupt (``error`` is the KeyboardInterrupt). :func:`drive` owns the try/finally, so every renderer
sees errors and interrupts the same way and the stream's connection is always closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from ..events import ChatResult, Done, Error, Event
from ..result import ResponseState


class Renderer(Protocol):
    """Shows a response as it streams, and leaves a final state."""

    def handle(self, event: Event) -> None:
        """Show one event."""

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """Show the final state of the response."""


def drive(
    events: Iterator[Event], renderers: Sequence[Renderer], state: ResponseState | None = None
) -> ChatResult:
    """Feed every event to every renderer; close them all; return the result or raise its error.

    A live view reads the response's state rather than folding the events again: pass ``state`` when
    the stream folds its events into it itself (``Conversation.stream(state=...)``); without one,
    the events are folded here.
    """
    folding = state is None
    accumulator = state if state is not None else ResponseState()
    final: Done | Error | None = None
    try:
        for event in events:
            if folding:
                accumulator.add(event)
            for renderer in renderers:
                renderer.handle(event)
            if isinstance(event, (Done, Error)):
                final = event
    except BaseException as exc:  # KeyboardInterrupt: keep the partial answer on screen
        _close_stream(events)
        partial = accumulator.result(interrupted=isinstance(exc, KeyboardInterrupt))
        for renderer in renderers:
            renderer.close(partial, exc)
        raise
    _close_stream(events)
    if final is None:
        final = Error(RuntimeError("the response ended without a result"), accumulator.result())
    error = final.error if isinstance(final, Error) else None
    for renderer in renderers:
        renderer.close(final.result, error)
    if error is not None:
        raise error
    return final.result


def _close_stream(events: Iterator[Event]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()
