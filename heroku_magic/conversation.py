"""Conversation: the system prompt and the turns of one chat, sent as history with each new prompt.

Turns may be keyed (the magic keys them by notebook cell): sending again with a key that is already
present replaces that turn in place, with only the turns before it as context. A failed request
leaves the history as it was; an interrupted one keeps its partial answer, marked as interrupted.
Reasoning is kept for display but never sent back to the model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ChatClient, HerokuClient
from .config import Settings
from .errors import APIError
from .events import ChatResult, Done, Error, Event
from .options import ChatOptions
from .respond import request_messages, respond
from .result import Clock, ResponseState

# Heroku rejects assistant messages with empty content (tool calling needs it filled).
EMPTY_ANSWER = "(no text)"


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's prompt and the model's result."""

    prompt: str
    result: ChatResult
    key: str | None = None
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def messages(self) -> list[dict[str, Any]]:
        """The turn as OpenAI chat messages (reasoning left out)."""
        answer: dict[str, Any] = {"role": "assistant", "content": self.result.text or EMPTY_ANSWER}
        if self.result.tool_calls:
            answer["tool_calls"] = [call.to_message() for call in self.result.tool_calls]
        messages: list[dict[str, Any]] = [{"role": "user", "content": self.prompt}, answer]
        messages += [
            {"role": "tool", "tool_call_id": r.tool_call_id, "content": r.content or EMPTY_ANSWER}
            for r in self.result.tool_results
        ]
        return messages


class Conversation:
    """A chat with history; works in a plain script: ``Conversation().send("hi").text``."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: ChatClient | None = None,
        system: str | None = None,
        name: str = "default",
        clock: Clock = time.perf_counter,
    ) -> None:
        self.name = name
        self.system = system
        self.turns: list[Turn] = []
        self._settings = settings
        self._client = client
        self._clock = clock

    def __repr__(self) -> str:
        return f"Conversation(name={self.name!r}, turns={len(self.turns)})"

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def client(self) -> ChatClient:
        """The chat client, created from the environment on first use."""
        if self._client is None:
            self._client = HerokuClient(self._settings or Settings.from_env())
        return self._client

    def messages(
        self, prompt: str | None = None, *, key: str | None = None, system: str | None = None
    ) -> list[dict[str, Any]]:
        """The messages a request would send: system prompt, history (before ``key``'s turn), prompt."""
        history = [message for turn in self._context(key) for message in turn.messages()]
        return request_messages(prompt, self.system if system is None else system, history)

    def stream(
        self,
        prompt: str,
        options: ChatOptions | None = None,
        *,
        key: str | None = None,
        record: bool = True,
        client: ChatClient | None = None,
        state: ResponseState | None = None,
    ) -> Generator[Event, None, None]:
        """Send ``prompt`` with the history; yield its events, ending in Done or Error.

        The events are folded into ``state`` (a fresh one if not given) before they are yielded, so
        a live view may read it as they arrive. A response stopped by an interrupt (or abandoned by
        the consumer) is recorded as interrupted, with what arrived; any other exception is a
        failure and leaves the history as it was.
        """
        options = options or ChatOptions()
        system = self.system if options.system is None else options.system
        messages = self.messages(prompt, key=key, system=system)
        state = state if state is not None else ResponseState(self._clock)
        settled = False  # the response ended (a consumer may stop at its end and never resume this)
        try:
            with closing(respond(client or self.client, messages, options, state)) as events:
                for event in events:
                    if isinstance(event, (Done, Error)):
                        settled = True
                        if record and isinstance(event, Done):  # a failure leaves the history as it was
                            self._record(Turn(prompt, event.result, key, options.explicit()), system)
                    yield event
        except (KeyboardInterrupt, GeneratorExit):
            if record and not settled:
                self._record(Turn(prompt, state.result(interrupted=True), key, options.explicit()), system)
            raise

    def send(
        self, prompt: str, options: ChatOptions | None = None, *, key: str | None = None, record: bool = True
    ) -> ChatResult:
        """Send ``prompt`` and return the result; raises the error of a failed request."""
        for event in self.stream(prompt, options, key=key, record=record):
            if isinstance(event, Done):
                return event.result
            if isinstance(event, Error):
                raise event.error
        raise APIError("the response ended without a result")  # unreachable: stream always ends in one

    def reset(self, system: str | None = None) -> None:
        """Forget every turn (and set a new system prompt, if given)."""
        self.turns.clear()
        if system is not None:
            self.system = system

    def _context(self, key: str | None) -> list[Turn]:
        position = self._position(key)
        return self.turns if position is None else self.turns[:position]

    def _position(self, key: str | None) -> int | None:
        if key is None:
            return None
        return next((i for i, turn in enumerate(self.turns) if turn.key == key), None)

    def _record(self, turn: Turn, system: str | None) -> None:
        if turn.result.interrupted and not (turn.result.text or turn.result.tool_calls):
            return  # nothing arrived: there is no partial answer to keep
        self.system = system
        position = self._position(turn.key)
        if position is None:
            self.turns.append(turn)
        else:
            self.turns[position] = turn

    def to_json(self, indent: int | None = 2) -> str:
        """The conversation in OpenAI's message format, as JSON."""
        return json.dumps(self.messages(), indent=indent, ensure_ascii=False)

    def to_markdown(self) -> str:
        """The conversation as a Markdown document (raw text, for files; shown, it goes through the renderer)."""
        parts = [f"# Conversation: {self.name}\n"]
        if self.system:
            parts.append(f"**System:** {self.system}\n")
        for number, turn in enumerate(self.turns, 1):
            result = turn.result
            parts.append(f"## {number}. User\n\n{turn.prompt}\n")
            label = f"## {number}. Assistant" + (f" ({result.model})" if result.model else "")
            parts.append(label + (" — interrupted" if result.interrupted else "") + "\n")
            if result.reasoning:
                parts.append(f"<details><summary>Reasoning</summary>\n\n{result.reasoning}\n\n</details>\n")
            parts.append((result.text or "") + "\n")
            for call in result.tool_calls:
                parts.append(f"*Tool call* `{call.name}({call.arguments})`\n")
        return "\n".join(parts)

    def export(self, path: str | Path) -> Path:
        """Write the conversation to ``path``: JSON for ``.json``, Markdown otherwise."""
        target = Path(path)
        text = self.to_json() if target.suffix.lower() == ".json" else self.to_markdown()
        target.write_text(text, encoding="utf-8")
        return target
