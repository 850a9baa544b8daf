"""``POST /v1/agents/heroku``: a deterministic simulated agent loop with simulated server-side tools.

The response is ALWAYS ``text/event-stream``. Every event is a COMPLETE object (not a delta),
framed with no space after the colons, then one ``done`` event::

    event:message
    data:{"id":"chatcmpl-…","object":"chat.completion","created":…,"model":"claude-4-5-sonnet",
          "system_fingerprint":"heroku-inf-sim0001","choices":[{"index":0,"message":{"role":"assistant",
          "content":"I'll use the dyno_run_command tool.","refusal":null,"tool_calls":[{"id":"tooluse_…",
          "type":"function","function":{"name":"dyno_run_command","arguments":"{\\"cmd\\": \\"date\\"}"}}]},
          "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":…,"completion_tokens":…,"total_tokens":…}}

    event:message
    data:{"id":"chatcmpl-…","object":"tool.completion","created":…,"system_fingerprint":"heroku-inf-sim0001",
          "choices":[{"index":0,"message":{"role":"tool","content":"Tool 'dyno_run_command' returned result:
          {…}","refusal":null,"tool_call_id":"tooluse_…","name":"dyno_run_command"},"finish_reason":""}],
          "usage":{}}

    event:message
    data:{… "object":"chat.completion" … "message":{"role":"assistant","content":"…","refusal":null},
          "finish_reason":"stop"}], "usage":{…}}

    event:done
    data:[DONE]

(each ``data:`` is one line). All events of a response share one id; ``created`` is the time of
each event; tool.completion events have no ``model``, ``finish_reason: ""`` and ``usage: {}``.

Prompt directives (the prompt is the LAST user message, as in `heroku_magic.simulator.toolcalls`):

naming a tool
    A prompt naming offered tools as whole words calls them in the prompt's order, in parallel
    (one assistant step with several ``tool_calls``, then one tool.completion per call). An MCP
    tool may be named namespaced (``mcp-brave/brave_web_search``) or bare (``brave_web_search``,
    unless a Heroku tool has that exact name); an ``mcp`` tool offering a whole server by its
    namespace (``"name": "mcp-brave"``) offers each of its tools, and naming the namespace calls
    them all (`heroku_magic.simulator.mcp`). ``use a tool`` / ``call any tool`` calls the FIRST
    offered tool. Without either, no tool is called and the answer is the chat simulator's (so
    ``echo:``, ``words:N`` and ``markdown:N`` work, see `heroku_magic.simulator.models`).
``key=value``
    Arguments (``cmd="ls -la"``, ``query="SELECT 1"``, ``url=…``, ``packages=numpy,pandas``,
    ``count=5``); a fenced block gives ``code`` (for the tool's language, else the first untagged
    block) or a ``sql`` block the query. Per-tool arguments and results: `heroku_magic.simulator.agent_tools`.
``N rounds`` / ``N times``
    The run calls the chosen tools again after each result until the turn has N rounds (1..50,
    default 1), then answers; rounds replayed in the history (assistant ``tool_calls`` answered by
    ``tool`` messages after the last user message) count, so a replayed finished run gets only the
    final answer.
``max_calls`` (runtime_params, default 3)
    Within one request, a tool's call beyond its ``max_calls`` (counted per called name; replayed
    history does not count) is answered by an error result
    ``Tool '<name>' reached max_calls (<n>): it may be called at most <n> time(s) per request``
    and the agent stops calling it. A tool that is not found is not called again either.

The final ``chat.completion`` (``finish_reason`` ``stop``, or ``length`` when
``max_tokens_per_inference_request`` cuts it; ``stop`` sequences cut it too) quotes every tool
result of the turn, one paragraph each, the MCP envelope's text flattened and cut to 200 characters::

    dyno_run_command returned: {"app": "my-app", …}

    pg_psql failed: ERROR:  cannot execute INSERT in a read-only transaction

    Based on 2 tool results from 1 round, that answers "…".

Request validation (before the stream, Heroku's error body; every 400 is ``invalid_request_error``):

- 401 ``Invalid API key provided``; 403 ``you do not have access to that model`` (unknown or non-chat).
- 400 ``Invalid request: 'model' field is required`` (or ``'messages'``); the body must be an object.
- 400 ``Invalid request: unrecognized parameter(s) 'stream' for /v1/agents/heroku``: only model,
  messages, tools, temperature, top_p, stop and max_tokens_per_inference_request are taken;
  extended_thinking, reasoning_effort, top_k, tool_choice, response_format, stream,
  allow_ignored_params… are refused (nothing says the endpoint tolerates them).
- temperature and top_p: the chat endpoint's ranges and messages; both together refused only on the
  models whose row of the model table (`heroku_magic.simulator.catalogue`) says so.
- 400 ``Invalid request: 'max_tokens_per_inference_request' must be at most 4096 for model '…'``:
  the model table's ``max_tokens`` (4096 for Haiku models, 5000 for Nova, 8192 for the rest); it
  must be a positive integer.
- messages: the chat endpoint's checks (roles, non-empty content, tool_call ids, Anthropic's
  pairing rules in `heroku_magic.simulator.pairing`, a 500 for unparseable replayed arguments);
  replayed agent steps are accepted when paired, and need ``tools`` in the request.
- tools: ``'tools' must be a list``; ``tools[i] must be an object``; ``tools[i].type must be one of
  heroku_tool, mcp``; ``tools[i].name is required``; ``tools[i]: unrecognized field(s) …`` (a tool
  takes type, name, description, runtime_params); ``tool names must be unique: …``;
  ``tools[i].runtime_params.target_app_name is required for heroku_tool '<name>'``;
  ``….runtime_params: unrecognized field(s) …`` (target_app_name, dyno_size, ttl_seconds,
  max_calls, tool_params); ``….ttl_seconds must be at most 120``; ttl_seconds and max_calls
  positive integers; dyno_size a string; tool_params an object whose cmd / db_attachment are strings.
  Unknown Heroku tool names are accepted: calling one gives ``Tool '<name>' not found``.

Faults (`heroku_magic.simulator.faults`) apply as to chat streams, ``after_chunks`` counting
EVENTS (chat.completion and tool.completion): rate_limit (429), server_error and slow_first_byte
before the stream; disconnect; clean_close (``after_chunks=2`` ends cleanly right after the first
tool.completion: no final answer, no ``done``); stall; malformed_chunk
(``event:message\\ndata:{not json``); in_band_error sends ``event:error\\ndata:{"error": {"code":
500, "message": …, "type": "server_error"}}`` and ends without ``done`` (Heroku's own name for such
an event is unconfirmed; the openai SDK raises on any event whose data has ``error``). whole_tool_calls has no
effect. Pacing: ``ttft`` before the first event, ``interval`` between events, plus
``SimulatorConfig.tool_latency`` before each tool.completion.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .agent_request import AgentRequest, AgentTool
from .agent_tools import ToolResult, bare_name, build_tool_arguments, run_tool
from .delivery import Framing
from .mcp import offered_mcp_tools
from .models import RESULT_CHARS, count_tokens, last_user_text, limit, message_text, simulate, snippet
from .responses import SYSTEM_FINGERPRINT
from .state import SimulatorConfig
from .toolcalls import ANY_TOOL, ID_CHARS, current_turn, requested_rounds, tool_rounds
from .validation import ChatRequest

_RESULT = re.compile(r"^Tool '(.+?)' returned result: (.*)$", re.DOTALL)


def _event(kind: str, data: dict[str, Any]) -> bytes:
    """One ``event:<kind>`` SSE event, framed exactly as Heroku's (no space after the colons)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event:{kind}\ndata:{body}\n\n".encode()


def _message_event(data: dict[str, Any]) -> bytes:
    """A ``chat.completion`` or ``tool.completion`` event."""
    return _event("message", data)


def _error_event(data: dict[str, Any]) -> bytes:
    """An in-band error event (the fault)."""
    return _event("error", data)


def _tool_pause(data: dict[str, Any], config: SimulatorConfig) -> float:
    """The simulated tool's running time, before its tool.completion."""
    return config.tool_latency if data.get("object") == "tool.completion" else 0.0


AGENT_FRAMING = Framing(
    event=_message_event,
    done=b"event:done\ndata:[DONE]\n\n",
    malformed=b"event:message\ndata:{not json\n\n",
    error=_error_event,
    pause=_tool_pause,
)


def agent_events(request: AgentRequest) -> Iterator[dict[str, Any]]:
    """The run's events, lazily: tool steps and their results, then the final answer."""
    run = _Run(request)
    yield from run.tool_steps()
    yield run.final_answer()


class _Run:
    """One agent run: the conversation so far and the events it adds."""

    def __init__(self, request: AgentRequest) -> None:
        self.request = request
        self.id = f"chatcmpl-{secrets.token_hex(11)[:21]}"
        self.prompt = last_user_text(request.messages)
        self.conversation = list(request.messages)
        self.calls: Counter[str] = Counter()

    def tool_steps(self) -> Iterator[dict[str, Any]]:
        """Rounds of (assistant step, tool results) until the turn's rounds are done."""
        active = _chosen(self.request.tools, self.prompt)
        wanted = requested_rounds(self.prompt)
        done = tool_rounds(current_turn(self.conversation))
        while active and done < wanted:
            done += 1
            calls: list[dict[str, Any]] = [
                {
                    "id": self._call_id(index),
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": json.dumps(build_tool_arguments(tool, name, self.prompt)),
                    },
                }
                for index, (tool, name) in enumerate(active)
            ]
            names = _join([name for _, name in active])
            text = f"I'll use the {names} tool{'s' if len(active) > 1 else ''}."
            if done > 1:
                text = f"I'll call {names} again (round {done} of {wanted})."
            yield self._assistant(
                {"role": "assistant", "content": text, "refusal": None, "tool_calls": calls}
            )
            dropped = []
            for (tool, name), call in zip(active, calls, strict=True):
                result, stop = self._call(tool, name, json.loads(call["function"]["arguments"]))
                if stop:
                    dropped.append(name)
                message = {
                    "role": "tool",
                    "content": result.content(name),
                    "refusal": None,
                    "tool_call_id": call["id"],
                    "name": name,
                }
                self.conversation.append(message)
                yield self._envelope("tool.completion", message, "", {}, model=False)
            active = [(tool, name) for tool, name in active if name not in dropped]

    def final_answer(self) -> dict[str, Any]:
        """The closing chat.completion: the quoted tool results, or the chat simulator's answer."""
        turn = current_turn(self.conversation)
        if any(m.get("role") == "tool" for m in turn):
            text, finish = limit(
                _quote_results(turn, self.prompt), self.request.stop, self.request.max_tokens
            )
        else:
            chat = ChatRequest(
                self.request.model,
                self.conversation,
                stop=self.request.stop,
                max_tokens=self.request.max_tokens,
            )
            reply = simulate(chat)
            text, finish = reply.content, reply.finish_reason
        return self._assistant({"role": "assistant", "content": text, "refusal": None}, finish)

    def _call(self, tool: AgentTool, name: str, arguments: dict[str, Any]) -> tuple[ToolResult, bool]:
        """(result, whether the agent stops calling this tool) of one call."""
        self.calls[name] += 1
        if self.calls[name] > tool.max_calls:
            times = f"{tool.max_calls} time{'s' if tool.max_calls != 1 else ''}"
            message = f"Tool '{name}' reached max_calls ({tool.max_calls}): it may be called at most {times} per request"
            return ToolResult(message, True), True
        result = run_tool(tool, name, arguments)
        return result, result.is_error and result.text == f"Tool '{name}' not found"

    def _assistant(self, message: dict[str, Any], finish_reason: str = "tool_calls") -> dict[str, Any]:
        """A chat.completion event for ``message``, counted in the conversation and its usage."""
        prompt_tokens = max(1, sum(count_tokens(message_text(m)) for m in self.conversation))
        completion_tokens = count_tokens(message["content"]) + sum(
            count_tokens(f"{call['function']['name']} {call['function']['arguments']}")
            for call in message.get("tool_calls") or []
        )
        self.conversation.append(message)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return self._envelope("chat.completion", message, finish_reason, usage)

    def _envelope(
        self,
        kind: str,
        message: dict[str, Any],
        finish_reason: str,
        usage: dict[str, Any],
        model: bool = True,
    ) -> dict[str, Any]:
        """An event object, its keys in Heroku's order."""
        event: dict[str, Any] = {"id": self.id, "object": kind, "created": int(time.time())}
        if model:
            event["model"] = self.request.model
        event["system_fingerprint"] = SYSTEM_FINGERPRINT
        event["choices"] = [{"index": 0, "message": message, "finish_reason": finish_reason}]
        event["usage"] = usage
        return event

    def _call_id(self, index: int) -> str:
        """A Heroku-style id (``tooluse_`` + 22 URL-safe characters), a function of the conversation."""
        seed = json.dumps([self.request.model, self.conversation, index], sort_keys=True, default=str)
        digest = hashlib.sha256(seed.encode()).digest()
        return "tooluse_" + base64.urlsafe_b64encode(digest).decode()[:ID_CHARS]


def _join(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _offers(tools: tuple[AgentTool, ...]) -> list[tuple[AgentTool, str]]:
    """(tool, name its calls carry) for everything offered: MCP names namespaced, servers expanded."""
    offers: list[tuple[AgentTool, str]] = []
    for tool in tools:
        names = offered_mcp_tools(tool.name) if tool.type == "mcp" else [tool.name]
        offers += [(tool, name) for name in names if name not in {called for _, called in offers}]
    return offers


def _chosen(tools: tuple[AgentTool, ...], prompt: str) -> list[tuple[AgentTool, str]]:
    """The offers the prompt names, in its order; else the first one when it says "use a tool"."""
    exact = {tool.name for tool in tools if tool.type == "heroku_tool"}
    offers = _offers(tools)
    found = []
    for tool, called in offers:
        aliases = {tool.name, called}
        if tool.type == "mcp" and bare_name(called) not in exact:
            aliases.add(bare_name(called))
        starts = [
            match.start()
            for alias in aliases
            for match in [re.search(rf"(?<![\w/-]){re.escape(alias)}(?![\w-])", prompt, re.IGNORECASE)]
            if match
        ]
        if starts:
            found.append((min(starts), tool, called))
    chosen = [(tool, called) for _, tool, called in sorted(found, key=lambda item: item[0])]
    if not chosen and offers and ANY_TOOL.search(prompt):
        chosen = offers[:1]
    return chosen


def _quote_results(turn: list[dict[str, Any]], prompt: str) -> str:
    """One paragraph per tool message of the turn (``<name> returned|failed: <text>``), then a sentence."""
    names = {
        call.get("id"): call["function"].get("name", "tool")
        for message in turn
        for call in message.get("tool_calls") or ()
        if isinstance(call, dict) and isinstance(call.get("function"), dict)
    }
    results = [message for message in turn if message.get("role") == "tool"]
    lines = []
    for message in results:
        name = message.get("name") or names.get(message.get("tool_call_id"), "tool")
        text, failed = _result_text(message_text(message))
        flat = " ".join(text.split())
        flat = flat if len(flat) <= RESULT_CHARS else flat[:RESULT_CHARS].rstrip() + "…"
        lines.append(f"{name} {'failed' if failed else 'returned'}: {flat}")
    rounds = tool_rounds(turn)
    lines.append(
        f"Based on {len(results)} tool result{'s' if len(results) != 1 else ''} from {rounds} "
        f'round{"s" if rounds != 1 else ""}, that answers "{snippet(prompt)}".'
    )
    return "\n\n".join(lines)


def _result_text(content: str) -> tuple[str, bool]:
    """(text, is_error) of a tool message: the MCP envelope's text when there is one, else the content."""
    match = _RESULT.match(content)
    if match:
        try:
            envelope = json.loads(match.group(2))
            parts = envelope["content"]
            text = "\n".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))
            return text, envelope.get("isError") is True
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return content, False
