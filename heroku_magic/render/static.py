"""The static result a cell keeps: Markdown + plain text + metadata that read well without widgets.

Saved notebooks are read on GitHub, nbviewer and by nbval, none of which has the live widget state,
so every response leaves this bundle behind: the answer, the reasoning inside ``<details>``, and a
usage footer, with model, usage, timings and ids in the output metadata.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from ..events import Event
from ..explore import ExploreResults
from ..result import ChatResult
from .markdown import neutralize_html

METADATA_KEY = "heroku_magic"


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
    if result.finish_reason and result.finish_reason != "stop":
        parts.append(f"finish: {result.finish_reason}")
    return " · ".join(parts)


def status_line(result: ChatResult, error: BaseException | None) -> str:
    """Why the answer may be incomplete, or an empty string."""
    if result.interrupted or isinstance(error, KeyboardInterrupt):
        return "Interrupted: the answer above is partial."
    if error is not None:
        return f"Failed: {error}"
    if result.finish_reason == "length":
        return "Stopped at the token limit (raise --max-tokens for more)."
    return ""


def reasoning_details(reasoning: str, seconds: float | None = None) -> str:
    """The reasoning as a collapsed ``<details>`` block (model text neutralized)."""
    title = f"Thought for {seconds:.1f} s" if seconds is not None else "Reasoning"
    return f"<details><summary>{title}</summary>\n\n{neutralize_html(reasoning.strip())}\n\n</details>\n\n"


def static_bundle(
    result: ChatResult,
    *,
    error: BaseException | None = None,
    text_format: str = "markdown",
    thinking_time: float | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """The MIME bundle and metadata of the output a finished (or failed) response leaves."""
    body = ""
    if result.reasoning:
        body += reasoning_details(result.reasoning, thinking_time)
    if text_format == "text":
        body += "<pre>" + html.escape(result.text) + "</pre>\n" if result.text else ""
    else:
        body += neutralize_html(result.text)
    for call in result.tool_calls:
        body += neutralize_html(f"\n\n*Tool call:* `{call.name}({call.arguments})`")
    status = status_line(result, error)
    body += f"\n\n---\n*{html.escape(footer(result))}*"
    if status:
        body += f"  \n**{html.escape(status)}**"
    plain = result.text
    if status:
        plain += f"\n[{status}]"
    return {"text/markdown": body, "text/plain": plain}, {METADATA_KEY: result_metadata(result)}


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
        """Publish the static bundle."""
        data, metadata = static_bundle(
            result, error=error, text_format=self._format, thinking_time=result.thinking_time
        )
        self._publish(data, metadata)


def explore_bundle(results: ExploreResults, prompt: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The static result of a grid run: comparison table, chart, then every answer."""
    parts = [
        f"**Explored {len(results)} configurations** for: {neutralize_html(_one_line(prompt))}\n",
        results.table_markdown(),
        "\n```text\n" + results.chart_text() + "\n```\n",
    ]
    for outcome in results:
        parts.append(f"#### {html.escape(outcome.configuration.label)}\n")
        result = outcome.result
        if result is not None:
            if result.reasoning:
                parts.append(reasoning_details(result.reasoning, result.thinking_time))
            parts.append(neutralize_html(result.text) + "\n")
            parts.append(f"*{html.escape(footer(result))}*\n")
        if outcome.error:
            parts.append(f"**Failed:** {html.escape(outcome.error)}\n")
    plain = results.table_markdown() + "\n\n" + results.chart_text()
    metadata = {METADATA_KEY: {"explore": [_json_row(o.row()) for o in results]}}
    return {"text/markdown": "\n".join(parts), "text/plain": plain}, metadata


def _one_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.budget_tokens if hasattr(v, "budget_tokens") else v) for k, v in row.items() if k != "text"}
