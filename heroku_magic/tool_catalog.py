"""What ``%heroku_tools`` lists, as Markdown: local Python tools, Heroku's tools, the add-on's MCP servers.

Plain Python; the magic shows the Markdown through the one renderer (descriptions of MCP tools come
from the user's own servers, but they are shown as any model text is).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .agents import HEROKU_TOOLS

if TYPE_CHECKING:
    from .tools import Tool


def local_tools_markdown(tools: Mapping[str, Tool]) -> str:
    """The registered tools: name, description, and the JSON schema sent to the model."""
    from .render.markdown import fenced

    if not tools:
        return (
            "No Python tools registered yet. Decorate a function with `@heroku_magic.tool`, or name "
            "notebook functions with `--tools name1,name2` on a `%%heroku_chat` cell."
        )
    count = f"{len(tools)} registered tool{'s' if len(tools) > 1 else ''}"
    parts = [f"**Python tools for `%%heroku_chat`: {count}** (`--tools all` offers every one)\n"]
    for tool in tools.values():
        kind = " (async)" if tool.is_async else ""
        schema = fenced(json.dumps(tool.parameters, indent=2), "json")
        parts.append(f"### `{tool.name}`{kind}\n\n{tool.description}\n\n{schema}")
    return "\n".join(parts)


def heroku_tools_markdown() -> str:
    """Heroku's documented tools for ``%%heroku_agent --tool NAME`` (other names are sent as given)."""
    rows = "".join(f"| `{name}` | {description} |\n" for name, description in HEROKU_TOOLS.items())
    return (
        "**Heroku tools for `%%heroku_agent --tool NAME --app APP`** (they run on the app's one-off "
        "dynos; Heroku adds tools over time, and names not listed here are sent as given)\n\n"
        "| tool | what it does |\n|---|---|\n" + rows
    )


def mcp_markdown(servers: list[dict[str, Any]] | None, problem: str | None = None) -> str:
    """The add-on's MCP servers, their status and tools, for ``%%heroku_agent --mcp NAME``."""
    title = "**MCP servers of the add-on for `%%heroku_agent --mcp NAME`**"
    if problem is not None:
        return f"{title}: could not be listed ({problem})"
    if not servers:
        return f"{title}: none registered."
    rows = []
    for server in servers:
        tools = ", ".join(f"`{name}`" for name, _ in server["tools"]) or "(no tools)"
        rows.append(f"| `{server['namespace']}` | {server['status']}, {server['sync']} | {tools} |\n")
    return f"{title}\n\n| namespace | status | tools |\n|---|---|---|\n" + "".join(rows)
