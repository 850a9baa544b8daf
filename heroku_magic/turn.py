"""One turn: the model is called, the tools it asks for run, and it is called again until it answers.

:func:`run_turn` is the tool loop every chat turn goes through (a turn without tools is one step).
It streams each step through :func:`~heroku_magic.respond.respond`, runs a step's tool calls (after
the user approves them, when asked to), sends their results back as ``tool`` messages and calls the
model again — at most ``max_tool_rounds`` times. Everything is folded into one
:class:`~heroku_magic.result.ResponseState` as it happens, so a live view shows the whole turn.

:func:`step_messages` is the one place a step becomes chat messages, for the next step of the same
turn and for later turns' history, so what is sent is always a valid tool exchange: every call has
a result, every assistant message has content, arguments are JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Generator, Sequence
from contextlib import closing
from typing import Any

from .client import ChatClient
from .events import (
    ChatResult,
    Done,
    Error,
    Event,
    NewStep,
    Notice,
    Step,
    ToolCall,
    ToolResult,
    ToolStatus,
)
from .options import DEFAULT_MAX_TOOL_ROUNDS, ChatOptions
from .respond import respond
from .result import ResponseState

Approve = Callable[[ToolCall], bool]

# Heroku rejects messages with empty content, and real tool-call replies often have none.
EMPTY_ANSWER = "(no text)"
DENIED = "The user did not allow this tool call."
NOT_RUN = "Not run: the turn was stopped before this tool call finished."


def run_turn(
    client: ChatClient,
    messages: Sequence[dict[str, Any]],
    options: ChatOptions,
    state: ResponseState,
    *,
    approve: Approve | None = None,
    notices: Sequence[str] = (),
) -> Generator[Event, None, None]:
    """Yield a turn's events, step after step, ending in one Done or Error; ``notices`` come first.

    A failure after tools have run ends the turn with an :class:`Error` whose result keeps the steps
    (``result.error`` says what failed); ``KeyboardInterrupt`` passes through, the state holding
    what happened until then.
    """
    from .tool_runner import DEFAULT_RESULT_LIMIT, DEFAULT_TOOL_TIMEOUT, run_calls

    tools = {tool.name: tool for tool in options.tools or ()}
    limit = options.max_tool_rounds if options.max_tool_rounds is not None else DEFAULT_MAX_TOOL_ROUNDS
    sent = list(messages)
    rounds = 0
    for text in notices:  # e.g. an image downscaled to fit: said in the turn's footer
        yield _folded(state, Notice(text))
    while True:
        step: ChatResult | None = None
        with closing(respond(client, sent, options, state)) as events:
            for event in events:
                if isinstance(event, Done):
                    step = event.result.steps[-1].response
                    break
                if isinstance(event, Error):
                    # Tools that ran (here, or on Heroku within an agent run) keep the turn, marked failed.
                    kept = bool(rounds or event.result.tool_results)
                    yield Error(event.error, state.result(error=str(event.error)) if kept else event.result)
                    return
                yield event
        assert step is not None  # respond always ends in Done or Error
        calls = step.tool_calls
        if not calls or not tools:
            yield Done(state.result())
            return
        if rounds == limit:
            for call in calls:
                yield _folded(state, ToolResult(call.id, call.name, _limit_reached(limit), is_error=True))
            yield _folded(
                state,
                Notice(
                    f"Stopped: the model asked for tools after {_rounds(limit)} "
                    "(the limit, --max-tool-rounds); everything so far is kept."
                ),
            )
            yield Done(state.result())
            return
        results: dict[str, ToolResult] = {}
        allowed: list[ToolCall] = []
        for call in calls:
            if approve is not None:
                yield _folded(state, ToolStatus(call.id, "awaiting"))
                if not approve(call):
                    results[call.id] = ToolResult(call.id, call.name, DENIED, is_error=True)
                    yield _folded(state, results[call.id])
                    continue
            allowed.append(call)
        for call in allowed:  # they start together, once every call of the step has been answered
            yield _folded(state, ToolStatus(call.id, "running"))
        ran = run_calls(
            allowed,
            tools,
            timeout=options.tool_timeout if options.tool_timeout is not None else DEFAULT_TOOL_TIMEOUT,
            limit=options.tool_result_limit
            if options.tool_result_limit is not None
            else DEFAULT_RESULT_LIMIT,
            # Folded as each finishes, so its card shows it at once; yielded below, in the calls' order.
            on_result=lambda _index, result: state.add(result),
        )
        for result in ran:
            results[result.tool_call_id] = result
            yield result
        rounds += 1
        sent += step_messages(Step(step, tuple(results[c.id] for c in calls)), reasoning=True)
        yield _folded(state, NewStep(rounds))


def _folded(state: ResponseState, event: Event) -> Event:
    state.add(event)
    return event


def _rounds(count: int) -> str:
    return f"{count} round" + ("" if count == 1 else "s")


def _limit_reached(limit: int) -> str:
    return f"Not run: this turn reached its limit of {_rounds(limit)} of tool calls."


def step_messages(step: Step, *, reasoning: bool = False, final: bool = False) -> list[dict[str, Any]]:
    """A step as chat messages: the assistant's message, then one ``tool`` message per call.

    ``reasoning`` sends the step's reasoning back as the server sent it (within a turn only: how
    Heroku wants a tool step's thinking returned is unconfirmed, so nothing is sent across turns).
    ``final`` closes a turn that ended on tool results with an assistant message, so the next user
    message does not follow tool results directly.
    """
    response = step.response
    answer: dict[str, Any] = {"role": "assistant", "content": _filled(response.text)}
    calls = [call for call in response.tool_calls if call.name]  # a name that never arrived: no call
    if reasoning and response.reasoning:
        answer["reasoning"] = {"thinking": response.reasoning, **(response.reasoning_fields or {})}
    if not calls:
        return [answer]
    answer["tool_calls"] = [_sendable(call).to_message() for call in calls]
    results = {result.tool_call_id: result for result in step.tool_results}
    messages = [answer]
    for call in calls:
        result = results.get(call.id)
        content = result.content if result is not None else NOT_RUN
        messages.append({"role": "tool", "tool_call_id": call.id, "content": _filled(content)})
    if final:
        note = "(The turn ended here, before the tool results were answered.)"
        messages.append({"role": "assistant", "content": note})
    return messages


def _filled(text: str) -> str:
    """Content Heroku accepts: Bedrock refuses text blocks that are empty or only whitespace."""
    return text if text.strip() else EMPTY_ANSWER


def _sendable(call: ToolCall) -> ToolCall:
    """The call with arguments Heroku accepts: a JSON object (Heroku fails with a 500 on anything else)."""
    try:
        valid = isinstance(json.loads(call.arguments or "{}"), dict)
    except ValueError:
        valid = False
    return call if valid else ToolCall(call.id, call.name, "{}")


def transcript(result: ChatResult) -> str:
    """A turn's steps as plain text: for history where its tools are no longer offered."""
    lines: list[str] = []
    for step in result.steps or (Step(result, result.tool_results),):
        if step.response.text:
            lines.append(step.response.text)
        results = {r.tool_call_id: r for r in step.tool_results}
        for call in step.response.tool_calls:
            outcome = results.get(call.id)
            shown = outcome.content if outcome is not None else NOT_RUN
            lines.append(f"[called tool {call.name}({call.arguments}) → {shown}]")
    return _filled("\n\n".join(lines))


def offered_tools(client: ChatClient, options: ChatOptions) -> list[str]:
    """The tool names a request offers: the client's own (an agent's Heroku and MCP tools), else the options'."""
    offered = getattr(client, "offered", None)
    return list(offered(options)) if callable(offered) else [tool.name for tool in options.tools or ()]


def turn_messages(result: ChatResult, offered: Collection[str] | None) -> list[dict[str, Any]]:
    """The assistant's side of a recorded turn, as later requests send it.

    Tool exchanges are replayed as they were when every tool they called is offered by the request
    (``None``: always, as in an export); otherwise as text, since Anthropic's models reject tool
    blocks for tools the request does not define.
    """
    steps = result.steps or (Step(result, result.tool_results),)
    called = {call.name for step in steps for call in step.response.tool_calls if call.name}
    # An MCP tool's name is namespaced (mcp-brave/brave_web_search): offering the namespace offers it.
    if offered is not None and any(n not in offered and n.split("/")[0] not in offered for n in called):
        return [{"role": "assistant", "content": transcript(result)}]
    messages: list[dict[str, Any]] = []
    for number, step in enumerate(steps, 1):
        messages += step_messages(step, final=number == len(steps))
    return messages
