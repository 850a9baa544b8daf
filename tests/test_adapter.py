"""The chunk -> event adapter: hand-built Heroku shapes, and real recorded OpenAI streams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from heroku_magic.adapter import completion_events, stream_events
from heroku_magic.events import ReasoningDelta, ResponseInfo, TextDelta, ToolCall, ToolCallDelta, Usage
from heroku_magic.result import ResponseState

RECORDED = sorted((Path(__file__).parent / "fixtures" / "openai-recorded").glob("*.sse"))


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "model": "claude-4-5-sonnet",
        "object": "chat.completion.chunk",
    }
    body["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        body["usage"] = usage
    return body


def fold(chunks: list[Any]) -> Any:
    accumulator = ResponseState()
    for event in stream_events(chunks):
        accumulator.add(event)
    return accumulator.result()


def test_reasoning_from_heroku_reasoning_thinking_dict() -> None:
    events = list(stream_events([chunk({"reasoning": {"thinking": "Let me"}}), chunk({"content": "Hi"})]))
    assert ReasoningDelta("Let me") in events and TextDelta("Hi") in events


@pytest.mark.parametrize(
    "delta",
    [{"reasoning_content": "hmm"}, {"reasoning": "hmm"}, {"reasoning": {"thinking": "hmm"}, "content": ""}],
)
def test_reasoning_variants_are_tolerated(delta: dict[str, Any]) -> None:
    assert [e for e in stream_events([chunk(delta)]) if not isinstance(e, ResponseInfo)] == [
        ReasoningDelta("hmm")
    ]


def test_empty_strings_and_role_only_chunks_produce_nothing() -> None:
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": None}),
        chunk({"reasoning": {"thinking": ""}}),
    ]
    assert [e for e in stream_events(chunks) if not isinstance(e, ResponseInfo)] == []


def test_response_info_once_then_finish_reason() -> None:
    events = list(stream_events([chunk({"content": "a"}), chunk({"content": "b"}, finish="stop")]))
    infos = [e for e in events if isinstance(e, ResponseInfo)]
    assert infos[0] == ResponseInfo(model="claude-4-5-sonnet", response_id="chatcmpl-1")
    assert infos[1].finish_reason == "stop" and len(infos) == 2


def test_usage_is_accepted_on_any_chunk_with_reasoning_tokens() -> None:
    usage = {
        "prompt_tokens": 3,
        "completion_tokens": 5,
        "total_tokens": 8,
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    events = list(stream_events([chunk({"content": "a"}, usage=usage), chunk({"content": "b"})]))
    assert Usage(3, 5, 8, 2) in events


def test_empty_usage_object_is_ignored() -> None:
    assert not [e for e in stream_events([chunk(None, usage={})]) if isinstance(e, Usage)]


def test_tool_call_fragments_by_index() -> None:
    chunks = [
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "toolu_2", "function": {"name": "get_time", "arguments": "{}"}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, finish="tool_calls"),
    ]
    events = list(stream_events(chunks))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [
        ToolCall("toolu_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("toolu_2", "get_time", "{}"),
    ]
    assert [e.index for e in events if isinstance(e, ToolCallDelta)] == [0, 0, 1, 0]
    assert fold(chunks).tool_calls == tuple(calls)


def test_whole_tool_calls_per_chunk_are_deduplicated_by_id() -> None:
    whole = {
        "index": 0,
        "id": "tooluse_A",
        "type": "function",
        "function": {"name": "f", "arguments": '{"x": 1}'},
    }
    second = {"index": 0, "id": "tooluse_B", "type": "function", "function": {"name": "g", "arguments": "{}"}}
    chunks = [
        chunk({"tool_calls": [whole]}),
        chunk({"tool_calls": [whole, second]}),
        chunk({}, finish="tool_calls"),
    ]
    result = fold(chunks)
    assert result.tool_calls == (ToolCall("tooluse_A", "f", '{"x": 1}'), ToolCall("tooluse_B", "g", "{}"))


def test_fragment_that_looks_like_a_prefix_is_not_dropped() -> None:
    pieces = ['{"a": ', "{", '"b": 1}}']
    chunks = [chunk({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": ""}}]})]
    chunks += [chunk({"tool_calls": [{"index": 0, "id": "t", "function": {"arguments": p}}]}) for p in pieces]
    assert fold(chunks).tool_calls[0].parsed_arguments() == {"a": {"b": 1}}


def test_non_streamed_completion_gives_the_same_events() -> None:
    completion = {
        "id": "chatcmpl-2",
        "model": "claude-4-5-sonnet",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "345", "reasoning": {"thinking": "15*23"}},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 13, "completion_tokens": 26, "total_tokens": 39},
    }
    accumulator = ResponseState()
    for event in completion_events(completion, request_id="req-9"):
        accumulator.add(event)
    result = accumulator.result()
    assert (result.text, result.reasoning, result.finish_reason, result.request_id) == (
        "345",
        "15*23",
        "stop",
        "req-9",
    )
    assert result.usage == Usage(13, 26, 39)


# --- real recorded streams -------------------------------------------------------------------------


def expected_from_raw(path: Path) -> dict[str, Any]:
    """What the chunks of a recorded stream add up to, computed naively from the JSON."""
    text, arguments, names, ids, usage = "", {}, {}, {}, None
    for line in path.read_text().splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        data = json.loads(line[len("data: ") :])
        usage = data.get("usage") or usage
        for choice in data["choices"]:
            if choice["index"] != 0:
                continue
            delta = choice["delta"]
            text += (delta.get("content") or "") + (delta.get("refusal") or "")
            for call in delta.get("tool_calls") or []:
                i = call["index"]
                arguments[i] = arguments.get(i, "") + (call.get("function", {}).get("arguments") or "")
                names[i] = names.get(i) or call.get("function", {}).get("name")
                ids[i] = ids.get(i) or call.get("id")
    calls = [(ids[i], names[i], arguments[i]) for i in sorted(arguments)]
    return {"text": text, "calls": calls, "usage": usage}


def sdk_chunks(path: Path) -> Any:
    """The recorded body replayed through the real OpenAI SDK (mock transport: no network)."""
    import openai._base_client as base

    # openai 3.x talks through httpx2, earlier releases through httpx: use the one the SDK uses.
    http: Any = getattr(base, "httpx2", None) or base.httpx

    def handler(request: Any) -> Any:
        return http.Response(
            200,
            headers={"content-type": "text/event-stream", "x-request-id": "req-rec"},
            content=path.read_bytes(),
        )

    client = openai.OpenAI(
        api_key="k",
        base_url="http://recorded.invalid/v1",
        http_client=http.Client(transport=http.MockTransport(handler)),
    )
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
    )


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
@pytest.mark.parametrize("through", ["sdk", "dicts"])
def test_recorded_streams_accumulate_to_what_the_chunks_add_up_to(path: Path, through: str) -> None:
    assert len(RECORDED) == 12
    expected = expected_from_raw(path)
    if through == "sdk":
        chunks = list(sdk_chunks(path))
    else:
        chunks = [
            json.loads(line[6:]) for line in path.read_text().splitlines() if line.startswith("data: {")
        ]
    result = fold(chunks)
    assert result.text == expected["text"]
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == expected["calls"]
    for call in result.tool_calls:
        call.parsed_arguments()  # complete JSON
    usage = expected["usage"]
    assert result.usage is not None and usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["total_tokens"],
    )
    assert result.finish_reason in ("stop", "length", "tool_calls")
    assert result.model and result.model.startswith("gpt-4o")


def test_logprobs_are_kept_per_token_and_shown_only_as_text() -> None:
    from test_safety import assert_safe

    from heroku_magic.events import Logprobs
    from heroku_magic.render.static import static_bundle
    from heroku_magic.result import ResponseState

    chunks = [
        {
            "id": "c",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "<b>hi"},
                    "logprobs": {
                        "content": [{"token": "<b>", "logprob": -0.5}, {"token": "hi", "logprob": -1}]
                    },
                }
            ],
        },
        {"choices": [{"index": 0, "delta": {}, "logprobs": {"content": [{"token": 3, "logprob": "x"}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    events = list(stream_events(chunks))
    assert [e for e in events if isinstance(e, Logprobs)] == [Logprobs((("<b>", -0.5), ("hi", -1.0)))]
    state = ResponseState()
    for event in events:
        state.add(event)
    result = state.result()
    assert result.logprobs == (("<b>", -0.5), ("hi", -1.0))
    html = static_bundle(result)[0]["text/html"]
    start = html.index("<details><summary>Token log probabilities")
    table = html[start : html.index("</details>", start) + len("</details>")]
    assert "&lt;b&gt;" in table and "-0.500" in table
    assert_safe(
        table.replace("<details><summary>", "<div><p>")
        .replace("</summary>", "</p>")
        .replace("</details>", "</div>")
    )
