"""ChatOptions: validation of values and Heroku's rejected combinations, and the SDK arguments built."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heroku_magic import ChatOptions, OptionsError, Thinking
from heroku_magic.client import chat_arguments
from heroku_magic.model_rules import RULES, check_request
from heroku_magic.options import parse_effort
from heroku_magic.simulator.errors import ApiError
from heroku_magic.simulator.validation import parse_chat_request
from heroku_magic.tools import as_tool


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
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
        ({"tool_choice": "call it, please"}, "tool_choice must be auto, none, required or a tool's name"),
        ({"tools": (), "tool_choice": "required"}, "tool_choice required needs at least one tool"),
        ({"tools": (), "tool_choice": "get_weather"}, "tool_choice 'get_weather' is not one of the tools"),
        ({"tools": ("no_such_tool_registered",)}, "no tool named 'no_such_tool_registered' is registered"),
        ({"tools": (42,)}, "not a function"),
        ({"max_tool_rounds": -1}, "max_tool_rounds must be at least 0"),
        ({"tool_timeout": 0}, "tool_timeout must be above 0"),
        ({"tool_result_limit": 10}, "tool_result_limit must be at least 100"),
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
        tools=(get_weather,),
        max_tool_rounds=3,
        tool_timeout=5,
    )
    args = chat_arguments(options, MESSAGES, "claude-4-5-sonnet")
    assert args["model"] == "claude-4-5-sonnet"
    assert args["messages"][1:] == MESSAGES  # after JSON mode's instruction
    assert args["temperature"] == 1 and args["max_tokens"] == 300 and args["stop"] == ["END"]
    assert args["reasoning_effort"] == "high"
    assert args["response_format"] == {"type": "json_object"}
    assert args["parallel_tool_calls"] is False and args["tool_choice"] == "auto"
    assert args["tools"] == [as_tool(get_weather).definition()]
    assert "max_tool_rounds" not in args and "tool_timeout" not in args  # the loop's settings, not Heroku's
    assert args["stream"] is True and args["stream_options"] == {"include_usage": True}
    assert args["extra_body"] == {
        "extended_thinking": {"enabled": True, "budget_tokens": 2048, "include_reasoning": True},
        "top_k": 40,
        "allow_ignored_params": True,
    }
    assert "top_k" not in args and "extended_thinking" not in args


def test_unset_fields_are_not_sent() -> None:
    args = chat_arguments(ChatOptions(stream=False), MESSAGES, "m")
    assert set(args) == {"model", "messages"}


def test_a_tool_choice_by_name_is_a_function_choice_and_tool_settings_need_tools() -> None:
    named = chat_arguments(ChatOptions(tools=(get_weather,), tool_choice="get_weather"), MESSAGES, "m")
    assert named["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    # Without tools, Heroku would refuse tool_choice and parallel_tool_calls: they are not sent.
    bare = chat_arguments(ChatOptions(tool_choice="auto", parallel_tool_calls=True), MESSAGES, "m")
    assert "tool_choice" not in bare and "parallel_tool_calls" not in bare and "tools" not in bare


def test_parse_effort() -> None:
    assert parse_effort(" HIGH ") == "high"
    with pytest.raises(OptionsError):
        parse_effort("max")
    with pytest.raises(OptionsError, match="got ''"):
        parse_effort("")


def test_request_fields_reach_the_body_with_the_developer_message_after_the_system_prompt() -> None:
    options = ChatOptions(
        developer="Answer in French.",
        user="user-42",
        metadata={"team": "data"},
        logprobs=True,
        top_logprobs=3,
        max_completion_tokens=200,
        extra_body={"new_heroku_field": {"on": True}, "top_k": 7},
        top_k=3,
    )
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    args = chat_arguments(options, messages, "m")
    assert [m["role"] for m in args["messages"]] == ["system", "developer", "user"]
    assert args["messages"][1]["content"] == "Answer in French." and messages[1]["role"] == "user"
    assert (args["user"], args["metadata"], args["logprobs"], args["top_logprobs"]) == (
        "user-42",
        {"team": "data"},
        True,
        3,
    )
    assert args["max_completion_tokens"] == 200 and "max_tokens" not in args
    # --extra is sent as given, and wins over a field of ours of the same name.
    assert args["extra_body"] == {"top_k": 7, "new_heroku_field": {"on": True}}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_tokens": 10, "max_completion_tokens": 10}, "set one"),
        ({"top_logprobs": 2}, "top_logprobs needs logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "at most 20"),
        ({"developer": " "}, "developer must be non-empty"),
        ({"metadata": {"a": 1}}, "metadata must map text keys to text values"),
    ],
)
def test_request_field_mistakes_are_one_line(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(OptionsError, match=fragment):
        ChatOptions(**kwargs)  # type: ignore[arg-type]


def test_json_mode_also_asks_in_words_and_json_reads_a_fenced_answer() -> None:
    from heroku_magic import ChatResult
    from heroku_magic.client import JSON_INSTRUCTION

    args = chat_arguments(ChatOptions(response_format="json_object"), MESSAGES, "m")
    assert args["messages"][0] == {"role": "developer", "content": JSON_INSTRUCTION}
    assert args["response_format"] == {"type": "json_object"}
    assert ChatResult(text='{"a": 1}').json() == {"a": 1}
    assert ChatResult(text='Here it is:\n```json\n{"a": [1, 2]}\n```\nDone.').json() == {"a": [1, 2]}
    with pytest.raises(ValueError, match="holds no ```json block"):
        ChatResult(text="no JSON here").json()
    with pytest.raises(ValueError, match="fenced JSON block is not valid JSON"):
        ChatResult(text="```json\n{nope\n```").json()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(RULES)),
    st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0])),
    st.one_of(st.none(), st.sampled_from([0.5, 0.9])),
    st.booleans(),
)
def test_the_model_rules_refuse_what_the_simulator_refuses(
    model: str, temperature: float | None, top_p: float | None, thinking: bool
) -> None:
    # Two tables written apart: the client's (model_rules.py) and the simulator's (its catalogue).
    try:
        options = ChatOptions(
            temperature=temperature,
            top_p=top_p,
            thinking=Thinking(2048) if thinking else None,
            max_tokens=4000 if thinking else None,
        )
    except OptionsError:
        return  # refused for every model (thinking with a temperature other than 1, or with top_p)
    args = chat_arguments(options, MESSAGES, model)
    body = {k: v for k, v in args.items() if k != "extra_body"} | dict(args.get("extra_body", {}))
    try:
        check_request(options, model, MESSAGES)
        client_refuses = False
    except OptionsError:
        client_refuses = True
    try:
        parse_chat_request(body)
        server_refuses = False
    except ApiError as exc:
        assert exc.status == 400
        server_refuses = True
    assert client_refuses == server_refuses


def test_images_are_refused_only_for_models_known_to_take_none() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    messages = [{"role": "user", "content": [{"type": "text", "text": "look"}, image]}]
    with pytest.raises(OptionsError, match="claude-3-5-haiku takes no images"):
        check_request(ChatOptions(), "claude-3-5-haiku", messages)
    check_request(ChatOptions(), "claude-4-5-sonnet", messages)
    check_request(ChatOptions(), "nova-pro", messages)  # sources disagree on Nova: Heroku decides
    check_request(ChatOptions(), "a-model-heroku-adds-later", messages)
