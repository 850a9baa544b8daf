"""Conversation: the system prompt and the turns of one chat, sent as history with each new prompt.

Turns may be keyed (the magic keys them by notebook cell): sending again with a key that is already
present replaces that turn in place, with only the turns before it as context. A failed request
leaves the history as it was; an interrupted one keeps its partial answer, marked as interrupted;
a turn that fails after its tools ran keeps those steps (the tools really ran), marked failed.
Reasoning is kept for display but never sent back to the model in later turns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Generator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import ChatClient, HerokuClient
from .config import Settings
from .errors import APIError
from .events import ChatResult, Content, Done, Error, Event, Step, content_text, wire_content
from .images import image_notes
from .options import ChatOptions
from .respond import request_messages
from .result import Clock, ResponseState
from .turn import Approve, offered_tools, run_turn, turn_messages


@dataclass(frozen=True)
class Turn:
    """One exchange: the user's content and the model's result (its steps, when tools ran)."""

    content: Content
    result: ChatResult
    key: str | None = None
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        """The user's content as text, for display."""
        return content_text(self.content)

    def messages(self, offered: Collection[str] | None = None) -> list[dict[str, Any]]:
        """The turn as OpenAI chat messages (reasoning left out); see :func:`~heroku_magic.turn.turn_messages`."""
        user: dict[str, Any] = {"role": "user", "content": wire_content(self.content)}
        return [user, *turn_messages(self.result, offered)]


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
        self,
        prompt: Content | None = None,
        *,
        key: str | None = None,
        system: str | None = None,
        offered: Collection[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The messages a request would send: system prompt, history (before ``key``'s turn), prompt.

        ``offered`` names the tools the request defines (history's tool exchanges for other tools
        are sent as text); ``None`` sends every exchange as it was.
        """
        history = [message for turn in self._context(key) for message in turn.messages(offered)]
        return request_messages(prompt, self.system if system is None else system, history)

    def stream(
        self,
        prompt: Content,
        options: ChatOptions | None = None,
        *,
        key: str | None = None,
        record: bool = True,
        client: ChatClient | None = None,
        state: ResponseState | None = None,
        approve: Approve | None = None,
    ) -> Generator[Event, None, None]:
        """Send ``prompt`` (text or content parts) with the history; yield the turn's events, ending in Done or Error.

        The model's tool calls run (``options.tools``; ``approve`` is asked first about each, if
        given) and the model is called again with their results. The events are folded into
        ``state`` (a fresh one if not given) before they are yielded, so a live view may read it as
        they arrive. A turn stopped by an interrupt (or abandoned by the consumer) is recorded as
        interrupted, with what arrived; a failure leaves the history as it was, unless tools had
        already run (then the turn is kept, with its error).
        """
        options = options or ChatOptions()
        prompt = prompt if isinstance(prompt, str) else tuple(prompt)  # a list of parts is kept as a value
        system = self.system if options.system is None else options.system
        client = client or self.client
        messages = self.messages(prompt, key=key, system=system, offered=offered_tools(client, options))
        state = state if state is not None else ResponseState(self._clock)
        settled = False  # the turn ended (a consumer may stop at its end and never resume this)
        turn = run_turn(client, messages, options, state, approve=approve, notices=image_notes(prompt))
        try:
            with closing(turn) as events:
                for event in events:
                    if isinstance(event, (Done, Error)):
                        settled = True
                        if record and (isinstance(event, Done) or event.result.error is not None):
                            self._record(Turn(prompt, event.result, key, options.explicit()), system)
                    yield event
        except (KeyboardInterrupt, GeneratorExit):
            if record and not settled:
                self._record(Turn(prompt, state.result(interrupted=True), key, options.explicit()), system)
            raise

    def send(
        self,
        prompt: Content,
        options: ChatOptions | None = None,
        *,
        key: str | None = None,
        record: bool = True,
        approve: Approve | None = None,
    ) -> ChatResult:
        """Send ``prompt`` and return the turn's result; raises the error of a failed request."""
        for event in self.stream(prompt, options, key=key, record=record, approve=approve):
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
            parts.append(f"## {number}. User\n\n{turn.text}\n")
            label = f"## {number}. Assistant" + (f" ({result.model})" if result.model else "")
            parts.append(label + (" — interrupted" if result.interrupted else "") + "\n")
            for step in result.steps or (Step(result, result.tool_results),):
                parts.append(_step_markdown(step))
            if result.error:
                parts.append(f"*Failed: {result.error}*\n")
            parts.extend(f"*{notice}*\n" for notice in result.notices)
        return "\n".join(parts)

    def export(self, path: str | Path) -> Path:
        """Write the conversation to ``path``: JSON for ``.json``, Markdown otherwise."""
        target = Path(path)
        text = self.to_json() if target.suffix.lower() == ".json" else self.to_markdown()
        target.write_text(text, encoding="utf-8")
        return target


def _step_markdown(step: Step) -> str:
    """One step as Markdown: reasoning folded, the answer, each tool call with its result."""
    from .render.markdown import fenced

    response = step.response
    parts = []
    if response.reasoning:
        parts.append(f"<details><summary>Reasoning</summary>\n\n{response.reasoning}\n\n</details>\n")
    if response.text:
        parts.append(response.text + "\n")
    results = {result.tool_call_id: result for result in step.tool_results}
    for call in response.tool_calls:
        result = results.get(call.id)
        outcome = "(no result)" if result is None else ("Error: " if result.is_error else "") + result.content
        parts.append(f"**Tool call** `{call.name}`\n\n{fenced(call.arguments)}\nResult:\n\n{fenced(outcome)}")
    return "\n".join(parts)
