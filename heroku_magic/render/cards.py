"""Tool calls as cards in the static output: a turn's steps in order, each call with its result.

A card is our own ``<details>`` markup around model text: the tool's name, its arguments and its
result (which is untrusted, like any model text: a tool may return what a web page said) all go
through the one renderer — JSON pretty-printed as a code block, anything else as plain text.
"""

from __future__ import annotations

import json

from ..agents import unwrapped
from ..events import ChatResult, Step, ToolCall, ToolResult
from .markdown import fenced, inline_text, plain_html, render_markdown

PREVIEW = 80  # characters of a result shown in the card's one-line summary


def shown_value(text: str) -> tuple[str, str]:
    """Text as it is best shown, and its code language: JSON pretty-printed, anything else as is.

    An agent's tool result is unwrapped first (``Tool 'x' returned result: {...}``, an MCP result's text).
    """
    text = unwrapped(text)
    try:
        value = json.loads(text)
    except ValueError:
        return text, ""
    if not isinstance(value, (dict, list)):
        return text, ""
    return json.dumps(value, indent=2, ensure_ascii=False), "json"


def _code(text: str) -> str:
    shown, language = shown_value(text)
    return render_markdown(fenced(shown, language)) if language else plain_html(shown)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW else line[: PREVIEW - 1] + "…"


def card_summary(call: ToolCall, result: ToolResult | None) -> str:
    """The card's one line, as text: name, the outcome and how long it took."""
    if result is None:
        outcome = "no result"
    elif result.is_error:
        outcome = f"✗ {_one_line(unwrapped(result.content))}"
    else:
        outcome = f"→ {_one_line(unwrapped(result.content))}"
    took = f" · {result.duration:.2f} s" if result is not None and result.duration is not None else ""
    return f"🔧 {call.name or '(unnamed tool)'} {outcome}{took}"


def tool_card_html(call: ToolCall, result: ToolResult | None) -> str:
    """One call as a collapsed card: summary line; arguments and result inside."""
    parts = [
        f'<details class="hm-tool"><summary>{inline_text(card_summary(call, result))}</summary>',
        f"<p><em>Arguments</em></p>{_code(call.arguments or '{}')}",
    ]
    if result is not None:
        label = "Error" if result.is_error else "Result"
        parts.append(f"<p><em>{label}</em></p>{_code(result.content)}")
    return "\n".join(parts) + "</details>\n"


def reasoning_details(reasoning: str, seconds: float | None = None) -> str:
    """The reasoning as a collapsed ``<details>`` block."""
    title = f"Thought for {seconds:.1f} s" if seconds is not None else "Reasoning"
    return f"<details><summary>{title}</summary>\n{render_markdown(reasoning.strip())}</details>\n"


def step_html(step: Step, text_format: str, thinking_time: float | None = None) -> str:
    """One step: its reasoning folded away, its text, then a card per tool call."""
    response = step.response
    html = reasoning_details(response.reasoning, thinking_time) if response.reasoning else ""
    html += plain_html(response.text) if text_format == "text" else render_markdown(response.text)
    results = {result.tool_call_id: result for result in step.tool_results}
    html += "".join(tool_card_html(call, results.get(call.id)) for call in response.tool_calls)
    return html


def steps_html(result: ChatResult, text_format: str = "markdown", thinking_time: float | None = None) -> str:
    """A turn's steps in the order they happened (a turn without tools is one step)."""
    steps = result.steps or (Step(result, result.tool_results),)
    if len(steps) == 1:
        return step_html(steps[0], text_format, thinking_time)
    return "".join(step_html(step, text_format, step.response.thinking_time) for step in steps)
