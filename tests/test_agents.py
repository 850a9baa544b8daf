"""Heroku's agents endpoint: the client, the recorded Dev Center stream, and %%heroku_agent, over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from test_magics import Run

from heroku_magic import APIError, ChatOptions, Conversation, Done, Error, Notice, OptionsError, Settings
from heroku_magic.agents import AgentTool, AgentTools, unwrapped
from heroku_magic.client import AgentClient, HerokuClient
from heroku_magic.simulator import Simulator

MODEL = "claude-4-5-sonnet"
RECORDED = Path(__file__).parent / "fixtures" / "agents-devcenter.sse"


def agent(sim: Simulator, *tools: AgentTool, app: str | None = "my-app", **params: Any) -> Conversation:
    chat = HerokuClient(Settings(url=sim.url, key=sim.key, model_id=MODEL), max_retries=2)
    return Conversation(client=AgentClient(chat, AgentTools(tools=tools, app=app, **params)))


def agent_bodies(sim: Simulator) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests if r.path == "/v1/agents/heroku" and r.body is not None]


class Recorded(BaseHTTPRequestHandler):
    """Serves the recorded stream byte for byte, and keeps the request body."""

    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        Recorded.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        payload = RECORDED.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", "req-recorded")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorded() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_recorded_dev_center_stream_parses_into_its_steps(recorded: str) -> None:
    # An independent check on the parser: Heroku's own example, not the simulator written beside it.
    chat = HerokuClient(Settings(url=recorded, key="inf-recorded-key-1234", model_id=MODEL))
    conversation = Conversation(client=AgentClient(chat, AgentTools(tools=(AgentTool("mcp-python", "mcp"),))))
    result = conversation.send("What is the SHA256 of Heroku?")
    first, final = result.steps
    [call] = first.response.tool_calls
    assert (call.id, call.name) == ("tooluse_GDSgVgflTByFOnL_ZbCrhQ", "mcp-python/code_exec_python")
    assert json.loads(call.arguments)["code"].startswith("import hashlib")
    assert first.response.text.startswith("I'll use the Python code execution tool")
    [outcome] = first.tool_results
    assert outcome.content.startswith("Tool 'mcp-python/code_exec_python' returned result: ")  # raw, kept
    assert not outcome.is_error and json.loads(unwrapped(outcome.content))["returncode"] == 0
    assert final.response.text.startswith('The SHA256 hash of "Heroku" is')
    assert result.text == final.response.text and result.request_id == "req-recorded"
    assert result.usage is not None and result.usage.prompt_tokens == 629 + 947
    assert Recorded.bodies[-1]["tools"] == [{"type": "mcp", "name": "mcp-python"}]
    # The next agent turn replays the run as the messages it produced.
    conversation.send("Thanks")
    assert [m["role"] for m in Recorded.bodies[-1]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert Recorded.bodies[-1]["messages"][2]["content"] == outcome.content


def test_an_agent_run_streams_its_tool_call_and_result(simulator: Simulator) -> None:
    chat = agent(simulator, AgentTool("code_exec_python"), dyno_size="performance-m", max_calls=2)
    events = list(chat.stream("Compute it with code_exec_python code=print(2+2)", ChatOptions()))
    assert isinstance(events[-1], Done)
    result = events[-1].result
    assert result.model_calls == 2 and result.tool_calls[0].name == "code_exec_python"
    assert "code_exec_python returned" in result.text and not result.tool_results[0].is_error
    [body] = agent_bodies(simulator)
    assert body["tools"] == [
        {
            "type": "heroku_tool",
            "name": "code_exec_python",
            "runtime_params": {"target_app_name": "my-app", "dyno_size": "performance-m", "max_calls": 2},
        }
    ]


def test_settings_the_endpoint_does_not_take_are_left_out_with_a_notice(simulator: Simulator) -> None:
    chat = agent(simulator, AgentTool("code_exec_python"))
    events = list(chat.stream("hello", ChatOptions(top_k=5, max_tokens=500, temperature=0.5)))
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "top_k" in notices[0]
    body = agent_bodies(simulator)[-1]
    assert (
        "top_k" not in body and body["max_tokens_per_inference_request"] == 500 and body["temperature"] == 0.5
    )
    assert isinstance(events[-1], Done) and events[-1].result.notices == tuple(notices)


def test_mcp_tools_come_back_namespaced_and_a_namespace_offers_them(simulator: Simulator) -> None:
    chat = agent(simulator, AgentTool("mcp-brave", "mcp"), app=None)
    result = chat.send("Search with brave_web_search query=heroku")
    assert result.tool_calls[0].name == "mcp-brave/brave_web_search"
    chat.send("More, with brave_web_search query=dynos")  # replays the first run as it was
    assert [m["role"] for m in agent_bodies(simulator)[-1]["messages"]][:3] == ["user", "assistant", "tool"]


def test_a_heroku_tool_without_an_app_is_refused_before_sending() -> None:
    with pytest.raises(OptionsError, match="--app"):
        AgentTools(tools=(AgentTool("dyno_run_command"),))


def test_an_agent_turn_replays_to_chat_as_text(simulator: Simulator) -> None:
    settings = Settings(url=simulator.url, key=simulator.key, model_id=MODEL)
    chat = HerokuClient(settings)
    conversation = Conversation(client=AgentClient(chat, AgentTools(tools=(AgentTool("mcp-brave", "mcp"),))))
    conversation.send("brave_web_search query=heroku")
    events = list(conversation.stream("Summarize", client=chat))  # the same conversation, through chat
    assert isinstance(events[-1], Done)
    sent = [r.body for r in simulator.requests if r.path == "/v1/chat/completions"][-1]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert "mcp-brave/brave_web_search" in sent["messages"][1]["content"]


def test_a_run_cut_off_after_a_tool_result_is_an_error_keeping_the_steps(simulator: Simulator) -> None:
    # tool.completion carries finish_reason "": a stream that ends after one is cut off, not finished.
    chat = agent(simulator, AgentTool("code_exec_python"))
    simulator.inject("clean_close", after_chunks=2)
    events = list(chat.stream("code_exec_python code=print(1)"))
    assert isinstance(events[-1], Error) and "before its final answer" in str(events[-1].error)
    [turn] = chat.turns  # the tool really ran on Heroku: the step is kept, marked failed
    assert turn.result.error and turn.result.tool_results[0].tool_call_id == turn.result.tool_calls[0].id


def test_an_error_event_mid_run_ends_it_with_one_line(simulator: Simulator) -> None:
    chat = agent(simulator, AgentTool("code_exec_python"))
    simulator.inject("in_band_error", after_chunks=1)
    events = list(chat.stream("code_exec_python code=print(1)"))
    assert isinstance(events[-1], Error) and isinstance(events[-1].error, APIError)
    assert events[-1].error.request_id


def test_a_rate_limited_run_is_sent_again_but_a_failed_one_is_not(simulator: Simulator) -> None:
    chat = agent(simulator, AgentTool("code_exec_python"))
    simulator.inject("rate_limit", times=1)
    assert isinstance(list(chat.stream("code_exec_python code=1"))[-1], Done)
    assert len(agent_bodies(simulator)) == 2  # the 429 came before the run: sent again
    simulator.inject("server_error", times=1)
    events = list(chat.stream("code_exec_python code=2"))
    assert isinstance(events[-1], Error) and "500" in str(events[-1].error)
    assert len(agent_bodies(simulator)) == 3  # a run that may have started is never sent twice


# -- the magic ---------------------------------------------------------------------------------------


def test_heroku_agent_runs_a_cell_and_keeps_the_run(shell: InteractiveShell, simulator: Simulator) -> None:
    run = Run(
        shell,
        "%%heroku_agent --tool dyno_run_command --app my-app --tool-param cmd=ls --out r\nList files with dyno_run_command",
    )
    assert run.error is None
    result = shell.user_ns["r"]
    assert result.model_calls == 2 and "dyno_run_command" in run.html
    body = agent_bodies(simulator)[-1]
    assert body["tools"][0]["runtime_params"]["tool_params"] == {"cmd": "ls"}


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("--tool dyno_run_command", "--app"),
        ("--tool pg_psql --app a --ttl 500", "ttl must be 1 to 120"),
        ("--tool pg_psql --app a --tool-param nonsense", "KEY=VALUE"),
        ("--tool pg_psql --app a --tool-param other.cmd=x", "'other' is not a tool of this cell"),
    ],
)
def test_heroku_agent_refuses_bad_options_before_sending(
    shell: InteractiveShell, simulator: Simulator, line: str, fragment: str
) -> None:
    run = Run(shell, f"%%heroku_agent {line}\nhi")
    assert isinstance(run.error, UsageError) and fragment in str(run.error)
    assert agent_bodies(simulator) == []


def test_heroku_tools_lists_heroku_tools_and_mcp_servers(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    text = Run(shell, "%heroku_tools").outputs[0].data["text/plain"]
    assert "`code_exec_python`" in text and "`dyno_run_command`" in text
    assert "`mcp-brave`" in text and "disconnected" in text


def test_a_request_heroku_refuses_is_one_line_with_status_message_and_request_id(
    shell: InteractiveShell, simulator: Simulator
) -> None:
    run = Run(shell, "%%heroku_agent --tool pg_psql --app my-app --max-tokens 100000\nhi")
    assert isinstance(run.error, APIError) and run.error.status == 400
    assert "max_tokens_per_inference_request" in str(run.error) and run.error.request_id
    assert "".join(run.error._render_traceback_()).count("\n") == 0  # one line, no traceback
