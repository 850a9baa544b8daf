"""Conversation and the accumulator, with a scripted client (no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeClient, answer, failing

from heroku_magic import (
    APIError,
    ChatOptions,
    ConfigurationError,
    Conversation,
    Done,
    Error,
    Settings,
    TextDelta,
    Thinking,
)
from heroku_magic.events import ReasoningDelta, ResponseInfo, ToolCall, Usage
from heroku_magic.result import ResponseState


class Clock:
    """A clock that advances one second per reading."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_accumulator_builds_the_whole_result() -> None:
    accumulator = ResponseState(clock=Clock())  # start=101
    for event in [
        ResponseInfo(model="m", response_id="chatcmpl-1", request_id="req-1"),
        ReasoningDelta("think "),  # first token at 102
        ReasoningDelta("hard"),
        TextDelta("Hello"),  # the answer takes over at 103
        TextDelta(" world"),
        ToolCall("t1", "f", "{}"),
        ResponseInfo(finish_reason="stop"),
        Usage(10, 20, 30, reasoning_tokens=4),
    ]:
        accumulator.add(event)
    result = accumulator.result()  # end=104
    assert (result.text, result.reasoning) == ("Hello world", "think hard")
    assert (result.model, result.response_id, result.request_id, result.finish_reason) == (
        "m",
        "chatcmpl-1",
        "req-1",
        "stop",
    )
    assert result.tool_calls == (ToolCall("t1", "f", "{}"),)
    assert result.usage == Usage(10, 20, 30, 4)
    assert result.time_to_first_token == 1.0 and result.total_time == 3.0
    assert result.thinking_time == 1.0
    assert result.tokens_per_second == 10.0
    assert not result.interrupted
    assert accumulator.result(interrupted=True).interrupted


def test_result_json_parses_json_mode_answers() -> None:
    accumulator = ResponseState()
    accumulator.add(TextDelta('```json\n{"a": [1, 2]}\n```'))
    assert accumulator.result().json() == {"a": [1, 2]}


def test_stream_yields_events_then_done_and_records_the_turn() -> None:
    client = FakeClient(answer("Paris is the capital.", reasoning="Recall geography."))
    conversation = Conversation(client=client, system="Be brief.")
    events = list(conversation.stream("Capital of France?", ChatOptions(model="m")))
    assert isinstance(events[-1], Done)
    assert events[-1].result.text == "Paris is the capital. "
    assert events[-1].result.reasoning == "Recall geography. "
    assert [type(e) for e in events].count(TextDelta) == 4
    assert len(conversation) == 1
    messages, options = client.requests[0]
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert options.model == "m"


def test_history_is_sent_and_reasoning_is_not() -> None:
    client = FakeClient(answer("Paris.", reasoning="secret thoughts"), answer("About 2 million."))
    conversation = Conversation(client=client)
    conversation.send("Capital of France?")
    conversation.send("Population?")
    sent = client.requests[1][0]
    assert sent == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris. "},
        {"role": "user", "content": "Population?"},
    ]
    assert "secret" not in json.dumps(sent)


def test_same_key_replaces_that_turn_with_earlier_turns_as_context() -> None:
    client = FakeClient(answer("one"), answer("two"), answer("one again"))
    conversation = Conversation(client=client)
    conversation.send("first", key="cell-1")
    conversation.send("second", key="cell-2")
    conversation.send("first, edited", key="cell-1")
    assert [t.content for t in conversation.turns] == ["first, edited", "second"]
    assert client.requests[2][0] == [{"role": "user", "content": "first, edited"}]


def test_unkeyed_sends_append() -> None:
    conversation = Conversation(client=FakeClient())
    conversation.send("a")
    conversation.send("a")
    assert len(conversation) == 2


def test_failed_request_leaves_history_exactly_as_it_was() -> None:
    client = FakeClient(answer("kept"), failing(after="partial words", error=APIError("boom", status=500)))
    conversation = Conversation(client=client)
    conversation.send("one")
    before = list(conversation.turns)
    events = list(conversation.stream("two"))
    assert isinstance(events[-1], Error)
    assert events[-1].result.text == "partial words "  # shown to the user, not recorded
    assert conversation.turns == before
    with pytest.raises(APIError, match="boom"):
        Conversation(client=FakeClient(failing())).send("x")


def test_interrupted_stream_keeps_partial_answer_marked_interrupted() -> None:
    conversation = Conversation(client=FakeClient(answer("a long answer that is cut")))
    stream = conversation.stream("go", key="c1")
    for event in stream:
        if isinstance(event, TextDelta):
            break  # the consumer stops, as a KeyboardInterrupt in the renderer would
    stream.close()
    assert len(conversation) == 1
    turn = conversation.turns[0]
    assert turn.result.interrupted and turn.result.text == "a "
    # the conversation stays usable, and the partial answer is context for the next turn
    conversation.send("continue")
    assert len(conversation) == 2


def test_keyboard_interrupt_inside_the_client_records_partial_and_propagates() -> None:
    class Interrupting(FakeClient):
        def events(self, messages, options) -> Iterator:  # type: ignore[no-untyped-def, override]
            yield TextDelta("half")
            raise KeyboardInterrupt

    conversation = Conversation(client=Interrupting())
    with pytest.raises(KeyboardInterrupt):
        list(conversation.stream("go"))
    assert conversation.turns[0].result.interrupted and conversation.turns[0].result.text == "half"


def test_interrupt_before_any_token_records_nothing() -> None:
    conversation = Conversation(client=FakeClient(answer("x")))
    stream = conversation.stream("go")
    next(stream)  # ResponseInfo only
    stream.close()
    assert len(conversation) == 0


def test_record_false_is_a_one_off_turn() -> None:
    conversation = Conversation(client=FakeClient())
    conversation.send("x", record=False)
    assert len(conversation) == 0


def test_system_prompt_from_options_sticks_to_the_conversation() -> None:
    client = FakeClient()
    conversation = Conversation(client=client)
    conversation.send("a", ChatOptions(system="You are terse."))
    conversation.send("b")
    assert client.requests[1][0][0] == {"role": "system", "content": "You are terse."}


def test_reset_clears_turns() -> None:
    conversation = Conversation(client=FakeClient())
    conversation.send("a")
    conversation.reset(system="new")
    assert len(conversation) == 0 and conversation.system == "new"


def test_export_markdown_and_json(tmp_path: Path) -> None:
    conversation = Conversation(
        client=FakeClient(answer("**Paris**", reasoning="geo")), system="sys", name="demo"
    )
    conversation.send("Capital?")
    markdown = conversation.to_markdown()
    assert "# Conversation: demo" in markdown and "Capital?" in markdown and "**Paris**" in markdown
    assert "<details><summary>Reasoning</summary>" in markdown and "geo" in markdown
    exported = json.loads(conversation.export(tmp_path / "c.json").read_text())
    assert exported == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Capital?"},
        {"role": "assistant", "content": "**Paris** "},
    ]
    assert (conversation.export(tmp_path / "c.md")).read_text() == markdown


def test_missing_settings_error_is_raised_only_on_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFERENCE_URL", raising=False)
    monkeypatch.delenv("INFERENCE_KEY", raising=False)
    conversation = Conversation()  # building one never needs the environment
    with pytest.raises(ConfigurationError, match="INFERENCE_URL"):
        conversation.send("hi")


def test_missing_model_is_a_clear_error_event() -> None:
    conversation = Conversation(Settings(url="http://127.0.0.1:9", key="inf-test-key-1234"))
    events = list(conversation.stream("hi"))
    assert isinstance(events[-1], Error) and isinstance(events[-1].error, ConfigurationError)
    assert "INFERENCE_MODEL_ID" in str(events[-1].error) and "--model" in str(events[-1].error)


def test_options_error_before_sending() -> None:
    with pytest.raises(Exception, match="temperature 1"):
        ChatOptions(thinking=Thinking(), temperature=0.2)
