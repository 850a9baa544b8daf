"""The plain-Python core against the local simulator over real HTTP, through the real OpenAI SDK.

Each test checks both sides: what the simulator recorded (request bodies, headers, request count)
and what the core produced (events, results, errors, history).
"""

from __future__ import annotations

import contextlib
import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from polling import wait_until

from heroku_magic import (
    APIError,
    ChatOptions,
    ChatResult,
    Conversation,
    Done,
    Error,
    Event,
    OptionsError,
    ReasoningDelta,
    ResponseInfo,
    Settings,
    TextDelta,
    Thinking,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from heroku_magic.client import HerokuClient
from heroku_magic.simulator import Simulator
from heroku_magic.tools import as_tool

MODEL = "claude-4-5-sonnet"
CLOUDFRONT = "<html><title>ERROR: The request could not be satisfied</title></html>"


def settings(sim: Simulator, key: str | None = None, url: str | None = None) -> Settings:
    return Settings(url=url or sim.url, key=key or sim.key, model_id=MODEL)


def conversation(sim: Simulator, key: str | None = None) -> Conversation:
    return Conversation(settings(sim, key))


def chat_bodies(sim: Simulator) -> list[dict[str, Any]]:
    """The JSON bodies of every chat request the simulator received, oldest first."""
    bodies = []
    for request in sim.requests:
        if request.path == "/v1/chat/completions":
            assert request.body is not None
            bodies.append(request.body)
    return bodies


def kinds(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def done(events: list[Event]) -> ChatResult:
    assert isinstance(events[-1], Done), events[-1]
    assert sum(isinstance(e, (Done, Error)) for e in events) == 1
    return events[-1].result


def failure(events: list[Event]) -> Error:
    assert isinstance(events[-1], Error), events[-1]
    assert not any(isinstance(e, Done) for e in events)
    return events[-1]


def raised(sim: Simulator, prompt: str = "hello", options: ChatOptions | None = None) -> APIError:
    """The APIError a one-off send raises; the history stays empty and the key stays secret."""
    chat = conversation(sim)
    with pytest.raises(APIError) as caught:
        chat.send(prompt, options)
    assert chat.turns == []
    assert sim.key not in str(caught.value)
    return caught.value


def assert_request_id(error: APIError) -> None:
    assert error.request_id is not None
    uuid.UUID(error.request_id)  # the simulator's x-request-id header
    assert f"[request id {error.request_id}]" in str(error)


class WireClient(HerokuClient):
    """A HerokuClient whose SDK notes the ``x-request-id`` header of each response as it arrives.

    The tests compare error lines against these, what the simulator really sent, not against ids
    the client under test read itself.
    """

    def __init__(self, sim: Simulator) -> None:
        super().__init__(settings(sim))
        self.sent_request_ids: list[str] = []
        self._watched = openai.OpenAI(
            api_key=sim.key,
            base_url=self.settings.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=openai.DefaultHttpxClient(event_hooks={"response": [self._note]}),
        )

    @property
    def sdk(self) -> openai.OpenAI:
        return self._watched

    def _note(self, response: Any) -> None:
        self.sent_request_ids.append(response.headers["x-request-id"])


def watched(sim: Simulator) -> tuple[Conversation, WireClient]:
    """A conversation over a `WireClient`."""
    client = WireClient(sim)
    return Conversation(client=client), client


def assert_names_the_request(error: Exception, client: WireClient) -> None:
    """``error`` is an APIError naming the request id of the one response the client received."""
    [sent] = client.sent_request_ids
    assert isinstance(error, APIError)
    assert error.request_id == sent
    assert str(error).endswith(f" [request id {sent}]")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def paced(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """The simulator; tests may set its pacing, which is put back afterwards."""
    monkeypatch.setattr(simulator.config, "ttft", 0.0)
    monkeypatch.setattr(simulator.config, "interval", 0.0)
    yield simulator
    monkeypatch.undo()
    assert (simulator.config.ttft, simulator.config.interval) == (0.0, 0.0)


# --- streaming -----------------------------------------------------------------------------------


def test_streaming_events_text_usage_ids_and_request_body(simulator: Simulator) -> None:
    chat = conversation(simulator)
    events = list(chat.stream("Tell me about streams"))
    result = done(events)

    names = kinds(events)
    assert names[0] == "ResponseInfo"
    assert names[-2:] == ["Usage", "Done"]
    first_text, last_text = names.index("TextDelta"), len(names) - 1 - names[::-1].index("TextDelta")
    assert last_text - first_text + 1 == names.count("TextDelta") > 1  # one contiguous run of deltas
    assert set(names[1:first_text]) <= {"ResponseInfo"}
    assert names[last_text + 1 : -2] == ["ResponseInfo"]  # the finish reason

    head = events[0]
    assert isinstance(head, ResponseInfo)
    assert head.model == MODEL and head.response_id is not None and head.response_id.startswith("chatcmpl-")
    assert head.request_id is not None
    uuid.UUID(head.request_id)
    assert head.request_id != head.response_id

    assert result.text == text_of(events)
    assert result.text.startswith("### ") and "Tell me about streams" in result.text
    usage = events[-2]
    assert isinstance(usage, Usage) and result.usage == usage
    assert usage.completion_tokens == len(result.text.split()) and usage.prompt_tokens == 4
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.reasoning_tokens is None
    assert result.finish_reason == "stop" and result.model == MODEL
    assert (result.response_id, result.request_id) == (head.response_id, head.request_id)
    assert result.reasoning == "" and result.tool_calls == () and not result.interrupted

    [request] = simulator.requests
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {simulator.key}"
    assert request.body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell me about streams"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert [turn.content for turn in chat.turns] == ["Tell me about streams"]
    assert chat.turns[0].result == result


def test_request_ids_differ_per_request(simulator: Simulator) -> None:
    first = conversation(simulator).send("echo: one")
    second = conversation(simulator).send("echo: one")
    assert first.text == second.text == "one"
    assert first.request_id and second.request_id and first.request_id != second.request_id
    assert first.response_id != second.response_id


def test_time_to_first_token_follows_the_servers_ttft(paced: Simulator) -> None:
    paced.config.ttft = 0.2
    result = conversation(paced).send("echo: a few words here")
    assert result.text == "a few words here"
    assert result.time_to_first_token is not None and result.time_to_first_token >= 0.2
    assert result.total_time >= result.time_to_first_token
    assert result.thinking_time is None


def test_url_with_v1_suffix_reaches_the_same_endpoints(simulator: Simulator) -> None:
    chat = Conversation(settings(simulator, url=simulator.url + "/v1/"))
    assert chat.send("echo: ok").text == "ok"
    HerokuClient(settings(simulator, url=simulator.url + "/v1")).available_models()
    assert [r.path for r in simulator.requests] == ["/v1/chat/completions", "/available-models"]


# --- non-streaming ---------------------------------------------------------------------------------


def test_non_streaming_gives_the_same_text_without_stream_in_the_body(simulator: Simulator) -> None:
    prompt = "Explain determinism in one list"
    streamed = conversation(simulator).send(prompt)
    events = list(conversation(simulator).stream(prompt, ChatOptions(stream=False)))
    whole = done(events)

    assert whole.text == streamed.text != ""
    assert kinds(events).count("TextDelta") == 1  # the whole answer arrives at once
    assert whole.usage == streamed.usage
    assert whole.finish_reason == "stop" and whole.model == MODEL
    assert whole.response_id and whole.response_id != streamed.response_id
    assert whole.request_id and whole.request_id != streamed.request_id

    stream_body, plain_body = chat_bodies(simulator)
    assert stream_body["stream"] is True
    assert "stream" not in plain_body and "stream_options" not in plain_body
    assert plain_body == {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}


def test_non_streaming_reasoning_comes_from_message_reasoning_thinking(simulator: Simulator) -> None:
    result = conversation(simulator).send("ponder this", ChatOptions(stream=False, thinking=Thinking(2048)))
    assert result.reasoning.startswith('The user wrote: "ponder this".')
    assert result.reasoning.endswith("Now I can write the answer.")
    assert result.text.startswith("### ") and result.reasoning not in result.text
    # Heroku's usage has prompt, completion and total tokens only: reasoning counts in completion.
    assert result.usage is not None and result.usage.reasoning_tokens is None
    assert result.usage.completion_tokens == len(result.text.split()) + len(result.reasoning.split())
    body = simulator.last_request
    assert body is not None and "stream" not in body
    assert body["extended_thinking"] == {"enabled": True, "budget_tokens": 2048, "include_reasoning": True}


# --- reasoning -------------------------------------------------------------------------------------


def test_thinking_streams_reasoning_first_and_is_not_sent_back(simulator: Simulator) -> None:
    chat = conversation(simulator)
    events = list(chat.stream("why is the sky blue", ChatOptions(thinking=Thinking(2048))))
    result = done(events)

    names = kinds(events)
    assert "ReasoningDelta" in names and "TextDelta" in names
    last_reasoning = len(names) - 1 - names[::-1].index("ReasoningDelta")
    assert last_reasoning < names.index("TextDelta")
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert result.reasoning == reasoning and 'The user wrote: "why is the sky blue".' in reasoning
    assert result.text == text_of(events) and reasoning not in result.text
    assert result.usage is not None and result.usage.reasoning_tokens is None  # not in Heroku's usage
    assert result.usage.completion_tokens == len(result.text.split()) + len(reasoning.split())
    assert result.thinking_time is not None and result.thinking_time >= 0

    first = simulator.last_request
    assert first is not None
    assert first["extended_thinking"] == {"enabled": True, "budget_tokens": 2048, "include_reasoning": True}
    assert "extra_body" not in first

    chat.send("and at sunset?")
    second = simulator.last_request
    assert second is not None and "extended_thinking" not in second
    assert second["messages"] == [
        {"role": "user", "content": "why is the sky blue"},
        {"role": "assistant", "content": result.text},
        {"role": "user", "content": "and at sunset?"},
    ]
    assert reasoning not in json.dumps(second)


def test_thinking_without_include_reasoning_counts_but_hides_it(simulator: Simulator) -> None:
    events = list(conversation(simulator).stream("hmm", ChatOptions(thinking=Thinking(1024, False))))
    result = done(events)
    assert "ReasoningDelta" not in kinds(events) and result.reasoning == ""
    # The hidden thinking is still paid for: it counts in the completion tokens.
    assert result.usage is not None and result.usage.completion_tokens > len(result.text.split())
    body = simulator.last_request
    assert body is not None
    assert body["extended_thinking"] == {"enabled": True, "budget_tokens": 1024, "include_reasoning": False}


# --- Heroku-only and unset fields -------------------------------------------------------------------


def test_heroku_fields_travel_at_the_top_level_and_unset_fields_are_not_sent(simulator: Simulator) -> None:
    options = ChatOptions(top_k=40, allow_ignored_params=True, max_tokens=5, stop=("never",))
    result = conversation(simulator).send("words:50", options)
    assert result.text == "w1 w2 w3 w4 w5" and result.finish_reason == "length"
    body = simulator.last_request
    assert body is not None
    assert body["top_k"] == 40 and body["allow_ignored_params"] is True
    assert body["max_tokens"] == 5 and body["stop"] == ["never"]
    assert set(body) == {
        "model",
        "messages",
        "stream",
        "stream_options",
        "top_k",
        "allow_ignored_params",
        "max_tokens",
        "stop",
    }


def test_default_options_send_only_model_messages_and_streaming(simulator: Simulator) -> None:
    conversation(simulator).send("echo: hi", ChatOptions(allow_ignored_params=False, timeout=30))
    body = simulator.last_request
    assert body is not None and set(body) == {"model", "messages", "stream", "stream_options"}


# --- tool calls ----------------------------------------------------------------------------------


def get_weather(city: str, days: int = 1) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city's name.
        days: How many days ahead.
    """
    return {"city": city, "temp": 21, "days": days}


def get_time(zone: str) -> str:
    """The time in a time zone."""
    return f"12:00 in {zone}"


@pytest.mark.parametrize("whole", [False, True], ids=["fragments", "whole"])
def test_a_tool_call_streams_runs_and_its_result_reaches_the_model(simulator: Simulator, whole: bool) -> None:
    if whole:
        simulator.inject("whole_tool_calls")
    chat = conversation(simulator)
    options = ChatOptions(tools=(get_weather,))
    events = list(chat.stream("What is the weather? Use get_weather city=Paris", options))
    result = done(events)

    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    [call] = [e for e in events if isinstance(e, ToolCall)]
    assert events.index(deltas[-1]) < events.index(call)
    assert call.name == "get_weather" and call.id.startswith("tooluse_")
    assert call.parsed_arguments() == {"city": "Paris"}
    assert "".join(d.arguments for d in deltas) == call.arguments
    if whole:
        assert len(deltas) == 1 and deltas[0].arguments == call.arguments
    else:
        assert len([d for d in deltas if d.arguments]) > 1  # the arguments came in fragments

    assert result.model_calls == 2 and result.steps[0].response.finish_reason == "tool_calls"
    assert result.steps[0].response.text == ""  # Heroku's tool-call replies carry no text
    assert 'get_weather returned: {"city":"Paris","temp":21,"days":1}' in result.text
    first, second = chat_bodies(simulator)
    assert first["tools"] == [as_tool(get_weather).definition()]
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    assistant, tool = second["messages"][1:]
    assert assistant["content"].strip() and assistant["tool_calls"][0]["id"] == call.id  # never empty
    assert tool == {"role": "tool", "tool_call_id": call.id, "content": result.tool_results[0].content}

    # Later turns replay the exchange: with the tools offered as it was, without them as text.
    chat.send("thanks", options)
    assert [m["role"] for m in chat_bodies(simulator)[-1]["messages"]] == [
        "user", "assistant", "tool", "assistant", "user"
    ]  # fmt: skip
    chat.send("and again")
    assert [m["role"] for m in chat_bodies(simulator)[-1]["messages"]] == ["user", "assistant"] * 2 + ["user"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole-body"])
def test_two_named_tools_run_in_one_step_and_answer_in_the_calls_order(
    simulator: Simulator, stream: bool
) -> None:
    options = ChatOptions(tools=(get_weather, get_time), stream=stream)
    result = conversation(simulator).send("first get_time zone=UTC then get_weather", options)
    [step, final] = result.steps
    assert [c.name for c in step.response.tool_calls] == ["get_time", "get_weather"]
    assert [c.parsed_arguments() for c in step.response.tool_calls] == [
        {"zone": "UTC"},
        {"city": "sample city"},
    ]
    assert [r.content for r in step.tool_results] == [
        "12:00 in UTC",
        '{"city":"sample city","temp":21,"days":1}',
    ]
    assert final.response.text.index("get_time returned") < final.response.text.index("get_weather returned")


def test_rounds_run_until_the_model_answers_or_the_limit_stops_them(simulator: Simulator) -> None:
    chat = conversation(simulator)
    result = chat.send("call get_weather 3 rounds", ChatOptions(tools=(get_weather,)))
    assert result.model_calls == 4 and len(result.tool_results) == 3 and not result.notices
    limited = chat.send("call get_weather 5 times", ChatOptions(tools=(get_weather,), max_tool_rounds=2))
    assert limited.model_calls == 3 and "2 rounds" in limited.notices[0]
    # Heroku accepts the next turn: every call of the stopped turn has its result.
    chat.send("ok", ChatOptions(tools=(get_weather,)))


@pytest.mark.parametrize("kind", ["malformed", "invalid"])
def test_bad_arguments_are_an_error_result_the_model_recovers_from(simulator: Simulator, kind: str) -> None:
    chat = conversation(simulator)
    result = chat.send(f"get_weather city=Oslo with {kind} arguments", ChatOptions(tools=(get_weather,)))
    [bad], [good] = result.steps[0].tool_results, result.steps[1].tool_results
    assert bad.is_error and not good.is_error and json.loads(good.content)["city"] == "Oslo"
    assert result.model_calls == 3
    # The broken arguments go back as JSON (Heroku answers 500 to arguments that are not).
    chat.send("thanks", ChatOptions(tools=(get_weather,)))


def test_an_exported_tool_conversation_is_accepted_as_messages_again(
    simulator: Simulator, tmp_path: Any
) -> None:
    chat = conversation(simulator)
    chat.send("get_weather city=Rome", ChatOptions(tools=(get_weather,)))
    messages = json.loads(chat.export(tmp_path / "chat.json").read_text())
    messages.append({"role": "user", "content": "and tomorrow?"})
    sdk = openai.OpenAI(base_url=f"{simulator.url}/v1", api_key=simulator.key)
    reply = sdk.chat.completions.create(
        model=MODEL, messages=messages, tools=[as_tool(get_weather).definition()]
    )
    assert reply.choices[0].message.content


# --- multi-turn history ------------------------------------------------------------------------------


def test_history_is_sent_and_a_key_replaces_its_turn(simulator: Simulator) -> None:
    chat = Conversation(settings(simulator), system="Be brief.")
    first = chat.send("echo: one", key="a")
    second = chat.send("echo: two", key="b")
    assert (first.text, second.text) == ("one", "two")

    bodies = chat_bodies(simulator)
    assert bodies[1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "echo: one"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "echo: two"},
    ]

    replaced = chat.send("echo: uno", key="a")
    assert replaced.text == "uno"
    assert chat_bodies(simulator)[2]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "echo: uno"},
    ]
    assert [(t.key, t.content, t.result.text) for t in chat.turns] == [
        ("a", "echo: uno", "uno"),
        ("b", "echo: two", "two"),
    ]

    chat.send("echo: three")
    assert [m["content"] for m in chat_bodies(simulator)[3]["messages"]] == [
        "Be brief.",
        "echo: uno",
        "uno",
        "echo: two",
        "two",
        "echo: three",
    ]


# --- HTTP errors -------------------------------------------------------------------------------------


def test_wrong_key_is_401_without_leaking_either_key(simulator: Simulator) -> None:
    wrong = "inf-wrongwrong-9f3c2b7a"
    chat = conversation(simulator, key=wrong)
    with pytest.raises(APIError) as caught:
        chat.send("hello", ChatOptions(max_retries=0))
    error = caught.value
    assert error.status == 401 and error.message == "Invalid API key provided"
    assert str(error).startswith("Heroku Inference error 401: Invalid API key provided")
    assert_request_id(error)
    assert wrong not in str(error) and simulator.key not in str(error)
    assert chat.turns == []
    [request] = simulator.requests
    assert request.headers["authorization"] == f"Bearer {wrong}"


def test_unknown_model_is_403(simulator: Simulator) -> None:
    error = raised(simulator, options=ChatOptions(model="claude-9-ultra"))
    assert error.status == 403 and error.message == "you do not have access to that model"
    assert "Heroku Inference error 403: you do not have access to that model" in str(error)
    assert_request_id(error)
    assert [body["model"] for body in chat_bodies(simulator)] == ["claude-9-ultra"]  # 4xx: no retry


def test_thinking_on_a_model_without_it_is_refused_before_sending(simulator: Simulator) -> None:
    with pytest.raises(OptionsError, match="claude-3-5-haiku has no extended thinking"):
        conversation(simulator).send("hi", ChatOptions(model="claude-3-5-haiku", thinking=Thinking(2048)))
    assert chat_bodies(simulator) == []


def test_a_model_that_takes_temperature_with_top_p_gets_both(simulator: Simulator) -> None:
    # Only Anthropic's 4.5 models refuse the pair: Heroku's own LangChain client sends both to 3.7.
    result = conversation(simulator).send(
        "hi", ChatOptions(model="claude-3-7-sonnet", temperature=0.5, top_p=0.9)
    )
    assert result.text
    [body] = chat_bodies(simulator)
    assert (body["temperature"], body["top_p"]) == (0.5, 0.9)
    with pytest.raises(OptionsError, match="refuses temperature together with top_p"):
        conversation(simulator).send("hi", ChatOptions(temperature=0.5, top_p=0.9))  # claude-4-5-sonnet


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 500, "Failed to execute chat"),
        ({"status": 503, "message": "Model overloaded"}, 503, "Model overloaded"),
        ({"body": CLOUDFRONT, "status": 403}, 403, "ERROR: The request could not be satisfied"),
        ({"body": '{"error":"Internal Server Error"}'}, 500, "Internal Server Error"),
    ],
    ids=["heroku-500", "heroku-503", "cloudfront-html", "bare-error-string"],
)
def test_error_bodies_become_one_readable_line(
    simulator: Simulator, params: dict[str, Any], status: int, message: str
) -> None:
    simulator.inject("server_error", **params)
    error = raised(simulator, options=ChatOptions(max_retries=0))
    assert error.status == status and error.message == message
    assert str(error).startswith(f"Heroku Inference error {status}: {message} [request id ")
    assert "<" not in str(error) and "{" not in str(error)
    assert_request_id(error)
    assert len(chat_bodies(simulator)) == 1  # max_retries=0: sent once
    assert simulator.pending_faults() == []


def test_rate_limit_429_names_when_it_resets(simulator: Simulator) -> None:
    simulator.inject("rate_limit", retry_after="7")
    error = raised(simulator, options=ChatOptions(max_retries=0))
    assert error.status == 429 and error.message == "Rate limit exceeded" and error.retry_after == "7s"
    assert "Heroku Inference error 429: Rate limit exceeded (rate limit resets in 7s)" in str(error)
    assert_request_id(error)
    assert len(chat_bodies(simulator)) == 1


def test_connection_refused_is_an_api_error_naming_the_connection() -> None:
    secret = "inf-not-a-real-key-1234abcd"
    url = f"http://127.0.0.1:{closed_port()}"
    chat = Conversation(Settings(url=url, key=secret, model_id=MODEL))
    events = list(chat.stream("hello", ChatOptions(max_retries=0)))
    error = failure(events).error
    assert isinstance(error, APIError)
    assert error.status is None and error.request_id is None
    assert f"connection to {url} failed" in str(error)
    assert "refused" in str(error).lower()
    assert secret not in str(error)
    assert chat.turns == [] and kinds(events) == ["Error"]


def test_timeout_is_an_api_error_suggesting_a_longer_timeout(simulator: Simulator) -> None:
    simulator.inject("slow_first_byte", seconds=0.5)
    error = raised(simulator, options=ChatOptions(timeout=0.1, max_retries=0))
    assert error.status is None and "timed out" in str(error) and "timeout" in str(error)
    # On a loaded machine the client can give up before the server has even read the request: wait
    # for it to be recorded (once: no retry), so it cannot land in the next test's request log.
    assert wait_until(lambda: len(chat_bodies(simulator)) == 1 and not simulator.pending_faults())
    assert len(chat_bodies(simulator)) == 1


# --- faults in the middle of a response -----------------------------------------------------------


def test_disconnect_mid_stream_ends_in_error_with_the_partial_text(simulator: Simulator) -> None:
    chat, client = watched(simulator)
    chat.send("echo: before")
    history = chat.messages()
    client.sent_request_ids.clear()
    simulator.inject("disconnect", after_chunks=4)
    events = list(chat.stream("words:20", ChatOptions(max_retries=0)))
    error = failure(events)
    # Chunk 0 is the role chunk, then one word per chunk: three words arrived before the cut.
    assert error.result.text == text_of(events) == "w1 w2 w3 "
    assert error.result.usage is None and error.result.finish_reason is None
    assert error.result.response_id is not None and error.result.request_id is not None
    assert isinstance(error.error, APIError) and error.error.status is None
    assert f"connection to {simulator.url} was cut off" in str(error.error)
    assert_names_the_request(error.error, client)
    assert chat.messages() == history and [t.content for t in chat.turns] == ["echo: before"]
    assert len(chat_bodies(simulator)) == 2


def test_malformed_chunk_ends_in_error(simulator: Simulator) -> None:
    simulator.inject("malformed_chunk", after_chunks=3)
    chat, client = watched(simulator)
    events = list(chat.stream("words:20"))
    error = failure(events)
    assert error.result.text == "w1 w2 "
    assert isinstance(error.error, APIError) and "the server sent a malformed chunk" in str(error.error)
    assert_names_the_request(error.error, client)
    assert chat.turns == []


def test_in_band_error_ends_in_error_with_its_message(simulator: Simulator) -> None:
    simulator.inject("in_band_error", after_chunks=2, message="Bedrock throttled the model")
    chat, client = watched(simulator)
    events = list(chat.stream("words:20"))
    error = failure(events)
    assert error.result.text == "w1 "
    assert isinstance(error.error, APIError)
    assert error.error.message == "Bedrock throttled the model"
    assert str(error.error).startswith("Heroku Inference error: Bedrock throttled the model [request id ")
    assert_names_the_request(error.error, client)
    assert chat.turns == []


def test_stream_closed_cleanly_before_the_finish_is_an_error_not_an_answer(simulator: Simulator) -> None:
    # A proxy ending the response early: the HTTP body ends properly, but with no finish reason,
    # no usage and no [DONE]. It must not pass for a complete answer, nor go back as history.
    chat, client = watched(simulator)
    chat.send("echo: before")
    history = chat.messages()
    client.sent_request_ids.clear()
    simulator.inject("clean_close", after_chunks=4)
    events = list(chat.stream("words:20", ChatOptions(max_retries=0)))
    error = failure(events)
    assert error.result.text == text_of(events) == "w1 w2 w3 "
    assert error.result.usage is None and error.result.finish_reason is None
    assert not error.result.interrupted
    assert isinstance(error.error, APIError) and error.error.status is None
    assert str(error.error).startswith(
        "Heroku Inference error: the stream ended before the model finished (the connection was closed early"
    )
    assert_names_the_request(error.error, client)
    assert "\n" not in str(error.error)
    assert chat.messages() == history and [t.content for t in chat.turns] == ["echo: before"]
    assert len(chat_bodies(simulator)) == 2  # not retried


def test_send_raises_the_cut_off_error(simulator: Simulator) -> None:
    simulator.inject("clean_close", after_chunks=0)
    error = raised(simulator, "words:5")
    assert "the stream ended before the model finished" in str(error)
    assert_request_id(error)


def test_stream_with_finish_and_usage_but_no_done_is_complete(simulator: Simulator) -> None:
    # The clean close comes after the last chunk, which carries the finish reason and usage: the
    # answer is whole even though [DONE] never came.
    simulator.inject("clean_close", after_chunks=1000)
    chat = conversation(simulator)
    result = done(list(chat.stream("words:5")))
    assert result.text == "w1 w2 w3 w4 w5 " and result.finish_reason == "stop"
    assert result.usage is not None and [t.result for t in chat.turns] == [result]


def test_stalled_stream_times_out_naming_the_request_and_the_server_lets_go(simulator: Simulator) -> None:
    simulator.inject("stall", after_chunks=3, seconds=30)
    chat, client = watched(simulator)
    events = list(chat.stream("words:20", ChatOptions(timeout=0.5, max_retries=0)))
    error = failure(events)
    assert error.result.text == text_of(events) == "w1 w2 "
    assert isinstance(error.error, APIError) and error.error.status is None
    assert str(error.error).startswith(
        "Heroku Inference error: the stream stalled: nothing arrived for 0.5 s and the read timed out"
    )
    assert "--timeout" in str(error.error)
    assert_names_the_request(error.error, client)
    assert chat.turns == []
    # The client gave up and closed the connection: the simulator's 30-second wait ends with it.
    assert wait_until(lambda: not simulator.active_streams), "the stalled stream outlived its client"


def test_a_stall_shorter_than_the_timeout_is_only_a_pause(simulator: Simulator) -> None:
    simulator.inject("stall", after_chunks=3, seconds=0.2)
    result = conversation(simulator).send("words:6", ChatOptions(timeout=30))
    assert result.text == "w1 w2 w3 w4 w5 w6 " and result.finish_reason == "stop"


def test_in_band_error_in_a_non_streaming_body_is_an_error_not_an_empty_answer(simulator: Simulator) -> None:
    simulator.inject("in_band_error", message="Failed to execute chat")
    chat = conversation(simulator)
    events = list(chat.stream("hello", ChatOptions(stream=False)))
    error = failure(events).error
    assert isinstance(error, APIError) and error.message == "Failed to execute chat"
    assert error.request_id is not None and error.request_id in str(error)
    assert chat.turns == []  # nothing recorded
    assert len(chat_bodies(simulator)) == 1


@pytest.mark.parametrize("kind", ["disconnect", "malformed_chunk", "clean_close"])
def test_broken_non_streaming_body_is_an_error(simulator: Simulator, kind: str) -> None:
    simulator.inject(kind)
    chat, client = watched(simulator)
    events = list(chat.stream("hello", ChatOptions(stream=False, max_retries=0)))
    error = failure(events).error
    assert isinstance(error, APIError) and error.status is None
    assert kinds(events) == ["Error"] and chat.turns == []
    if kind == "disconnect":
        assert "cut off" in str(error)  # the SDK reads the whole body before it returns: no headers
    else:
        # A body that ends early but cleanly is a malformed body, named with its request id.
        assert "the server sent a malformed response body" in str(error)
        assert_names_the_request(error, client)


# --- retries -----------------------------------------------------------------------------------------


def test_rate_limits_are_retried_until_success(simulator: Simulator) -> None:
    # Retry-After "0" makes the SDK fall back to its own ~0.5 s/1 s backoff; a tiny one keeps this fast.
    simulator.inject("rate_limit", times=2, retry_after="0.01")
    result = conversation(simulator).send("echo: made it", ChatOptions(max_retries=2))
    assert result.text == "made it"
    bodies = chat_bodies(simulator)
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert simulator.pending_faults() == []


def test_no_retries_means_the_first_rate_limit_fails(simulator: Simulator) -> None:
    simulator.inject("rate_limit", times=2, retry_after="0.01")
    error = raised(simulator, options=ChatOptions(max_retries=0))
    assert error.status == 429
    assert len(chat_bodies(simulator)) == 1
    assert simulator.pending_faults()[0]["times"] == 1


def test_too_few_retries_fail_with_the_last_429(simulator: Simulator) -> None:
    simulator.inject("rate_limit", times=2, retry_after="0.01")
    error = raised(simulator, options=ChatOptions(max_retries=1))
    assert error.status == 429 and error.retry_after == "0.01s"
    assert len(chat_bodies(simulator)) == 2


def test_server_error_is_retried_by_the_sdk_by_default(simulator: Simulator) -> None:
    simulator.inject("server_error")
    client = HerokuClient(settings(simulator))
    assert client.max_retries == 2
    result = Conversation(client=client).send("echo: second time lucky")
    assert result.text == "second time lucky"
    assert len(chat_bodies(simulator)) == 2


# --- interrupting a stream -------------------------------------------------------------------------


def test_closing_the_stream_records_the_partial_turn_and_drops_the_connection(paced: Simulator) -> None:
    paced.config.interval = 0.05  # 200 words would take ~10 s
    chat = conversation(paced)
    # Conversation.stream is annotated as an Iterator, but it is a generator: consumers may close it.
    stream = chat.stream("words:200")
    seen = 0
    for event in stream:
        if isinstance(event, TextDelta):
            seen += 1
            if seen == 3:
                break
    assert paced.active_streams == 1
    stream.close()

    [turn] = chat.turns
    assert turn.result.interrupted and turn.result.text == "w1 w2 w3 "
    assert turn.result.usage is None and turn.result.finish_reason is None

    assert wait_until(lambda: not paced.active_streams), (
        "the simulator is still streaming to a closed consumer"
    )

    paced.config.interval = 0.0
    follow_up = chat.send("echo: still here")
    assert follow_up.text == "still here"
    assert chat_bodies(paced)[-1]["messages"] == [
        {"role": "user", "content": "words:200"},
        {"role": "assistant", "content": "w1 w2 w3 "},
        {"role": "user", "content": "echo: still here"},
    ]
    assert [t.result.interrupted for t in chat.turns] == [True, False]


# --- the model catalogue and secrets ------------------------------------------------------------


def test_available_models_parses_the_catalogue_without_sending_the_key(simulator: Simulator) -> None:
    client = HerokuClient(settings(simulator))
    models = {m.model_id: m for m in client.available_models()}
    assert len(models) == 12
    sonnet = models["claude-4-5-sonnet"]
    assert sonnet.types == ("text-to-text",) and sonnet.regions == ("us-east-1", "eu-central-1")
    assert sonnet.is_chat and sonnet.thinking
    assert models["claude-3-5-haiku"].is_chat and models["claude-3-5-haiku"].thinking is False
    embed = models["cohere-embed-multilingual"]
    assert embed.types == ("text-to-embedding",) and not embed.is_chat
    assert not models["stable-image-ultra"].is_chat and not models["cohere-rerank-3-5"].is_chat

    [request] = simulator.requests
    assert request.method == "GET" and request.path == "/available-models"
    assert "authorization" not in {name.lower() for name in request.headers}
    assert simulator.key not in json.dumps(request.headers)


def test_available_models_on_a_closed_port_is_an_api_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    client = HerokuClient(Settings(url=url, key="inf-catalogue-secret-77", model_id=MODEL))
    with pytest.raises(APIError) as caught:
        client.available_models(timeout=2)
    assert f"{url}/available-models" in str(caught.value)
    assert "inf-catalogue-secret-77" not in str(caught.value)


def test_the_key_is_masked_in_reprs(simulator: Simulator) -> None:
    secret = "inf-0123456789abcdef-wxyz"
    config = Settings(url=simulator.url, key=secret, model_id=MODEL)
    client = HerokuClient(config)
    client.sdk  # noqa: B018 - the SDK client (which holds the key) exists; reprs still hide it
    for text in (repr(config), str(config), repr(client), repr(Conversation(config))):
        assert secret not in text
    assert "key='inf-…wxyz'" in repr(config) and repr(config) in repr(client)


# --- the streamed request body is the one the SDK's create() would send ---------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)
_OPTION_VALUES: dict[str, Any] = {
    "temperature": st.sampled_from([0.0, 0.5, 1.0]),
    "max_tokens": st.integers(1, 4000),
    "stop": st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=4).map(tuple),
    "thinking": st.sampled_from([Thinking(1024), Thinking(2048, include_reasoning=False)]),
    "reasoning_effort": st.sampled_from(["low", "medium", "high"]),
    "response_format": st.sampled_from(["json_object", "text"]),
    "developer": st.text(min_size=1, max_size=8).filter(str.strip),
    "user": st.text(min_size=1, max_size=8),
    "metadata": st.dictionaries(st.text(min_size=1, max_size=4), st.text(max_size=4), max_size=2),
    "logprobs": st.booleans(),
    "extra_body": st.dictionaries(
        st.sampled_from(["seed", "n", "brand_new", "top_k"]), _JSON_VALUES, max_size=2
    ),
    "allow_ignored_params": st.booleans(),
    "system": st.text(min_size=1, max_size=8),
    "top_k": st.integers(1, 50),
    "tools": st.just((get_weather,)),
}


@examples(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional=_OPTION_VALUES))
def test_the_stream_sends_what_the_sdks_create_would_send(
    simulator: Simulator, fields: dict[str, Any]
) -> None:
    from heroku_magic.client import chat_arguments

    try:
        options = ChatOptions(**fields)
    except OptionsError:
        assume(False)
    messages = [{"role": "user", "content": "echo: hi"}]
    client = HerokuClient(settings(simulator), max_retries=0)
    before = len(chat_bodies(simulator))
    # Refused by the server or by a pre-check: what was sent (if anything) is compared.
    with contextlib.suppress(APIError, OptionsError):
        list(client.events(messages, options))
    sent = chat_bodies(simulator)[before:]
    assume(sent)
    # The oracle: the SDK's typed create() with the same keyword arguments.
    sdk = openai.OpenAI(base_url=f"{simulator.url}/v1", api_key=simulator.key, max_retries=0)
    with contextlib.suppress(openai.APIError):
        for _chunk in sdk.chat.completions.create(**chat_arguments(options, messages, MODEL)):
            pass
    [ours, theirs] = chat_bodies(simulator)[before:]
    assert ours == theirs
