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
