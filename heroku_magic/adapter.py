"""Pure translation of chat-completion chunks (SDK objects or plain dicts) into events.

Heroku streams reasoning as ``delta.reasoning.thinking`` (the SDK keeps it in ``model_extra`` as a
plain dict); variants seen elsewhere (``reasoning_content``, a bare string) are tolerated. Tool calls
may stream as OpenAI fragments keyed by ``index`` or whole in one chunk (possibly repeated), so they
are keyed by ``id`` when one is given and by ``index`` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .events import Event, Logprobs, ReasoningDelta, ResponseInfo, TextDelta, ToolCall, ToolCallDelta, Usage


def field_of(obj: Any, name: str) -> Any:
    """A field of an SDK object or a dict; unknown SDK fields live in ``model_extra``."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    extra = getattr(obj, "__pydantic_extra__", None)
    if isinstance(extra, dict):
        # A pydantic v2 model: its fields are in __dict__, what the server added in the extras.
        # Read directly, this is several times faster than getattr, whose misses raise inside
        # pydantic; it runs ~10 times per chunk, 20,000 times for a long answer.
        value = obj.__dict__.get(name)
        return value if value is not None else extra.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, dict):
            value = extra.get(name)
    return value


def reasoning_text(holder: Any) -> str:
    """The reasoning text carried by a delta or message, in any of the shapes servers use."""
    for name in ("reasoning", "reasoning_content"):
        value = field_of(holder, name)
        if isinstance(value, str):
            return value
        if value is not None:
            thinking = field_of(value, "thinking")
            if isinstance(thinking, str):
                return thinking
            text = field_of(value, "text") or field_of(value, "content")
            if isinstance(text, str):
                return text
    return ""


def logprobs_of(logprobs: Any) -> tuple[tuple[str, float], ...]:
    """(token, log probability) pairs of a choice's ``logprobs.content`` (malformed entries left out)."""
    pairs = []
    for entry in field_of(logprobs, "content") or ():
        token, value = field_of(entry, "token"), field_of(entry, "logprob")
        if isinstance(token, str) and isinstance(value, (int, float)) and not isinstance(value, bool):
            pairs.append((token, float(value)))
    return tuple(pairs)


def usage_event(usage: Any) -> Usage | None:
    """A Usage event from an SDK or dict usage object (reasoning tokens where given)."""
    if not usage:
        return None
    details = field_of(usage, "completion_tokens_details")
    reasoning = field_of(details, "reasoning_tokens")
    prompt = int(field_of(usage, "prompt_tokens") or 0)
    completion = int(field_of(usage, "completion_tokens") or 0)
    if not (prompt or completion or field_of(usage, "total_tokens")):
        return None  # Heroku's tool.completion objects carry "usage": {}
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(field_of(usage, "total_tokens") or prompt + completion),
        reasoning_tokens=int(reasoning) if reasoning is not None else None,
    )


@dataclass
class _Slot:
    index: int
    id: str | None
    name: str
    arguments: str
    done: bool = False


class _ToolCallAssembler:
    """Pieces tool calls together from fragments by index or whole calls by id."""

    def __init__(self) -> None:
        self.slots: list[_Slot] = []
        self._by_index: dict[int, _Slot] = {}

    def feed(self, fragment: Any) -> ToolCallDelta | None:
        call_id = field_of(fragment, "id") or None
        index = field_of(fragment, "index")
        function = field_of(fragment, "function")
        name = field_of(function, "name") or ""
        arguments = field_of(function, "arguments") or ""
        slot = self._find(call_id, index)
        if slot is None:
            slot = _Slot(index=len(self.slots), id=call_id, name=name, arguments="")
            self.slots.append(slot)
        elif call_id and slot.arguments and _is_json(arguments):
            # A whole call sent again (Heroku may repeat complete calls): add only what is new.
            if arguments == slot.arguments:
                return None
            if arguments.startswith(slot.arguments):
                arguments = arguments[len(slot.arguments) :]
        if isinstance(index, int):
            self._by_index[index] = slot
        slot.id = slot.id or call_id
        new_name = name if name and not slot.name else ""
        slot.name = slot.name or name
        slot.arguments += arguments
        if not (arguments or new_name or call_id):
            return None
        return ToolCallDelta(index=slot.index, id=slot.id, name=slot.name or None, arguments=arguments)

    def _find(self, call_id: str | None, index: Any) -> _Slot | None:
        if call_id:
            for slot in self.slots:
                if slot.id == call_id:
                    return slot
            held = self._by_index.get(index) if isinstance(index, int) else None
            # A fresh id at an index already taken by another call is a new call, not a fragment.
            return held if held is not None and held.id is None else None
        if isinstance(index, int) and index in self._by_index:
            return self._by_index[index]
        return self.slots[-1] if self.slots and not isinstance(index, int) else None

    def complete(self) -> list[ToolCall]:
        """Calls not yet reported as complete, now reported once."""
        ready = [slot for slot in self.slots if not slot.done]
        for slot in ready:
            slot.done = True
        return [
            ToolCall(id=slot.id or f"call_{slot.index}", name=slot.name, arguments=slot.arguments)
            for slot in ready
        ]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def stream_events(chunks: Iterable[Any], request_id: str | None = None) -> Iterator[Event]:
    """Events for a stream of chat-completion chunks (no terminal event: the caller adds it)."""
    calls = _ToolCallAssembler()
    announced = False
    for chunk in chunks:
        if not announced and (field_of(chunk, "id") or field_of(chunk, "model")):
            announced = True
            yield ResponseInfo(
                model=field_of(chunk, "model"), response_id=field_of(chunk, "id"), request_id=request_id
            )
        for choice in field_of(chunk, "choices") or ():
            if (field_of(choice, "index") or 0) != 0:
                continue  # n > 1 is ignored by Heroku; only the first choice is the answer
            yield from _delta_events(field_of(choice, "delta") or field_of(choice, "message"), calls)
            logprobs = field_of(choice, "logprobs")
            if logprobs:
                tokens = logprobs_of(logprobs)
                if tokens:
                    yield Logprobs(tokens)
            finish = field_of(choice, "finish_reason")
            if finish:
                yield from calls.complete()
                yield ResponseInfo(finish_reason=finish)
        usage = usage_event(field_of(chunk, "usage"))
        if usage is not None:
            yield usage
    yield from calls.complete()


def _delta_events(delta: Any, calls: _ToolCallAssembler) -> Iterator[Event]:
    reasoning = reasoning_text(delta)
    if reasoning:
        yield ReasoningDelta(reasoning)
    content = field_of(delta, "content")
    if isinstance(content, str) and content:
        yield TextDelta(content)
    refusal = field_of(delta, "refusal")
    if isinstance(refusal, str) and refusal:
        yield TextDelta(refusal, refusal=True)
    for fragment in field_of(delta, "tool_calls") or ():
        event = calls.feed(fragment)
        if event is not None:
            yield event


def completion_events(completion: Any, request_id: str | None = None) -> Iterator[Event]:
    """Events for a whole (non-streamed) chat completion: the same sequence a stream would give."""
    return stream_events([completion], request_id=request_id)
