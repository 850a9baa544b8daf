"""ChatOptions: validation of values and Heroku's rejected combinations, and the SDK arguments built."""

from __future__ import annotations

import pytest

from heroku_magic import ChatOptions, OptionsError, Thinking
from heroku_magic.options import parse_effort

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"temperature": 0.5, "top_p": 0.9}, "temperature and top_p cannot both be set"),
        ({"thinking": Thinking(), "temperature": 0.5}, "extended thinking requires temperature 1"),
        ({"thinking": Thinking(), "top_p": 0.5}, "extended thinking cannot be combined with top_p"),
        ({"temperature": 1.5}, "temperature must be from 0 to 1"),
        ({"temperature": -0.1}, "temperature must be from 0 to 1"),
        ({"top_p": 0}, "top_p must be above 0"),
        ({"top_k": 0}, "top_k must be at least 1"),
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
        ({"max_tokens": 2.5}, "max_tokens must be a whole number"),
        ({"reasoning_effort": "extreme"}, "reasoning effort must be one of low, medium, high"),
        ({"stop": ("a", "b", "c", "d", "e")}, "at most 4 stop sequences"),
        ({"stop": ("",)}, "stop sequences must be non-empty"),
        ({"tool_choice": "sometimes"}, "tool_choice must be"),
        ({"model": "  "}, "model must be a non-empty model id"),
        ({"timeout": 0}, "timeout must be above 0"),
        ({"max_retries": -1}, "max_retries must be at least 0"),
        ({"response_format": "yaml"}, "response_format must be text or json_object"),
        ({"temperature": float("nan")}, "temperature must be a finite number, got nan"),
        ({"temperature": float("inf")}, "temperature must be a finite number, got inf"),
        ({"top_p": float("nan")}, "top_p must be a finite number, got nan"),
        ({"top_p": float("-inf")}, "top_p must be a finite number, got -inf"),
        ({"timeout": float("nan")}, "timeout must be a finite number, got nan"),
        ({"timeout": float("inf")}, "timeout must be a finite number, got inf"),
    ],
)
def test_rejected_values_have_one_line_reasons(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(OptionsError) as info:
        ChatOptions(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_thinking_budget_below_heroku_minimum_is_refused() -> None:
    with pytest.raises(OptionsError, match="at least 1024"):
        Thinking(budget_tokens=1023)


def test_thinking_with_temperature_one_is_allowed() -> None:
    assert ChatOptions(thinking=Thinking(2048), temperature=1).temperature == 1


@pytest.mark.parametrize(
    ("cell", "panel", "expected"),
    [
        (ChatOptions(thinking=Thinking()), ChatOptions(temperature=0.3), {"thinking": Thinking()}),
        (ChatOptions(thinking=Thinking()), ChatOptions(top_p=0.5), {"thinking": Thinking()}),
        (
            ChatOptions(thinking=Thinking()),
            ChatOptions(temperature=1),
            {"thinking": Thinking(), "temperature": 1},
        ),
        (ChatOptions(top_p=0.5), ChatOptions(temperature=0.3), {"top_p": 0.5}),
        (ChatOptions(top_p=0.5), ChatOptions(thinking=Thinking(), temperature=1), {"top_p": 0.5}),
        (ChatOptions(temperature=0.2), ChatOptions(top_p=0.5), {"temperature": 0.2}),
        (ChatOptions(temperature=0.2), ChatOptions(thinking=Thinking(), temperature=1), {"temperature": 0.2}),
        (
            ChatOptions(temperature=1),
            ChatOptions(thinking=Thinking()),
            {"temperature": 1, "thinking": Thinking()},
        ),
        (
            ChatOptions(model="a"),
            ChatOptions(temperature=0.3, max_tokens=9),
            {"model": "a", "temperature": 0.3, "max_tokens": 9},
        ),
    ],
)
def test_the_higher_layers_sampling_choice_wins(
    cell: ChatOptions, panel: ChatOptions, expected: dict[str, object]
) -> None:
    assert cell.over(panel).explicit() == expected


def test_a_conflict_within_one_layer_is_still_refused() -> None:
    with pytest.raises(OptionsError, match="temperature 1"):
        ChatOptions(thinking=Thinking()).updated(temperature=0.3)


def test_over_takes_unset_fields_from_fallback() -> None:
    merged = ChatOptions(model="a", temperature=0.2).over(ChatOptions(model="b", max_tokens=10))
    assert (merged.model, merged.temperature, merged.max_tokens) == ("a", 0.2, 10)


def test_stop_accepts_a_string_or_list() -> None:
    assert ChatOptions(stop="END").stop == ("END",)  # type: ignore[arg-type]
    assert ChatOptions(stop=["a", "b"]).stop == ("a", "b")  # type: ignore[arg-type]


def test_standard_fields_are_sdk_arguments_and_heroku_fields_go_in_extra_body() -> None:
    options = ChatOptions(
        temperature=1,
        max_tokens=300,
        stop=("END",),
        top_k=40,
        thinking=Thinking(2048, include_reasoning=True),
        reasoning_effort="high",
        allow_ignored_params=True,
        response_format="json_object",
        parallel_tool_calls=False,
        tool_choice="auto",
    )
    args = options.sdk_arguments(MESSAGES, "claude-4-5-sonnet")
    assert args["model"] == "claude-4-5-sonnet"
    assert args["messages"] == MESSAGES
    assert args["temperature"] == 1 and args["max_tokens"] == 300 and args["stop"] == ["END"]
    assert args["reasoning_effort"] == "high"
    assert args["response_format"] == {"type": "json_object"}
    assert args["parallel_tool_calls"] is False and args["tool_choice"] == "auto"
    assert args["stream"] is True and args["stream_options"] == {"include_usage": True}
    assert args["extra_body"] == {
        "extended_thinking": {"enabled": True, "budget_tokens": 2048, "include_reasoning": True},
        "top_k": 40,
        "allow_ignored_params": True,
    }
    assert "top_k" not in args and "extended_thinking" not in args


def test_unset_fields_are_not_sent() -> None:
    args = ChatOptions(stream=False).sdk_arguments(MESSAGES, "m")
    assert set(args) == {"model", "messages"}


def test_parse_effort() -> None:
    assert parse_effort(" HIGH ") == "high"
    with pytest.raises(OptionsError):
        parse_effort("max")
    with pytest.raises(OptionsError, match="got ''"):
        parse_effort("")
