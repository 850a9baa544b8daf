"""The tool loop and the multi-step turn, with a scripted client (no network)."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import pytest
from fakes import FakeClient, answer, failing
from hypothesis import given, settings
from hypothesis import strategies as st
from polling import wait_until

from heroku_magic import ChatOptions, ChatResult, Conversation, Done, Error, Notice, ToolCall, ToolResult
from heroku_magic.events import NewStep, ReasoningDelta, ResponseInfo, Step, TextDelta, ToolStatus, Usage
from heroku_magic.simulator.validation import parse_chat_request
from heroku_magic.turn import DENIED, NOT_RUN, turn_messages

WAIT = 10.0  # generous: a bug fails the test instead of hanging it


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temp": 21}


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"no luck: {reason}")


def calls(*items: tuple[str, str, str], text: str = "") -> list[Any]:
    """A scripted step that asks for tool calls (id, name, JSON arguments)."""
    script: list[Any] = [ResponseInfo(model="fake-model")]
    if text:
        script.append(TextDelta(text))
    script += [ToolCall(*item) for item in items]
    return [*script, ResponseInfo(finish_reason="tool_calls"), Usage(10, 3, 13)]


def roles(messages: list[dict[str, Any]]) -> list[str]:
    return [message["role"] for message in messages]


def test_a_tool_call_runs_and_its_result_goes_back_matched_by_id() -> None:
    client = FakeClient(calls(("c1", "get_weather", '{"city": "Paris"}')), answer("It is 21 degrees."))
    chat = Conversation(client=client)
    result = chat.send("Weather in Paris?", ChatOptions(tools=(get_weather,)))

    assert result.text.strip() == "It is 21 degrees." and result.model_calls == 2
    [first, final] = result.steps
    assert first.response.tool_calls == (ToolCall("c1", "get_weather", '{"city": "Paris"}'),)
    assert [(r.tool_call_id, json.loads(r.content), r.is_error) for r in first.tool_results] == [
        ("c1", {"city": "Paris", "temp": 21}, False)
    ]
    assert first.tool_results[0].duration is not None and final.tool_results == ()
    # Usage is summed over the steps (10+5 prompt, 3+4 completion).
    assert result.usage is not None and (result.usage.prompt_tokens, result.usage.completion_tokens) == (
        15,
        7,
    )
    second_request, options = client.requests[1]
    assert roles(second_request) == ["user", "assistant", "tool"]
    assert second_request[1]["content"] and second_request[1]["tool_calls"][0]["id"] == "c1"
    assert second_request[2] == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": first.tool_results[0].content,
    }
    assert options.tools is not None and [t.name for t in options.tools] == ["get_weather"]
    # The history the next turn sends holds the whole exchange.
    assert roles(chat.messages("next", offered=["get_weather"])) == [
        "user", "assistant", "tool", "assistant", "user"
    ]  # fmt: skip


def test_events_of_a_turn_come_in_order_and_end_in_one_done() -> None:
    client = FakeClient(calls(("c1", "get_weather", '{"city": "Oslo"}')), answer("Cold."))
    events = list(Conversation(client=client).stream("Oslo?", ChatOptions(tools=(get_weather,))))
    kinds = [type(e).__name__ for e in events if not isinstance(e, (TextDelta, ResponseInfo, Usage))]
    assert kinds == ["ToolCall", "ToolStatus", "ToolResult", "NewStep", "Done"]
    assert [e for e in events if isinstance(e, ToolStatus)] == [ToolStatus("c1", "running")]
    assert sum(isinstance(e, (Done, Error)) for e in events) == 1


def test_parallel_calls_run_at_the_same_time_and_keep_the_calls_order() -> None:
    first_started, second_started = threading.Event(), threading.Event()

    def first(n: int) -> str:
        """Waits for the second call to start."""
        first_started.set()
        assert second_started.wait(WAIT)
        return f"first {n}"

    def second(n: int) -> str:
        """Waits for the first call to start."""
        second_started.set()
        assert first_started.wait(WAIT)
        return f"second {n}"

    client = FakeClient(calls(("a", "first", '{"n": 1}'), ("b", "second", '{"n": 2}')), answer("done"))
    result = Conversation(client=client).send("both", ChatOptions(tools=(second, first)))
    assert [(r.tool_call_id, r.content, r.is_error) for r in result.steps[0].tool_results] == [
        ("a", "first 1", False),
        ("b", "second 2", False),
    ]
    assert [m.get("tool_call_id") for m in client.requests[1][0] if m["role"] == "tool"] == ["a", "b"]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (("c1", "explode", '{"reason": "x"}'), "ValueError: no luck: x"),
        (("c1", "nope", "{}"), "nope"),
        (("c1", "get_weather", '{"city": '), "JSON"),
        (("c1", "get_weather", '{"town": "Paris"}'), "city"),
    ],
    ids=["raises", "unknown-tool", "not-json", "schema"],
)
def test_a_failing_call_is_an_error_result_the_model_sees(call: tuple[str, str, str], fragment: str) -> None:
    client = FakeClient(calls(call), answer("Sorry, that failed."))
    result = Conversation(client=client).send("go", ChatOptions(tools=(get_weather, explode)))
    [outcome] = result.steps[0].tool_results
    assert outcome.is_error and fragment in outcome.content
    sent = client.requests[1][0]
    assert sent[-1] == {"role": "tool", "tool_call_id": "c1", "content": outcome.content}
    # Arguments Heroku could not parse are sent back as an empty object (it answers invalid JSON with a 500).
    json.loads(sent[-2]["tool_calls"][0]["function"]["arguments"])
    assert result.text.strip() == "Sorry, that failed."


def test_a_tool_past_its_timeout_is_an_error_and_its_thread_ends_on_its_own() -> None:
    release = threading.Event()

    def slow() -> str:
        """Waits to be released."""
        release.wait(WAIT)
        return "late"

    threads = threading.active_count()
    client = FakeClient(calls(("c1", "slow", "{}")), answer("ok"))
    result = Conversation(client=client).send("go", ChatOptions(tools=(slow,), tool_timeout=0.05))
    [outcome] = result.steps[0].tool_results
    assert outcome.is_error and "0.05" in outcome.content
    release.set()
    assert wait_until(lambda: threading.active_count() == threads)  # the abandoned thread ended


def test_the_round_limit_ends_the_turn_with_a_notice_and_a_valid_history() -> None:
    looping = [calls((f"c{n}", "get_weather", '{"city": "Rome"}')) for n in range(3)]
    client = FakeClient(*looping, answer("after"))
    chat = Conversation(client=client)
    result = chat.send("loop", ChatOptions(tools=(get_weather,), max_tool_rounds=2))
    assert result.model_calls == 3 and len(client.requests) == 3
    assert result.notices and "2 rounds" in result.notices[0]
    last = result.steps[-1].tool_results
    assert [r.is_error for r in last] == [True] and "limit of 2" in last[0].content
    history = chat.messages("next", offered=["get_weather"])
    # Every call answered, and the turn closed by an assistant message before the next user message.
    assert roles(history) == ["user"] + ["assistant", "tool"] * 3 + ["assistant", "user"]


def test_denied_calls_are_not_run_and_the_model_is_told() -> None:
    ran: list[str] = []

    def record(city: str) -> str:
        """Records its call."""
        ran.append(city)
        return city

    asked: list[ToolCall] = []

    def approve(call: ToolCall) -> bool:
        asked.append(call)
        return call.id == "yes"

    client = FakeClient(
        calls(("yes", "record", '{"city": "A"}'), ("no", "record", '{"city": "B"}')), answer("ok")
    )
    events = list(Conversation(client=client).stream("go", ChatOptions(tools=(record,)), approve=approve))
    assert [c.id for c in asked] == ["yes", "no"] and ran == ["A"]
    statuses = [e for e in events if isinstance(e, ToolStatus)]
    # An approved call starts once every call of its step has been answered (with the others).
    assert statuses == [
        ToolStatus("yes", "awaiting"),
        ToolStatus("no", "awaiting"),
        ToolStatus("yes", "running"),
    ]
    denied = [e for e in events if isinstance(e, ToolResult) and e.tool_call_id == "no"]
    assert denied == [ToolResult("no", "record", DENIED, is_error=True)]


def test_a_later_step_failing_keeps_the_steps_whose_tools_ran() -> None:
    client = FakeClient(calls(("c1", "get_weather", '{"city": "Paris"}')), failing("partial"))
    chat = Conversation(client=client)
    events = list(chat.stream("go", ChatOptions(tools=(get_weather,))))
    assert isinstance(events[-1], Error) and events[-1].result.error is not None
    [turn] = chat.turns
    assert turn.result.error and turn.result.steps[0].tool_results[0].content.startswith("{")
    assert roles(chat.messages("next", offered=["get_weather"])) == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]


def test_a_failure_before_any_tool_ran_leaves_the_history_as_it_was() -> None:
    chat = Conversation(client=FakeClient(failing("half")))
    events = list(chat.stream("go", ChatOptions(tools=(get_weather,))))
    assert isinstance(events[-1], Error) and events[-1].result.error is None and chat.turns == []


def test_an_interrupt_while_a_tool_runs_keeps_the_turn_with_every_call_answered(sigint_raises: None) -> None:
    release = threading.Event()

    def interrupting() -> str:
        """Interrupts the kernel (as ■ would) and waits."""
        os.kill(os.getpid(), signal.SIGINT)
        release.wait(WAIT)
        return "finished after the interrupt"

    chat = Conversation(client=FakeClient(calls(("c1", "interrupting", "{}"), text="Let me check.")))
    with pytest.raises(KeyboardInterrupt):
        for _ in chat.stream("go", ChatOptions(tools=(interrupting,))):
            pass
    release.set()
    [turn] = chat.turns
    assert turn.result.interrupted and turn.result.text == "Let me check."
    history = chat.messages("next", offered=["interrupting"])
    assert roles(history) == ["user", "assistant", "tool", "assistant", "user"]
    assert history[2]["content"] == NOT_RUN


def test_a_call_cut_off_mid_arguments_is_answered_and_sent_with_json_arguments() -> None:
    from heroku_magic.events import ToolCallDelta

    chat = Conversation(
        client=FakeClient([ToolCallDelta(0, "c1", "get_weather", '{"city": "Par'), KeyboardInterrupt()])
    )
    with pytest.raises(KeyboardInterrupt):
        list(chat.stream("go", ChatOptions(tools=(get_weather,))))
    history = chat.messages("next", offered=["get_weather"])
    assert roles(history) == ["user", "assistant", "tool", "assistant", "user"]
    assert json.loads(history[1]["tool_calls"][0]["function"]["arguments"]) == {}


def test_history_replays_tool_exchanges_only_to_requests_that_offer_those_tools() -> None:
    client = FakeClient(
        calls(("c1", "get_weather", '{"city": "Paris"}')), answer("21 degrees."), answer("ok")
    )
    chat = Conversation(client=client)
    chat.send("weather?", ChatOptions(tools=(get_weather,)))
    chat.send("thanks")  # no tools offered now: Anthropic rejects tool blocks without their tools
    history = client.requests[-1][0]
    assert roles(history) == ["user", "assistant", "user"]
    assert "get_weather" in history[1]["content"] and "21" in history[1]["content"]


def test_a_steps_reasoning_goes_back_within_the_turn_but_never_across_turns() -> None:
    step = [
        ReasoningDelta("plan", fields={"signature": "sig-1"}),
        *calls(("c1", "get_weather", '{"city": "X"}')),
    ]
    client = FakeClient(step, answer("done"), answer("ok"))
    chat = Conversation(client=client)
    chat.send("go", ChatOptions(tools=(get_weather,)))
    within = client.requests[1][0][1]
    assert within["reasoning"] == {"thinking": "plan", "signature": "sig-1"}
    chat.send("again", ChatOptions(tools=(get_weather,)))
    assert all("reasoning" not in message for message in client.requests[2][0])


def test_content_parts_are_sent_as_parts_and_shown_as_text() -> None:
    parts = (
        {"type": "text", "text": "Describe this."},
        {"type": "image_url", "image_url": {"url": "data:,"}},
    )
    client = FakeClient(answer("A dot."), answer("ok"))
    chat = Conversation(client=client)
    chat.send(parts)
    assert client.requests[0][0][-1] == {"role": "user", "content": [dict(p) for p in parts]}
    assert chat.turns[0].text == "Describe this.\n\n[image: data, 0 bytes]"
    assert "Describe this." in chat.to_markdown() and "[image: data, 0 bytes]" in chat.to_markdown()
    chat.send("more")
    assert client.requests[1][0][0]["content"] == [dict(p) for p in parts]  # history keeps the parts


def test_notices_and_new_steps_are_events_the_state_folds() -> None:
    client = FakeClient(*[calls((f"c{n}", "get_weather", '{"city": "Rome"}')) for n in range(2)])
    events = list(
        Conversation(client=client).stream("loop", ChatOptions(tools=(get_weather,), max_tool_rounds=1))
    )
    assert [e.index for e in events if isinstance(e, NewStep)] == [1]
    assert len([e for e in events if isinstance(e, Notice)]) == 1
    done = events[-1]
    assert isinstance(done, Done) and done.result.notices == tuple(
        e.text for e in events if isinstance(e, Notice)
    )


# -- the history is always one Heroku accepts -----------------------------------------------------

NAMES = ["get_weather", "get_time", "lookup"]
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@st.composite
def recorded_turns(draw: st.DrawFn) -> ChatResult:
    """A turn's result of any shape: steps with or without text, calls answered or not, arguments cut off."""
    steps = []
    for n in range(draw(st.integers(1, 4))):
        count = draw(st.integers(0, 3))
        tool_calls = tuple(
            ToolCall(
                f"call_{n}_{i}",
                draw(st.sampled_from([*NAMES, ""])),
                draw(st.one_of(texts, st.just('{"city": "Paris"}'), st.just("[1]"))),
            )
            for i in range(count)
        )
        answered = [c for c in tool_calls if draw(st.booleans())]
        results = tuple(ToolResult(c.id, c.name, draw(texts), is_error=draw(st.booleans())) for c in answered)
        steps.append(Step(ChatResult(text=draw(texts), tool_calls=tool_calls), results))
    return ChatResult(text=steps[-1].response.text, steps=tuple(steps))


@settings(max_examples=300, deadline=None)
@given(recorded_turns(), st.lists(st.sampled_from(NAMES), unique=True))
def test_any_recorded_turn_replays_as_a_history_the_simulators_bedrock_rules_accept(
    result: ChatResult, offered: list[str]
) -> None:
    # The oracle is the simulator's request validation, which enforces Anthropic-on-Bedrock's rules:
    # tool calls answered right after, no orphan results, tools defined, content never empty, JSON arguments.
    messages = [
        {"role": "user", "content": "hi"},
        *turn_messages(result, offered),
        {"role": "user", "content": "next"},
    ]
    body: dict[str, Any] = {"model": "claude-4-5-sonnet", "messages": messages}
    if offered:
        body["tools"] = [
            {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
            for name in offered
        ]
    parse_chat_request(body)  # raises the simulator's 400/500 for anything Heroku would refuse


def test_an_interrupt_during_a_later_model_step_keeps_the_earlier_steps_and_their_results() -> None:
    second_step = [ResponseInfo(model="fake-model"), TextDelta("It is 21 "), KeyboardInterrupt()]
    chat = Conversation(client=FakeClient(calls(("c1", "get_weather", '{"city": "Paris"}')), second_step))
    with pytest.raises(KeyboardInterrupt):
        list(chat.stream("weather?", ChatOptions(tools=(get_weather,))))
    [turn] = chat.turns
    result = turn.result
    assert result.interrupted and result.model_calls == 2 and result.text == "It is 21 "
    assert json.loads(result.steps[0].tool_results[0].content) == {"city": "Paris", "temp": 21}
    history = chat.messages("next", offered=["get_weather"])
    assert roles(history) == ["user", "assistant", "tool", "assistant", "user"]
    assert history[3]["content"] == "It is 21 "
