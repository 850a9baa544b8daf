"""Heroku's agents endpoint, as values: the tools an agent run may use, its request body, its stream's events.

``POST /v1/agents/heroku`` runs tools on Heroku itself (code execution, one-off dyno commands,
read-only Postgres, the add-on's MCP servers) and streams the whole exchange as server-sent events,
each a complete object: ``chat.completion`` (the assistant's text, tool calls and usage for one
model call), ``tool.completion`` (one tool's result), then ``event:done``. :func:`agent_events`
turns those objects into the same events a chat turn yields, with :class:`NewStep` between model
calls, so the response state, the live view and the history treat an agent run as a turn of steps.
Plain Python: the transport is ``client.AgentClient``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .adapter import completion_events, field_of
from .errors import APIError, OptionsError, error_message
from .events import Event, NewStep, ResponseInfo, ToolResult
from .options import ChatOptions

# Heroku's documented tools (heroku-api.md §4); its list changes, so other names are sent as given.
HEROKU_TOOLS: Mapping[str, str] = {
    "dyno_run_command": "Run a command on a one-off dyno of the app (tool param: cmd).",
    "code_exec_python": "Run Python code on a one-off dyno (code, packages).",
    "code_exec_ruby": "Run Ruby code on a one-off dyno (code, packages).",
    "code_exec_node": "Run Node.js code on a one-off dyno (code, packages).",
    "code_exec_go": "Run Go code on a one-off dyno (code, packages).",
    "pg_psql": "Run read-only SQL on a follower database (tool param: db_attachment).",
    "pg_vector_query": "Vector similarity search on a follower database (tool param: db_attachment).",
    "doc_reader": "Read a document (PDF, HTML) from a URL as text.",
}
MAX_TTL_SECONDS = 120
# Settings a chat request takes and the agents endpoint does not: left out, with a notice.
NOT_FOR_AGENTS = (
    "top_k",
    "thinking",
    "reasoning_effort",
    "response_format",
    "allow_ignored_params",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
)
_RESULT_PREFIX = re.compile(r"^Tool '(?P<name>[^']*)' returned result: ", re.DOTALL)
STREAM_CUT_OFF = (
    "the agent's stream ended before its final answer (the connection was closed early, without event:done)"
)


@dataclass(frozen=True)
class AgentTool:
    """One tool of an agent run: a Heroku tool (``heroku_tool``) or an MCP tool or server (``mcp``)."""

    name: str
    kind: str = "heroku_tool"
    params: Mapping[str, str] = field(default_factory=dict)  # tool_params, for this tool only


@dataclass(frozen=True)
class AgentTools:
    """The tools of an agent run and the runtime parameters every Heroku tool of it gets."""

    tools: tuple[AgentTool, ...] = ()
    app: str | None = None  # target_app_name: the app whose dynos and databases the tools use
    dyno_size: str | None = None
    ttl_seconds: int | None = None
    max_calls: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)  # tool_params for every tool

    def __post_init__(self) -> None:
        heroku = [tool.name for tool in self.tools if tool.kind == "heroku_tool"]
        if heroku and not self.app:
            raise OptionsError(
                f"Heroku tools run on an app's dynos: name it with --app APP (tools: {', '.join(heroku)})"
            )
        if self.ttl_seconds is not None and not 1 <= self.ttl_seconds <= MAX_TTL_SECONDS:
            raise OptionsError(f"ttl must be 1 to {MAX_TTL_SECONDS} seconds, got {self.ttl_seconds}")
        if self.max_calls is not None and self.max_calls < 1:
            raise OptionsError(f"max_calls must be at least 1, got {self.max_calls}")

    def names(self) -> list[str]:
        """The tool names and MCP namespaces this run offers (history replays their calls as they were)."""
        return [tool.name for tool in self.tools]

    def body(self) -> list[dict[str, Any]]:
        """The ``tools`` of the request body."""
        return [self._tool_body(tool) for tool in self.tools]

    def _tool_body(self, tool: AgentTool) -> dict[str, Any]:
        body: dict[str, Any] = {"type": tool.kind, "name": tool.name}
        if tool.kind != "heroku_tool":
            return body
        runtime: dict[str, Any] = {"target_app_name": self.app}
        for key, value in (
            ("dyno_size", self.dyno_size),
            ("ttl_seconds", self.ttl_seconds),
            ("max_calls", self.max_calls),
        ):
            if value is not None:
                runtime[key] = value
        params = {**self.params, **tool.params}
        if params:
            runtime["tool_params"] = params
        return {**body, "runtime_params": runtime}


def parse_tool_params(
    specs: Sequence[str], tool_names: Sequence[str]
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``--tool-param KEY=VALUE`` (every tool) and ``NAME.KEY=VALUE`` (one tool) as two mappings."""
    shared: dict[str, str] = {}
    own: dict[str, dict[str, str]] = {}
    for spec in specs:
        key, equals, value = spec.partition("=")
        if not equals or not key.strip():
            raise OptionsError(f"--tool-param takes KEY=VALUE or TOOL.KEY=VALUE, got {spec!r}")
        name, dot, param = key.strip().rpartition(".")
        if dot and name in tool_names:
            own.setdefault(name, {})[param] = value
        elif dot and name:
            raise OptionsError(
                f"--tool-param {spec!r}: {name!r} is not a tool of this cell ({', '.join(tool_names)})"
            )
        else:
            shared[key.strip()] = value
    return shared, own


def agent_body(
    messages: Sequence[Mapping[str, Any]], options: ChatOptions, model: str, tools: AgentTools
) -> tuple[dict[str, Any], list[str]]:
    """The agents request body, and the names of the options it leaves out (the endpoint takes no such field)."""
    body: dict[str, Any] = {"model": model, "messages": list(messages)}
    if tools.tools:
        body["tools"] = tools.body()
    for name in ("temperature", "top_p"):
        value = getattr(options, name)
        if value is not None:
            body[name] = value
    if options.stop:
        body["stop"] = list(options.stop)
    if options.max_tokens is not None:
        body["max_tokens_per_inference_request"] = options.max_tokens
    left_out = [name for name in NOT_FOR_AGENTS if getattr(options, name) not in (None, ())]
    return body, left_out


def agent_events(objects: Iterable[Any], request_id: str | None = None) -> Iterator[Event]:
    """Events for the objects of an agents stream, a :class:`NewStep` before each model call after the first.

    Raises APIError for an error object, and for a stream that ends before the run's final answer
    (a model call that finished without asking for tools): the connection was cut.
    """
    steps = 0
    finished = False
    for item in objects:
        kind = field_of(item, "object")
        error = field_of(item, "error")
        if error or kind in ("tool.error", "agent.error"):
            raise APIError(error_message({"error": error or item}), request_id=request_id)
        if kind == "tool.completion":
            result = _tool_result(item)
            if result is not None:
                yield result
            finished = False
            continue
        if kind in ("chat.completion", "chat.completion.chunk"):
            if kind == "chat.completion":
                if steps:
                    yield NewStep(steps)
                steps += 1
            for event in completion_events(item, request_id=request_id):
                if isinstance(event, ResponseInfo) and event.finish_reason:
                    finished = event.finish_reason != "tool_calls"
                yield event
    if not finished:
        raise APIError(STREAM_CUT_OFF, request_id=request_id)


def _tool_result(item: Any) -> ToolResult | None:
    """The result of a ``tool.completion`` object, raw (as the history replays it)."""
    for choice in field_of(item, "choices") or ():
        message = field_of(choice, "message")
        call_id = field_of(message, "tool_call_id")
        if not call_id:
            continue
        content = field_of(message, "content")
        text = content if isinstance(content, str) else json.dumps(content)
        return ToolResult(
            tool_call_id=call_id,
            name=field_of(message, "name") or "",
            content=text,
            is_error=tool_failed(text),
        )
    return None


def _result_value(content: str) -> tuple[str, Any]:
    """A tool result without ``Tool 'x' returned result:``, and its JSON value (None when not JSON)."""
    text = _RESULT_PREFIX.sub("", content, count=1)
    try:
        return text, json.loads(text)
    except ValueError:
        return text, None


def unwrapped(content: str) -> str:
    """A tool result as a person reads it: without ``Tool 'x' returned result:``, an MCP result's text."""
    text, value = _result_value(content)
    if isinstance(value, dict) and isinstance(value.get("content"), list):
        parts = [part.get("text", "") for part in value["content"] if isinstance(part, dict)]
        if parts and all(isinstance(part, str) for part in parts):
            return "\n".join(parts)
    return text


def tool_failed(content: str) -> bool:
    """Whether a tool's result reports a failure (an MCP result's ``isError``)."""
    value = _result_value(content)[1]
    return isinstance(value, dict) and value.get("isError") is True


def mcp_servers(payload: Any) -> list[dict[str, Any]]:
    """``GET /v1/mcp/servers`` as plain records: namespace, status and tools of each server."""
    servers = payload if isinstance(payload, list) else field_of(payload, "data") or []
    return [
        {
            "namespace": str(field_of(server, "namespace") or "?"),
            "status": str(field_of(server, "server_status") or "unknown"),
            "sync": str(field_of(server, "primitives_status") or "unknown"),
            "tools": [
                (
                    str(field_of(tool, "namespaced_name") or field_of(tool, "name") or "?"),
                    str(field_of(tool, "description") or ""),
                )
                for tool in field_of(server, "tools") or ()
            ],
        }
        for server in servers
    ]
