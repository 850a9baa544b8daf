"""The simulator's agents endpoint (``POST /v1/agents/heroku``) and ``GET /v1/mcp/servers``, over real HTTP."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from polling import wait_until

from heroku_magic.simulator import Simulator

MODEL = "claude-4-5-sonnet"
AGENTS = "/v1/agents/heroku"
MCP = "/v1/mcp/servers"
APP = "my-app"
ENVELOPE = re.compile(r"^Tool '(?P<name>[^']+)' returned result: (?P<json>.*)$", re.DOTALL)


@dataclass
class Raw:
    """A raw HTTP response."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(sim: Simulator, method: str, path: str, body: Any = None, key: str | None = "default") -> Raw:
    """One raw request, read whole; ``key="default"`` sends the simulator's key, None sends none."""
    headers = {} if key is None else {"Authorization": f"Bearer {sim.key if key == 'default' else key}"}
    with httpx.Client(trust_env=False, timeout=10) as client:
        response = client.request(method, sim.url + path, json=body, headers=headers)
        return Raw(response.status_code, response.headers, response.content)


def heroku(name: str, **runtime: Any) -> dict[str, Any]:
    """A Heroku tool on the test app."""
    return {"type": "heroku_tool", "name": name, "runtime_params": {"target_app_name": APP, **runtime}}


def mcp(name: str) -> dict[str, Any]:
    """An MCP tool (or server)."""
    return {"type": "mcp", "name": name}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def agent(
    sim: Simulator,
    prompt: str | list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Raw:
    """An agents request with a prompt (or a whole message list) and tools."""
    messages = [user(prompt)] if isinstance(prompt, str) else prompt
    body: dict[str, Any] = {"model": MODEL, "messages": messages, **fields}
    if tools is not None:
        body["tools"] = tools
    return request(sim, "POST", AGENTS, body)


def events(body: bytes) -> list[tuple[str, Any]]:
    """(event name, parsed data) of each SSE event, checking the framing exactly."""
    assert body.endswith(b"\n\n")
    parsed = []
    for block in body.decode().split("\n\n")[:-1]:
        event, data = block.split("\n")
        assert event.startswith("event:") and data.startswith("data:")
        payload = data.removeprefix("data:")
        parsed.append((event.removeprefix("event:"), payload if payload == "[DONE]" else json.loads(payload)))
    return parsed


def objects(raw: Raw) -> list[dict[str, Any]]:
    """The objects of a complete, successful agents stream (``done`` checked and dropped)."""
    assert raw.status == 200, raw.body
    parsed = events(raw.body)
    assert parsed[-1] == ("done", "[DONE]")
    assert all(name == "message" for name, _ in parsed[:-1])
    return [data for _, data in parsed[:-1]]


def message(item: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = item["choices"][0]["message"]
    return message


def results(items: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """(name, text, isError) of each tool.completion, unwrapping the MCP envelope."""
    found = []
    for item in items:
        if item["object"] != "tool.completion":
            continue
        content = message(item)["content"]
        match = ENVELOPE.match(content)
        assert match, content
        envelope = json.loads(match.group("json"))
        assert match.group("name") == message(item)["name"]
        assert set(envelope) == {"content", "isError"} and envelope["content"][0]["type"] == "text"
        found.append((match.group("name"), envelope["content"][0]["text"], envelope["isError"]))
    return found


def answer(items: list[dict[str, Any]]) -> str:
    """The final answer's text."""
    assert (
        items[-1]["object"] == "chat.completion" and items[-1]["choices"][0]["finish_reason"] != "tool_calls"
    )
    text: str = message(items[-1])["content"]
    return text


def assert_error(raw: Raw, status: int, fragment: str) -> None:
    """A Heroku error body of that status containing ``fragment``."""
    assert raw.status == status, raw.body
    error = raw.json()["error"]
    assert set(error) == {"code", "message", "type"} and error["code"] == status
    assert fragment in error["message"], error["message"]


# -- framing -----------------------------------------------------------------------------------


def test_framing_is_exactly_herokus(simulator: Simulator) -> None:
    raw = agent(simulator, 'dyno_run_command cmd="echo hi"', [heroku("dyno_run_command")])
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.body.startswith(b'event:message\ndata:{"id":"chatcmpl-')
    assert raw.body.endswith(b"}\n\nevent:done\ndata:[DONE]\n\n")
    assert b"data: " not in raw.body and b"event: " not in raw.body
    items = objects(raw)
    assert [item["object"] for item in items] == ["chat.completion", "tool.completion", "chat.completion"]
    assert len({item["id"] for item in items}) == 1
    step, result, final = items
    assert list(step) == ["id", "object", "created", "model", "system_fingerprint", "choices", "usage"]
    assert step["model"] == MODEL and step["choices"][0]["finish_reason"] == "tool_calls"
    call = message(step)["tool_calls"][0]
    assert call["id"].startswith("tooluse_") and len(call["id"]) == 30
    assert call["function"] == {"name": "dyno_run_command", "arguments": '{"cmd": "echo hi"}'}
    assert message(step)["content"] and message(step)["refusal"] is None
    assert "model" not in result and result["usage"] == {} and result["choices"][0]["finish_reason"] == ""
    assert message(result)["role"] == "tool" and message(result)["tool_call_id"] == call["id"]
    assert final["choices"][0]["finish_reason"] == "stop" and "tool_calls" not in message(final)
    usage = final["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_the_sdk_reads_the_stream(simulator: Simulator) -> None:
    client = openai.OpenAI(base_url=simulator.url + "/v1", api_key=simulator.key, max_retries=0)
    body = {"model": MODEL, "messages": [user("use a tool")], "tools": [heroku("pg_psql")]}
    stream = client.post(
        "/agents/heroku", body=body, cast_to=object, stream=True, stream_cls=openai.Stream[object]
    )
    with stream:
        kinds = [item["object"] for item in stream]  # type: ignore[index]
    assert kinds == ["chat.completion", "tool.completion", "chat.completion"]


def test_without_tools_the_answer_is_the_chat_simulators(simulator: Simulator) -> None:
    items = objects(agent(simulator, "echo: *verbatim*"))
    assert len(items) == 1 and answer(items) == "*verbatim*"
    assert answer(objects(agent(simulator, "hello there", [heroku("pg_psql")]))).startswith("### ")


# -- validation ---------------------------------------------------------------------------------


def test_auth_and_model_are_checked_like_chat(simulator: Simulator) -> None:
    body = {"model": MODEL, "messages": [user("hi")]}
    assert_error(request(simulator, "POST", AGENTS, body, key=None), 401, "Invalid API key provided")
    assert_error(request(simulator, "POST", AGENTS, body, key="inf-wrong"), 401, "Invalid API key")
    for model in ("claude-9", "cohere-embed-multilingual"):
        assert_error(agent(simulator, "hi", model=model), 403, "you do not have access to that model")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"messages": None}, "'messages' field is required"),
        ({"messages": []}, "'messages' must be a non-empty list"),
        ({"stream": True}, "unrecognized parameter(s) 'stream'"),
        ({"extended_thinking": {"enabled": True}}, "'extended_thinking'"),
        ({"top_k": 5}, "'top_k'"),
        ({"reasoning_effort": "low"}, "'reasoning_effort'"),
        ({"tool_choice": "auto"}, "'tool_choice'"),
        ({"response_format": {"type": "json_object"}}, "'response_format'"),
        ({"allow_ignored_params": True}, "'allow_ignored_params'"),
        ({"temperature": 0.5, "top_p": 0.5}, "cannot both be specified"),
        ({"temperature": 1.5}, "temperature"),
        ({"stop": 3}, "'stop'"),
        ({"max_tokens_per_inference_request": 8193}, "must be at most 8192 for model 'claude-4-5-sonnet'"),
        ({"max_tokens_per_inference_request": 4097, "model": "claude-4-5-haiku"}, "at most 4096"),
        ({"max_tokens_per_inference_request": 0}, "must be a positive integer"),
        ({"tools": {"name": "pg_psql"}}, "'tools' must be a list"),
        ({"tools": ["pg_psql"]}, "tools[0] must be an object"),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            "type must be one of heroku_tool, mcp",
        ),
        ({"tools": [{"type": "mcp"}]}, "tools[0].name is required"),
        ({"tools": [{"type": "mcp", "name": "x", "function": {}}]}, "unrecognized field(s) function"),
        ({"tools": [{"type": "heroku_tool", "name": "pg_psql"}]}, "target_app_name is required"),
        ({"tools": [heroku("pg_psql"), heroku("pg_psql")]}, "tool names must be unique: pg_psql"),
        ({"tools": [heroku("pg_psql", ttl_seconds=121)]}, "ttl_seconds must be at most 120"),
        ({"tools": [heroku("pg_psql", ttl_seconds=0)]}, "ttl_seconds' must be a positive integer"),
        ({"tools": [heroku("pg_psql", max_calls=0)]}, "max_calls' must be a positive integer"),
        ({"tools": [heroku("pg_psql", timeout=5)]}, "runtime_params: unrecognized field(s) timeout"),
        ({"tools": [heroku("pg_psql", tool_params={"db_attachment": 1})]}, "db_attachment must be a string"),
        ({"tools": [heroku("pg_psql", tool_params=[])]}, "tool_params must be an object"),
        ({"tools": [heroku("pg_psql", target_app_name="")]}, "target_app_name must be a non-empty string"),
    ],
)
def test_validation_errors_are_400(simulator: Simulator, fields: dict[str, Any], fragment: str) -> None:
    body = {"model": MODEL, "messages": [user("hi")], **fields}
    body = {name: value for name, value in body.items() if value is not None}
    raw = request(simulator, "POST", AGENTS, body)
    assert_error(raw, 400, fragment)
    assert raw.json()["error"]["type"] == "invalid_request_error"


def test_accepted_fields_and_limits(simulator: Simulator) -> None:
    tools = [heroku("pg_psql", ttl_seconds=120, max_calls=1, dyno_size="performance-m"), mcp("mcp-brave")]
    fields = {"temperature": 0.2, "stop": ["zzz"], "max_tokens_per_inference_request": 8192}
    assert agent(simulator, "hi", tools, **fields).status == 200
    assert (
        agent(simulator, "hi", max_tokens_per_inference_request=4096, model="claude-4-5-haiku").status == 200
    )
    assert agent(simulator, "hi", [heroku("tool_heroku_added_last_week")]).status == 200


def test_max_tokens_and_stop_cut_the_final_answer(simulator: Simulator) -> None:
    final = objects(agent(simulator, "words:50", max_tokens_per_inference_request=5))[-1]
    assert message(final)["content"] == "w1 w2 w3 w4 w5" and final["choices"][0]["finish_reason"] == "length"
    final = objects(agent(simulator, "pg_psql", [heroku("pg_psql")], stop=["(3 rows)"]))[-1]
    assert "pg_psql returned:" in message(final)["content"] and "(3 rows)" not in message(final)["content"]


# -- tools ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "fence"), [("python", "python"), ("ruby", "ruby"), ("node", "javascript"), ("go", "go")]
)
def test_code_exec_hashes_the_code_and_runs_nothing(simulator: Simulator, tool: str, fence: str) -> None:
    code = 'import os\nos.remove("/etc/passwd")\nprint(1)'
    prompt = f"code_exec_{tool} packages=numpy,pandas please:\n```{fence}\n{code}\n```"
    items = objects(agent(simulator, prompt, [heroku(f"code_exec_{tool}")]))
    call = message(items[0])["tool_calls"][0]["function"]
    assert json.loads(call["arguments"]) == {"code": code, "packages": ["numpy", "pandas"]}
    [(name, text, failed)] = results(items)
    digest = hashlib.sha256(code.encode()).hexdigest()[:12]
    assert (name, failed) == (f"code_exec_{tool}", False)
    assert json.loads(text) == {
        "returncode": 0,
        "stdout": "installed (simulated): numpy, pandas\n"
        f"simulated {tool} run of 3 line(s), sha256:{digest} (nothing was executed)\n",
        "stderr": "",
    }
    assert f"code_exec_{tool} returned:" in answer(items)


def dyno(simulator: Simulator, cmd: str, **runtime: Any) -> tuple[dict[str, Any], bool]:
    """The parsed result of one dyno_run_command call."""
    [(_, text, failed)] = results(
        objects(agent(simulator, f"dyno_run_command cmd={cmd!r}", [heroku("dyno_run_command", **runtime)]))
    )
    result: dict[str, Any] = json.loads(text)
    return result, failed


def test_dyno_run_command(simulator: Simulator) -> None:
    result, failed = dyno(simulator, "echo hello && date", dyno_size="performance-l")
    assert not failed and result["stdout"] == "hello\nThu May 29 17:52:18 UTC 2025\n"
    assert set(result) == {"app", "dyno", "dyno_size", "command", "returncode", "stdout", "stderr"}
    assert (result["app"], result["dyno_size"], result["returncode"]) == (APP, "performance-l", 0)
    assert re.fullmatch(r"run\.\d{4}", result["dyno"]) and result["command"] == "echo hello && date"
    result, _ = dyno(simulator, "rake db:report")
    assert result["stdout"] == f"simulated output of `rake db:report` on {APP}\n"
    assert result["dyno_size"] == "standard-1x"
    assert dyno(simulator, "ls")[0]["stdout"] == "Procfile\nREADME.md\napp.py\nrequirements.txt\n"
    result, failed = dyno(simulator, "exit 3")
    assert failed and result["returncode"] == 3
    result, failed = dyno(simulator, "sleep 60", ttl_seconds=30)
    assert failed and result["returncode"] == 124 and "timed out after 30 seconds" in result["stderr"]
    assert not dyno(simulator, "sleep 60")[1]


def test_dyno_command_comes_from_tool_params_unless_the_prompt_gives_one(simulator: Simulator) -> None:
    tool = heroku("dyno_run_command", tool_params={"cmd": "echo from-params", "description": "d"})
    items = objects(agent(simulator, "use a tool", [tool]))
    assert json.loads(results(items)[0][1])["stdout"] == "from-params\n"


def test_pg_psql_reads_but_refuses_writes(simulator: Simulator) -> None:
    tools = [heroku("pg_psql", tool_params={"db_attachment": "DATABASE"})]
    [(_, table, failed)] = results(objects(agent(simulator, "pg_psql query='SELECT * FROM items'", tools)))
    assert not failed and table.splitlines()[0] == " id | name  | price" and table.endswith("(3 rows)\n")
    items = objects(agent(simulator, "pg_psql\n```sql\nINSERT INTO items VALUES (4)\n```", tools))
    assert results(items) == [("pg_psql", "ERROR:  cannot execute INSERT in a read-only transaction", True)]
    assert "pg_psql failed: ERROR: cannot execute INSERT" in answer(items)
    [(_, text, failed)] = results(objects(agent(simulator, "pg_psql query=frobnicate", tools)))
    assert failed and text == 'ERROR:  syntax error at or near "FROBNICATE"'


def test_other_heroku_tools(simulator: Simulator) -> None:
    tools = [
        heroku(name) for name in ("doc_reader", "pg_vector_query", "postgres_get_schema", "pdf_to_markdown")
    ]
    prompt = "doc_reader https://example.org/a.pdf then pg_vector_query query=cats, postgres_get_schema, pdf_to_markdown"
    found = results(objects(agent(simulator, prompt, tools)))
    assert [name for name, _, _ in found] == [
        "doc_reader",
        "pg_vector_query",
        "postgres_get_schema",
        "pdf_to_markdown",
    ]
    assert "does not fetch https://example.org/a.pdf" in found[0][1]
    assert [match["id"] for match in json.loads(found[1][1])["matches"]] == [1, 2, 3]
    assert 'Table "public.items"' in found[2][1]
    assert not any(failed for _, _, failed in found)


def test_unknown_tool_is_not_found_and_the_answer_reports_it(simulator: Simulator) -> None:
    items = objects(agent(simulator, "brand_new_tool 3 rounds", [heroku("brand_new_tool")]))
    assert results(items) == [("brand_new_tool", "Tool 'brand_new_tool' not found", True)]  # not called again
    assert answer(items).startswith("brand_new_tool failed: Tool 'brand_new_tool' not found")


def test_use_a_tool_calls_the_first_and_named_tools_run_in_parallel(simulator: Simulator) -> None:
    tools = [heroku("pg_psql"), heroku("dyno_run_command")]
    assert [name for name, _, _ in results(objects(agent(simulator, "please use a tool", tools)))] == [
        "pg_psql"
    ]
    items = objects(agent(simulator, "dyno_run_command then pg_psql", tools))
    assert [c["function"]["name"] for c in message(items[0])["tool_calls"]] == ["dyno_run_command", "pg_psql"]
    assert message(items[0])["content"] == "I'll use the dyno_run_command and pg_psql tools."
    assert [item["object"] for item in items].count("tool.completion") == 2


# -- MCP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("offered", ["mcp-brave/brave_web_search", "brave_web_search", "mcp-brave"])
def test_mcp_tools_come_back_namespaced(simulator: Simulator, offered: str) -> None:
    items = objects(agent(simulator, "brave_web_search query=heroku count=2", [mcp(offered)]))
    assert message(items[0])["tool_calls"][0]["function"]["name"] == "mcp-brave/brave_web_search"
    [(name, text, failed)] = results(items)
    assert (name, failed) == ("mcp-brave/brave_web_search", False)
    assert message(items[1])["name"] == "mcp-brave/brave_web_search"
    found = json.loads(text)
    assert found["query"] == "heroku" and len(found["results"]) == 2
    assert found["results"][0]["url"] == "https://example.com/search/heroku/1"
    assert answer(items).startswith("mcp-brave/brave_web_search returned:")


def test_mcp_python_and_a_heroku_tool_of_the_same_name(simulator: Simulator) -> None:
    tools = [mcp("mcp-python/code_exec_python"), heroku("code_exec_python")]
    items = objects(agent(simulator, "mcp-python/code_exec_python code=print(2)", tools))
    [(name, text, _)] = results(items)
    assert name == "mcp-python/code_exec_python" and "1 line(s)" in json.loads(text)["stdout"]
    names = [name for name, _, _ in results(objects(agent(simulator, "code_exec_python", tools)))]
    assert names == ["code_exec_python"]


def test_disconnected_server_tool_is_not_found(simulator: Simulator) -> None:
    items = objects(agent(simulator, "use a tool", [mcp("mcp-weather/forecast")]))
    assert results(items) == [("mcp-weather/forecast", "Tool 'mcp-weather/forecast' not found", True)]


def test_mcp_servers(simulator: Simulator) -> None:
    assert_error(request(simulator, "GET", MCP, key=None), 401, "Invalid API key")
    raw = request(simulator, "GET", MCP)
    servers = raw.json()
    assert raw.status == 200 and servers == request(simulator, "GET", MCP).json()
    assert [(s["namespace"], s["server_status"], s["primitives_status"]) for s in servers] == [
        ("mcp-brave", "registered", "synced"),
        ("mcp-python", "registered", "synced"),
        ("mcp-weather", "disconnected", "error"),
    ]
    keys = {"id", "app_id", "process_type", "process_command", "created_at", "updated_at", "namespace",
            "server_status", "primitives_status", "tools"}  # fmt: skip
    assert all(set(server) == keys for server in servers)
    assert re.fullmatch(r"[0-9a-f-]{36}", servers[0]["id"]) and servers[0]["created_at"].endswith("Z")
    [tool] = servers[0]["tools"]
    assert set(tool) == {"name", "namespaced_name", "description", "input_schema", "annotations"}
    assert (tool["name"], tool["namespaced_name"]) == ("brave_web_search", "mcp-brave/brave_web_search")
    assert servers[2]["tools"] == []
    assert request(simulator, "POST", MCP).status == 405


# -- rounds and max_calls --------------------------------------------------------------------------


def test_one_round_by_default_and_n_rounds(simulator: Simulator) -> None:
    kinds = [i["object"] for i in objects(agent(simulator, "pg_psql", [heroku("pg_psql")]))]
    assert kinds == ["chat.completion", "tool.completion", "chat.completion"]
    items = objects(agent(simulator, "pg_psql 3 rounds", [heroku("pg_psql")]))
    assert [i["object"] for i in items].count("tool.completion") == 3
    assert message(items[2])["content"] == "I'll call pg_psql again (round 2 of 3)."
    assert answer(items).endswith('Based on 3 tool results from 3 rounds, that answers "pg_psql 3 rounds".')


def test_max_calls(simulator: Simulator) -> None:
    tools = [heroku("pg_psql", max_calls=2), heroku("dyno_run_command")]
    found = results(objects(agent(simulator, "pg_psql and dyno_run_command 4 rounds", tools)))
    names = [name for name, _, _ in found]
    assert names == ["pg_psql", "dyno_run_command"] * 3 + ["dyno_run_command"]
    assert found[4] == (
        "pg_psql",
        "Tool 'pg_psql' reached max_calls (2): it may be called at most 2 times per request",
        True,
    )
    default = results(objects(agent(simulator, "pg_psql 5 rounds", [heroku("pg_psql")])))
    assert len(default) == 4 and "max_calls (3)" in default[3][1]


# -- replayed histories -------------------------------------------------------------------------


def replay(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's messages as a client replays them in a later request."""
    return [message(item) for item in items]


def test_replayed_runs_are_accepted(simulator: Simulator) -> None:
    tools = [heroku("pg_psql")]
    first = objects(agent(simulator, "pg_psql", tools))
    history = [user("pg_psql"), *replay(first)]
    assert answer(objects(agent(simulator, [*history, user("and now?")], tools))).startswith("### ")
    # A history ending with the run's results (no final answer) gets only the final answer.
    items = objects(agent(simulator, [user("pg_psql"), *replay(first[:2])], tools))
    assert len(items) == 1 and answer(items).startswith("pg_psql returned:")
    items = objects(agent(simulator, [*history, user("pg_psql again")], tools))
    assert len(results(items)) == 1  # an earlier turn's rounds do not count
    assert "Based on 1 tool result from 1 round" in answer(items)


@pytest.mark.parametrize(
    ("cut", "fragment"),
    [
        (lambda run: run[:1] + run[2:], "tool_use ids were found without tool_result blocks"),
        (lambda run: run[1:], "unexpected tool_use_id found in tool_result blocks"),
        (lambda run: [run[0], run[1], run[1], run[2]], "unexpected tool_use_id"),
    ],
)
def test_broken_pairings_are_refused(simulator: Simulator, cut: Any, fragment: str) -> None:
    run = replay(objects(agent(simulator, "pg_psql", [heroku("pg_psql")])))
    messages = [user("pg_psql"), *cut(run), user("again")]
    assert_error(agent(simulator, messages, [heroku("pg_psql")]), 400, fragment)


def test_replayed_tool_blocks_need_tools(simulator: Simulator) -> None:
    run = replay(objects(agent(simulator, "pg_psql", [heroku("pg_psql")])))
    raw = agent(simulator, [user("pg_psql"), *run, user("again")])
    assert_error(raw, 400, "Requests which include tool_use or tool_result blocks must define tools.")
    empty = [user("pg_psql"), {**run[0], "content": ""}, run[1], user("again")]
    assert_error(agent(simulator, empty, [heroku("pg_psql")]), 400, "content is required")


# -- faults, pacing, recording ------------------------------------------------------------------


def test_rate_limit_comes_before_the_stream(simulator: Simulator) -> None:
    simulator.inject("rate_limit", retry_after="4")
    raw = agent(simulator, "pg_psql", [heroku("pg_psql")])
    assert_error(raw, 429, "Rate limit exceeded")
    assert raw.headers["retry-after"] == "4" and raw.headers["content-type"] == "application/json"
    assert raw.json()["error"]["type"] == "rate_limit_error"
    assert agent(simulator, "pg_psql", [heroku("pg_psql")]).status == 200


def test_clean_close_right_after_a_tool_completion(simulator: Simulator) -> None:
    simulator.inject("clean_close", after_chunks=2)
    raw = agent(simulator, "pg_psql 2 rounds", [heroku("pg_psql")])
    assert raw.status == 200 and raw.headers["transfer-encoding"] == "chunked"
    parsed = events(raw.body)
    assert [data["object"] for _, data in parsed] == ["chat.completion", "tool.completion"]
    assert b"event:done" not in raw.body


def test_in_band_error_event(simulator: Simulator) -> None:
    simulator.inject("in_band_error", after_chunks=1, message="agent exploded")
    raw = agent(simulator, "pg_psql", [heroku("pg_psql")])
    parsed = events(raw.body)
    assert [name for name, _ in parsed] == ["message", "error"]
    assert parsed[-1][1] == {"error": {"code": 500, "message": "agent exploded", "type": "server_error"}}
    assert raw.body.endswith(
        b'event:error\ndata:{"error":{"code":500,"message":"agent exploded","type":"server_error"}}\n\n'
    )
    simulator.inject("in_band_error", after_chunks=1)
    client = openai.OpenAI(base_url=simulator.url + "/v1", api_key=simulator.key, max_retries=0)
    body = {"model": MODEL, "messages": [user("pg_psql")], "tools": [heroku("pg_psql")]}
    with pytest.raises(openai.APIError, match="Failed to execute chat"):
        list(
            client.post(
                "/agents/heroku", body=body, cast_to=object, stream=True, stream_cls=openai.Stream[object]
            )
        )


def test_disconnect_malformed_and_server_error(simulator: Simulator) -> None:
    simulator.inject("disconnect", after_chunks=1)
    with pytest.raises(httpx.TransportError):
        agent(simulator, "pg_psql", [heroku("pg_psql")])
    simulator.inject("malformed_chunk", after_chunks=1)
    body = agent(simulator, "pg_psql", [heroku("pg_psql")]).body
    assert body.split(b"\n\n")[1] == b"event:message\ndata:{not json"
    simulator.inject("server_error", status=503, message="overloaded")
    assert_error(agent(simulator, "pg_psql", [heroku("pg_psql")]), 503, "overloaded")


def test_stall_holds_the_stream_and_ends_with_the_client(simulator: Simulator) -> None:
    simulator.inject("stall", after_chunks=2, seconds=30)
    body = {"model": MODEL, "messages": [user("pg_psql")], "tools": [heroku("pg_psql")]}
    headers = {"Authorization": f"Bearer {simulator.key}"}
    received = b""
    with (
        httpx.Client(trust_env=False, timeout=httpx.Timeout(10, read=0.5)) as client,
        client.stream("POST", simulator.url + AGENTS, json=body, headers=headers) as response,
        pytest.raises(httpx.ReadTimeout),
    ):
        for data in response.iter_bytes():
            received += data
    assert received.count(b"event:message") == 2
    assert wait_until(lambda: not simulator.active_streams), "the stall outlived its client"


def test_pacing_ttft_and_tool_latency(simulator: Simulator) -> None:
    simulator.config.ttft = 0.1
    simulator.config.tool_latency = 0.2
    start = time.monotonic()
    assert agent(simulator, "pg_psql 2 rounds", [heroku("pg_psql")]).status == 200
    assert time.monotonic() - start >= 0.5
    simulator.reset()
    assert (simulator.config.ttft, simulator.config.tool_latency) == (0.0, 0.0)


def test_agent_requests_are_recorded(simulator: Simulator) -> None:
    agent(simulator, "pg_psql", [heroku("pg_psql")])
    agent(simulator, "hi", stream=True)
    request(simulator, "GET", MCP)
    recorded = simulator.requests
    assert [(r.method, r.path) for r in recorded] == [("POST", AGENTS), ("POST", AGENTS), ("GET", MCP)]
    assert recorded[0].body == {"model": MODEL, "messages": [user("pg_psql")], "tools": [heroku("pg_psql")]}
    assert recorded[1].body is not None and recorded[1].body["stream"] is True


def test_command_help_lists_the_agents_endpoint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "heroku_magic.simulator", "--help"], capture_output=True, text=True, check=True
    )
    for text in ("/v1/agents/heroku", "/v1/mcp/servers", "--tool-latency", "max_calls", "dyno_run_command"):
        assert text in result.stdout
