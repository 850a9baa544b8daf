"""Tools from the notebook: --tools and its settings, --confirm, %heroku_tools, the panel, the saved output."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import html5lib
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from test_magics import Run

from heroku_magic import ChatResult
from heroku_magic.simulator import Simulator

TOOLS = '''
import heroku_magic
calls = []

@heroku_magic.tool
def get_weather(city: str) -> dict:
    """Current weather for a city.

    Args:
        city: The city's name.
    """
    calls.append(city)
    return {"city": city, "temp": 21}

def get_time(zone: str) -> str:
    """The time in a time zone."""
    return f"12:00 in {zone}"
'''


def chat_bodies(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/v1/chat/completions" and r.body is not None]


@pytest.fixture
def tools_shell(shell: InteractiveShell) -> InteractiveShell:
    assert Run(shell, TOOLS).error is None
    return shell


def visible(html: str) -> str:
    """What a browser shows of ``html`` (html5lib's parse), whitespace collapsed."""
    return " ".join("".join(html5lib.parseFragment(html, namespaceHTMLElements=False).itertext()).split())


def test_a_notebook_function_runs_as_a_tool_and_the_output_lists_the_steps(
    tools_shell: InteractiveShell, simulator: Simulator
) -> None:
    run = Run(tools_shell, "%%heroku_chat --tools get_time --out r\nWhat time is it? get_time zone=UTC")
    assert run.error is None
    result: ChatResult = tools_shell.user_ns["r"]
    assert result.model_calls == 2 and result.tool_results[0].content == "12:00 in UTC"
    assert "get_time returned: 12:00 in UTC" in result.text
    shown = visible(run.html)
    assert "🔧 get_time → 12:00 in UTC" in shown and "get_time returned" in shown and "2 model calls" in shown
    steps = run.metadata["steps"]
    assert [s["finish_reason"] for s in steps] == ["tool_calls", "stop"]
    assert steps[0]["tool_calls"][0]["name"] == "get_time" and steps[0]["usage"]["completion_tokens"] > 0


def test_tools_all_offers_every_registered_tool_and_unknown_names_are_refused(
    tools_shell: InteractiveShell, simulator: Simulator
) -> None:
    assert Run(tools_shell, "%%heroku_chat --tools all\nget_weather city=Oslo").error is None
    assert [t["function"]["name"] for t in chat_bodies(simulator)[0]["tools"]] == ["get_weather"]
    assert tools_shell.user_ns["calls"] == ["Oslo"]
    run = Run(tools_shell, "%%heroku_chat --tools get_wether\nhi")
    assert isinstance(run.error, UsageError) and "get_wether" in str(run.error)
    assert "get_weather" in str(run.error)  # the registered names, to pick from
    run = Run(tools_shell, "%%heroku_chat --tools get_weather --tool-choice get_time\nhi")
    assert isinstance(run.error, UsageError) and "not one of the tools offered" in str(run.error)


def test_tool_settings_reach_the_request(tools_shell: InteractiveShell, simulator: Simulator) -> None:
    source = "%%heroku_chat --tools get_weather,get_time --tool-choice get_time --no-parallel-tools\nhi"
    assert Run(tools_shell, source).error is None
    first = chat_bodies(simulator)[0]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert first["parallel_tool_calls"] is False


def test_the_round_limit_is_said_in_the_output(tools_shell: InteractiveShell, simulator: Simulator) -> None:
    run = Run(tools_shell, "%%heroku_chat --tools get_weather --max-tool-rounds 1\nget_weather 3 rounds")
    assert run.error is None and "Stopped: the model asked for tools after 1 round " in visible(run.html)
    assert len(chat_bodies(simulator)) == 2


def test_the_panels_tools_are_the_default_and_a_redefined_tool_is_the_one_that_runs(
    tools_shell: InteractiveShell, simulator: Simulator
) -> None:
    assert Run(tools_shell, "%heroku_controls").error is None
    panel = tools_shell.magics_manager.registry["PanelMagics"].panel
    assert [value for _, value in panel.tools.options] == ["get_weather"]
    assert "Current weather for a city." in panel.tools.options[0][0]
    panel.tools.value = ("get_weather",)
    redefined = TOOLS.replace('"temp": 21', '"temp": 5')
    assert Run(tools_shell, redefined).error is None  # the cell that defines the tool, run again
    run = Run(tools_shell, "%%heroku_chat --out r\nget_weather city=Rome")
    assert run.error is None and json.loads(tools_shell.user_ns["r"].tool_results[0].content)["temp"] == 5
    assert Run(tools_shell, "%%heroku_chat --tools none\nget_weather city=Rome").error is None
    assert "tools" not in chat_bodies(simulator)[-1]


@pytest.mark.parametrize(("answer", "ran"), [("y", ["Paris"]), ("n", [])])
def test_confirm_without_widgets_asks_on_the_input_line(
    tools_shell: InteractiveShell,
    simulator: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    ran: list[str],
) -> None:
    asked: list[str] = []

    def fake_input(prompt: str) -> str:
        asked.append(prompt)
        return answer

    monkeypatch.setattr("builtins.input", fake_input)
    run = Run(tools_shell, "%%heroku_chat --tools get_weather --confirm --out r\nget_weather city=Paris")
    assert run.error is None and asked == ['Run tool get_weather({"city": "Paris"})? [y/N] ']
    assert tools_shell.user_ns["calls"] == ran
    [outcome] = tools_shell.user_ns["r"].tool_results
    assert outcome.is_error is (answer == "n")


def test_heroku_tools_lists_names_descriptions_and_schemas(tools_shell: InteractiveShell) -> None:
    run = Run(tools_shell, "%heroku_tools")
    text = run.outputs[0].data["text/plain"]
    assert "### `get_weather`" in text and "Current weather for a city." in text
    assert '"city": {' in text and "The city's name." in text
    assert "get_time" not in text  # a plain function is a tool only when a cell names it


def test_heroku_tools_without_tools_says_how_to_make_one(shell: InteractiveShell) -> None:
    assert "@heroku_magic.tool" in Run(shell, "%heroku_tools").outputs[0].data["text/plain"]


def test_history_shows_the_exchange_and_exports_messages(
    tools_shell: InteractiveShell, simulator: Simulator, tmp_path: Path
) -> None:
    assert Run(tools_shell, "%%heroku_chat --tools get_weather\nget_weather city=Lima").error is None
    history = Run(tools_shell, "%heroku_history")
    assert "🔧 get_weather →" in visible(history.html)
    target = tmp_path / "chat.json"
    assert Run(tools_shell, f"%heroku_history --export {target}").error is None
    roles = [m["role"] for m in json.loads(target.read_text())]
    assert roles == ["user", "assistant", "tool", "assistant"]


def test_a_tool_turn_with_live_widgets_leaves_no_widget_and_no_thread(
    tools_shell: InteractiveShell, simulator: Simulator
) -> None:
    import gc

    from heroku_magic.widgets.live import ChatView

    tools_shell.run_line_magic("config", "HerokuMagics.widgets = True")
    Run(tools_shell, "%%heroku_chat --tools get_weather\nwarm up")  # first use loads what it needs
    gc.collect()
    views = len([o for o in gc.get_objects() if isinstance(o, ChatView)])
    threads = threading.active_count()
    run = Run(tools_shell, "%%heroku_chat --tools get_weather\nget_weather city=Paris 2 rounds")
    assert run.error is None and tools_shell.user_ns["calls"] == ["Paris", "Paris"]
    gc.collect()
    assert len([o for o in gc.get_objects() if isinstance(o, ChatView)]) == views
    assert threading.active_count() == threads


def test_a_long_result_is_cut_to_the_configured_limit(
    tools_shell: InteractiveShell, simulator: Simulator
) -> None:
    tools_shell.run_line_magic("config", "HerokuMagics.tool_result_limit = 500")
    assert Run(tools_shell, "def long_text() -> str:\n    return 'x' * 10_000").error is None
    assert Run(tools_shell, "%%heroku_chat --tools long_text --out r\nlong_text").error is None
    [outcome] = tools_shell.user_ns["r"].tool_results
    assert (
        outcome.content.startswith("x" * 500) and "10,000" in outcome.content and len(outcome.content) < 700
    )


def test_step_metadata_pairs_each_call_with_its_own_result() -> None:
    from heroku_magic.events import ChatResult, Step, ToolCall, ToolResult
    from heroku_magic.render.static import result_metadata

    calls = (ToolCall("a", "first", "{}"), ToolCall("b", "second", "{}"))
    # The turn stopped before "a" was answered: "b"'s result must not be reported as "a"'s.
    steps = (
        Step(ChatResult(tool_calls=calls), (ToolResult("b", "second", "ok", duration=0.5),)),
        Step(ChatResult()),
    )
    [first, _] = result_metadata(ChatResult(steps=steps))["steps"]
    assert first["tool_calls"] == [
        {"name": "first", "is_error": None, "duration": None},
        {"name": "second", "is_error": False, "duration": 0.5},
    ]
