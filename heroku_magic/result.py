"""ResponseState: one turn's events folded as they arrive, step by step, and the ChatResult they make.

A turn is one or more model calls (steps): the first answers the user; each later one answers the
results of the tools the previous step called. The state is folded once, on the thread that reads
the stream; live views read it from their paint thread through :meth:`ResponseState.progress`, a
consistent snapshot taken under the state's lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .events import (
    ChatResult,
    Done,
    Error,
    Event,
    Logprobs,
    NewStep,
    Notice,
    ReasoningDelta,
    ResponseInfo,
    Step,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolResult,
    ToolStatus,
    Usage,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class StepProgress:
    """What a live view shows of one step: its text, reasoning, tool calls and their outcomes."""

    text: str
    reasoning: str
    tool_calls: tuple[ToolCall, ...]
    results: Mapping[str, ToolResult]  # by tool call id
    status: Mapping[str, str]  # by tool call id: "awaiting" (approval) or "running"
    thinking_since: float | None  # clock readings
    thinking_until: float | None


@dataclass(frozen=True)
class Progress:
    """What a live view shows of a turn still streaming: a snapshot of its state."""

    steps: tuple[StepProgress, ...]
    usage: Usage | None
    model: str | None
    started: float  # clock readings: when the request started, and its first token
    first: float | None
    notices: tuple[str, ...]
    changes: int  # how many events have been folded: a view repaints only when this moves


class _StepState:
    """The folded events of one model call (mutated only under the turn state's lock)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.first: float | None = None
        self.thinking: list[float] = []  # when reasoning started, and when the answer took over
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.reasoning_fields: dict[str, Any] = {}
        self.calls: dict[int, list[str | None]] = {}
        self.complete: list[ToolCall] = []
        self.results: dict[str, ToolResult] = {}
        self.status: dict[str, str] = {}
        self.usage: Usage | None = None
        self.logprobs: list[tuple[str, float]] = []
        self.info: dict[str, str | None] = {}
        self.refusal = False

    def fold(self, event: Event, clock: Clock) -> None:
        if isinstance(event, (TextDelta, ReasoningDelta)):
            reasoning = isinstance(event, ReasoningDelta)
            starts_thinking = reasoning and not self.thinking
            ends_thinking = not reasoning and len(self.thinking) == 1
            if event.text and (self.first is None or starts_thinking or ends_thinking):
                now = clock()
                self.first = self.first if self.first is not None else now
                if starts_thinking or ends_thinking:
                    self.thinking.append(now)
            if isinstance(event, ReasoningDelta):
                self.reasoning.append(event.text)
                if event.fields:
                    self.reasoning_fields.update(event.fields)
            else:
                self.text.append(event.text)
                self.refusal = self.refusal or event.refusal
        elif isinstance(event, ToolCallDelta):
            if self.first is None:
                self.first = clock()
            slot = self.calls.setdefault(event.index, [None, None, ""])
            slot[0] = event.id or slot[0]
            slot[1] = event.name or slot[1]
            slot[2] = (slot[2] or "") + event.arguments
        elif isinstance(event, ToolCall):
            self.complete = [c for c in self.complete if c.id != event.id] + [event]
        elif isinstance(event, ToolStatus):
            self.status[event.tool_call_id] = event.status
        elif isinstance(event, ToolResult):
            self.results[event.tool_call_id] = event
            self.status.pop(event.tool_call_id, None)
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Logprobs):
            self.logprobs += event.tokens
        elif isinstance(event, ResponseInfo):
            for key in ("model", "response_id", "request_id", "finish_reason"):
                value = getattr(event, key)
                if value:
                    self.info[key] = value

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The complete calls, or those pieced together from fragments for a stream cut before they completed."""
        return tuple(self.complete) or tuple(
            ToolCall(id=slot[0] or f"call_{index}", name=slot[1] or "", arguments=slot[2] or "")
            for index, slot in sorted(self.calls.items())
        )

    def ordered_results(self) -> tuple[ToolResult, ...]:
        """The results in the calls' order (tools finish in any order)."""
        order = {call.id: n for n, call in enumerate(self.tool_calls())}
        return tuple(sorted(self.results.values(), key=lambda r: order.get(r.tool_call_id, len(order))))

    def progress(self) -> StepProgress:
        thinking = self.thinking
        return StepProgress(
            text=_joined(self.text),
            reasoning=_joined(self.reasoning),
            tool_calls=self.tool_calls(),
            results=dict(self.results),
            status=dict(self.status),
            thinking_since=thinking[0] if thinking else None,
            thinking_until=thinking[1] if len(thinking) > 1 else None,
        )

    def thinking_time(self, now: float) -> float | None:
        if not self.thinking:
            return None
        return (self.thinking[1] if len(self.thinking) > 1 else now) - self.thinking[0]

    def result(self, now: float, interrupted: bool) -> ChatResult:
        return ChatResult(
            text=_joined(self.text),
            reasoning=_joined(self.reasoning),
            tool_calls=self.tool_calls(),
            usage=self.usage,
            finish_reason=self.info.get("finish_reason"),
            model=self.info.get("model"),
            response_id=self.info.get("response_id"),
            request_id=self.info.get("request_id"),
            time_to_first_token=None if self.first is None else self.first - self.start,
            thinking_time=self.thinking_time(now),
            total_time=now - self.start,
            interrupted=interrupted,
            refusal=self.refusal,
            reasoning_fields=dict(self.reasoning_fields) or None,
            logprobs=tuple(self.logprobs),
        )


class ResponseState:
    """Folds a turn's events, step by step, and gives its :class:`ChatResult`.

    The clock is injectable for tests. ``add`` and ``progress`` may run on different threads.
    """

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._changes = 0
        self._start = clock()
        self._steps = [_StepState(self._start)]
        self._notices: list[str] = []

    def add(self, event: Event) -> None:
        """Fold one event into the state."""
        with self._lock:
            self._changes += 1
            if isinstance(event, NewStep):
                self._steps.append(_StepState(self._clock()))
            elif isinstance(event, Notice):
                self._notices.append(event.text)
            elif not isinstance(event, (Done, Error)):  # terminal events carry a result; they add nothing
                self._steps[-1].fold(event, self._clock)

    @property
    def text(self) -> str:
        """The current step's answer so far."""
        with self._lock:
            return _joined(self._steps[-1].text)

    @property
    def reasoning(self) -> str:
        """The current step's reasoning so far."""
        with self._lock:
            return _joined(self._steps[-1].reasoning)

    @property
    def changes(self) -> int:
        """How many events have been folded in."""
        return self._changes

    def progress(self) -> Progress:
        """A consistent snapshot for a live view (taken under the lock: the stream may be folding)."""
        with self._lock:
            first = next((s.first for s in self._steps if s.first is not None), None)
            return Progress(
                steps=tuple(step.progress() for step in self._steps),
                usage=self._usage(),
                model=self._model(),
                started=self._start,
                first=first,
                notices=tuple(self._notices),
                changes=self._changes,
            )

    def result(self, *, interrupted: bool = False, error: str | None = None) -> ChatResult:
        """The turn's result as of now: the last step's answer, usage summed over the steps."""
        with self._lock:
            now = self._clock()
            final = len(self._steps) - 1
            steps = [step.result(now, interrupted and n == final) for n, step in enumerate(self._steps)]
            results = [step.ordered_results() for step in self._steps]
            last, first = steps[-1], steps[0]
            thinking = [s.thinking_time for s in steps if s.thinking_time is not None]
            return ChatResult(
                text=last.text,
                reasoning=last.reasoning,
                tool_calls=tuple(call for s in steps for call in s.tool_calls),
                tool_results=tuple(r for step_results in results for r in step_results),
                usage=self._usage(),
                finish_reason=last.finish_reason,
                model=self._model(),
                response_id=last.response_id,
                request_id=last.request_id,
                time_to_first_token=first.time_to_first_token,
                thinking_time=sum(thinking) if thinking else None,
                total_time=now - self._start,
                interrupted=interrupted,
                refusal=any(s.refusal for s in steps),
                steps=tuple(Step(s, r) for s, r in zip(steps, results, strict=True)),
                notices=tuple(self._notices),
                error=error,
                reasoning_fields=last.reasoning_fields,
                logprobs=last.logprobs,
            )

    def _usage(self) -> Usage | None:
        usages = [step.usage for step in self._steps if step.usage is not None]
        if len(usages) < 2:
            return usages[0] if usages else None
        reasoning = [u.reasoning_tokens for u in usages if u.reasoning_tokens is not None]
        return Usage(
            prompt_tokens=sum(u.prompt_tokens for u in usages),
            completion_tokens=sum(u.completion_tokens for u in usages),
            total_tokens=sum(u.total_tokens for u in usages),
            reasoning_tokens=sum(reasoning) if reasoning else None,
        )

    def _model(self) -> str | None:
        return next((s.info["model"] for s in reversed(self._steps) if s.info.get("model")), None)


def _joined(pieces: list[str]) -> str:
    """The pieces as one string, kept joined so that the next join only adds what arrived since."""
    if len(pieces) > 1:
        pieces[:] = ["".join(pieces)]
    return pieces[0] if pieces else ""
