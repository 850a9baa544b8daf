"""The magics in an in-process IPython shell (fresh per test) against the simulator over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import heroku_magic
from heroku_magic import APIError, ChatResult
from heroku_magic.ratelimit import DEFAULT_CONCURRENCY
from heroku_magic.simulator import Simulator


class Run:
    """The outcome of one cell: success, error, stdout and the displayed outputs."""

    def __init__(self, ip: InteractiveShell, source: str, cell_id: str | None = None) -> None:
        with capture_output() as captured:
            result = ip.run_cell(source, cell_id=cell_id)
        self.error = result.error_in_exec or result.error_before_exec
        self.stdout = captured.stdout
        self.outputs = captured.outputs

    @property
    def html(self) -> str:
        return "\n".join(o.data.get("text/html", "") for o in self.outputs)

    @property
    def metadata(self) -> dict[str, Any]:
        return next(
            o.metadata["heroku_magic"] for o in self.outputs if o.metadata and "heroku_magic" in o.metadata
        )


def body(sim: Simulator) -> dict[str, Any]:
    last = sim.last_request
    assert last is not None
    return last


def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["HerokuMagics"]


# What %load_ext must not load: the first cell that needs them does (the benchmark times the rest).
LOADED_ON_FIRST_USE = (
    "openai", "httpx", "ipywidgets", "anywidget", "matplotlib", "markdown_it", "mdit_py_plugins", "nh3",
    "pygments",
    "urllib.request", "http.client", "hmac", "email.utils", "concurrent.futures.thread",
    "heroku_magic.client", "heroku_magic.conversation", "heroku_magic.adapter", "heroku_magic.render",
    "heroku_magic.widgets", "heroku_magic.result", "heroku_magic.events", "heroku_magic.respond",
    "heroku_magic.explore", "heroku_magic.turn", "heroku_magic.tools", "heroku_magic.tool_runner",
    "pydantic", "docstring_parser", "heroku_magic.widgets.wait",
)  # fmt: skip


def test_load_ext_registers_magics_and_loads_only_what_registering_needs() -> None:
    code = (
        "import json, sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\nip.run_line_magic('pwd', '')\nbefore = set(sys.modules)\n"
        "ip.run_line_magic('load_ext', 'heroku_magic')\n"
        "assert 'heroku_chat' in ip.magics_manager.magics['cell']\n"
        "assert {'heroku_history', 'heroku_reset', 'heroku_models'} <= set(ip.magics_manager.magics['line'])\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert "heroku_magic.magics.chat" in loaded
    assert [m for m in loaded if m.startswith(LOADED_ON_FIRST_USE)] == []


def test_every_public_name_resolves_though_the_package_loads_them_on_first_use() -> None:
    code = (
        "import heroku_magic as h, json; print(json.dumps({n: getattr(h, n).__module__ for n in h.__all__}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    homes = json.loads(out.stdout)
    assert homes["Conversation"] == "heroku_magic.conversation" and homes["Usage"] == "heroku_magic.events"
    assert set(homes) == set(heroku_magic.__all__)


def test_extension_loads_through_interactive_shell_app_extensions(tmp_path: Path) -> None:
    code = "print(get_ipython().find_cell_magic('heroku_chat') is not None, get_ipython().magics_manager.registry['HerokuMagics'].model)"
    command = [
        sys.executable,
        "-m",
        "IPython",
        "--no-banner",
        f"--ipython-dir={tmp_path}",
        "--InteractiveShellApp.extensions=['heroku_magic']",
        "--HerokuMagics.model=claude-4-5-haiku",
        "-c",
        code,
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith("True claude-4-5-haiku"), out.stdout + out.stderr


def test_help_is_the_argument_parser(shell: InteractiveShell) -> None:
    doc = shell.object_inspect_text("%%heroku_chat")  # what %%heroku_chat? shows
    for option in (
        "--model",
        "--thinking",
        "--effort",
        "--json",
        "--conversation",
        "--no-history",
        "--out",
        "--format",
        "--interpolate",
        "--addon",
    ):
        assert option in doc
    assert "%%heroku_chat --model claude-4-5-sonnet --thinking 2048" in doc  # examples


def test_answer_streams_and_static_result_stays(shell: InteractiveShell, simulator: Simulator) -> None:
    run = Run(shell, "%%heroku_chat\nWhat is a GIL?")
    assert run.error is None
    assert 'Thoughts on "What is a GIL?"' in run.stdout or "What is a GIL?" in run.stdout
    assert '<pre class="hm-code"><code><span class="k">def</span>' in run.html  # highlighted Python
    assert "```" not in run.html and "claude-4-5-sonnet" in run.html
    meta = run.metadata
    assert meta["model"] == "claude-4-5-sonnet" and meta["usage"]["completion_tokens"] > 0
    assert meta["request_id"] and meta["total_time"] > 0
    sent = body(simulator)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": "user", "content": "What is a GIL?\n"}]  # the body IPython passes


def test_cell_text_is_sent_verbatim(shell: InteractiveShell, simulator: Simulator) -> None:
    cell = "  Keep {braces} and $dollars$ and trailing spaces  \n\nsecond line\n"
    assert Run(shell, "%%heroku_chat\n" + cell).error is None
    assert body(simulator)["messages"][-1]["content"] == cell


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("-m claude-4-5-haiku", {"model": "claude-4-5-haiku"}),
        ("--model nova-pro -t 0.3", {"model": "nova-pro", "temperature": 0.3}),
        ("--top-p 0.8 --top-k 20", {"top_p": 0.8, "top_k": 20}),
        ("--max-tokens 50", {"max_tokens": 50}),
        ("--stop END --stop STOP", {"stop": ["END", "STOP"]}),
        (
            "--thinking",
            {"extended_thinking": {"enabled": True, "budget_tokens": 1024, "include_reasoning": True}},
        ),
        (
            "--thinking 2048 -t 1",
            {
                "extended_thinking": {"enabled": True, "budget_tokens": 2048, "include_reasoning": True},
                "temperature": 1,
            },
        ),
        ("--effort high", {"reasoning_effort": "high"}),
        ("--json", {"response_format": {"type": "json_object"}}),
        ("--allow-ignored-params", {"allow_ignored_params": True}),
    ],
)
def test_options_reach_the_request(
    shell: InteractiveShell, simulator: Simulator, line: str, expected: dict[str, Any]
) -> None:
    run = Run(shell, f"%%heroku_chat {line}\nhello")
    assert run.error is None, run.error
    sent = body(simulator)
    for key, value in expected.items():
        assert sent[key] == value


def test_system_prompt_is_sent_and_kept(shell: InteractiveShell, simulator: Simulator) -> None:
    Run(shell, '%%heroku_chat -s "You are terse."\nhi')
    Run(shell, "%%heroku_chat\nagain")
    assert body(simulator)["messages"][0] == {"role": "system", "content": "You are terse."}


def test_no_stream(shell: InteractiveShell, simulator: Simulator) -> None:
    run = Run(shell, "%%heroku_chat --no-stream\nhello")
    assert run.error is None and "stream" not in body(simulator)
    assert "hello" in run.html


def test_json_result_is_parsed(shell: InteractiveShell) -> None:
    assert Run(shell, "%%heroku_chat --json --out r\nGive me JSON").error is None
    assert isinstance(shell.user_ns["r"].json(), dict)


def test_out_stores_the_result(shell: InteractiveShell) -> None:
    Run(shell, "%%heroku_chat --out answer\nhello")
    result = shell.user_ns["answer"]
    assert isinstance(result, ChatResult) and result.text and result.usage


def test_nothing_is_written_to_the_namespace_unless_asked(shell: InteractiveShell) -> None:
    before = set(shell.user_ns)
    Run(shell, "%%heroku_chat\nhello")
    assert set(shell.user_ns) - before <= {
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_i1",
        "_1",
        "_oh",
        "_dh",
    } | {k for k in shell.user_ns if k.startswith("_i") or k.startswith("_")}


def test_interpolation_is_opt_in(shell: InteractiveShell, simulator: Simulator) -> None:
    shell.user_ns["city"] = "Paris"
    Run(shell, "%%heroku_chat\nWeather in {city}?")
    assert body(simulator)["messages"][-1]["content"] == "Weather in {city}?\n"
    Run(shell, "%%heroku_chat -i\nWeather in {city}? {{literal}}")
    assert body(simulator)["messages"][-1]["content"] == "Weather in Paris? {literal}\n"
    run = Run(shell, "%%heroku_chat -i\n{nowhere}")
    assert type(run.error) is UsageError and "nowhere" in str(run.error)


def test_format_code_puts_the_first_code_block_in_a_new_cell(shell: InteractiveShell) -> None:
    run = Run(shell, "%%heroku_chat -f code\necho: Here:\n```python\nprint('hi')\n```\n")
    assert run.error is None
    assert shell.rl_next_input == "print('hi')"  # a kernel turns this into a new cell below


def test_format_text_shows_plain_text(shell: InteractiveShell) -> None:
    run = Run(shell, "%%heroku_chat -f text\necho: **not bold**")
    assert "<pre>**not bold**\n</pre>" in run.html


def test_conversation_continues_across_cells(shell: InteractiveShell, simulator: Simulator) -> None:
    Run(shell, "%%heroku_chat\nfirst")
    Run(shell, "%%heroku_chat\nsecond")
    roles = [m["role"] for m in body(simulator)["messages"]]
    assert roles == ["user", "assistant", "user"]


def test_rerunning_a_cell_replaces_its_turn(shell: InteractiveShell, simulator: Simulator) -> None:
    Run(shell, "%%heroku_chat\nfirst", cell_id="cell-a")
    Run(shell, "%%heroku_chat\nfirst, edited", cell_id="cell-a")
    assert body(simulator)["messages"] == [{"role": "user", "content": "first, edited\n"}]
    conversation = magics(shell).session.conversation()
    assert [t.content for t in conversation.turns] == ["first, edited\n"]


def test_named_conversations_new_and_no_history(shell: InteractiveShell, simulator: Simulator) -> None:
    Run(shell, "%%heroku_chat -c a\none")
    Run(shell, "%%heroku_chat -c b\nother")
    assert len(body(simulator)["messages"]) == 1
    Run(shell, "%%heroku_chat -c a\ntwo")
    assert len(body(simulator)["messages"]) == 3
    Run(shell, "%%heroku_chat -c a --no-history\nside question")
    assert len(body(simulator)["messages"]) == 1
    session = magics(shell).session
    assert len(session.conversation("a")) == 2
    Run(shell, "%%heroku_chat -c a --new\nfresh")
    assert len(body(simulator)["messages"]) == 1 and len(session.conversation("a")) == 1


def test_addon_prefix_selects_another_attachment(
    shell: InteractiveShell, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFERENCE_CYAN_URL", simulator.url)
    monkeypatch.setenv("INFERENCE_CYAN_KEY", simulator.key)
    monkeypatch.setenv("INFERENCE_CYAN_MODEL_ID", "claude-4-5-haiku")
    assert Run(shell, "%%heroku_chat --addon INFERENCE_CYAN\nhi").error is None
    assert body(simulator)["model"] == "claude-4-5-haiku"
    run = Run(shell, "%%heroku_chat --addon INFERENCE_MAROON\nhi")
    assert type(run.error) is UsageError and "INFERENCE_MAROON_URL" in str(run.error)


def test_config_defaults_and_option_precedence(shell: InteractiveShell, simulator: Simulator) -> None:
    shell.run_line_magic("config", "HerokuMagics.model = 'nova-lite'")
    shell.run_line_magic("config", "HerokuMagics.temperature = 0.2")
    Run(shell, "%%heroku_chat\nhi")
    assert (body(simulator)["model"], body(simulator)["temperature"]) == ("nova-lite", 0.2)
    Run(
        shell, "%%heroku_chat -m claude-4-5-haiku --thinking\nhi"
    )  # the cell's thinking drops the config temperature
    assert body(simulator)["model"] == "claude-4-5-haiku" and "temperature" not in body(simulator)


def test_missing_model_names_where_one_comes_from(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFERENCE_MODEL_ID")
    run = Run(shell, "%%heroku_chat\nhi")
    assert type(run.error) is UsageError
    assert "--model" in str(run.error) and "INFERENCE_MODEL_ID" in str(run.error)


def test_missing_configuration_is_one_usage_line(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFERENCE_URL")
    run = Run(shell, "%%heroku_chat\nhi")
    assert type(run.error) is UsageError and "INFERENCE_URL" in str(run.error)


@pytest.mark.parametrize(
    "line",
    [
        "--temperature 0.5 --top-p 0.5",
        "--thinking 512",
        "--thinking -t 0.5",
        "--effort extreme",
        "-t hot",
        "--out 1x",
        "--format pdf",
        "--bogus",
        "-t nan",
        "-t inf",
        "--top-p nan",
        "--timeout nan",
        "--timeout inf",
        "--effort ''",
    ],
)
def test_bad_options_raise_usage_error_itself(
    shell: InteractiveShell, simulator: Simulator, line: str
) -> None:
    run = Run(shell, f"%%heroku_chat {line}\nhi")
    assert type(run.error) is UsageError
    assert not simulator.requests  # nothing was sent


def test_empty_cell_is_a_usage_error(shell: InteractiveShell) -> None:
    assert type(Run(shell, "%%heroku_chat\n   \n").error) is UsageError


def test_api_error_fails_the_cell_with_one_line(shell: InteractiveShell, simulator: Simulator) -> None:
    simulator.inject("server_error", status=503, message="Model overloaded")
    run = Run(shell, "%%heroku_chat --retries 0\nhi")
    assert isinstance(run.error, APIError)
    assert "503" in str(run.error) and "Model overloaded" in str(run.error) and "request id" in str(run.error)
    assert run.error._render_traceback_() == [f"APIError: {run.error}"]
    assert run.outputs == []  # nothing arrived: the error line alone says it (not twice)
    assert len(magics(shell).session.conversation()) == 0


def test_forbidden_model(shell: InteractiveShell) -> None:
    run = Run(shell, "%%heroku_chat -m no-such-model\nhi")
    assert (
        isinstance(run.error, APIError)
        and "403" in str(run.error)
        and "access to that model" in str(run.error)
    )


def test_retries_use_the_sdk_backoff(shell: InteractiveShell, simulator: Simulator) -> None:
    simulator.inject("rate_limit", times=1, retry_after="0")
    assert Run(shell, "%%heroku_chat --retries 1\nhi").error is None
    assert len([r for r in simulator.requests if r.path == "/v1/chat/completions"]) == 2
    simulator.inject("rate_limit", times=1, retry_after="0")
    run = Run(shell, "%%heroku_chat --retries 0\nhi")
    assert (
        isinstance(run.error, APIError) and "429" in str(run.error) and "rate limit resets" in str(run.error)
    )


def test_history_show_and_export(shell: InteractiveShell, tmp_path: Path) -> None:
    Run(shell, "%%heroku_chat --thinking\necho: <b>hello</b>")
    run = Run(shell, "%heroku_history")
    assert "&lt;b&gt;hello" in run.html and "<b>hello" not in run.html
    assert "<details><summary>Reasoning</summary>" in run.html  # our own markup stays markup
    target = tmp_path / "chat.json"
    Run(shell, f"%heroku_history --export {target}")
    assert json.loads(target.read_text())[-1] == {"role": "assistant", "content": "<b>hello</b>\n"}
    Run(shell, f"%heroku_history default --export {tmp_path / 'chat.md'}")
    assert "## 1. User" in (tmp_path / "chat.md").read_text()
    assert type(Run(shell, "%heroku_history nope").error) is UsageError


def test_reset(shell: InteractiveShell) -> None:
    Run(shell, "%%heroku_chat\nhi")
    Run(shell, "%%heroku_chat -c other\nhi")
    assert "Cleared: default" in Run(shell, "%heroku_reset").stdout
    session = magics(shell).session
    assert len(session.conversation()) == 0 and len(session.conversation("other")) == 1
    Run(shell, "%heroku_reset --all")
    assert len(session.conversation("other")) == 0


def test_models_lists_the_catalogue(shell: InteractiveShell, simulator: Simulator) -> None:
    run = Run(shell, "%heroku_models")
    assert (
        "<td><code>claude-4-5-sonnet</code></td>\n<td>text-to-text</td>\n<td>thinking, vision, tools</td>"
        in run.html
    )
    assert "<td><code>claude-3-5-haiku</code></td>\n<td>text-to-text</td>\n<td>tools</td>" in run.html
    assert "✓" in run.html
    assert "cohere-embed-multilingual" not in run.html
    assert "cohere-embed-multilingual" in Run(shell, "%heroku_models --all").html
    catalogue = [r for r in simulator.requests if r.path == "/available-models"][-1]
    assert "authorization" not in {k.lower() for k in catalogue.headers}


def test_raw_html_from_the_model_is_neutralized(shell: InteractiveShell) -> None:
    run = Run(
        shell,
        '%%heroku_chat\necho: Hi <script>window.pwned=1</script> <img src=x onerror="window.pwned=1">\n\n- *list*',
    )
    assert "<script>" not in run.html and "<img" not in run.html
    assert "&lt;script&gt;" in run.html and "<li><em>list</em></li>" in run.html


@pytest.mark.parametrize(
    ("middle", "problem"),
    [("\n", "a line break"), (" ", "whitespace"), ("\u00e9", "a non-ASCII character")],
)
def test_a_key_no_header_can_carry_is_one_line_that_never_shows_it(
    shell: InteractiveShell, simulator: Simulator, monkeypatch: pytest.MonkeyPatch, middle: str, problem: str
) -> None:
    key = "inf-leakcheck-" + middle + "0123456789-tail"
    monkeypatch.setenv("INFERENCE_KEY", key)
    run = Run(shell, "%%heroku_chat\nhi")
    assert type(run.error) is UsageError
    assert str(run.error).startswith(f"INFERENCE_KEY contains {problem} (character 15 of 30)")
    shown = str(run.error) + run.stdout + repr([o.data for o in run.outputs])
    assert "leakcheck" not in shown and "0123456789" not in shown
    assert not simulator.requests


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("timeout = -5", "timeout must be above 0, got -5; it stays 600.0"),
        ("timeout = float('nan')", "timeout must be a finite number, got nan; it stays 600.0"),
        ("timeout = float('inf')", "timeout must be a finite number, got inf; it stays 600.0"),
        ("max_retries = -1", "max_retries must be at least 0, got -1; it stays 2"),
        ("max_tokens = -3", "max_tokens must be at least 1, got -3; it stays None"),
        ("temperature = 1.5", "temperature must be from 0 to 1, got 1.5; it stays None"),
        ("paint_interval = -1", "paint_interval must be a finite number of seconds, 0 or more, got -1.0"),
        ("paint_interval = float('nan')", "paint_interval must be a finite number of seconds, 0 or more"),
        ("model = ''", "model must be a non-empty model id, got ''; it stays None"),
        ("tool_result_limit = 5", "tool_result_limit must be at least 100, got 5; it stays None"),
        ("attachment = 'my add-on'", "'my add-on' is not an add-on attachment name"),
        ("attachment = ''", "'' is not an add-on attachment name"),
    ],
)
def test_config_refuses_what_a_request_would_refuse_and_keeps_the_value(
    shell: InteractiveShell,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
    statement: str,
    reason: str,
) -> None:
    chat = magics(shell)
    name = statement.split(" =")[0]
    before = getattr(chat, name)
    shell.run_line_magic("config", f"HerokuMagics.{statement}")
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]  # what %config prints: one line
    assert record.getMessage().startswith(f"HerokuMagics.{name}: {reason}")
    assert getattr(chat, name) == before
    with pytest.raises(UsageError) as info:  # setting it from Python says the same
        setattr(chat, name, shell.ev(statement.split("= ", 1)[1]))
    assert type(info.value) is UsageError and getattr(chat, name) == before
    assert Run(shell, "%%heroku_chat\nhi").error is None  # the next cell still works


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("{tmp}/no/such/dir/chat.md", "No such file or directory"),
        ("/proc/chat.json", "No such file or directory"),
        ("{tmp}", "Is a directory"),
    ],
)
def test_history_export_failures_are_one_line_naming_the_path(
    shell: InteractiveShell, simulator: Simulator, tmp_path: Path, target: str, reason: str
) -> None:
    Run(shell, "%%heroku_chat\nhi")
    path = target.format(tmp=tmp_path)
    run = Run(shell, f"%heroku_history --export {path}")
    assert type(run.error) is UsageError
    assert str(run.error) == f"--export: cannot write {path}: {reason}"
    assert len(magics(shell).session.conversation()) == 1 and len(simulator.requests) == 1


def test_reset_of_an_unknown_conversation_names_the_known_ones(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    assert Run(shell, "%heroku_reset").stdout == "Nothing to clear.\n"  # fine on a fresh kernel
    Run(shell, "%%heroku_chat -c notes\nhi")
    run = Run(shell, "%heroku_reset nosuch")
    assert type(run.error) is UsageError
    assert str(run.error) == "No conversation named 'nosuch' (conversations: notes)"
    run = Run(shell, "%heroku_reset notes --all")
    assert type(run.error) is UsageError and "not both" in str(run.error)
    assert len(magics(shell).session.conversation("notes")) == 1
    assert len(simulator.requests) == 1


def test_an_interrupt_before_the_first_token_says_nothing_was_kept(
    shell: InteractiveShell, simulator: Simulator, sigint_raises: None
) -> None:
    import os
    import signal
    import threading

    from polling import wait_until

    Run(shell, "%%heroku_chat\nfirst", cell_id="cell-a")
    session = magics(shell).session
    turns = list(session.conversation().turns)
    simulator.config.ttft = 30.0

    def interrupt_while_waiting() -> None:
        wait_until(lambda: simulator.active_streams)
        os.kill(os.getpid(), signal.SIGINT)  # what a kernel interrupt does (it also wakes a blocked read)

    timer = threading.Thread(target=interrupt_while_waiting)
    timer.start()
    run = Run(shell, "%%heroku_chat\nfirst, edited", cell_id="cell-a")
    timer.join()
    assert isinstance(run.error, KeyboardInterrupt)
    assert run.error._render_traceback_() == [
        "Interrupted: the response was stopped: nothing had arrived; conversation 'default' is unchanged"
    ]
    assert session.conversation().turns == turns and session.conversation().turns[0] is turns[0]
    assert wait_until(lambda: not simulator.active_streams)


@pytest.mark.parametrize(
    ("cell", "flag"),
    [
        ("%%heroku_chat -c ''\nhi", "--conversation"),
        ("%%heroku_chat --addon ' '\nhi", "--addon"),
        ("%%heroku_explore --addon '' --grid temperature=0,1\nhi", "--addon"),
    ],
)
def test_an_empty_name_is_refused_not_replaced_by_the_default(
    shell: InteractiveShell, simulator: Simulator, cell: str, flag: str
) -> None:
    run = Run(shell, cell)
    assert type(run.error) is UsageError and str(run.error) == f"{flag} needs a name, got an empty one"
    assert not simulator.requests
    assert magics(shell).session.conversations == {}


def test_config_refuses_a_concurrency_below_one(shell: InteractiveShell) -> None:
    panel = shell.magics_manager.registry["PanelMagics"]
    shell.run_line_magic("config", "PanelMagics.concurrency = 0")
    assert panel.concurrency == DEFAULT_CONCURRENCY
    shell.run_line_magic("config", "PanelMagics.concurrency = 3")
    assert panel.concurrency == 3
