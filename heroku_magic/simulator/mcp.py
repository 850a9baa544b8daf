"""The simulated MCP servers: ``GET /v1/mcp/servers`` and the tools agents can call through them.

Three servers, always the same (ids are UUIDs derived from the namespace, times fixed):

``mcp-brave``   registered / synced, tool ``brave_web_search`` (``query``, optional ``count``)
``mcp-python``  registered / synced, tool ``code_exec_python`` (``code``, optional ``packages``)
``mcp-weather`` disconnected / error, no tools (so clients can show a server's status)

An agent offers an MCP tool as ``{"type": "mcp", "name": "mcp-brave/brave_web_search"}`` (the
bare ``brave_web_search`` is accepted too), or a whole server's tools by its namespace
(``"name": "mcp-brave"``); calls and results come back NAMESPACED, as ``mcp-brave/brave_web_search``.
A tool no registered server offers (a disconnected server's, say) is accepted, and its calls get
``Tool '<name>' not found``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

_NAMESPACE_UUID = uuid.UUID("6f1c1d2e-4a55-4c6b-9a0e-5d1b8f3e7a10")
APP_ID = str(uuid.uuid5(_NAMESPACE_UUID, "app:heroku-magic-mcp"))
CREATED_AT = "2025-05-29T17:52:18.000Z"
UPDATED_AT = "2025-06-02T09:14:41.000Z"


@dataclass(frozen=True)
class McpTool:
    """A tool an MCP server offers."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class McpServer:
    """A simulated MCP server (a process type of an app)."""

    namespace: str
    process_command: str
    server_status: str
    primitives_status: str
    tools: tuple[McpTool, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The server as ``GET /v1/mcp/servers`` lists it."""
        return {
            "id": str(uuid.uuid5(_NAMESPACE_UUID, f"server:{self.namespace}")),
            "app_id": APP_ID,
            "process_type": self.namespace,
            "process_command": self.process_command,
            "created_at": CREATED_AT,
            "updated_at": UPDATED_AT,
            "namespace": self.namespace,
            "server_status": self.server_status,
            "primitives_status": self.primitives_status,
            "tools": [
                {
                    "name": tool.name,
                    "namespaced_name": f"{self.namespace}/{tool.name}",
                    "description": tool.description,
                    "input_schema": tool.input_schema,
                    "annotations": {},
                }
                for tool in self.tools
            ],
        }


_STRINGS = {"type": "array", "items": {"type": "string"}}
SERVERS: tuple[McpServer, ...] = (
    McpServer(
        "mcp-brave",
        "npx -y @modelcontextprotocol/server-brave-search",
        "registered",
        "synced",
        (
            McpTool(
                "brave_web_search",
                "Search the web with the Brave Search API.",
                {
                    "type": "object",
                    "properties": {"query": {"type": "string"}, "count": {"type": "integer"}},
                    "required": ["query"],
                },
            ),
        ),
    ),
    McpServer(
        "mcp-python",
        "python -m mcp_code_exec_python",
        "registered",
        "synced",
        (
            McpTool(
                "code_exec_python",
                "Run Python code in a sandboxed one-off dyno and return its output.",
                {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "packages": _STRINGS},
                    "required": ["code"],
                },
            ),
        ),
    ),
    McpServer("mcp-weather", "node weather-server.js", "disconnected", "error"),
)


def mcp_servers() -> list[dict[str, Any]]:
    """The ``GET /v1/mcp/servers`` body."""
    return [server.to_json() for server in SERVERS]


def offered_mcp_tools(name: str) -> list[str]:
    """The namespaced tools an ``mcp`` tool named ``name`` offers: a whole server's, or one tool.

    A namespace (``mcp-brave``) offers every tool of that server; a tool name (namespaced or bare)
    offers that tool; anything else (a disconnected server's namespace too) offers ``name``
    itself, which calls will not find.
    """
    for server in SERVERS:
        if name == server.namespace and server.tools:
            return [f"{server.namespace}/{tool.name}" for tool in server.tools]
    return [resolve_mcp_tool(name) or name]


def resolve_mcp_tool(name: str) -> str | None:
    """The namespaced name of an offered MCP tool (namespaced or bare), or None if no server has it."""
    for server in SERVERS:
        for tool in server.tools:
            if name in (tool.name, f"{server.namespace}/{tool.name}"):
                return f"{server.namespace}/{tool.name}"
    return None
