"""ResponseState: one response's events folded as they arrive, and the ChatResult they make.

The state is folded once, on the thread that reads the stream; live views read it from their paint
thread through :meth:`ResponseState.progress`, a consistent snapshot taken under the state's lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .events import (
    ChatResult,
    Done,
    Error,
    Event,
    ReasoningDelta,
    ResponseInfo,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolResult,
    Usage,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Progress:
    """What a live view shows of a response still streaming: a snapshot of its state."""

    text: str
    reasoning: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage | None
    model: str | None
    started: float  # clock readings: when the request started, its first token, thinking's start and end
    first: float | None
    thinking_since: float | None
    thinking_until: float | None
    changes: int  # how many events have been folded: a view repaints only when this moves


class ResponseState:
    """Folds events into the state of one response, and gives its :class:`ChatResult`.

    The clock is injectable for tests. ``add`` and ``progress`` may run on different threads.
    """

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._changes = 0
        self._start = clock()
        self._first: float | None = None
        self._thinking: list[float] = []  # when reasoning started, and when the answer took over
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, list[str | None]] = {}
        self._complete: list[ToolCall] = []
        self._tool_results: list[ToolResult] = []
        self._usage: Usage | None = None
        self._info: dict[str, str | None] = {}
        self._refusal = False

    def add(self, event: Event) -> None:
        """Fold one event into the state."""
        with self._lock:
            self._changes += 1
            self._fold(event)

    def _fold(self, event: Event) -> None:
        if isinstance(event, (TextDelta, ReasoningDelta)):
            reasoning = isinstance(event, ReasoningDelta)
            starts_thinking = reasoning and not self._thinking
            ends_thinking = not reasoning and len(self._thinking) == 1
            if event.text and (self._first is None or starts_thinking or ends_thinking):
                now = self._clock()
                self._first = self._first if self._first is not None else now
                if starts_thinking or ends_thinking:
                    self._thinking.append(now)
            (self._text if isinstance(event, TextDelta) else self._reasoning).append(event.text)
            self._refusal = self._refusal or (isinstance(event, TextDelta) and event.refusal)
        elif isinstance(event, ToolCallDelta):
            if self._first is None:
                self._first = self._clock()
            slot = self._calls.setdefault(event.index, [None, None, ""])
            slot[0] = event.id or slot[0]
            slot[1] = event.name or slot[1]
            slot[2] = (slot[2] or "") + event.arguments
        elif isinstance(event, ToolCall):
            self._complete = [c for c in self._complete if c.id != event.id] + [event]
        elif isinstance(event, ToolResult):
            self._tool_results.append(event)
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, ResponseInfo):
            for key in ("model", "response_id", "request_id", "finish_reason"):
                value = getattr(event, key)
                if value:
                    self._info[key] = value
        elif isinstance(event, (Done, Error)):
            pass  # terminal events carry a result; they add nothing to it

    @property
    def text(self) -> str:
        """The answer so far."""
        with self._lock:
            return _joined(self._text)

    @property
    def reasoning(self) -> str:
        """The reasoning so far."""
        with self._lock:
            return _joined(self._reasoning)

    @property
    def changes(self) -> int:
        """How many events have been folded in."""
        return self._changes

    def progress(self) -> Progress:
        """A consistent snapshot for a live view (taken under the lock: the stream may be folding)."""
        with self._lock:
            thinking = self._thinking
            return Progress(
                text=_joined(self._text),
                reasoning=_joined(self._reasoning),
                tool_calls=tuple(self._complete) or self._calls_from_fragments(),
                usage=self._usage,
                model=self._info.get("model"),
                started=self._start,
                first=self._first,
                thinking_since=thinking[0] if thinking else None,
                thinking_until=thinking[1] if len(thinking) > 1 else None,
                changes=self._changes,
            )

    def result(self, *, interrupted: bool = False) -> ChatResult:
        """The result as of now."""
        with self._lock:
            now = self._clock()
            return ChatResult(
                text=_joined(self._text),
                reasoning=_joined(self._reasoning),
                tool_calls=tuple(self._complete) or self._calls_from_fragments(),
                tool_results=tuple(self._tool_results),
                usage=self._usage,
                finish_reason=self._info.get("finish_reason"),
                model=self._info.get("model"),
                response_id=self._info.get("response_id"),
                request_id=self._info.get("request_id"),
                time_to_first_token=None if self._first is None else self._first - self._start,
                thinking_time=self._thinking_time(now),
                total_time=now - self._start,
                interrupted=interrupted,
                refusal=self._refusal,
            )

    def _thinking_time(self, now: float) -> float | None:
        if not self._thinking:
            return None
        return (self._thinking[1] if len(self._thinking) > 1 else now) - self._thinking[0]

    def _calls_from_fragments(self) -> tuple[ToolCall, ...]:
        """Tool calls pieced together from deltas, for a stream cut before they completed."""
        return tuple(
            ToolCall(id=slot[0] or f"call_{index}", name=slot[1] or "", arguments=slot[2] or "")
            for index, slot in sorted(self._calls.items())
        )


def _joined(pieces: list[str]) -> str:
    """The pieces as one string, kept joined so that the next join only adds what arrived since."""
    if len(pieces) > 1:
        pieces[:] = ["".join(pieces)]
    return pieces[0] if pieces else ""
