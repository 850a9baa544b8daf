"""The rest of Heroku's request surface from the notebook, and the session's usage total."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from test_magics import Run

from heroku_magic.simulator import Simulator


def chat_bodies(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/v1/chat/completions" and r.body is not None]


def test_hide_reasoning_thinks_without_the_trace(shell: InteractiveShell, simulator: Simulator) -> None:
    assert Run(shell, "%%heroku_chat --thinking 2048 --hide-reasoning --out r\nWhy?").error is None
    body = chat_bodies(simulator)[-1]
    assert body["extended_thinking"] == {"enabled": True, "budget_tokens": 2048, "include_reasoning": False}
    assert shell.user_ns["r"].reasoning == ""
    run = Run(shell, "%%heroku_chat --hide-reasoning\nWhy?")
    assert isinstance(run.error, UsageError) and "needs --thinking" in str(run.error)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("--extra '[1, 2]'", "--extra must be a JSON object"),
        ("--extra '{nope'", "--extra must be a JSON object"),
        ("--metadata team", "--metadata takes KEY=VALUE"),
        ("--max-tokens 5 --max-completion-tokens 5", "set one"),
    ],
)
def test_request_field_mistakes_are_refused_before_sending(
    shell: InteractiveShell, simulator: Simulator, line: str, fragment: str
) -> None:
    run = Run(shell, f"%%heroku_chat {line}\nhi")
    assert isinstance(run.error, UsageError) and fragment in str(run.error)
    assert chat_bodies(simulator) == []


def test_extra_fields_are_sent_as_given(shell: InteractiveShell, simulator: Simulator) -> None:
    run = Run(shell, '%%heroku_chat --extra \'{"allow_ignored_params": true, "brand_new": 1}\'\nhi')
    assert run.error is None
    assert chat_bodies(simulator)[-1]["brand_new"] == 1


def test_heroku_usage_totals_requests_and_tokens_by_model(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    assert "No requests yet" in Run(shell, "%heroku_usage").outputs[0].data["text/plain"]
    assert Run(shell, "%%heroku_chat --out a\nhello").error is None
    assert Run(shell, "%%heroku_chat -m claude-4-5-haiku --out b\nhello again").error is None
    text = Run(shell, "%heroku_usage").outputs[0].data["text/plain"]
    a, b = shell.user_ns["a"].usage, shell.user_ns["b"].usage
    assert f"| `claude-4-5-sonnet` | 1 | {a.prompt_tokens:,} | {a.completion_tokens:,} |" in text
    assert f"| `claude-4-5-haiku` | 1 | {b.prompt_tokens:,} | {b.completion_tokens:,} |" in text
    assert f"| **total** | 2 | {a.prompt_tokens + b.prompt_tokens:,} |" in text
    Run(shell, "%heroku_usage --reset")
    assert "No requests yet" in Run(shell, "%heroku_usage").outputs[0].data["text/plain"]


def test_the_panel_sets_json_mode_and_allow_ignored_params(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    assert Run(shell, "%heroku_controls").error is None
    panel = shell.magics_manager.registry["PanelMagics"].panel
    panel.json_mode.value = True
    panel.allow_ignored.value = True
    assert Run(shell, "%%heroku_chat\nhi").error is None
    body = chat_bodies(simulator)[-1]
    assert body["response_format"] == {"type": "json_object"} and body["allow_ignored_params"] is True
    panel.json_mode.value = False
    assert Run(shell, "%%heroku_chat\nhi").error is None
    assert "response_format" not in chat_bodies(simulator)[-1]


# -- every option of %%heroku_chat, read back from the simulator's request log ----------------------

GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20
WEATHER = '''
import heroku_magic

@heroku_magic.tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "sunny"
'''


def _developer(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "developer"]


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body["tools"]]


# Option (argparse dest) -> (the cell's line, what the request body shows, what Heroku's field holds).
# The simulator refuses fields and values Heroku refuses, so a request it accepted is one Heroku takes.
ON_THE_WIRE: dict[str, tuple[str, Any, Any]] = {
    "model": ("-m claude-4-sonnet", lambda b: b["model"], "claude-4-sonnet"),
    "system": ("-s 'Be brief.'", lambda b: b["messages"][0], {"role": "system", "content": "Be brief."}),
    "temperature": ("-t 0.3", lambda b: b["temperature"], 0.3),
    "top_p": ("--top-p 0.5", lambda b: b["top_p"], 0.5),
    "top_k": ("--top-k 5", lambda b: b["top_k"], 5),
    "max_tokens": ("--max-tokens 77", lambda b: b["max_tokens"], 77),
    "stop": ("--stop END --stop STOP", lambda b: b["stop"], ["END", "STOP"]),
    "thinking": ("--thinking 2048", lambda b: b["extended_thinking"]["budget_tokens"], 2048),
    "effort": ("--effort low", lambda b: b["reasoning_effort"], "low"),
    "json": ("--json", lambda b: b["response_format"], {"type": "json_object"}),
    "allow_ignored_params": ("--allow-ignored-params", lambda b: b["allow_ignored_params"], True),
    "developer": ("--developer 'In French.'", _developer, [{"role": "developer", "content": "In French."}]),
    "user": ("--user analyst-7", lambda b: b["user"], "analyst-7"),
    "metadata": ("--metadata team=data --metadata run=3", lambda b: b["metadata"], {"team": "data", "run": "3"}),
    "logprobs": ("--logprobs 3", lambda b: (b["logprobs"], b["top_logprobs"]), (True, 3)),
    "max_completion_tokens": ("--max-completion-tokens 50", lambda b: b["max_completion_tokens"], 50),
    "hide_reasoning": (
        "--thinking 1024 --hide-reasoning",
        lambda b: b["extended_thinking"]["include_reasoning"],
        False,
    ),
    "extra": ("--extra '{\"seed\": 7}'", lambda b: b["seed"], 7),
    "no_stream": ("--no-stream", lambda b: b.get("stream", False), False),  # absent: not streamed
    "tools": ("--tools get_weather", _tool_names, ["get_weather"]),
    "tool_choice": ("--tools get_weather --tool-choice none", lambda b: b["tool_choice"], "none"),
    "parallel_tools": ("--tools get_weather --no-parallel-tools", lambda b: b["parallel_tool_calls"], False),
    "image": ("--image pic", lambda b: [p["type"] for p in b["messages"][-1]["content"]], ["text", "image_url"]),
    "image_url_as_is": (
        "--image http://127.0.0.1:9/cat.png --image-url-as-is",
        lambda b: b["messages"][-1]["content"][-1]["image_url"]["url"],
        "http://127.0.0.1:9/cat.png",  # refused by the simulator (Bedrock takes base64 only), but sent
    ),
}  # fmt: skip

# Options that shape the turn in the notebook, not the request body.
NOT_IN_THE_BODY = {
    "conversation", "new", "no_history", "out", "format", "interpolate",  # notebook side
    "max_tool_rounds", "tool_timeout", "confirm",  # the tool loop, run here
    "addon", "timeout", "retries", "no_widgets",  # which attachment, the transport, the display
}  # fmt: skip


def test_every_option_of_the_chat_magic_is_either_on_the_wire_or_named_as_not() -> None:
    from heroku_magic.magics.chat import HerokuMagics

    dests = {action.dest for action in HerokuMagics.heroku_chat.parser._actions}
    assert dests == set(ON_THE_WIRE) | NOT_IN_THE_BODY
    assert not set(ON_THE_WIRE) & NOT_IN_THE_BODY


@pytest.mark.parametrize("dest", sorted(ON_THE_WIRE))
def test_each_option_reaches_the_wire(shell: InteractiveShell, simulator: Simulator, dest: str) -> None:
    line, read, expected = ON_THE_WIRE[dest]
    shell.run_cell(WEATHER)
    shell.user_ns["pic"] = GIF
    run = Run(shell, f"%%heroku_chat --no-widgets {line}\nWhat is the weather in Paris?")
    bodies = chat_bodies(simulator)
    assert bodies, run.error
    assert read(bodies[0]) == expected
    if dest != "image_url_as_is":
        assert run.error is None  # the simulator, which refuses what Heroku refuses, took it
