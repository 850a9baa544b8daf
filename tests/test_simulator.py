"""The simulator's HTTP contract, over real HTTP: raw requests and the real ``openai`` SDK."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPResponse
from pathlib import Path
from typing import Any

import openai
import pytest
from polling import wait_until

from heroku_magic.simulator import Simulator, SimulatorConfig

MODEL = "claude-4-5-sonnet"
# openai 3.x talks through httpx2, earlier releases through httpx: whichever is installed.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = tuple(
    importlib.import_module(name).TransportError
    for name in ("httpx", "httpx2")
    if importlib.util.find_spec(name)
)
CHAT = "/v1/chat/completions"
THINKING: dict[str, Any] = {
    "extended_thinking": {"enabled": True, "budget_tokens": 1024, "include_reasoning": True}
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
    },
}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Raw:
    """A raw HTTP response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(sim: Simulator, method: str, path: str, body: Any = None, key: str | None = "default") -> Raw:
    """One raw request; ``key="default"`` sends the simulator's key, None sends none."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    if key is not None:
        request.add_header("Authorization", f"Bearer {sim.key if key == 'default' else key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=10) as response:
            return Raw(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Raw(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def chat(sim: Simulator, prompt: str = "hi", **fields: Any) -> Raw:
    """A raw chat completion request with one user message."""
    return http(sim, "POST", CHAT, {"model": MODEL, "messages": [user(prompt)], **fields})


def user(text: str) -> Any:
    """A user message (typed Any: the SDK's message TypedDicts are not the point here)."""
    return {"role": "user", "content": text}


def sdk(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.url + "/v1", api_key=sim.key, max_retries=0)


def ask(sim: Simulator, prompt: str, **kwargs: Any) -> Any:
    """A non-streaming completion through the SDK."""
    return sdk(sim).chat.completions.create(model=MODEL, messages=[user(prompt)], **kwargs)


def stream(sim: Simulator, prompt: str | list[Any], **kwargs: Any) -> list[Any]:
    """All chunks of a streamed completion through the SDK, asking for usage unless told otherwise."""
    messages = [user(prompt)] if isinstance(prompt, str) else prompt
    kwargs.setdefault("stream_options", {"include_usage": True})
    return list(sdk(sim).chat.completions.create(model=MODEL, messages=messages, stream=True, **kwargs))


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def assert_error(raw: Raw, status: int, kind: str, fragment: str = "") -> None:
    """``raw`` is a Heroku error of that status and type whose message contains ``fragment``."""
    assert raw.status == status
    error = raw.json()["error"]
    assert set(error) == {"code", "message", "type"}
    assert (error["code"], error["type"]) == (status, kind)
    assert fragment in error["message"]
    assert raw.headers["x-request-id"]


# -- catalogue, auth, routing ------------------------------------------------------------------


def test_available_models_needs_no_auth_and_lists_the_catalogue(simulator: Simulator) -> None:
    raw = http(simulator, "GET", "/available-models", key=None)
    assert raw.status == 200
    models = {m["model_id"]: m for m in raw.json()}
    assert models["claude-4-5-sonnet"] == {
        "model_id": "claude-4-5-sonnet",
        "type": ["text-to-text"],
        "regions": ["us-east-1", "eu-central-1"],
    }
    assert models["cohere-embed-multilingual"]["type"] == ["text-to-embedding"]
    assert models["stable-image-ultra"]["type"] == ["text-to-image"]
    assert models["cohere-rerank-3-5"]["type"] == ["text-to-ranking"]
    assert sum("text-to-text" in m["type"] for m in models.values()) == 9


@pytest.mark.parametrize("key", [None, "inf-wrong", "inf-ünïcode"])
def test_missing_or_wrong_key_is_401(simulator: Simulator, key: str | None) -> None:
    raw = http(simulator, "POST", CHAT, {"model": MODEL, "messages": [user("hi")]}, key=key)
    assert raw.json() == {
        "error": {"code": 401, "message": "Invalid API key provided", "type": "authentication_error"}
    }
    assert raw.status == 401


def test_sdk_raises_authentication_error(simulator: Simulator) -> None:
    client = openai.OpenAI(base_url=simulator.url + "/v1", api_key="inf-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])


def test_every_response_carries_request_id_and_rate_limit_headers(simulator: Simulator) -> None:
    for raw in (
        chat(simulator),
        http(simulator, "GET", "/available-models"),
        http(simulator, "GET", "/nope"),
    ):
        assert raw.headers["x-request-id"]
        assert raw.headers["x-ratelimit-limit-requests"] == "150"
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert int(chat(simulator).headers["x-ratelimit-remaining-requests"]) < 150


def test_unknown_path_is_404_and_wrong_method_405(simulator: Simulator) -> None:
    assert_error(http(simulator, "GET", "/v1/models"), 404, "invalid_request_error", "/v1/models")
    assert_error(http(simulator, "GET", CHAT), 405, "invalid_request_error")


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-9", "cohere-embed-multilingual"])
def test_unknown_or_non_chat_model_is_403(simulator: Simulator, model: str) -> None:
    raw = http(simulator, "POST", CHAT, {"model": model, "messages": [user("hi")]})
    assert raw.json() == {
        "error": {
            "code": 403,
            "message": "you do not have access to that model",
            "type": "authorization_error",
        }
    }


@pytest.mark.parametrize("missing", ["model", "messages"])
def test_missing_required_field_is_400(simulator: Simulator, missing: str) -> None:
    body = {"model": MODEL, "messages": [user("hi")]}
    del body[missing]
    assert_error(http(simulator, "POST", CHAT, body), 400, "invalid_request_error", f"'{missing}'")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"temperature": 0.5, "top_p": 0.9}, "cannot both be specified"),
        ({**THINKING, "temperature": 0.5}, "may only be set to 1 when thinking is enabled"),
        ({"extended_thinking": {"enabled": True, "budget_tokens": 512}}, "greater than or equal to 1024"),
        ({**THINKING, "top_p": 0.9}, "top_p"),
        ({**THINKING, "model": "claude-3-5-haiku"}, "extended thinking is not supported"),
        ({**THINKING, "model": "nova-pro"}, "extended thinking is not supported"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"temperature": 1.5}, "temperature"),
    ],
)
def test_rejected_combinations_are_400(simulator: Simulator, fields: dict[str, Any], fragment: str) -> None:
    assert_error(chat(simulator, **fields), 400, "invalid_request_error", fragment)


def test_thinking_with_temperature_one_is_accepted(simulator: Simulator) -> None:
    assert chat(simulator, temperature=1, **THINKING).status == 200


def test_unknown_field_is_400_unless_ignored_params_are_allowed(simulator: Simulator) -> None:
    assert_error(chat(simulator, frobnicate=1), 400, "invalid_request_error", "'frobnicate'")
    assert chat(simulator, frobnicate=1, allow_ignored_params=True).status == 200
    assert chat(simulator, n=1, frequency_penalty=0.1, top_k=5, max_tokens=50, user="u").status == 200


@pytest.mark.parametrize(
    ("message", "status", "fragment"),
    [
        (
            {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            400,
            "content is required",
        ),
        ({"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, 400, "content is required"),
        ({"role": "tool", "tool_call_id": "t1", "content": ""}, 400, "content is required"),
        ({"role": "robot", "content": "beep"}, 400, "role"),
        ({"role": "assistant", "content": "ok", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}, 400, "need an id"),
    ],
)  # fmt: skip
def test_message_rules(simulator: Simulator, message: dict[str, Any], status: int, fragment: str) -> None:
    body = {"model": MODEL, "messages": [user("hi"), message, user("again")]}
    raw = http(simulator, "POST", CHAT, body)
    assert_error(raw, status, "invalid_request_error" if status == 400 else "server_error", fragment)


def test_unparseable_arguments_in_history_are_a_500(simulator: Simulator) -> None:
    # Heroku fails deep in its backend on arguments that are not JSON, even in a well-paired history.
    messages = [user("hi"), assistant_calls("t1", arguments="{oops"), tool_result("t1"), user("again")]
    raw = http(simulator, "POST", CHAT, {"model": MODEL, "messages": messages, "tools": [WEATHER]})
    assert_error(raw, 500, "server_error", "Failed to execute chat")


def test_invalid_json_body_is_400(simulator: Simulator) -> None:
    request = urllib.request.Request(simulator.url + CHAT, data=b"{nope", method="POST")
    request.add_header("Authorization", f"Bearer {simulator.key}")
    with pytest.raises(urllib.error.HTTPError) as caught:
        _OPENER.open(request, timeout=10)
    assert caught.value.code == 400


# -- simulated answers -----------------------------------------------------------------------


def test_default_answer_is_markdown_deterministic_and_prompt_dependent(simulator: Simulator) -> None:
    first = ask(simulator, "How do I reverse a list in Python?")
    again = ask(simulator, "How do I reverse a list in Python?")
    other = ask(simulator, "Tell me about sorting")
    text = first.choices[0].message.content
    assert text == again.choices[0].message.content != other.choices[0].message.content
    assert text.startswith("### ") and "How do I reverse a list in Python?" in text.splitlines()[0]
    assert sum(line.startswith("- ") for line in text.splitlines()) == 3
    assert "```python\n" in text
    assert first.id.startswith("chatcmpl-") and first.id != again.id
    assert first.system_fingerprint.startswith("heroku-inf-")
    assert first.object == "chat.completion"
    assert first.choices[0].finish_reason == "stop"


def test_stream_and_non_stream_give_the_same_text(simulator: Simulator) -> None:
    chunks = stream(simulator, "Same answer both ways?")
    assert text_of(chunks) == ask(simulator, "Same answer both ways?").choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    content_pieces = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert all(1 <= len(piece.split()) <= 2 for piece in content_pieces)


def test_echo_is_verbatim(simulator: Simulator) -> None:
    payload = '<script>alert("x")</script>\n\n# Title & **bold**\n  indented `code`\n'
    assert ask(simulator, "  ECHO: " + payload).choices[0].message.content == payload
    assert text_of(stream(simulator, "echo:" + payload)) == payload


def test_words_directive_streams_exactly_n_word_chunks(simulator: Simulator) -> None:
    chunks = stream(simulator, "please words:1500 now")
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) == 1500
    assert pieces[0] == "w1 " and pieces[-1] == "w1500 "
    assert chunks[-1].usage.completion_tokens == 1500


def test_markdown_directive_streams_a_long_document_in_n_word_chunks(simulator: Simulator) -> None:
    chunks = stream(simulator, "markdown:3000")
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) == 3000 and all(len(piece.split()) == 1 for piece in pieces)
    text = "".join(pieces)
    assert text == ask(simulator, "markdown:3000").choices[0].message.content
    assert chunks[-1].usage.completion_tokens == 3000
    before, rest = text.split("\n```python\n")
    code, after = rest.split("\n```\n\n")
    assert len(code.splitlines()) == 150
    intro, bullets = before.split("\n\n")
    assert 50 <= len(intro.split()) <= 70 and len(bullets.splitlines()) == 8
    assert all(line.startswith("- ") for line in bullets.splitlines())
    paragraphs = after.split("\n\n")
    assert len(paragraphs) > 20 and all(50 <= len(p.split()) <= 70 for p in paragraphs[:-1])


def test_usage_is_on_the_final_chunk_and_adds_up(simulator: Simulator) -> None:
    chunks = stream(simulator, "count these five words")
    assert all(c.usage is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.prompt_tokens == 4
    assert final.usage.completion_tokens == len(text_of(chunks).split())
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens


def test_reasoning_streams_before_the_answer(simulator: Simulator) -> None:
    chunks = stream(simulator, "Why is the sky blue?", extra_body=THINKING)
    kinds = []
    for chunk in chunks[1:-1]:
        delta = chunk.choices[0].delta
        kinds.append("reasoning" if (delta.model_extra or {}).get("reasoning") else "content")
    assert kinds.count("reasoning") > 3
    assert kinds == sorted(kinds, key=lambda kind: kind != "reasoning")  # all reasoning first
    thinking = "".join(
        c.choices[0].delta.model_extra["reasoning"]["thinking"]
        for c in chunks
        if c.choices and (c.choices[0].delta.model_extra or {}).get("reasoning")
    )
    assert "Why is the sky blue?" in thinking
    # No completion_tokens_details (Heroku has only the three usage fields): reasoning is in there.
    assert chunks[-1].usage.completion_tokens_details is None
    assert chunks[-1].usage.completion_tokens == len(thinking.split()) + len(text_of(chunks).split())


def test_reasoning_in_non_streaming_message(simulator: Simulator) -> None:
    message = ask(simulator, "Think first", extra_body=THINKING).choices[0].message
    assert "Think first" in message.model_extra["reasoning"]["thinking"]


def test_reasoning_is_counted_but_hidden_without_include_reasoning(simulator: Simulator) -> None:
    hidden = {"extended_thinking": {"enabled": True, "budget_tokens": 2048}}
    for response in (ask(simulator, "x", extra_body=hidden), ask(simulator, "x", reasoning_effort="high")):
        assert "reasoning" not in (response.choices[0].message.model_extra or {})
        content = response.choices[0].message.content
        assert response.usage.completion_tokens > len(content.split())


def test_max_tokens_cuts_with_length(simulator: Simulator) -> None:
    response = ask(simulator, "Long answer please", max_tokens=5)
    assert len(response.choices[0].message.content.split()) == 5
    assert response.choices[0].finish_reason == "length"
    assert stream(simulator, "words:50", max_completion_tokens=7)[-1].choices[0].finish_reason == "length"


def test_stop_sequence_cuts_the_answer(simulator: Simulator) -> None:
    response = ask(simulator, "echo: one two STOP three", stop=["STOP"])
    assert response.choices[0].message.content == "one two "
    assert response.choices[0].finish_reason == "stop"


def test_json_object_response_format(simulator: Simulator) -> None:
    response = ask(simulator, "Give me JSON", response_format={"type": "json_object"})
    content = response.choices[0].message.content
    # Heroku ignores response_format: the JSON comes in a fence, not as the bare content.
    data = json.loads(content.split("```json\n", 1)[1].rsplit("\n```", 1)[0])
    assert data["prompt"] == "Give me JSON"


# -- tool calls ---------------------------------------------------------------------------------


def accumulate(chunks: list[Any]) -> dict[int, dict[str, str]]:
    """Tool calls assembled from OpenAI-style fragments, by index."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for fragment in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += fragment.id or ""
            call["name"] += fragment.function.name or ""
            call["arguments"] += fragment.function.arguments or ""
    return calls


def test_tool_call_streams_as_fragments(simulator: Simulator) -> None:
    chunks = stream(simulator, "What is the weather? use get_weather city=Paris days=3", tools=[WEATHER])
    fragments = [
        c.choices[0].delta.tool_calls[0] for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert len(fragments) > 2
    head = fragments[0]
    assert re.fullmatch(r"tooluse_[A-Za-z0-9_-]{22}", head.id) and head.type == "function"
    assert (head.function.name, head.function.arguments) == ("get_weather", "")
    assert all(f.id is None and f.function.name is None for f in fragments[1:])
    call = accumulate(chunks)[0]
    assert json.loads(call["arguments"]) == {"city": "Paris", "days": 3, "unit": "celsius"}
    assert text_of(chunks) == ""  # Heroku sends no content alongside tool calls
    assert all(not c.choices[0].delta.content for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_two_named_tools_give_parallel_calls(simulator: Simulator) -> None:
    chunks = stream(simulator, "call get_time and get_weather", tools=[WEATHER, CLOCK])
    calls = accumulate(chunks)
    assert [calls[0]["name"], calls[1]["name"]] == ["get_time", "get_weather"]
    assert calls[0]["id"] != calls[1]["id"]
    single = ask(
        simulator, "call get_time and get_weather", tools=[WEATHER, CLOCK], parallel_tool_calls=False
    )
    assert len(single.choices[0].message.tool_calls) == 1


def test_whole_tool_calls_mode(simulator: Simulator) -> None:
    simulator.inject("whole_tool_calls")
    chunks = stream(simulator, "use a tool", tools=[WEATHER, CLOCK])
    fragments = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(fragments) == 1
    whole = fragments[0][0]
    assert whole.function.name == "get_weather"
    assert json.loads(whole.function.arguments) == {"city": "sample city", "unit": "celsius"}
    assert (
        len([c for c in stream(simulator, "use a tool", tools=[WEATHER]) if c.choices[0].delta.tool_calls])
        > 2
    )


def test_tool_choice_controls_calling(simulator: Simulator) -> None:
    def names(**kwargs: Any) -> list[str]:
        message = ask(simulator, "hello get_weather", tools=[WEATHER, CLOCK], **kwargs).choices[0].message
        return [call.function.name for call in message.tool_calls or []]

    assert names() == ["get_weather"]
    assert names(tool_choice="none") == []
    assert names(tool_choice={"type": "function", "function": {"name": "get_time"}}) == ["get_time"]
    plain = ask(simulator, "no tools mentioned", tools=[WEATHER])
    assert plain.choices[0].message.tool_calls is None
    forced = ask(simulator, "no tools mentioned", tools=[CLOCK, WEATHER], tool_choice="required")
    assert forced.choices[0].message.tool_calls[0].function.name == "get_time"
    assert forced.choices[0].finish_reason == "tool_calls"


def test_tool_result_follow_up_quotes_the_result(simulator: Simulator) -> None:
    first = ask(simulator, "get_weather city=Oslo", tools=[WEATHER]).choices[0].message
    call = first.tool_calls[0]
    messages = [
        user("get_weather city=Oslo"),
        {"role": "assistant", "content": "Checking.", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": -3, "sky": "snow"}'},
    ]
    chunks = stream(simulator, messages, tools=[WEATHER])
    assert text_of(chunks).split("\n\n") == [
        'get_weather returned: {"temp": -3, "sky": "snow"}',
        'Based on 1 tool result from 1 round, that answers "get_weather city=Oslo".',
    ]
    assert chunks[-1].choices[0].finish_reason == "stop"


# -- tool pairing rules (Anthropic on Bedrock) --------------------------------------------------


def assistant_calls(*ids: str, arguments: str = '{"city": "Oslo", "unit": "celsius"}') -> Any:
    """An assistant message calling get_weather once per id (content filled in, as clients must)."""
    calls = [
        {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
        for i in ids
    ]
    return {"role": "assistant", "content": "Calling tools.", "tool_calls": calls}


def tool_result(call_id: str, content: str = '{"temp": 21}') -> Any:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def system(text: str) -> Any:
    return {"role": "system", "content": text}


def unanswered(index: int, ids: str) -> str:
    return (
        f"messages.{index}: tool_use ids were found without tool_result blocks immediately after: {ids}. "
        "Each tool_use block must have a corresponding tool_result block in the next message."
    )


def unexpected(index: int, call_id: str) -> str:
    return (
        f"messages.{index}: unexpected tool_use_id found in tool_result blocks: {call_id}. "
        "Each tool_result block must have a corresponding tool_use block in the previous message."
    )


TOOLS_REQUIRED = "Requests which include tool_use or tool_result blocks must define tools."


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        # The old client bug: a tool call sent back without its results, then the next question.
        ([user("hi"), assistant_calls("t1"), user("again")], unanswered(1, "t1")),
        ([user("hi"), assistant_calls("t1")], unanswered(1, "t1")),
        ([user("hi"), assistant_calls("t1", "t2"), tool_result("t1"), user("again")], unanswered(1, "t2")),
        ([user("hi"), assistant_calls("t1", "t2")], unanswered(1, "t1, t2")),
        ([user("hi"), assistant_calls("t1"), user("wait"), tool_result("t1")], unanswered(1, "t1")),
        ([user("hi"), assistant_calls("t1"), system("x"), tool_result("t1")], unanswered(1, "t1")),
        (
            [user("hi"), assistant_calls("t1"), tool_result("t1"), assistant_calls("t2"), user("go")],
            unanswered(3, "t2"),
        ),
        ([user("hi"), tool_result("t9")], unexpected(1, "t9")),
        ([user("hi"), assistant_calls("t1"), tool_result("t1"), tool_result("t9")], unexpected(3, "t9")),
        ([user("hi"), assistant_calls("t1"), tool_result("t1"), tool_result("t1")], unexpected(3, "t1")),
        (
            [user("hi"), assistant_calls("t1"), tool_result("t1"), user("more"), tool_result("t1")],
            unexpected(4, "t1"),
        ),
        (
            [user("a"), assistant_calls("t1"), tool_result("t1"), assistant_calls("t2"), tool_result("t2"), tool_result("t1")],
            unexpected(5, "t1"),
        ),
    ],
)  # fmt: skip
def test_tool_pairing_rules(simulator: Simulator, messages: list[Any], message: str) -> None:
    for stream_flag in (False, True):
        body = {"model": MODEL, "messages": messages, "tools": [WEATHER], "stream": stream_flag}
        raw = http(simulator, "POST", CHAT, body)
        assert raw.json() == {"error": {"code": 400, "message": message, "type": "invalid_request_error"}}


@pytest.mark.parametrize(
    "messages",
    [
        [user("hi"), assistant_calls("t1"), tool_result("t1")],
        [user("hi"), tool_result("t1")],
        [user("hi"), assistant_calls("t1"), user("again")],
    ],
)
def test_tool_blocks_need_tools(simulator: Simulator, messages: list[Any]) -> None:
    raw = http(simulator, "POST", CHAT, {"model": MODEL, "messages": messages})
    assert_error(raw, 400, "invalid_request_error")
    assert raw.json()["error"]["message"] == TOOLS_REQUIRED
    with pytest.raises(openai.BadRequestError, match="must define tools"):
        sdk(simulator).chat.completions.create(model=MODEL, messages=messages)


def test_valid_tool_exchanges_are_accepted(simulator: Simulator) -> None:
    histories = [
        # results in any order, then a new question
        [user("hi"), assistant_calls("t1", "t2"), tool_result("t2"), tool_result("t1"), user("thanks")],
        # two rounds, ending on results
        [user("hi"), assistant_calls("t1"), tool_result("t1"), assistant_calls("t2"), tool_result("t2")],
        # an earlier turn's exchange, a system message, a text reply
        [
            system("be brief"),
            user("hi"),
            assistant_calls("t1"),
            tool_result("t1"),
            {"role": "assistant", "content": "It is 21 degrees."},
            user("and tomorrow?"),
        ],
    ]
    for messages in histories:
        raw = http(simulator, "POST", CHAT, {"model": MODEL, "messages": messages, "tools": [WEATHER]})
        assert raw.status == 200, raw.json()
    # tool_choice "none" still defines tools
    messages = histories[0]
    raw = http(
        simulator,
        "POST",
        CHAT,
        {"model": MODEL, "messages": messages, "tools": [WEATHER], "tool_choice": "none"},
    )
    assert raw.status == 200


# -- multi-round tool calling -------------------------------------------------------------------


@dataclass
class Reply:
    """An assistant reply assembled from a raw response (streamed or not)."""

    content: str
    tool_calls: list[dict[str, Any]]
    finish_reason: str


def complete(sim: Simulator, messages: list[Any], streamed: bool, **fields: Any) -> Reply:
    """One raw chat request; the reply assembled from the body or from the SSE chunks."""
    raw = http(sim, "POST", CHAT, {"model": MODEL, "messages": messages, "stream": streamed, **fields})
    assert raw.status == 200, raw.body
    if not streamed:
        choice = raw.json()["choices"][0]
        message = choice["message"]
        return Reply(message["content"], message.get("tool_calls") or [], choice["finish_reason"])
    chunks = [json.loads(payload) for payload in sse_data(raw.body)[:-1]]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    calls: dict[int, dict[str, Any]] = {}
    for fragment in (f for delta in deltas for f in delta.get("tool_calls") or ()):
        call = calls.setdefault(
            fragment["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        )
        call["id"] += fragment.get("id") or ""
        call["function"]["name"] += fragment.get("function", {}).get("name") or ""
        call["function"]["arguments"] += fragment.get("function", {}).get("arguments") or ""
    content = "".join(delta.get("content") or "" for delta in deltas)
    return Reply(content, [calls[i] for i in sorted(calls)], chunks[-1]["choices"][0]["finish_reason"])


@dataclass
class Loop:
    """What a well-behaved client's tool loop saw."""

    rounds: list[list[dict[str, Any]]]  # the calls of each round
    answer: str


def tool_loop(
    sim: Simulator, prompt: str, streamed: bool = False, tools: Any = (WEATHER,), **fields: Any
) -> Loop:
    """Drive the tool loop as a correct client does: fill content, answer every call, repair bad JSON."""
    messages = [user(prompt)]
    rounds: list[list[dict[str, Any]]] = []
    for _ in range(12):  # a runaway loop fails instead of hanging
        reply = complete(sim, messages, streamed, tools=list(tools), **fields)
        if reply.finish_reason != "tool_calls":
            assert not reply.tool_calls
            return Loop(rounds, reply.content)
        assert reply.content == "" and reply.tool_calls
        rounds.append(reply.tool_calls)
        sent = []
        results = []
        for call in reply.tool_calls:
            repaired = call["function"]["arguments"]
            try:
                arguments = json.loads(repaired)
            except ValueError:
                result, repaired = "Error: arguments are not valid JSON", "{}"
            else:
                result = json.dumps({"temp": 21, "city": arguments.get("city")})
                if call["function"]["name"] == "get_weather" and "city" not in arguments:
                    result = "Error: missing required argument 'city'"
            sent.append({**call, "function": {**call["function"], "arguments": repaired}})
            results.append(tool_result(call["id"], result))
        messages += [{"role": "assistant", "content": "(calling tools)", "tool_calls": sent}, *results]
    raise AssertionError("the simulated model kept calling tools")


def test_tool_call_reply_has_empty_content_and_must_be_filled_when_sent_back(simulator: Simulator) -> None:
    message = ask(simulator, "get_weather city=Rome", tools=[WEATHER]).choices[0].message
    assert message.content == "" and message.tool_calls
    raw = chat(simulator, "get_weather city=Rome", tools=[WEATHER])
    assert raw.json()["choices"][0]["message"]["content"] == ""
    chunks = stream(simulator, "get_weather city=Rome", tools=[WEATHER])
    assert all(not c.choices[0].delta.content for c in chunks if c.choices)
    # A client that sends the reply back unchanged is refused.
    call = message.tool_calls[0]
    history = [
        user("get_weather city=Rome"),
        {"role": "assistant", "content": message.content, "tool_calls": [call.model_dump()]},
        tool_result(call.id),
    ]
    raw = http(simulator, "POST", CHAT, {"model": MODEL, "messages": history, "tools": [WEATHER]})
    assert_error(raw, 400, "invalid_request_error", "messages[1]: content is required")


def test_one_round_by_default_then_an_answer_quoting_the_result(simulator: Simulator) -> None:
    loop = tool_loop(simulator, "weather please: get_weather city=Lima")
    assert len(loop.rounds) == 1
    assert loop.answer.split("\n\n") == [
        'get_weather returned: {"temp": 21, "city": "Lima"}',
        'Based on 1 tool result from 1 round, that answers "weather please: get_weather city=Lima".',
    ]


@pytest.mark.parametrize("streamed", [False, True])
def test_n_rounds(simulator: Simulator, streamed: bool) -> None:
    loop = tool_loop(simulator, "call get_weather 3 rounds in a row city=Oslo", streamed)
    assert [[call["function"]["name"] for call in calls] for calls in loop.rounds] == [["get_weather"]] * 3
    ids = [call["id"] for calls in loop.rounds for call in calls]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"tooluse_[A-Za-z0-9_-]{22}", i) for i in ids)
    lines = loop.answer.split("\n\n")
    assert lines[:3] == ['get_weather returned: {"temp": 21, "city": "Oslo"}'] * 3
    assert lines[3].startswith("Based on 3 tool results from 3 rounds")
    parallel = tool_loop(simulator, "get_time and get_weather, 2 times", streamed, tools=[WEATHER, CLOCK])
    assert [[c["function"]["name"] for c in calls] for calls in parallel.rounds] == [
        ["get_time", "get_weather"]
    ] * 2
    assert (
        parallel.answer.split("\n\n")[:4]
        == [
            'get_time returned: {"temp": 21, "city": null}',
            'get_weather returned: {"temp": 21, "city": "sample city"}',
        ]
        * 2
    )


def test_streamed_and_non_streamed_rounds_agree(simulator: Simulator) -> None:
    prompt = "get_weather 2 times city=Bern"
    assert tool_loop(simulator, prompt, streamed=True) == tool_loop(simulator, prompt, streamed=False)
    first = chat(simulator, prompt, tools=[WEATHER]).json()["choices"][0]["message"]["tool_calls"]
    assert first == chat(simulator, prompt, tools=[WEATHER]).json()["choices"][0]["message"]["tool_calls"]


@pytest.mark.parametrize("streamed", [False, True])
def test_malformed_arguments_then_recovery(simulator: Simulator, streamed: bool) -> None:
    bad = complete(simulator, [user("get_weather city=Oslo, malformed arguments")], streamed, tools=[WEATHER])
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.tool_calls[0]["function"]["arguments"])
    # Sent back unrepaired, the history makes Heroku fail.
    history = [
        user("get_weather city=Oslo, malformed arguments"),
        {"role": "assistant", "content": "Calling.", "tool_calls": bad.tool_calls},
        tool_result(bad.tool_calls[0]["id"], "Error: bad JSON"),
    ]
    raw = http(simulator, "POST", CHAT, {"model": MODEL, "messages": history, "tools": [WEATHER]})
    assert raw.status == 500
    loop = tool_loop(simulator, "get_weather city=Oslo, malformed arguments", streamed)
    assert len(loop.rounds) == 2
    assert json.loads(loop.rounds[1][0]["function"]["arguments"]) == {"city": "Oslo", "unit": "celsius"}
    assert loop.answer.split("\n\n")[:2] == [
        "get_weather returned: Error: arguments are not valid JSON",
        'get_weather returned: {"temp": 21, "city": "Oslo"}',
    ]
    assert len(tool_loop(simulator, "get_weather malformed arguments 2 rounds", streamed).rounds) == 3


@pytest.mark.parametrize("streamed", [False, True])
def test_invalid_arguments_then_recovery(simulator: Simulator, streamed: bool) -> None:
    loop = tool_loop(simulator, "get_weather city=Oslo with invalid arguments", streamed)
    assert [json.loads(calls[0]["function"]["arguments"]) for calls in loop.rounds] == [
        {"unit": "celsius"},  # the first required property left out
        {"city": "Oslo", "unit": "celsius"},
    ]
    assert loop.answer.split("\n\n")[0] == "get_weather returned: Error: missing required argument 'city'"
    # Without required properties, the first property gets the wrong type.
    clock = tool_loop(simulator, "get_time, invalid arguments", streamed, tools=[CLOCK])
    assert json.loads(clock.rounds[0][0]["function"]["arguments"]) == {"tz": 12345}
    assert json.loads(clock.rounds[1][0]["function"]["arguments"]) == {}


@pytest.mark.parametrize(
    "tool_choice", ["auto", "required", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_history_ending_with_results_gets_an_answer_not_another_call(
    simulator: Simulator, tool_choice: Any
) -> None:
    messages = [
        user("use get_weather"),
        assistant_calls("t1", "t2"),
        tool_result("t1"),
        tool_result("t2", "x" * 500),
    ]
    for streamed in (False, True):
        reply = complete(simulator, messages, streamed, tools=[WEATHER], tool_choice=tool_choice)
        assert (reply.finish_reason, reply.tool_calls) == ("stop", [])
        lines = reply.content.split("\n\n")
        assert lines[0] == 'get_weather returned: {"temp": 21}'
        assert lines[1] == "get_weather returned: " + "x" * 200 + "…"  # long results are cut
        assert lines[2] == 'Based on 2 tool results from 1 round, that answers "use get_weather".'


def test_tool_results_of_earlier_turns_are_not_quoted(simulator: Simulator) -> None:
    messages = [
        user("get_weather"),
        assistant_calls("t1"),
        tool_result("t1", "old"),
        {"role": "assistant", "content": "It is old."},
        user("get_weather again"),
        assistant_calls("t2"),
        tool_result("t2", "new"),
    ]
    answer = complete(simulator, messages, False, tools=[WEATHER]).content
    assert answer.split("\n\n")[0] == "get_weather returned: new" and "old" not in answer


# -- faults -------------------------------------------------------------------------------------


def test_disconnect_mid_stream(simulator: Simulator) -> None:
    simulator.inject("disconnect", after_chunks=3)
    received = []
    # openai 3.x wraps the cut-off body in APIConnectionError; earlier releases let httpx's error out.
    with pytest.raises((openai.APIConnectionError, *TRANSPORT_ERRORS)):
        for chunk in sdk(simulator).chat.completions.create(
            model=MODEL, messages=[user("words:20")], stream=True
        ):
            received.append(chunk)
    assert len(received) == 3
    simulator.inject("disconnect")
    with pytest.raises(openai.APIConnectionError):
        ask(simulator, "non-streaming too")
    assert ask(simulator, "healthy again").choices[0].message.content


def test_malformed_chunk(simulator: Simulator) -> None:
    simulator.inject("malformed_chunk", after_chunks=2)
    raw = chat(simulator, "words:5", stream=True)
    events = [line for line in raw.body.decode().split("\n\n") if line]
    assert events[2] == "data: {not json"
    assert events[-1] == "data: [DONE]"
    simulator.inject("malformed_chunk")
    with pytest.raises(json.JSONDecodeError):
        stream(simulator, "words:5")


def test_in_band_error(simulator: Simulator) -> None:
    simulator.inject("in_band_error", after_chunks=2, message="backend exploded")
    raw = chat(simulator, "words:5", stream=True)
    events = [line for line in raw.body.decode().split("\n\n") if line]
    assert len(events) == 3 and "[DONE]" not in raw.body.decode()
    assert json.loads(events[-1][len("data: ") :]) == {
        "error": {"code": 500, "message": "backend exploded", "type": "server_error"}
    }
    simulator.inject("in_band_error")
    with pytest.raises(openai.APIError, match="Failed to execute chat"):
        stream(simulator, "words:5")


def sse_data(body: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [event.removeprefix("data: ") for event in body.decode().split("\n\n") if event]


def test_clean_close_ends_the_body_properly_without_finish_usage_or_done(simulator: Simulator) -> None:
    simulator.inject("clean_close", after_chunks=3)
    # urllib reads the chunked body to its terminating chunk (a dropped connection raises
    # IncompleteRead instead): the HTTP layer sees a normal, complete response.
    raw = chat(simulator, "words:20", stream=True, stream_options={"include_usage": True})
    assert raw.status == 200 and raw.headers["x-request-id"]
    assert raw.headers["transfer-encoding"] == "chunked"
    payloads = sse_data(raw.body)
    assert len(payloads) == 3 and "[DONE]" not in payloads
    chunks = [json.loads(payload) for payload in payloads]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:]] == ["w1 ", "w2 "]
    assert all(c["choices"][0]["finish_reason"] is None and c.get("usage") is None for c in chunks)
    # The SDK does not notice either: the stream simply ends.
    simulator.inject("clean_close", after_chunks=2)
    assert text_of(stream(simulator, "words:20", stream_options={"include_usage": True})) == "w1 "


def test_clean_close_after_the_last_chunk_leaves_out_only_done(simulator: Simulator) -> None:
    simulator.inject("clean_close", after_chunks=100)
    chunks = [
        json.loads(p)
        for p in sse_data(
            chat(simulator, "words:3", stream=True, stream_options={"include_usage": True}).body
        )
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]
    assert len(chunks) == 5  # role, three words, finish and usage


def test_clean_close_of_a_non_streaming_body_is_truncated_json(simulator: Simulator) -> None:
    whole = chat(simulator, "words:20").body
    simulator.inject("clean_close")
    raw = chat(simulator, "words:20")
    assert raw.status == 200 and raw.headers["content-type"] == "application/json"
    assert raw.body.startswith(b'{"id":"chatcmpl-') and len(raw.body) < len(whole)
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw.body)


def open_stream(sim: Simulator, prompt: str) -> tuple[HTTPConnection, HTTPResponse]:
    """A streaming chat request over a plain connection, its response open for reading."""
    connection = HTTPConnection(sim.config.host, sim.port, timeout=10)
    body = json.dumps({"model": MODEL, "messages": [user(prompt)], "stream": True})
    headers = {"Authorization": f"Bearer {sim.key}", "Content-Type": "application/json"}
    connection.request("POST", CHAT, body, headers)
    return connection, connection.getresponse()


def read_event(response: HTTPResponse) -> str:
    """The next SSE ``data:`` payload (blocking on the socket's timeout)."""
    line = response.readline()
    assert response.readline() == b"\n"
    return line.decode().removeprefix("data: ").rstrip("\n")


def test_stall_sends_nothing_while_holding_the_connection_and_ends_with_the_client(
    simulator: Simulator,
) -> None:
    simulator.inject("stall", after_chunks=3, seconds=30)
    connection, response = open_stream(simulator, "words:20")
    try:
        assert response.status == 200
        received = [json.loads(read_event(response)) for _ in range(3)]
        assert [c["choices"][0]["delta"].get("content") for c in received[1:]] == ["w1 ", "w2 "]
        # Thirty seconds of silence: a short wait on the socket sees not one more byte, and the
        # connection is still open (a closed one would read as b"" at once).
        assert connection.sock is not None
        connection.sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            response.read1(1)
        assert simulator.active_streams == 1
    finally:
        connection.close()
    assert wait_until(lambda: not simulator.active_streams), "the stall outlived its client"


def test_stall_then_the_rest_of_the_stream(simulator: Simulator) -> None:
    simulator.inject("stall", after_chunks=2, seconds=0.1)
    payloads = sse_data(chat(simulator, "words:4", stream=True).body)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "w1 w2 w3 w4 "
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    simulator.inject("stall", seconds=0.1)
    assert ask(simulator, "words:4").choices[0].message.content == "w1 w2 w3 w4 "


def test_rate_limit(simulator: Simulator) -> None:
    simulator.inject("rate_limit", retry_after="7")
    raw = chat(simulator)
    assert_error(raw, 429, "rate_limit_error", "Rate limit exceeded")
    assert raw.headers["retry-after"] == "7"
    assert raw.headers["x-ratelimit-reset-requests"] == "7s"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    simulator.inject("rate_limit")
    with pytest.raises(openai.RateLimitError):
        stream(simulator, "hi")


def test_server_errors(simulator: Simulator) -> None:
    simulator.inject("server_error")
    assert_error(chat(simulator), 500, "server_error", "Failed to execute chat")
    simulator.inject("server_error", status=503, message="overloaded")
    assert_error(chat(simulator), 503, "server_error", "overloaded")
    simulator.inject("server_error", status=502, body="<html><h1>Bad gateway</h1></html>")
    raw = chat(simulator, stream=True)
    assert (raw.status, raw.body) == (502, b"<html><h1>Bad gateway</h1></html>")
    assert raw.headers["content-type"].startswith("text/html")
    simulator.inject("server_error", body='{"error":"Internal Server Error"}')
    raw = chat(simulator)
    assert (raw.status, raw.json()) == (500, {"error": "Internal Server Error"})
    simulator.inject("server_error", status=504)
    with pytest.raises(openai.InternalServerError):
        ask(simulator, "hi")


def test_slow_first_byte(simulator: Simulator) -> None:
    simulator.inject("slow_first_byte", seconds=0.3)
    start = time.monotonic()
    assert chat(simulator).status == 200
    assert time.monotonic() - start >= 0.3


def test_faults_apply_times_in_order_and_only_after_auth(simulator: Simulator) -> None:
    simulator.inject("server_error", times=2)
    simulator.inject("rate_limit")
    assert http(simulator, "POST", CHAT, {"model": MODEL, "messages": [user("x")]}, key="bad").status == 401
    assert len(simulator.pending_faults()) == 2
    assert [chat(simulator).status for _ in range(4)] == [500, 500, 429, 200]
    assert simulator.pending_faults() == []


def test_inject_rejects_unknown_kinds_and_params(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        simulator.inject("meteor")
    with pytest.raises(ValueError, match="unknown parameter"):
        simulator.inject("disconnect", after=3)
    with pytest.raises(ValueError, match="times"):
        simulator.inject("disconnect", times=0)
    with pytest.raises(ValueError, match="unknown parameter"):
        simulator.inject("clean_close", seconds=1)
    with pytest.raises(ValueError, match="seconds"):
        simulator.inject("stall", seconds=-1)
    with pytest.raises(ValueError, match="after_chunks"):
        simulator.inject("stall", after_chunks=-1)
    assert simulator.inject("stall").params == {"after_chunks": 3, "seconds": 30.0}
    simulator.reset()


# -- pacing, disconnects, recording, reset -----------------------------------------------------


def test_ttft_is_measurable_and_reset_restores_pacing(simulator: Simulator) -> None:
    simulator.config.ttft = 0.3
    start = time.monotonic()
    response = sdk(simulator).chat.completions.create(model=MODEL, messages=[user("hi")], stream=True)
    assert isinstance(response, openai.Stream)
    with response:
        next(iter(response))
    assert time.monotonic() - start >= 0.3
    simulator.reset()
    assert simulator.config.ttft == 0.0


def test_client_disconnect_stops_the_stream(simulator: Simulator) -> None:
    simulator.config.interval = 0.01
    response = sdk(simulator).chat.completions.create(model=MODEL, messages=[user("words:5000")], stream=True)
    assert isinstance(response, openai.Stream)
    iterator = iter(response)
    for _ in range(5):
        next(iterator)
    assert simulator.active_streams == 1
    response.close()
    assert wait_until(lambda: not simulator.active_streams)


def test_requests_are_recorded_including_rejected_ones(simulator: Simulator) -> None:
    http(simulator, "GET", "/available-models", key=None)
    http(simulator, "POST", CHAT, {"model": MODEL, "messages": [user("denied")]}, key="bad")
    ask(simulator, "accepted", extra_body={"top_k": 3})
    recorded = simulator.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/available-models"),
        ("POST", CHAT),
        ("POST", CHAT),
    ]
    assert recorded[1].headers["authorization"] == "Bearer bad"
    assert recorded[1].body == {"model": MODEL, "messages": [user("denied")]}
    assert simulator.last_request == {"model": MODEL, "messages": [user("accepted")], "top_k": 3}
    simulator.reset()
    assert simulator.requests == [] and simulator.last_request is None


def test_admin_endpoints(simulator: Simulator) -> None:
    assert http(simulator, "GET", "/_simulator/requests", key=None).status == 401
    raw = http(
        simulator, "POST", "/_simulator/faults", {"kind": "rate_limit", "times": 2, "retry_after": "3"}
    )
    assert raw.json() == {"pending": [{"kind": "rate_limit", "times": 2, "retry_after": "3"}]}
    assert_error(
        http(simulator, "POST", "/_simulator/faults", {"kind": "meteor"}), 400, "invalid_request_error"
    )
    assert chat(simulator, "first").status == 429
    recorded = http(simulator, "GET", "/_simulator/requests").json()
    assert [r["body"]["messages"][0]["content"] for r in recorded] == ["first"]
    config = http(simulator, "POST", "/_simulator/config", {"ttft": 0.05, "interval": 0.001}).json()
    assert config == {"ttft": 0.05, "interval": 0.001} and simulator.config.interval == 0.001
    assert http(simulator, "POST", "/_simulator/config", {"ttft": -1}).status == 400
    assert http(simulator, "POST", "/_simulator/reset").json() == {"ok": True}
    assert simulator.requests == [] and simulator.config.ttft == 0.0
    assert chat(simulator).status == 200  # the second rate_limit use was cleared


def test_simulator_lifecycle_env_and_context_manager() -> None:
    with Simulator(SimulatorConfig(key="inf-other", model="nova-pro")) as sim:
        assert sim.env() == {
            "INFERENCE_URL": sim.url,
            "INFERENCE_KEY": "inf-other",
            "INFERENCE_MODEL_ID": "nova-pro",
        }
        assert sim.url == f"http://127.0.0.1:{sim.port}"
        assert http(sim, "GET", "/available-models").status == 200
    with pytest.raises(OSError):
        http(sim, "GET", "/available-models")


# -- command line --------------------------------------------------------------------------------


@pytest.fixture
def command(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    env_file = tmp_path / "sim.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "heroku_magic.simulator", "--port", "0", "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process, env_file
    if process.poll() is None:
        process.kill()
        process.wait()


def test_command_writes_env_file_serves_and_stops_on_sigterm(
    command: tuple[subprocess.Popen[str], Path],
) -> None:
    process, env_file = command
    deadline = time.monotonic() + 15
    while not env_file.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the simulator did not write its env file"
        time.sleep(0.05)
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert env["INFERENCE_KEY"] == "inf-simulator-key" and env["INFERENCE_MODEL_ID"] == MODEL
    with _OPENER.open(env["INFERENCE_URL"] + "/available-models", timeout=10) as response:
        assert response.status == 200
    process.terminate()
    stdout, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"export INFERENCE_URL={env['INFERENCE_URL']}" in stdout.splitlines()


def test_command_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heroku_magic.simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    for option in ("--host", "--port", "--key", "--ttft", "--interval", "--env-file"):
        assert option in result.stdout
