"""The agents endpoint's simulated tools: arguments from the prompt, deterministic fake results.

NOTHING IS EVER EXECUTED: code is hashed, commands are matched against a few known words, SQL is
classified by its first keyword. Every result travels in an MCP-style envelope; a tool message's
content is ``Tool '<name>' returned result: {"content":[{"type":"text","text":<text>}],"isError":<bool>}``
(compact JSON). ``<text>`` per tool:

``code_exec_python`` / ``_ruby`` / ``_node`` / ``_go`` (arguments ``code``, ``packages`` when given)
    ``{"returncode": 0, "stdout": "simulated <language> run of <L> line(s), sha256:<12 hex>
    (nothing was executed)\\n", "stderr": ""}``; with packages the stdout starts with
    ``installed (simulated): a, b\\n``. The MCP ``mcp-python/code_exec_python`` answers the same.
``dyno_run_command`` (arguments ``cmd``, plus the ``tool_params.parameters`` schema's)
    ``{"app": <target_app_name>, "dyno": "run.<NNNN>", "dyno_size": <dyno_size>, "command": <cmd>,
    "returncode": <rc>, "stdout": <out>, "stderr": <err>}``. Commands chained with ``&&`` or ``;``
    run in turn (stopping at a failure): ``echo X`` prints X, ``date`` a fixed date, ``pwd``
    ``/app``, ``ls`` four app files, ``whoami`` ``u48213``, ``uname`` ``Linux``, ``env`` /
    ``printenv`` fake dyno variables naming the app, ``false`` / ``exit N`` fail (rc 1 / N,
    isError), ``sleep N`` beyond ``ttl_seconds`` times out (rc 124, isError); anything else prints
    ``simulated output of `<cmd>` on <app>``.
``pg_psql`` / ``postgres_run_query`` (argument ``query``; ``db_attachment`` from ``tool_params``)
    A read (SELECT, WITH, SHOW, EXPLAIN, TABLE, VALUES) gets a psql-style 3-row table of
    ``id | name | price`` ending ``(3 rows)``; a write (INSERT, UPDATE, DELETE, CREATE, DROP,
    ALTER, TRUNCATE, ...) ``ERROR:  cannot execute <KEYWORD> in a read-only transaction``
    (isError: Heroku runs these on a read-only follower); anything else
    ``ERROR:  syntax error at or near "<word>"`` (isError).
``postgres_get_schema`` (no arguments)
    A psql ``\\d``-style description of a ``public.items`` table.
``pg_vector_query`` (argument ``query``)
    ``{"query": ..., "matches": [{"id": 1, "content": ..., "distance": 0.12}, ... 3 of them]}``.
``doc_reader`` / ``html_to_markdown`` / ``pdf_to_markdown`` (argument ``url``)
    ``# Simulated document\\n\\nThe simulator does not fetch <url>; this text stands in for it.``
``mcp-brave/brave_web_search`` (arguments ``query``, ``count`` when given)
    ``{"query": ..., "results": [{"title", "url", "description"}, ...]}``, ``count`` results (3;
    1..10) at ``https://example.com/search/...``.
an unknown Heroku tool, or an MCP tool no registered server offers
    ``Tool '<name>' not found`` (isError).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

from .agent_request import AgentTool
from .arguments import build_arguments
from .mcp import resolve_mcp_tool
from .models import snippet
from .toolcalls import key_values

HEROKU_TOOLS = frozenset(
    {
        "dyno_run_command", "code_exec_python", "code_exec_ruby", "code_exec_node", "code_exec_go",
        "pg_psql", "doc_reader", "pg_vector_query",
        # Earlier names, still seen in the wild.
        "html_to_markdown", "pdf_to_markdown", "postgres_get_schema", "postgres_run_query",
    }
)  # fmt: skip
_FENCE = re.compile(r"```([\w+#-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PACKAGES = re.compile(r"""\bpackages=("[^"]*"|'[^']*'|[^\s;]+)""")
_URL = re.compile(r"https?://[^\s\"'<>)]+")
_LANGUAGES = {
    "python": ("python", "py"),
    "ruby": ("ruby", "rb"),
    "node": ("javascript", "js", "node"),
    "go": ("go", "golang"),
}
_SAMPLE_CODE = {
    "python": 'print("hello from python")',
    "ruby": 'puts "hello from ruby"',
    "node": 'console.log("hello from node")',
    "go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }',
}
_READS = frozenset({"SELECT", "WITH", "SHOW", "EXPLAIN", "TABLE", "VALUES"})
_WRITES = frozenset(
    {"INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "GRANT", "REVOKE",
     "COPY", "VACUUM", "REINDEX", "COMMENT", "CLUSTER", "REFRESH", "LOCK"}
)  # fmt: skip
DEFAULT_QUERY = "SELECT * FROM items LIMIT 3"
FIXED_DATE = "Thu May 29 17:52:18 UTC 2025"
_FIXED_OUTPUT = {
    "date": FIXED_DATE + "\n",
    "pwd": "/app\n",
    "ls": "Procfile\nREADME.md\napp.py\nrequirements.txt\n",
    "whoami": "u48213\n",
    "uname": "Linux\n",
    "true": "",
}
TIMED_OUT = 124


@dataclass(frozen=True)
class ToolResult:
    """What a simulated tool returns: a text and whether it is an error."""

    text: str
    is_error: bool = False

    def content(self, name: str) -> str:
        """The tool message content Heroku sends: the result's MCP envelope, introduced by name."""
        envelope = {"content": [{"type": "text", "text": self.text}], "isError": self.is_error}
        return f"Tool '{name}' returned result: {json.dumps(envelope, separators=(',', ':'))}"


def not_found(name: str) -> ToolResult:
    """The result of calling a tool Heroku does not know."""
    return ToolResult(f"Tool '{name}' not found", True)


def bare_name(name: str) -> str:
    """A tool name without its MCP namespace."""
    return name.rsplit("/", 1)[-1]


def build_tool_arguments(tool: AgentTool, name: str, prompt: str) -> dict[str, Any]:
    """The arguments the agent passes to tool ``name`` for ``prompt``."""
    text = _FENCE.sub(" ", prompt)
    given = key_values(text)
    bare = bare_name(name)
    if bare.startswith("code_exec_"):
        return _code_arguments(bare.removeprefix("code_exec_"), prompt, given)
    if bare == "dyno_run_command":
        arguments: dict[str, Any] = {"cmd": given.get("cmd") or tool.tool_params.get("cmd") or "echo hello"}
        schema = tool.tool_params.get("parameters")
        if isinstance(schema, dict):
            extra = build_arguments(schema, given)
            arguments.update({key: value for key, value in extra.items() if key != "cmd"})
        return arguments
    if bare in ("pg_psql", "postgres_run_query"):
        return {"query": _block(prompt, ("sql", "postgres", "psql")) or given.get("query") or DEFAULT_QUERY}
    if bare == "postgres_get_schema":
        return {}
    if bare in ("pg_vector_query", "brave_web_search"):
        arguments = {"query": given.get("query") or snippet(text)}
        if "count" in given and given["count"].isdigit():
            arguments["count"] = int(given["count"])
        return arguments
    if bare in ("doc_reader", "html_to_markdown", "pdf_to_markdown"):
        url = given.get("url") or next(iter(_URL.findall(text)), "https://example.com/doc.pdf")
        return {"url": url}
    return dict(given)


def run_tool(tool: AgentTool, name: str, arguments: dict[str, Any]) -> ToolResult:
    """The simulated result of calling ``name`` (the offered ``tool``) with ``arguments``."""
    bare = bare_name(name)
    known = name in HEROKU_TOOLS if tool.type == "heroku_tool" else resolve_mcp_tool(name) == name
    if not known:
        return not_found(name)
    if bare.startswith("code_exec_"):
        return _code_result(bare.removeprefix("code_exec_"), arguments)
    if bare == "dyno_run_command":
        return _dyno_result(tool, str(arguments.get("cmd", "")))
    if bare in ("pg_psql", "postgres_run_query"):
        return _sql_result(str(arguments.get("query", "")))
    if bare == "postgres_get_schema":
        return ToolResult(_SCHEMA)
    if bare == "pg_vector_query":
        return _vector_result(str(arguments.get("query", "")))
    if bare == "brave_web_search":
        return _search_result(str(arguments.get("query", "")), arguments.get("count", 3))
    if bare in ("doc_reader", "html_to_markdown", "pdf_to_markdown"):
        url = arguments.get("url")
        return ToolResult(
            f"# Simulated document\n\nThe simulator does not fetch {url}; this text stands in for it."
        )
    return not_found(name)


def _block(prompt: str, languages: tuple[str, ...]) -> str | None:
    """The first fenced block tagged with one of ``languages``, else the first untagged one."""
    blocks = _FENCE.findall(prompt)
    for tag, body in blocks:
        if tag.lower() in languages:
            return str(body).rstrip("\n")
    return next((str(body).rstrip("\n") for tag, body in blocks if not tag), None)


def _code_arguments(language: str, prompt: str, given: dict[str, str]) -> dict[str, Any]:
    """``code`` from a fenced block (or ``code=``), ``packages`` from ``packages=a,b``."""
    aliases = _LANGUAGES.get(language, (language,))
    code = _block(prompt, aliases) or given.get("code") or _SAMPLE_CODE.get(language, "print('hello')")
    arguments: dict[str, Any] = {"code": code}
    packages = _PACKAGES.search(_FENCE.sub(" ", prompt))
    if packages:
        arguments["packages"] = [item for item in packages.group(1).strip("\"'").split(",") if item]
    return arguments


def _code_result(language: str, arguments: dict[str, Any]) -> ToolResult:
    """A stable fake run: the code's line count and hash, never its output."""
    code = str(arguments.get("code", ""))
    digest = hashlib.sha256(code.encode()).hexdigest()[:12]
    lines = len(code.splitlines())
    stdout = f"simulated {language} run of {lines} line(s), sha256:{digest} (nothing was executed)\n"
    packages = arguments.get("packages")
    if isinstance(packages, list) and packages:
        stdout = f"installed (simulated): {', '.join(map(str, packages))}\n" + stdout
    return ToolResult(json.dumps({"returncode": 0, "stdout": stdout, "stderr": ""}))


def _dyno_result(tool: AgentTool, cmd: str) -> ToolResult:
    """Fake stdout for a few known commands, run in turn; a failure or a timeout is an error."""
    app = tool.target_app_name or "app"
    out, err, code = "", "", 0
    for part in (p for p in re.split(r"\s*(?:&&|;)\s*", cmd.strip()) if p):
        stdout, stderr, code = _command(part, app, tool.ttl_seconds)
        out, err = out + stdout, err + stderr
        if code:
            break
    number = 1000 + int(hashlib.sha256(cmd.encode()).hexdigest(), 16) % 9000
    result = {
        "app": app,
        "dyno": f"run.{number}",
        "dyno_size": tool.dyno_size,
        "command": cmd,
        "returncode": code,
        "stdout": out,
        "stderr": err,
    }
    return ToolResult(json.dumps(result), code != 0)


def _command(command: str, app: str, ttl: int) -> tuple[str, str, int]:
    """(stdout, stderr, returncode) of one simulated command."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    head, rest = (words[0], words[1:]) if words else ("", [])
    if head == "echo":
        return " ".join(rest) + "\n", "", 0
    if head in _FIXED_OUTPUT:
        return _FIXED_OUTPUT[head], "", 0
    if head in ("env", "printenv"):
        return f"DYNO=run.1\nHOME=/app\nPORT=5000\nHEROKU_APP_NAME={app}\n", "", 0
    if head in ("false", "exit"):
        status = int(rest[0]) if head == "exit" and rest and rest[0].isdigit() else 1
        return "", "", status
    if head == "sleep" and rest and _seconds(rest[0]) > ttl:
        return "", f"Error: command timed out after {ttl} seconds (ttl_seconds)\n", TIMED_OUT
    if head == "sleep":
        return "", "", 0
    return f"simulated output of `{command}` on {app}\n", "", 0


def _seconds(text: str) -> float:
    """A ``sleep`` argument as seconds (0 when unreadable)."""
    try:
        return float(text)
    except ValueError:
        return 0.0


_TABLE = """\
 id | name  | price
----+-------+-------
  1 | alpha |  9.99
  2 | beta  | 19.99
  3 | gamma | 29.99
(3 rows)
"""
_SCHEMA = """\
                Table "public.items"
 Column |  Type   | Nullable |              Default
--------+---------+----------+-----------------------------------
 id     | integer | not null | nextval('items_id_seq'::regclass)
 name   | text    | not null |
 price  | numeric |          |
Indexes:
    "items_pkey" PRIMARY KEY, btree (id)
"""


def _sql_result(query: str) -> ToolResult:
    """A fake table for reads; the read-only follower's error for writes; a syntax error otherwise."""
    words = re.findall(r"[A-Za-z_]+|\S", re.sub(r"--[^\n]*", " ", query))
    keyword = next((word for word in words if word != "("), "").upper()
    if keyword in _READS:
        return ToolResult(_TABLE)
    if keyword in _WRITES:
        return ToolResult(f"ERROR:  cannot execute {keyword} in a read-only transaction", True)
    return ToolResult(f'ERROR:  syntax error at or near "{keyword or query.strip()[:20]}"', True)


def _vector_result(query: str) -> ToolResult:
    """Three fake nearest neighbours."""
    matches = [
        {"id": n, "content": f"Simulated passage {n} about {snippet(query)}", "distance": round(0.12 * n, 2)}
        for n in range(1, 4)
    ]
    return ToolResult(json.dumps({"query": query, "matches": matches}))


def _search_result(query: str, count: Any) -> ToolResult:
    """Fake web results at example.com."""
    number = count if isinstance(count, int) and not isinstance(count, bool) else 3
    slug = re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-")[:40] or "query"
    results = [
        {
            "title": f"Result {n} for {snippet(query)}",
            "url": f"https://example.com/search/{slug}/{n}",
            "description": f"A simulated search result ({n}); nothing was searched.",
        }
        for n in range(1, min(max(number, 1), 10) + 1)
    ]
    return ToolResult(json.dumps({"query": query, "results": results}))
