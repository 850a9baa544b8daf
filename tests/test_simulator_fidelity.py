"""The simulator matches Heroku's documented behaviour (Dev Center compatibility page, SDK guide).

Every test goes over HTTP, raw or through the OpenAI SDK, against the shared session simulator.
"""

from __future__ import annotations

import base64
import json
import struct
import urllib.error
import urllib.request
import zlib
from typing import Any

import openai
import pytest

from heroku_magic.simulator import Simulator, SimulatorConfig
from heroku_magic.simulator.catalogue import CATALOGUE
from heroku_magic.simulator.images import MAX_IMAGE_BYTES

CHAT = "/v1/chat/completions"
AGENTS = "/v1/agents/heroku"
SONNET = "claude-4-5-sonnet"
THINKING: dict[str, Any] = {"extended_thinking": {"enabled": True, "budget_tokens": 1024}}
PAIR = "ValidationException: `temperature` and `top_p` cannot both be specified for this model. Please use only one."
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CLOCK = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(sim: Simulator, body: dict[str, Any], path: str = CHAT) -> tuple[int, Any]:
    """(status, parsed JSON or raw text) of a POST with the simulator's key."""
    request = urllib.request.Request(sim.url + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Authorization", f"Bearer {sim.key}")
    request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def chat(sim: Simulator, prompt: Any = "hi", model: str = SONNET, **fields: Any) -> tuple[int, Any]:
    """A chat request with one user message (``prompt`` may be a list of content parts)."""
    return post(sim, {"model": model, "messages": [{"role": "user", "content": prompt}], **fields})


def refused(result: tuple[int, Any], fragment: str) -> None:
    """``result`` is Heroku's 400 whose message contains ``fragment``."""
    status, body = result
    assert status == 400, body
    assert body["error"]["type"] == "invalid_request_error"
    assert fragment in body["error"]["message"], body["error"]["message"]


def ok(result: tuple[int, Any]) -> dict[str, Any]:
    """The body of a 200."""
    status, body = result
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def content(body: dict[str, Any]) -> str:
    return str(body["choices"][0]["message"]["content"])


def sse_chunks(sim: Simulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON chunks of a raw chat stream."""
    request = urllib.request.Request(
        sim.url + CHAT, data=json.dumps({**body, "stream": True}).encode(), method="POST"
    )
    request.add_header("Authorization", f"Bearer {sim.key}")
    with _OPENER.open(request, timeout=30) as response:
        text = response.read().decode()
    events = [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return [json.loads(event) for event in events[:-1]]


# -- images ------------------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    """A real PNG (grey, 8-bit) of that size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int) -> bytes:
    """A JPEG header: SOI, an APP0 segment, then SOF0 with the size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def webp(kind: str, width: int, height: int) -> bytes:
    """A WebP header of the given first chunk (``VP8 ``, ``VP8L`` or ``VP8X``)."""
    if kind == "VP8 ":
        payload = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    elif kind == "VP8L":
        payload = b"\x2f" + struct.pack("<I", (width - 1) | ((height - 1) << 14))
    else:
        payload = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + kind.encode() + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def image_part(data: bytes, media: str) -> dict[str, Any]:
    url = f"data:image/{media};base64,{base64.b64encode(data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def with_image(part: dict[str, Any], text: str = "Describe this") -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}, part]


@pytest.mark.parametrize(
    ("data", "media", "expected"),
    [
        (png(3, 2), "png", "PNG, 3x2 pixels"),
        (jpeg(640, 480), "jpeg", "JPEG, 640x480 pixels"),
        (gif(17, 9), "gif", "GIF, 17x9 pixels"),
        (webp("VP8 ", 320, 200), "webp", "WEBP, 320x200 pixels"),
        (webp("VP8L", 1000, 7), "webp", "WEBP, 1000x7 pixels"),
        (webp("VP8X", 4000, 3000), "webp", "WEBP, 4000x3000 pixels"),
    ],
)
def test_images_arrive_intact_and_are_described(
    simulator: Simulator, data: bytes, media: str, expected: str
) -> None:
    body = ok(chat(simulator, with_image(image_part(data, media))))
    assert f"Image 1: {expected}, {len(data)} bytes." in content(body)


def test_several_images_are_listed_in_order_on_every_vision_model(simulator: Simulator) -> None:
    parts = [{"type": "text", "text": "compare"}, image_part(png(1, 1), "png"), image_part(gif(2, 2), "gif")]
    for row in CATALOGUE:
        if row.is_chat and row.vision:
            text = content(ok(chat(simulator, parts, model=row.model_id)))
            assert text.index("Image 1: PNG, 1x1") < text.index("Image 2: GIF, 2x2")


@pytest.mark.parametrize(
    ("part", "fragment"),
    [
        ({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}, "image URLs are not supported"),
        ({"type": "image_url", "image_url": {"url": "http://example.com/cat.png"}}, "image URLs are not supported"),
        ({"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}, "data:image/(png|jpeg|gif|webp)"),
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}, "data:image/(png|jpeg|gif|webp)"),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@not base64@@"}}, "not valid base64"),
        ({"type": "image_url", "image_url": {}}, "image_url.url is required"),
        ({"type": "image_url", "image_url": "data:image/png;base64,AAAA"}, "image_url.url is required"),
        (image_part(png(2, 2), "jpeg"), "image/jpeg media type, but the data is image/png"),
        (image_part(b"hello, not an image", "gif"), "not a supported image"),
        (image_part(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "png"), "could not process image"),
        (image_part(b"\xff\xd8\xff\xd9", "jpeg"), "could not process image"),
    ],
)  # fmt: skip
def test_bad_images_are_refused(simulator: Simulator, part: dict[str, Any], fragment: str) -> None:
    refused(chat(simulator, with_image(part)), fragment)


def test_images_over_5_mb_of_base64_are_refused_as_bedrock_words_it(simulator: Simulator) -> None:
    # Bedrock measures the base64 text: 3,932,160 image bytes are exactly 5 MB of base64.
    small = png(1, 1)
    at_limit = small + b"\x00" * (MAX_IMAGE_BYTES * 3 // 4 - len(small))
    assert "PNG, 1x1 pixels" in content(ok(chat(simulator, with_image(image_part(at_limit, "png")))))
    over = at_limit + b"\x00"  # one byte more: four more characters of base64
    refused(
        chat(simulator, with_image(image_part(over, "png"))),
        f"image exceeds 5 MB maximum: {MAX_IMAGE_BYTES + 4} bytes > {MAX_IMAGE_BYTES} bytes",
    )


@pytest.mark.parametrize(("width", "height"), [(8001, 1), (1, 8001)])
def test_images_over_8000_pixels_a_side_are_refused(simulator: Simulator, width: int, height: int) -> None:
    refused(
        chat(simulator, with_image(image_part(png(width, height), "png"))),
        "At least one of the image dimensions exceed max allowed size: 8000 pixels",
    )
    assert "PNG, 8000x1 pixels" in content(ok(chat(simulator, with_image(image_part(png(8000, 1), "png")))))


@pytest.mark.parametrize("model", [row.model_id for row in CATALOGUE if row.is_chat and not row.vision])
def test_images_are_refused_on_models_without_vision(simulator: Simulator, model: str) -> None:
    refused(
        chat(simulator, with_image(image_part(png(1, 1), "png")), model=model), "does not accept image input"
    )


def test_images_only_in_user_messages(simulator: Simulator) -> None:
    system = {"role": "system", "content": with_image(image_part(png(1, 1), "png"), "be nice")}
    messages = [system, {"role": "user", "content": "hi"}]
    refused(post(simulator, {"model": SONNET, "messages": messages}), "only supported in user messages")


# -- temperature with top_p ---------------------------------------------------------------------


@pytest.mark.parametrize("model", [row.model_id for row in CATALOGUE if row.pair_refused])
def test_the_pair_is_refused_on_the_claude_4_5_generation(simulator: Simulator, model: str) -> None:
    assert model in {"claude-4-5-sonnet", "claude-4-5-haiku", "claude-opus-4-5"}
    status, body = chat(simulator, model=model, temperature=0.5, top_p=0.9)
    assert status == 400 and body["error"]["message"] == PAIR
    refused(post(simulator, {"model": model, "messages": [{"role": "user", "content": "x"}], "temperature": 0.5, "top_p": 0.9}, AGENTS), "cannot both be specified")  # fmt: skip


@pytest.mark.parametrize(
    "model", ["claude-3-7-sonnet", "claude-4-sonnet", "claude-3-5-haiku", "nova-pro", "gpt-oss-120b"]
)
def test_the_pair_is_accepted_elsewhere(simulator: Simulator, model: str) -> None:
    # Heroku's own LangChain client sends temperature 1.0 and top_p 0.999 to claude-3-7-sonnet.
    ok(chat(simulator, model=model, temperature=1.0, top_p=0.999))


def test_model_table_columns() -> None:
    chat_rows = [row for row in CATALOGUE if row.is_chat]
    assert all(row.tools for row in chat_rows)
    assert {row.model_id for row in chat_rows if row.parallel_ignored} == {"nova-pro", "nova-lite"}
    assert {row.model_id for row in chat_rows if row.native_reasoning} == {"gpt-oss-120b"}
    assert {row.model_id: row.max_tokens for row in chat_rows if row.max_tokens != 8192} == {
        "claude-4-5-haiku": 4096, "claude-3-5-haiku": 4096, "nova-pro": 5000, "nova-lite": 5000,
    }  # fmt: skip


# -- ignored and accepted fields -------------------------------------------------------------------


def test_ignored_fields_are_accepted(simulator: Simulator) -> None:
    ignored: dict[str, Any] = {
        "seed": 42, "n": 1, "frequency_penalty": 0.5, "presence_penalty": 0.5, "logit_bias": {"50256": -100},
        "store": False, "metadata": {"k": "v"}, "service_tier": "auto", "prompt_cache_key": "p",
        "safety_identifier": "s", "verbosity": "low", "user": "u-1", "logprobs": True, "top_logprobs": 3,
        "modalities": ["text"],
    }  # fmt: skip
    plain = content(ok(chat(simulator, "same prompt")))
    body = ok(chat(simulator, "same prompt", **ignored))
    assert content(body) == plain  # ignored: the answer does not change
    assert body["choices"][0]["logprobs"] is None


def test_unknown_fields_are_still_refused(simulator: Simulator) -> None:
    refused(chat(simulator, frobnicate=1, seed=1), "'frobnicate'")
    ok(chat(simulator, frobnicate=1, seed=1, allow_ignored_params=True))
    refused(chat(simulator, logprobs="yes"), "'logprobs' must be a boolean")


def test_developer_role_and_max_completion_tokens(simulator: Simulator) -> None:
    messages = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": "hello there"},
    ]
    body = ok(post(simulator, {"model": SONNET, "messages": messages, "max_completion_tokens": 4}))
    assert len(content(body).split()) == 4 and body["choices"][0]["finish_reason"] == "length"
    full = content(ok(post(simulator, {"model": SONNET, "messages": messages})))
    assert "Answer briefly." in full


def test_max_tokens_over_the_model_cap_is_refused(simulator: Simulator) -> None:
    refused(chat(simulator, model="claude-3-5-haiku", max_tokens=4097), "4097 > 4096")
    refused(chat(simulator, model="nova-pro", max_completion_tokens=5001), "5001 > 5000")
    ok(chat(simulator, model="claude-3-5-haiku", max_tokens=4096))


# -- reasoning_effort and thinking rules -----------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-3-5-haiku", "nova-pro", "gpt-oss-120b", "claude-4-5-sonnet"])
def test_reasoning_effort_is_accepted_everywhere_with_any_temperature(
    simulator: Simulator, model: str
) -> None:
    if model != SONNET:
        refused(chat(simulator, model=model, **THINKING), "not supported")
    body = ok(chat(simulator, model=model, reasoning_effort="high", temperature=0.2))
    words = len(content(body).split())
    thinks = model in ("gpt-oss-120b", SONNET)  # gpt-oss natively, Claude as thinking (unconfirmed)
    assert (body["usage"]["completion_tokens"] > words) is thinks
    assert "reasoning" not in body["choices"][0]["message"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"max_tokens": 1024}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ({"max_tokens": 500}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
        ({"tools": [WEATHER], "tool_choice": "required"}, "tool_choice forces tool use"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, "forces tool use"),
    ],
)  # fmt: skip
def test_anthropic_thinking_rules(simulator: Simulator, fields: dict[str, Any], fragment: str) -> None:
    refused(chat(simulator, **THINKING, **fields), fragment)


def test_thinking_budget_must_fit_under_the_model_cap_without_max_tokens(simulator: Simulator) -> None:
    big: dict[str, Any] = {"extended_thinking": {"enabled": True, "budget_tokens": 4096}}
    refused(chat(simulator, model="claude-4-5-haiku", **big), "must be greater than")
    ok(chat(simulator, **big))  # Sonnet's cap is 8192
    ok(chat(simulator, **THINKING, max_tokens=1025, tools=[WEATHER], tool_choice="auto"))
    ok(chat(simulator, **THINKING, tools=[WEATHER], tool_choice="none"))


# -- usage ---------------------------------------------------------------------------------------------


def test_usage_has_only_the_three_fields(simulator: Simulator) -> None:
    body = ok(chat(simulator, **THINKING))
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    chunks = sse_chunks(simulator, {"model": SONNET, "messages": [{"role": "user", "content": "x"}], **THINKING,
                                    "stream_options": {"include_usage": True}})  # fmt: skip
    assert set(chunks[-1]["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_stream_usage_only_when_asked(simulator: Simulator) -> None:
    base = {"model": SONNET, "messages": [{"role": "user", "content": "words:5"}]}
    assert all("usage" not in chunk for chunk in sse_chunks(simulator, base))
    off = sse_chunks(simulator, {**base, "stream_options": {"include_usage": False}})
    assert all("usage" not in chunk for chunk in off)
    asked = sse_chunks(simulator, {**base, "stream_options": {"include_usage": True}})
    assert [("usage" in chunk) for chunk in asked] == [False] * (len(asked) - 1) + [True]
    assert asked[-1]["usage"]["completion_tokens"] == 5
    refused(chat(simulator, stream=True, stream_options="yes"), "'stream_options' must be an object")
    sdk = openai.OpenAI(base_url=simulator.url + "/v1", api_key=simulator.key, max_retries=0)
    chunks = list(
        sdk.chat.completions.create(model=SONNET, messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    assert all(chunk.usage is None for chunk in chunks)


def test_stream_usage_always_switch() -> None:
    with Simulator(SimulatorConfig(stream_usage_always=True)) as sim:
        chunks = sse_chunks(sim, {"model": SONNET, "messages": [{"role": "user", "content": "words:3"}]})
    assert chunks[-1]["usage"]["completion_tokens"] == 3


# -- response_format and parallel_tool_calls ----------------------------------------------------------


def test_json_mode_is_not_guaranteed_json(simulator: Simulator) -> None:
    fields: dict[str, Any] = {"response_format": {"type": "json_object"}}
    first, second = (
        content(ok(chat(simulator, "Give me JSON", **fields))),
        content(ok(chat(simulator, "Give me JSON", **fields))),
    )
    assert first == second  # deterministic
    with pytest.raises(ValueError):
        json.loads(first)
    fenced = first.split("```json\n", 1)[1].rsplit("\n```", 1)[0]
    assert json.loads(fenced)["prompt"] == "Give me JSON"
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    assert content(ok(chat(simulator, "Give me JSON", response_format=schema))) == content(
        ok(chat(simulator, "Give me JSON"))
    )


@pytest.mark.parametrize(
    ("model", "calls"), [("nova-pro", 2), ("nova-lite", 2), (SONNET, 1), ("gpt-oss-120b", 1)]
)
def test_parallel_tool_calls_is_ignored_for_nova(simulator: Simulator, model: str, calls: int) -> None:
    body = ok(
        chat(
            simulator,
            "call get_weather and get_time",
            model=model,
            tools=[WEATHER, CLOCK],
            parallel_tool_calls=False,
        )
    )
    assert len(body["choices"][0]["message"]["tool_calls"]) == calls
