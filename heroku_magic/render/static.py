"""The static result a cell keeps: sanitized HTML + plain text + metadata that read well without widgets.

Saved notebooks are read on GitHub, nbviewer and by nbval, none of which has the live widget state,
so every response leaves this bundle behind: the answer, the reasoning inside ``<details>``, and a
usage footer, with model, usage, timings and ids in the output metadata. Model text reaches the HTML
only through :mod:`.markdown`'s renderer; everything else here is our own markup around it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

from ..events import ChatResult, Event, Step
from .cards import reasoning_details, steps_html
from .markdown import inline_text, plain_html, render_markdown, with_code_style

if TYPE_CHECKING:
    from ..conversation import Conversation
    from ..explore import ExploreResults
    from .chart import Sketch

METADATA_KEY = "heroku_magic"
Bundle = tuple[dict[str, str], dict[str, Any]]


def footer(result: ChatResult) -> str:
    """One line: model, tokens, time to first token, total time, tokens per second."""
    parts = [result.model or "unknown model"]
    if result.usage:
        tokens = f"{result.usage.prompt_tokens} prompt · {result.usage.completion_tokens} completion"
        if result.usage.reasoning_tokens:
            tokens += f" · {result.usage.reasoning_tokens} reasoning"
        parts.append(tokens + " tokens")
    if result.time_to_first_token is not None:
        parts.append(f"first token {result.time_to_first_token:.2f} s")
    parts.append(f"total {result.total_time:.2f} s")
    if result.tokens_per_second is not None:
        parts.append(f"{result.tokens_per_second:.0f} tok/s")
    if result.finish_reason and result.finish_reason not in ("stop", "tool_calls"):
        parts.append(f"finish: {result.finish_reason}")
    if result.model_calls > 1:
        parts.append(f"{result.model_calls} model calls")
    if result.tool_results:
        parts.append(f"{len(result.tool_results)} tool call{'s' if len(result.tool_results) > 1 else ''}")
    return " · ".join(parts)


def received(result: ChatResult) -> bool:
    """Whether any of the answer arrived (text, reasoning or a tool call)."""
    return bool(result.text or result.reasoning or result.tool_calls)


def status_line(result: ChatResult, error: BaseException | None) -> str:
    """Why the answer may be incomplete, or an empty string (the error itself is shown by the cell)."""
    if result.interrupted or isinstance(error, KeyboardInterrupt):
        if not received(result):
            return "Interrupted before any answer arrived."
        return "Interrupted: the answer above is partial."
    if error is not None:
        if result.error is not None:
            return (
                "A later step failed (the error is below): the steps above are kept, their tools really ran."
            )
        return "The response failed (the error is below): the answer above is partial."
    if result.notices:
        return " ".join(result.notices)
    if result.finish_reason == "length":
        return "Stopped at the token limit (raise --max-tokens for more)."
    return ""


LOGPROBS_SHOWN = 200  # tokens in the table (all of them are in the result)


def logprobs_html(logprobs: tuple[tuple[str, float], ...]) -> str:
    """The answer's tokens and their log probabilities (``--logprobs``), folded away."""
    rows = "".join(
        f"<tr><td><code>{inline_text(token)}</code></td><td>{value:.3f}</td></tr>"
        for token, value in logprobs[:LOGPROBS_SHOWN]
    )
    more = (
        f"<p>(first {LOGPROBS_SHOWN} of {len(logprobs)} tokens)</p>" if len(logprobs) > LOGPROBS_SHOWN else ""
    )
    return (
        f"<details><summary>Token log probabilities</summary><table><thead><tr><th>token</th>"
        f"<th>logprob</th></tr></thead><tbody>{rows}</tbody></table>{more}</details>\n"
    )


def footer_html(result: ChatResult, status: str = "") -> str:
    """The usage footer (and the status line, if any) under a rule."""
    html = f"<hr>\n<p><small><em>{inline_text(footer(result))}</em></small>"
    if status:
        html += f"<br>\n<strong>{escape(status)}</strong>"
    return html + "</p>\n"


def static_bundle(
    result: ChatResult,
    *,
    error: BaseException | None = None,
    text_format: str = "markdown",
    thinking_time: float | None = None,
) -> Bundle:
    """The MIME bundle and metadata of the output a finished (or failed) response leaves."""
    body = steps_html(result, text_format, thinking_time)
    if result.logprobs:
        body += logprobs_html(result.logprobs)
    status = status_line(result, error)
    body += footer_html(result, status)
    plain = result.text
    if status:
        plain += f"\n[{status}]"
    return {"text/html": with_code_style(body), "text/plain": plain}, {METADATA_KEY: result_metadata(result)}


def result_metadata(result: ChatResult) -> dict[str, Any]:
    """Model, usage, timings and ids of a result, as JSON-ready values."""
    usage = result.usage
    return {
        "model": result.model,
        "request_id": result.request_id,
        "response_id": result.response_id,
        "finish_reason": result.finish_reason,
        "interrupted": result.interrupted,
        "usage": None
        if usage is None
        else {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        },
        "time_to_first_token": result.time_to_first_token,
        "total_time": result.total_time,
        "tokens_per_second": result.tokens_per_second,
        **({"steps": [_step_metadata(step) for step in result.steps]} if result.model_calls > 1 else {}),
    }


def _step_metadata(step: Step) -> dict[str, Any]:
    """One step's usage, finish reason and tool calls, for the output's metadata."""
    response = step.response
    usage = response.usage
    results = {result.tool_call_id: result for result in step.tool_results}
    return {
        "finish_reason": response.finish_reason,
        "usage": None
        if usage is None
        else {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
        "tool_calls": [
            {
                "name": call.name,
                "is_error": None if result is None else result.is_error,
                "duration": None if result is None else result.duration,
            }
            # By id: a call the turn stopped before answering has no result, and must not take the next one's.
            for call, result in ((c, results.get(c.id)) for c in response.tool_calls)
        ],
    }


class StaticRenderer:
    """Leaves the static result behind when the response ends, fails or is interrupted."""

    def __init__(
        self, publish: Callable[[dict[str, str], dict[str, Any]], None], text_format: str = "markdown"
    ) -> None:
        self._publish = publish
        self._format = text_format

    def handle(self, event: Event) -> None:
        """Nothing to show while streaming."""

    def close(self, result: ChatResult, error: BaseException | None) -> None:
        """Publish the static bundle (not for a failure before anything arrived: the error says it all)."""
        if error is not None and not isinstance(error, KeyboardInterrupt) and not received(result):
            return
        data, metadata = static_bundle(
            result, error=error, text_format=self._format, thinking_time=result.thinking_time
        )
        self._publish(data, metadata)


def explore_bundle(results: ExploreResults, prompt: str, *, text_chart: bool = True) -> Bundle:
    """The static result of a grid run: comparison table, the text chart (unless drawn as an image), every answer."""
    parts = [
        f"<p><strong>Explored {len(results)} configurations</strong> for: {inline_text(_one_line(prompt))}</p>",
        render_markdown(results.table_markdown()),
    ]
    if text_chart:
        parts.append(plain_html(results.chart_text()))
    for outcome in results:
        parts.append(f"<h4>{inline_text(outcome.configuration.label)}</h4>")
        result = outcome.result
        if result is not None:
            if result.reasoning:
                parts.append(reasoning_details(result.reasoning, result.thinking_time))
            parts.append(render_markdown(result.text))
            parts.append(f"<p><small><em>{inline_text(footer(result))}</em></small></p>")
        if outcome.error:
            parts.append(f"<p><strong>Failed:</strong> {inline_text(outcome.error)}</p>")
    plain = results.table_markdown() + "\n\n" + results.chart_text()
    metadata = {METADATA_KEY: {"explore": [_json_row(o.row()) for o in results]}}
    return {"text/html": with_code_style("\n".join(parts)), "text/plain": plain}, metadata


def chart_bundle(results: ExploreResults, sketch: Sketch | None = None) -> Bundle | None:
    """The comparison drawn as a PNG (its text chart as the fallback), or None without matplotlib."""
    from .chart import comparison_png

    png = comparison_png(results, sketch)
    if png is None:
        return None
    encoded = base64.b64encode(png).decode("ascii")  # as notebooks store images
    return {"image/png": encoded, "text/plain": results.chart_text()}, {}


def _one_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.budget_tokens if hasattr(v, "budget_tokens") else v) for k, v in row.items() if k != "text"}


def history_html(conversation: Conversation) -> str:
    """A conversation as HTML: every user and model text through the one Markdown renderer."""
    parts = [f"<h1>Conversation: {inline_text(conversation.name)}</h1>"]
    if conversation.system:
        parts.append(f"<p><strong>System:</strong></p>{render_markdown(conversation.system)}")
    for number, turn in enumerate(conversation.turns, 1):
        result = turn.result
        parts.append(f"<h2>{number}. User</h2>{render_markdown(turn.text)}")
        label = f"{number}. Assistant" + (f" ({result.model})" if result.model else "")
        label += " — interrupted" if result.interrupted else ""
        label += " — failed" if result.error else ""
        parts.append(f"<h2>{inline_text(label)}</h2>")
        parts.append(steps_html(result))
    return with_code_style("\n".join(parts))
