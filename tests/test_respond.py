"""respond(): one response folded, one terminal event, the stream always closed; bugs are not interrupts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fakes import FakeClient, answer, failing

from heroku_magic import ChatOptions, Conversation, Done, Error, Event, TextDelta
from heroku_magic.respond import request_messages, respond
from heroku_magic.result import ResponseState


class ClosingClient:
    """A client whose stream records whether it was closed, and what it raised."""

    def __init__(self, script: Sequence[Event | BaseException]) -> None:
        self.script = script
        self.closed = False

    def events(self, messages: Sequence[dict[str, Any]], options: ChatOptions) -> Iterator[Event]:
        def stream() -> Iterator[Event]:
            try:
                for item in self.script:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                self.closed = True

        return stream()


def test_one_response_is_folded_and_ends_in_exactly_one_done() -> None:
    state = ResponseState()
    events = list(respond(FakeClient(answer("two words")), request_messages("hi"), ChatOptions(), state))
    terminal = [e for e in events if isinstance(e, (Done, Error))]
    assert terminal == [events[-1]] and isinstance(events[-1], Done)
    assert events[-1].result.text == state.text == "two words "


def test_a_client_failure_is_an_error_event_with_what_arrived() -> None:
    events = list(respond(FakeClient(failing(after="partial")), request_messages("hi"), ChatOptions()))
    assert isinstance(events[-1], Error) and events[-1].result.text == "partial "
    assert sum(isinstance(e, (Done, Error)) for e in events) == 1


def test_a_stream_abandoned_early_is_closed_at_once() -> None:
    client = ClosingClient([TextDelta("a"), TextDelta("b"), TextDelta("c")])
    events = respond(client, request_messages("hi"), ChatOptions())
    assert next(events) == TextDelta("a")
    events.close()
    assert client.closed


@pytest.mark.parametrize("exception", [KeyboardInterrupt(), ValueError("a bug in the adapter")])
def test_interrupts_and_bugs_pass_through_and_close_the_stream(exception: BaseException) -> None:
    client = ClosingClient([TextDelta("partial"), exception])
    with pytest.raises(type(exception)):
        list(respond(client, request_messages("hi"), ChatOptions()))
    assert client.closed


def test_a_bug_mid_stream_is_not_recorded_as_an_interrupted_turn() -> None:
    # It used to be: Conversation.stream caught BaseException, so a ValueError became a turn
    # marked "interrupted" with a partial answer, as if the user had pressed stop.
    conversation = Conversation(client=ClosingClient([TextDelta("partial"), ValueError("bug")]))
    with pytest.raises(ValueError, match="bug"):
        list(conversation.stream("hi"))
    assert conversation.turns == []


def test_an_interrupt_mid_stream_is_recorded_as_interrupted() -> None:
    conversation = Conversation(client=ClosingClient([TextDelta("partial"), KeyboardInterrupt()]))
    with pytest.raises(KeyboardInterrupt):
        list(conversation.stream("hi"))
    [turn] = conversation.turns
    assert turn.result.interrupted and turn.result.text == "partial"


def test_a_consumer_that_stops_at_the_end_leaves_a_complete_turn() -> None:
    conversation = Conversation(client=FakeClient(answer("done")))
    assert conversation.send("hi").text == "done "  # send() stops at Done: the stream is abandoned
    [turn] = conversation.turns
    assert not turn.result.interrupted


def test_request_messages_put_the_system_prompt_first_and_the_prompt_last() -> None:
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert request_messages("c", "be brief", history) == [
        {"role": "system", "content": "be brief"},
        *history,
        {"role": "user", "content": "c"},
    ]
    assert request_messages("c") == [{"role": "user", "content": "c"}]
