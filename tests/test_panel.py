"""The controls panel and %%heroku_explore, driven without a browser against the simulator."""

from __future__ import annotations

import base64
import io
import re
import sys
import time
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from polling import wait_until

import heroku_magic
from heroku_magic import ChatOptions, OptionsError, Thinking
from heroku_magic.explore import ExploreResults, configurations, parse_grid
from heroku_magic.simulator import Simulator


def run(ip: InteractiveShell, source: str) -> Any:
    with capture_output() as captured:
        outcome = ip.run_cell(source)
    outcome.outputs = captured.outputs
    outcome.stdout = captured.stdout
    return outcome


def comparison(outcome: Any) -> str:
    """The HTML of the comparison an exploration leaves (table, answers)."""
    return next(o.data["text/html"] for o in outcome.outputs if "Explored" in o.data.get("text/html", ""))


def chart_outputs(outcome: Any) -> list[dict[str, Any]]:
    """The image outputs of a cell."""
    return [o.data for o in outcome.outputs if "image/png" in o.data]


def chat_bodies(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/v1/chat/completions" and r.body is not None]


def widget(model_id: str) -> Any:
    """A live widget by its model id (what a frontend would look up)."""
    from ipywidgets.widgets.widget import _instances

    return _instances[model_id]


def panel(ip: InteractiveShell) -> Any:
    run(ip, "%heroku_controls")
    return ip.magics_manager.registry["PanelMagics"].panel


# -- %heroku_controls -------------------------------------------------------------------------------


def test_panel_lists_chat_models_with_what_they_support(shell: InteractiveShell) -> None:
    outcome = run(shell, "%heroku_controls")
    assert "application/vnd.jupyter.widget-view+json" in outcome.outputs[0].data
    controls = shell.magics_manager.registry["PanelMagics"].panel
    labels = dict((value, label) for label, value in controls.model.options)
    assert (
        labels[""] == "attachment default (claude-4-5-sonnet)" and controls.model.index == 0
    )  # shown selected
    assert labels["claude-4-5-sonnet"] == "claude-4-5-sonnet · thinking, vision, tools"
    assert labels["claude-3-5-haiku"] == "claude-3-5-haiku · tools"
    assert "cohere-embed-multilingual" not in labels  # chat models only
    assert controls.tools.options == () and "No tools registered" in controls.tools_note.value


def test_changed_controls_are_what_the_next_cell_sends(shell: InteractiveShell, simulator: Simulator) -> None:
    controls = panel(shell)
    controls.model.value = "claude-4-5-haiku"
    controls.sampling.value = "temperature"
    controls.temperature.value = 0.3
    controls.max_tokens.value = 200
    controls.stop.value = ["END"]
    controls.effort.value = "low"
    controls.system.value = "You are terse."
    assert run(shell, "%%heroku_chat\nhello").success
    body = chat_bodies(simulator)[-1]
    assert (body["model"], body["temperature"], body["max_tokens"], body["stop"]) == (
        "claude-4-5-haiku",
        0.3,
        200,
        ["END"],
    )
    assert body["reasoning_effort"] == "low" and body["messages"][0] == {
        "role": "system",
        "content": "You are terse.",
    }
    assert "top_p" not in body
    run(shell, "%%heroku_chat -m nova-pro -t 0.9\nhello")  # options on a cell still win
    assert (chat_bodies(simulator)[-1]["model"], chat_bodies(simulator)[-1]["temperature"]) == (
        "nova-pro",
        0.9,
    )


def test_thinking_sets_temperature_one_and_disables_top_p_with_a_note(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    controls = panel(shell)
    controls.sampling.value = "top_p"
    controls.top_p.value = 0.5
    assert shell.magics_manager.registry["HerokuMagics"].session.defaults.top_p == 0.5
    controls.thinking.value = True
    controls.budget.value = 2048
    assert controls.temperature.value == 1.0 and controls.temperature.disabled and controls.top_p.disabled
    assert controls.sampling.disabled and "temperature 1" in controls.rules_note.value
    defaults = heroku_magic.current_session().defaults
    assert defaults.thinking == Thinking(2048) and defaults.temperature == 1.0 and defaults.top_p is None
    assert run(shell, "%%heroku_chat\nthink").success
    body = chat_bodies(simulator)[-1]
    assert (
        body["extended_thinking"]["budget_tokens"] == 2048
        and body["temperature"] == 1.0
        and "top_p" not in body
    )
    controls.thinking.value = False
    assert not controls.top_p.disabled and controls.rules_note.value == ""
    assert heroku_magic.current_session().defaults.top_p == 0.5


def test_a_model_without_vision_gets_a_note_that_images_are_refused(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    from heroku_magic.model_rules import RULES

    controls = panel(shell)
    for model in [value for _label, value in controls.model.options if value]:
        controls.model.value = model
        said = "takes no images" in controls.rules_note.value
        assert said == (RULES[model].vision is False if model in RULES else False), model
    controls.model.value = "claude-3-5-haiku"
    assert "claude-3-5-haiku takes no images: %%heroku_chat --image is refused with it." in (
        controls.rules_note.value
    )
    shell.user_ns["pic"] = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 20
    outcome = run(shell, "%%heroku_chat --no-widgets --image pic\nWhat is it?")
    assert "claude-3-5-haiku takes no images" in str(outcome.error_in_exec)  # the note tells the truth
    assert chat_bodies(simulator) == []


def test_temperature_and_top_p_are_never_both_active(shell: InteractiveShell) -> None:
    controls = panel(shell)
    for choice in ("temperature", "top_p", "default"):
        controls.sampling.value = choice
        defaults = heroku_magic.current_session().defaults
        assert not (defaults.temperature is not None and defaults.top_p is not None)
        assert controls.temperature.disabled == (choice != "temperature")
        assert controls.top_p.disabled == (choice != "top_p")


def test_displaying_again_shows_the_same_state(shell: InteractiveShell) -> None:
    controls = panel(shell)
    controls.model.value = "claude-4-5-haiku"
    assert panel(shell) is controls and controls.model.value == "claude-4-5-haiku"
    refreshed = panel_refresh(shell)
    assert (
        refreshed is not controls and refreshed.model.value == "claude-4-5-haiku"
    )  # rebuilt from the session


def panel_refresh(ip: InteractiveShell) -> Any:
    run(ip, "%heroku_controls --refresh")
    return ip.magics_manager.registry["PanelMagics"].panel


def test_next_and_last_request_lines(shell: InteractiveShell) -> None:
    controls = panel(shell)
    controls.sampling.value = "temperature"
    controls.temperature.value = 0.4
    assert (
        "model=claude-4-5-sonnet" in controls.next_request.value
        and "temperature=0.4" in controls.next_request.value
    )
    assert "none yet" in controls.last_request.value
    run(shell, "%%heroku_chat -m claude-4-5-haiku\nhi")
    assert (
        "model=claude-4-5-haiku" in controls.last_request.value
        and "temperature=0.4" in controls.last_request.value
    )


def test_conversation_selector_and_reset(shell: InteractiveShell, simulator: Simulator) -> None:
    controls = panel(shell)
    controls.conversation.value = "notes"
    run(shell, "%%heroku_chat\none")
    run(shell, "%%heroku_chat\ntwo")
    session = heroku_magic.current_session()
    assert len(session.conversation("notes")) == 2 and len(session.conversation("default")) == 0
    controls.reset.click()
    assert len(session.conversation("notes")) == 0 and "Cleared notes" in controls.reset_note.value


def test_panel_without_configuration_says_why_the_list_is_missing(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFERENCE_URL")
    controls = panel(shell)
    assert "INFERENCE_URL" in controls.models_note.value


# -- %%heroku_explore -------------------------------------------------------------------------------


def test_parse_grid_types_values() -> None:
    grid = parse_grid(["temperature=0, 0.5", "model=a,b", "thinking=off,2048", "effort=low", "max-tokens=10"])
    assert grid == {
        "temperature": [0.0, 0.5],
        "model": ["a", "b"],
        "thinking": [None, Thinking(2048)],
        "effort": ["low"],
        "max_tokens": [10],
    }
    for bad in ("temperature", "colour=red", "temperature=hot", "thinking=10", "temperature=0,temperature=1"):
        with pytest.raises(OptionsError):
            parse_grid([bad, "temperature=1"] if bad.startswith("temperature=0,") else [bad])


def test_invalid_combinations_carry_herokus_reason() -> None:
    configs = configurations(ChatOptions(temperature=0.5), parse_grid(["thinking=off,1024"]))
    assert configs[0].options is not None and configs[0].problem is None
    assert configs[1].options is None and "temperature 1" in (configs[1].problem or "")
    assert [c.label for c in configs] == ["thinking=off", "thinking=1024"]


def test_explore_runs_every_combination_and_compares(shell: InteractiveShell, simulator: Simulator) -> None:
    outcome = run(
        shell,
        "%%heroku_explore --grid temperature=0,0.5 --grid model=claude-4-5-haiku,claude-4-5-sonnet --out runs\nWrite a haiku.",
    )
    assert outcome.success, outcome.error_in_exec
    sent = sorted((b["model"], b["temperature"]) for b in chat_bodies(simulator))
    assert sent == [
        ("claude-4-5-haiku", 0.0),
        ("claude-4-5-haiku", 0.5),
        ("claude-4-5-sonnet", 0.0),
        ("claude-4-5-sonnet", 0.5),
    ]
    runs = shell.user_ns["runs"]
    assert isinstance(runs, ExploreResults) and len(runs) == 4
    rows = runs.rows()
    assert rows[0]["temperature"] == 0.0 and rows[0]["model"] == "claude-4-5-haiku"
    assert all(
        r["latency_s"] is not None and r["completion_tokens"] and r["finish_reason"] == "stop" for r in rows
    )
    static = comparison(outcome)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", static)
    assert headers == ["settings", "latency", "first token", "tokens", "tok/s", "finish"]
    assert "temperature=0.5, model=claude-4-5-sonnet" in static
    assert len(heroku_magic.current_session().conversation()) == 0  # exploring does not add turns


def test_explore_without_widgets_prints_a_line_as_each_configuration_finishes(
    shell: InteractiveShell,
) -> None:
    outcome = run(shell, "%%heroku_explore --no-widgets --grid temperature=0,1 --grid thinking=off,1024\nhi")
    assert outcome.success
    lines = outcome.stdout.splitlines()
    assert [line.split("]")[0] for line in lines] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert any("temperature=0, thinking=off: " in line and " tokens · stop" in line for line in lines)
    assert any("temperature=0, thinking=1024: error: " in line for line in lines)
    assert "<th>settings</th>" in comparison(outcome)


def test_with_matplotlib_the_chart_is_an_image_with_the_text_chart_as_fallback(
    shell: InteractiveShell,
) -> None:
    image = pytest.importorskip("matplotlib.image")  # optional: the lowest-versions pass has none
    outcome = run(
        shell,
        "%%heroku_explore --grid temperature=0,0.5 --grid model=claude-4-5-haiku,claude-4-5-sonnet --out runs\nhi",
    )
    [chart] = chart_outputs(outcome)
    assert "<pre>latency" not in comparison(outcome)
    assert chart["text/plain"] == shell.user_ns["runs"].chart_text()
    png = image.imread(io.BytesIO(base64.b64decode(chart["image/png"])), format="png")
    assert png.shape[:2] == (300, 900)


def test_without_matplotlib_the_chart_is_text_in_the_comparison(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    outcome = run(shell, "%%heroku_explore --grid temperature=0,1 --out runs\nhi")
    assert outcome.success and not chart_outputs(outcome)
    assert "<pre>latency" in comparison(outcome)


def test_results_turn_into_a_dataframe_when_pandas_is_there(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(shell, "%%heroku_explore --grid temperature=0,1 --out runs\nhi")
    runs = shell.user_ns["runs"]
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas is optional: a clear message without it
    with pytest.raises(ImportError, match="pip install pandas"):
        runs.to_dataframe()
    monkeypatch.undo()
    pandas = pytest.importorskip("pandas")
    frame = runs.to_dataframe()
    assert isinstance(frame, pandas.DataFrame) and list(frame["temperature"]) == [0.0, 1.0]


def test_one_failing_configuration_does_not_stop_the_others(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    outcome = run(
        shell,
        "%%heroku_explore -t 0.5 --grid model=claude-4-5-haiku,no-such-model --grid thinking=off,1024 --out runs\nhi",
    )
    assert outcome.success
    rows = shell.user_ns["runs"].rows()
    by_label = {(r["model"], r["thinking"] is not None): r for r in rows}
    assert (
        by_label[("claude-4-5-haiku", False)]["error"] is None
        and by_label[("claude-4-5-haiku", False)]["text"]
    )
    assert "403" in by_label[("no-such-model", False)]["error"]
    assert "temperature 1" in by_label[("claude-4-5-haiku", True)]["error"]  # refused before sending
    assert len(chat_bodies(simulator)) == 2
    assert "<strong>Failed:</strong>" in comparison(outcome)


def test_a_grid_streams_its_configurations_at_once(shell: InteractiveShell, simulator: Simulator) -> None:
    simulator.config.ttft = 1.0  # every stream stays open a second: the requests overlap if sent together
    run(shell, "%%heroku_chat --no-history\nwarm up")
    assert simulator.peak_streams == 1
    simulator.reset()
    simulator.config.ttft = 1.0
    outcome = run(
        shell, "%%heroku_explore --concurrency 8 --grid max_tokens=11,12,13,14,15,16,17,18 --out runs\nhi"
    )
    assert outcome.success and all(r["error"] is None for r in shell.user_ns["runs"].rows())
    assert simulator.peak_streams == 8  # counted by the server, not timed
    simulator.reset()
    simulator.config.ttft = 1.0
    assert run(shell, "%%heroku_explore --concurrency 3 --grid max_tokens=11,12,13,14,15\nhi").success
    assert simulator.peak_streams == 3  # never more than asked for


def test_explore_with_widgets_streams_into_cards(shell: InteractiveShell) -> None:
    from ipywidgets.widgets.widget import _instances

    from heroku_magic.widgets.display import shared_layout

    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    shared_layout()  # every view's one Layout, opened once for the kernel's lifetime
    widgets_before = len(_instances)
    outcome = run(shell, "%%heroku_explore --grid temperature=0,1 --out runs\nhi")
    assert outcome.success
    shown, static, *_, removed = (o.data for o in outcome.outputs)  # (the chart image, if drawn)
    assert shown["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert static["text/html"].count("<h4>temperature=") == 2
    # Once the comparison is shown the cards leave the cell, and their widgets are closed.
    assert removed == {"text/plain": ""}
    assert len(_instances) == widgets_before


def test_explore_usage_errors(shell: InteractiveShell, simulator: Simulator) -> None:
    for line in (
        "--grid colour=red",
        "--grid temperature",
        "--concurrency 0 --grid temperature=1",
        "--out 1x --grid temperature=1",
    ):
        assert type(run(shell, f"%%heroku_explore {line}\nhi").error_in_exec) is UsageError
    big = ",".join(str(n) for n in range(1, 10))
    assert "at most 64" in str(
        run(shell, f"%%heroku_explore --grid max_tokens={big} --grid top_k={big}\nhi").error_in_exec
    )
    assert not chat_bodies(simulator)


def test_explore_without_grid_shows_a_picker_with_a_run_button(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    shell.run_line_magic("config", "HerokuMagics.widgets = True")
    outcome = run(shell, "%%heroku_explore --out picked\nhi")
    assert outcome.success and not chat_bodies(simulator)
    from ipywidgets import Button, Text

    picker = widget(outcome.outputs[0].data["application/vnd.jupyter.widget-view+json"]["model_id"])
    temperature = next(c for c in picker.children if isinstance(c, Text) and c.description == "temperature")
    temperature.value = "0, 1"
    next(c for c in picker.children if isinstance(c, Button)).click()
    assert sorted(b["temperature"] for b in chat_bodies(simulator)) == [0.0, 1.0]
    assert len(shell.user_ns["picked"]) == 2


def test_interrupting_explore_closes_every_stream_and_keeps_what_finished(
    shell: InteractiveShell, simulator: Simulator, sigint_raises: None
) -> None:
    import os
    import signal
    import threading

    simulator.config.interval = 0.02  # words:3000 streams for a minute; max_tokens=3 ends at once

    def interrupt_when_streaming() -> None:
        # Three requests sent, the short one finished, two still streaming.
        wait_until(lambda: len(chat_bodies(simulator)) == 3 and simulator.active_streams == 2)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # what the kernel does on "interrupt"

    threading.Thread(target=interrupt_when_streaming).start()
    outcome = run(
        shell,
        "%%heroku_explore --grid max_tokens=3,4000,5000 --concurrency 3 --out runs\nwords:3000",
    )
    assert isinstance(outcome.error_in_exec, KeyboardInterrupt)
    assert str(outcome.error_in_exec) == (
        "the grid was stopped: 1 of 3 configurations had finished, shown above; --out runs keeps them"
    )
    assert wait_until(lambda: not simulator.active_streams)  # every connection was closed, none drained
    # What had finished is kept and shown: nothing is lost to the interrupt.
    runs = shell.user_ns["runs"]
    assert [o.error for o in runs] == [None, "interrupted", "interrupted"]
    assert runs[0].result is not None and runs[0].result.finish_reason == "length"
    shown = comparison(outcome)
    assert "<h4>max_tokens=3</h4>" in shown and shown.count("interrupted") >= 2
    assert sum(total.requests for total in heroku_magic.current_session().usage.values()) == 1  # counted


def test_slider_values_are_sent_as_shown(shell: InteractiveShell) -> None:
    controls = panel(shell)
    controls.sampling.value = "top_p"
    controls.top_p.value = 0.9000000000000001  # what a browser sends back for the 0.90 step
    assert heroku_magic.current_session().defaults.top_p == 0.9


def test_a_cells_thinking_wins_over_the_panels_temperature(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    controls = panel(shell)
    controls.sampling.value = "temperature"
    controls.temperature.value = 0.3
    assert run(shell, "%%heroku_chat --thinking\nhi").success  # not a conflict: the cell chose
    body = chat_bodies(simulator)[-1]
    assert "extended_thinking" in body and "temperature" not in body
    assert run(shell, "%%heroku_chat --top-p 0.5\nhi").success
    assert chat_bodies(simulator)[-1]["top_p"] == 0.5 and "temperature" not in chat_bodies(simulator)[-1]


def test_a_huge_grid_is_refused_before_any_configuration_is_built(
    shell: InteractiveShell, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import heroku_magic.explore

    built: list[object] = []
    monkeypatch.setattr(heroku_magic.explore, "configurations", lambda *a: built.append(a) or [])
    values = ",".join(str(n) for n in range(1, 1001))
    topks = ",".join(str(n) for n in range(1, 101))
    outcome = run(shell, f"%%heroku_explore --grid max_tokens={values} --grid top_k={topks}\nhi")
    assert type(outcome.error_in_exec) is UsageError
    assert str(outcome.error_in_exec) == "the grid has 100000 configurations; at most 64 run at once"
    assert built == [] and not simulator.requests


@pytest.mark.parametrize("spec", ["temperature=0,nan", "top_p=inf", "temperature=2"])
def test_a_grid_value_no_request_may_carry_is_one_usage_line(
    shell: InteractiveShell, simulator: Simulator, spec: str
) -> None:
    outcome = run(shell, f"%%heroku_explore --grid {spec}\nhi")
    assert type(outcome.error_in_exec) is UsageError
    assert str(outcome.error_in_exec).startswith(f"--grid {spec.split('=')[0]}: ")
    assert not simulator.requests and not outcome.outputs


def test_the_controls_panel_does_not_load_the_live_chat_view() -> None:
    import subprocess

    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\nip.run_line_magic('load_ext', 'heroku_magic')\n"
        "ip.run_line_magic('config', 'HerokuMagics.widgets = True')\n"
        "ip.run_line_magic('heroku_controls', '')\n"
        "print(sorted(m for m in sys.modules if m == 'anywidget' or m == 'heroku_magic.widgets.live'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
