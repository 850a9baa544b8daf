"""One model response: the single primitive every turn, one-off request and grid run is built on.

:func:`respond` sends messages through a :class:`~heroku_magic.client.ChatClient`, folds each event
into a :class:`~heroku_magic.result.ResponseState` before yielding it, ends in exactly one terminal
event (:class:`~heroku_magic.events.Done`, or :class:`~heroku_magic.events.Error` for the client's
own failures), and always closes the stream. It records nothing and decides nothing about
interruptions: ``KeyboardInterrupt`` and ``GeneratorExit`` pass through for the caller to handle,
and so does any other exception, a bug, which must never pass for an interrupted answer.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

from .client import ChatClient
from .errors import HerokuMagicError
from .events import Content, Done, Error, Event, wire_content
from .options import ChatOptions
from .result import ResponseState


def respond(
    client: ChatClient,
    messages: Sequence[dict[str, Any]],
    options: ChatOptions,
    state: ResponseState | None = None,
) -> Generator[Event, None, None]:
    """Yield one response's events, folded into ``state`` (a fresh one if not given), then Done or Error."""
    state = state if state is not None else ResponseState()
    events: Iterator[Event] = iter(())
    try:
        events = client.events(messages, options)
        for event in events:
            state.add(event)
            yield event
    except HerokuMagicError as exc:
        yield Error(exc, state.result())
        return
    finally:
        # Close the transport now, not when garbage collection gets to it: an abandoned stream
        # must drop its connection at once.
        close = getattr(events, "close", None)
        if close is not None:
            close()
    yield Done(state.result())


def request_messages(
    prompt: Content | None, system: str | None = None, history: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The messages of a request: the system prompt, the history, then the user's prompt."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages += history
    if prompt is not None:
        messages.append({"role": "user", "content": wire_content(prompt)})
    return messages
